//! `hv_monitor xymon` over HTTPS to the real xymoncgimsg.cgi: a private Apache with mod_ssl
//! and mod_cgi on 127.0.0.1 (its own config, pid file and logs in a scratch directory, ports
//! 19901-19907: not Debian's apache2 instance that tests/xymon_web.rs uses), with a CA and a
//! server certificate made by `openssl` for each test, forwarding to a private xymond on
//! 127.0.0.1:19900. A private CA is trusted only through `--ca-file`; proxy variables do not
//! divert the messages; SSL_CERT_FILE / SSL_CERT_DIR at FIFOs cannot hold a run; a bad
//! `--ca-file` is refused before any work.

mod support;

use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use support::xymon::{self, Server};
use support::{Scratch, require, scratch, stderr, text};

const XYMON_PORT: u16 = 19900;
const HOSTS: &[&str] = &[
    "hv-https.example.com",
    "hv-proxy.example.com",
    "hv-fifo.example.com",
];
const APACHE: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";
const CGI: &str = "/usr/lib/xymon/server/bin/xymoncgimsg.cgi";
const SEND_FAILED: i32 = 7;
const USAGE: i32 = 2;

fn xymond() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    xymon::required(
        SERVER
            .get_or_init(|| Server::start(XYMON_PORT, HOSTS))
            .as_ref(),
    )
}

/// The private xymond and an Apache in front of it on `https_port` and `http_port`; `None`
/// (after `require`) when either cannot run here.
fn https_lab(https_port: u16, http_port: u16) -> Option<(&'static Server, Apache)> {
    let server = xymond()?;
    apache_installed().then(|| (server, Apache::start(https_port, http_port, server)))
}

fn apache_installed() -> bool {
    let modules = ["mpm_prefork", "authz_core", "alias", "env", "cgi", "ssl"];
    let ok = Path::new(APACHE).exists()
        && Path::new(CGI).exists()
        && modules
            .iter()
            .all(|m| Path::new(MODULES).join(format!("mod_{m}.so")).exists())
        && support::have("openssl");
    require(
        "Apache with mod_ssl and mod_cgi, and the openssl CLI (tests/lab/install-deps.sh)",
        ok,
    )
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
}

/// A self-signed CA `NAME.pem` (key `NAME.key`) in `dir`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &format!("/CN=hv-monitor test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(pem)
}

/// A private Apache serving xymoncgimsg.cgi over TLS on `https_port` (certificate for
/// IP 127.0.0.1 signed by its own CA, [`Apache::ca`]) and plain HTTP on `http_port`. Stopped
/// (SIGTERM to the parent, which stops its children) and its directory removed on drop.
struct Apache {
    child: Child,
    watchdog: Child,
    dir: Scratch,
    https_port: u16,
    http_port: u16,
}

