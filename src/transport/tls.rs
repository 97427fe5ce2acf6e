//! The certificate authorities an https:// server's certificate may chain to: the system's
//! bundle (Debian's /etc/ssl/certs/ca-certificates.crt, which update-ca-certificates keeps,
//! local CAs included) and the certificates of `--ca-file`.
//!
//! Both are read here with the safe-file rules (a FIFO or a device fails at once, reads are
//! capped) and reqwest gets only these roots: its platform verifier reads `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` with blocking opens when the client is built, so a FIFO there hung the run
//! outside any timeout. Those variables are ignored: what a job run by cron, systemd or
//! xymonlaunch trusts is set by its command line, not by an environment it inherits.

use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::SendError;
use crate::safe_file;
use crate::text::for_terminal;

/// More than any CA bundle (Debian's, ~140 CAs, is 0.2 MB).
const MAX_BUNDLE: u64 = 4 << 20;

/// Longest `--ca-file` path shown in an error.
const MAX_PATH_SHOWN: usize = 200;

/// Where systems keep their bundle of trusted CAs; the first one present is used.
#[cfg(target_os = "freebsd")]
const SYSTEM_BUNDLES: &[&str] = &[
    "/usr/local/etc/ssl/cert.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
];
#[cfg(not(target_os = "freebsd"))]
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // RHEL, Fedora
    "/etc/pki/tls/certs/ca-bundle.crt",   // older RHEL
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/ssl/cert.pem",                  // Alpine
];

/// `--ca-file`'s certificates: read before collecting, so a bad file fails at once.
#[derive(Debug, Clone)]
pub struct CaFile {
    path: PathBuf,
    certs: Vec<CertificateDer<'static>>,
}

impl CaFile {
    /// Reads a PEM file of one or more CA certificates; every one must be usable as a root.
    pub fn read(path: &Path) -> Result<CaFile, SendError> {
        let bad = |reason: String| SendError::CaFile {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = safe_file::read_named(path, MAX_BUNDLE).map_err(|e| bad(e.reason()))?;
        let mut certs = Vec::new();
        for (n, cert) in CertificateDer::pem_slice_iter(&bytes).enumerate() {
            let cert = cert.map_err(|e| bad(format!("certificate {}: {e}", n + 1)))?;
            RootCertStore::empty()
                .add(cert.clone())
                .map_err(|e| bad(format!("certificate {} is not usable as a CA: {e}", n + 1)))?;
            certs.push(cert);
        }
        if certs.is_empty() {
            return Err(bad(
                "no certificate in it (PEM, '-----BEGIN CERTIFICATE-----')".into(),
            ));
        }
        Ok(CaFile {
            path: path.to_path_buf(),
            certs,
        })
    }
}

/// The roots for the run's HTTP client, and what they are, for a certificate error.
pub(super) struct Roots {
    pub certs: Vec<reqwest::Certificate>,
    pub described: String,
}

/// The system's bundle (if any is found) and `ca_file`'s certificates.
pub(super) fn roots(ca_file: Option<&CaFile>) -> Roots {
    let (mut ders, mut described) = system_roots();
    if let Some(ca_file) = ca_file {
        ders.extend(ca_file.certs.iter().cloned());
        described.push_str(&format!(
            ", and {} from --ca-file '{}'",
            ca_file.certs.len(),
            for_terminal(&ca_file.path.display().to_string(), MAX_PATH_SHOWN)
        ));
    }
    let certs = ders
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der).ok())
        .collect();
    Roots { certs, described }
}

/// The first system bundle found: its usable certificates (an unusable one is skipped, as
/// every TLS library does with the system's store) and which file it was.
fn system_roots() -> (Vec<CertificateDer<'static>>, String) {
    for path in SYSTEM_BUNDLES.iter().map(Path::new) {
        let bytes = match safe_file::read_named(path, MAX_BUNDLE) {
            Ok(bytes) => bytes,
            Err(e) if e.is_missing() => continue,
            Err(e) => return (Vec::new(), format!("no system CAs ({e})")),
        };
        let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
            .filter_map(Result::ok)
            .filter(|cert| RootCertStore::empty().add(cert.clone()).is_ok())
            .collect();
        let described = format!("{} system CAs from {}", certs.len(), path.display());
        return (certs, described);
    }
    (
        Vec::new(),
        format!("no system CAs (none of {})", SYSTEM_BUNDLES.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &Path) -> String {
        match CaFile::read(path) {
            Err(e @ SendError::CaFile { .. }) => e.to_string(),
            other => panic!("expected a --ca-file error, got {other:?}"),
        }
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let text = refused(&empty);
        assert!(text.contains(&format!("'{}'", empty.display())), "{text}");
        assert!(text.contains("no certificate in it"), "{text}");
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(
            refused(&broken).contains("certificate 1 is not usable as a CA"),
            "{}",
            refused(&broken)
        );
        assert!(refused(&dir.path().join("none")).contains("No such file"));
        assert!(refused(dir.path()).contains("a directory, not a regular file"));
    }
}
