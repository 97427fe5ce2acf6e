//! The QEMU process of a running guest, found through its PID file and read from /proc.

use std::io::{Error, ErrorKind};
use std::path::{Path, PathBuf};

use crate::collect::procfs;
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
    let proc_root = Path::new("/proc");
    let cmdline = std::fs::read(proc_root.join(pid.to_string()).join("cmdline"))?;
    if !procfs::cmdline_runs_guest(&cmdline, name) {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("PID {pid} from {} is not this guest", pid_file.display()),
        ));
    }
    procfs::read_process(proc_root, pid, host)
}