impl Apache {
    fn start(https_port: u16, http_port: u16, xymond: &Server) -> Apache {
        let dir = scratch("apache");
        make_ca(&dir, "ca");
        openssl(
            &dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        let d = dir.display();
        let config = format!(
            "ServerRoot {d}\n\
             ServerName 127.0.0.1\n\
             PidFile {d}/httpd.pid\n\
             DefaultRuntimeDir {d}\n\
             Mutex file:{d} default\n\
             ErrorLog {d}/error.log\n\
             LogLevel warn\n\
             User www-data\n\
             Group www-data\n\
             StartServers 1\n\
             MinSpareServers 1\n\
             MaxSpareServers 2\n\
             LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so\n\
             LoadModule authz_core_module {MODULES}/mod_authz_core.so\n\
             LoadModule alias_module {MODULES}/mod_alias.so\n\
             LoadModule env_module {MODULES}/mod_env.so\n\
             LoadModule cgi_module {MODULES}/mod_cgi.so\n\
             LoadModule ssl_module {MODULES}/mod_ssl.so\n\
             Listen 127.0.0.1:{https_port} https\n\
             Listen 127.0.0.1:{http_port} http\n\
             <VirtualHost 127.0.0.1:{https_port}>\n\
             \x20   SSLEngine on\n\
             \x20   SSLCertificateFile {d}/server.pem\n\
             \x20   SSLCertificateKeyFile {d}/server.key\n\
             </VirtualHost>\n\
             ScriptAlias /xymon-cgi/xymoncgimsg.cgi {CGI}\n\
             <Directory /usr/lib/xymon/server/bin>\n\
             \x20   Require all granted\n\
             </Directory>\n\
             SetEnv XYMSRV 127.0.0.1\n\
             SetEnv XYMONDPORT {}\n\
             SetEnv XYMONHOME {}\n",
            xymond.port,
            xymond.home.display(),
        );
        let conf = dir.join("httpd.conf");
        std::fs::write(&conf, config).unwrap();
        let log = std::fs::File::create(dir.join("stderr.log")).unwrap();
        // Its own process group: prefork's shutdown signals its whole group.
        let child = Command::new(APACHE)
            .process_group(0)
            .arg("-f")
            .arg(&conf)
            .arg("-DFOREGROUND")
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start apache2");
        // Stops it and removes its files should this test process die without dropping it.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {} 2>/dev/null; do sleep 1; done; kill -TERM {}; sleep 2; rm -rf '{d}'",
                std::process::id(),
                child.id()
            ))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the watchdog");
        let apache = Apache {
            child,
            watchdog,
            dir,
            https_port,
            http_port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while [https_port, http_port]
            .iter()
            .any(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_err())
        {
            assert!(
                Instant::now() < deadline,
                "apache2 did not listen on {https_port} and {http_port}: {}{}",
                std::fs::read_to_string(apache.dir.join("stderr.log")).unwrap_or_default(),
                std::fs::read_to_string(apache.dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        apache
    }

    fn https_url(&self) -> String {
        format!(
            "https://127.0.0.1:{}/xymon-cgi/xymoncgimsg.cgi",
            self.https_port
        )
    }

    fn http_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/xymon-cgi/xymoncgimsg.cgi",
            self.http_port
        )
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: signals our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// `hv_monitor xymon` for `host` from the test driver, out of reach of the caller's Xymon
/// and TLS environment; rates in the test binary's state directory.
fn xymon_command(host: &str, args: &[&str]) -> Command {
    let mut cmd = support::isolated(&["xymon", "--uri", "test:///default", "--host", host]);
    cmd.args(["--timeout", "5", "-t", "5"])
        .args(args)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env("STATE_DIRECTORY", support::state_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd`; `None` when it has not ended within `limit` (it is killed then).
fn output_within(mut cmd: Command, limit: Duration) -> Option<Output> {
    let mut child = cmd.spawn().expect("hv_monitor runs");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait for hv_monitor").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child.wait_with_output().expect("hv_monitor's output"))
}

/// Far more than a run with `--timeout 5 -t 5` takes against these servers.
const RUN_LIMIT: Duration = Duration::from_secs(30);

fn run(host: &str, args: &[&str]) -> Output {
    output_within(xymon_command(host, args), RUN_LIMIT)
        .unwrap_or_else(|| panic!("hv_monitor xymon {args:?} did not end within {RUN_LIMIT:?}"))
}

/// xymond's status line for HOST.hvmon (empty when it has none).
fn status_of(server: &Server, host: &str) -> String {
    server.xymon(&format!(
        "xymondboard host={host} test=^hvmon$ fields=hostname,testname,color"
    ))
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

#[test]
fn a_private_ca_is_trusted_through_ca_file_and_the_status_arrives() {
    let Some((server, apache)) = https_lab(19901, 19902) else {
        return;
    };
    let host = "hv-https.example.com";
    let url = apache.https_url();

    let out = run(host, &["--server", &url]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(SEND_FAILED), "{err}");
    assert!(err.contains(&format!("HTTP POST to {url}: ")), "{err}");
    assert!(
        err.contains("invalid peer certificate")
            && err.contains("the server's certificate was refused")
            && err.contains("system CAs from /etc/ssl/certs/ca-certificates.crt")
            && err.contains("goes in --ca-file"),
        "{err}"
    );
    assert_eq!(status_of(server, host), "", "nothing may arrive untrusted");

    // One or more certificates: an unrelated CA first, the server's after it.
    let bundle = apache.dir.join("bundle.pem");
    let other = std::fs::read(make_ca(&apache.dir, "other")).unwrap();
    let ours = std::fs::read(apache.ca()).unwrap();
    std::fs::write(&bundle, [other, ours].concat()).unwrap();
    let bundle_arg = bundle.to_str().unwrap();
    let out = run(host, &["--server", &url, "--ca-file", bundle_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.colour(host, "hvmon"), "green");
    assert!(
        status_of(server, host).starts_with(&format!("{host}|hvmon|green")),
        "{}",
        status_of(server, host)
    );
}

#[test]
fn proxy_variables_do_not_divert_the_messages() {
    let Some((server, apache)) = https_lab(19904, 19905) else {
        return;
    };
    // A listening "proxy" that counts connections and drops them.
    let proxy = TcpListener::bind(("127.0.0.1", 19903)).expect("bind 127.0.0.1:19903");
    let reached = Arc::new(AtomicUsize::new(0));
    let count = reached.clone();
    std::thread::spawn(move || {
        for conn in proxy.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    let host = "hv-proxy.example.com";
    let ca = apache.ca();
    let (https, http) = (apache.https_url(), apache.http_url());
    for args in [
        vec!["--server", &http],
        vec!["--server", &https, "--ca-file", ca.to_str().unwrap()],
    ] {
        let mut cmd = xymon_command(host, &args);
        for name in ["http_proxy", "https_proxy", "all_proxy"] {
            cmd.env(name, "http://127.0.0.1:19903");
            cmd.env(name.to_uppercase(), "http://127.0.0.1:19903");
        }
        cmd.env_remove("no_proxy").env_remove("NO_PROXY");
        let out = output_within(cmd, RUN_LIMIT).expect("the run ends");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(
            reached.load(Ordering::SeqCst),
            0,
            "{args:?}: the proxy was used"
        );
    }
    assert_eq!(server.colour(host, "hvmon"), "green");
}

/// SSL_CERT_FILE was opened (blocking) when the HTTP client was built, even for http://: a
/// FIFO there held the run for good. Both variables are ignored now.
#[test]
fn ssl_cert_variables_at_fifos_cannot_hold_a_run() {
    let Some((server, apache)) = https_lab(19906, 19907) else {
        return;
    };
    let fifos = scratch("fifos");
    mkfifo(&fifos.join("cert.pem"));
    std::fs::create_dir(fifos.join("certs")).unwrap();
    mkfifo(&fifos.join("certs/ca.pem"));
    let host = "hv-fifo.example.com";
    let ca = apache.ca();
    for (server_url, with_ca) in [(apache.http_url(), false), (apache.https_url(), true)] {
        let mut args = vec!["--server", server_url.as_str()];
        if with_ca {
            args.extend(["--ca-file", ca.to_str().unwrap()]);
        }
        let mut cmd = xymon_command(host, &args);
        cmd.env("SSL_CERT_FILE", fifos.join("cert.pem"))
            .env("SSL_CERT_DIR", fifos.join("certs"));
        let out = output_within(cmd, RUN_LIMIT)
            .unwrap_or_else(|| panic!("{server_url}: held by the FIFO past {RUN_LIMIT:?}"));
        assert_eq!(out.status.code(), Some(0), "{server_url}: {}", stderr(&out));
    }
    assert_eq!(server.colour(host, "hvmon"), "green");
}

#[test]
fn a_bad_ca_file_is_refused_before_any_work() {
    let dir = scratch("ca-file");
    let fifo = dir.join("fifo.pem");
    mkfifo(&fifo);
    let key_only = dir.join("key.pem");
    std::fs::write(
        &key_only,
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for (path, why) in [
        (fifo, "a FIFO, not a regular file"),
        (dir.join("missing.pem"), "No such file or directory"),
        (dir.to_path_buf(), "a directory, not a regular file"),
        (key_only, "no certificate in it"),
    ] {
        let out = output_within(
            xymon_command(
                "hv-https.example.com",
                &[
                    "--server",
                    "https://127.0.0.1:9/xymon-cgi/xymoncgimsg.cgi",
                    "--ca-file",
                    path.to_str().unwrap(),
                ],
            ),
            RUN_LIMIT,
        )
        .expect("the run ends");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(USAGE), "{}: {err}", path.display());
        assert!(
            err.trim().starts_with(&format!(
                "hv_monitor: --ca-file '{}': {why}",
                path.display()
            )),
            "{err}"
        );
    }
}
