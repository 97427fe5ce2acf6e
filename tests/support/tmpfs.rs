//! A small tmpfs of a test's own (a disk or a pool that fills up for real), unmounted when
//! dropped; needs root.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::stderr;

/// A tmpfs mounted on `path`; dropped after whatever holds files on it (a guest, a pool).
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs named `source` (what /proc/mounts shows) of `bytes` on `path`, which
    /// must exist.
    pub fn mount(source: &str, path: &Path, bytes: u64) -> Tmpfs {
        let mount = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes},mode=0755")])
            .arg(source)
            .arg(path)
            .output()
            .expect("mount runs");
        assert!(mount.status.success(), "mount tmpfs: {}", stderr(&mount));
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if mounted(&self.path) {
            let _ = Command::new("umount").arg(&self.path).status();
        }
    }
}

/// Whether a tmpfs is mounted on `path`.
pub fn mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/mounts")
        .is_ok_and(|m| m.contains(&format!(" {} tmpfs ", path.display())))
}
