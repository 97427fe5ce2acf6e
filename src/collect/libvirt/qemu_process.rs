//! The QEMU process of a running guest, found through its PID file and read from /proc.

use std::io::{Error, ErrorKind};
use std::path::{Path, PathBuf};

use super::parse::procfs;
use crate::model::Process;

/// Where QEMU keeps `NAME.pid` files for a local connection; `None` for drivers without
/// processes on this host (test driver, remote URIs).
pub fn pid_dir(uri: &str) -> Option<PathBuf> {
    match uri.trim_end_matches('/') {
        "qemu:///system" | "qemu+unix:///system" => Some(PathBuf::from("/run/libvirt/qemu")),
        "qemu:///session" | "qemu+unix:///session" => {
            let runtime = std::env::var_os("XDG_RUNTIME_DIR")?;
            Some(Path::new(&runtime).join("libvirt/qemu/run"))
        }
        _ => None,
    }
}

/// The guest's process: its PID file, checked against the process's command line so a stale
/// file cannot lend another process's figures.
pub fn read(pid_dir: &Path, name: &str, host: &procfs::Host) -> std::io::Result<Process> {
    // libvirt refuses '/' in names; still, never let a name leave the PID directory.
    if name.contains('/') || name == ".." || name == "." {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "name unusable as a file name",
        ));
    }
    let pid_file = pid_dir.join(format!("{name}.pid"));
    // Name the file: a user who may not read it (a distribution that keeps the directory
    // private) needs to know what to open up.
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .map_err(|e| Error::new(e.kind(), format!("{}: {e}", pid_file.display())))?
        .trim()
        .parse()
        .map_err(|_| {
            Error::new(
                ErrorKind::InvalidData,
                format!("{} holds no PID", pid_file.display()),
            )
        })?;
    let cmdline = std::fs::read(host.root.join(pid.to_string()).join("cmdline"))?;
    if !procfs::cmdline_runs_guest(&cmdline, name) {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("PID {pid} from {} is not this guest", pid_file.display()),
        ));
    }
    procfs::read_process(pid, host)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc` and the PID file of the lab's `hvmon-running` guest, recorded on Debian 12
    /// (tests/fixtures/proc-qemu/README.md).
    fn recorded() -> (PathBuf, procfs::Host) {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proc-qemu");
        let mut host = procfs::Host::read(&base.join("proc")).expect("recorded host files");
        // The machine's own were 100 ticks and 4 KiB pages, whatever this one has.
        host.clock_ticks = 100;
        host.page_size = 4096;
        (base.join("run"), host)
    }

    #[test]
    fn a_recorded_guest_is_found_through_its_pid_file_and_read_from_proc() {
        let (pid_dir, host) = recorded();
        assert_eq!(host.mem_total, 24_683_568 * 1024);
        assert_eq!(host.uptime, 648.45);
        let p = read(&pid_dir, "hvmon-running", &host).unwrap();
        assert_eq!(p.pid, 9389);
        assert_eq!((p.usertime, p.systime), (19.07, 0.89));
        assert_eq!(p.etimes, 390, "uptime 648.45 s, started at tick 25792");
        assert_eq!(p.rss, 12126 * 4096);
        assert_eq!(p.vsz, 1_669_058_560);
        assert_eq!((p.nvcsw, p.nivcsw), (9037, 802));
        assert_eq!((p.minflt, p.majflt), (7443, 3));
    }

    #[test]
    fn a_pid_file_of_another_guest_lends_nothing() {
        let (pid_dir, host) = recorded();
        let scratch = tempfile::tempdir().unwrap();
        // The recorded PID under another guest's name: its command line says hvmon-running.
        std::fs::copy(
            pid_dir.join("hvmon-running.pid"),
            scratch.path().join("other.pid"),
        )
        .unwrap();
        let err = read(scratch.path(), "other", &host).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("is not this guest"), "{err}");
        let err = read(&pid_dir, "missing", &host).unwrap_err();
        assert!(
            err.to_string().contains("missing.pid"),
            "names the file: {err}"
        );
        assert!(read(&pid_dir, "../run/hvmon-running", &host).is_err());
    }
}
