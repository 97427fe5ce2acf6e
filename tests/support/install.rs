//! The binary under test where another user (nobody, xymon, Debian-snmp, a test's own user)
//! can run it. The build's own copy may be out of their reach: a clone in a private directory
//! (mode 0700, as `mktemp -d` makes and as /root is) keeps every other user out of
//! target/debug. So, as the package installs it in /usr/bin, a test copies it into a
//! directory every user can reach, and checks as that user that it can run it before relying
//! on it: a test that cannot work fails at once, naming the path, instead of waiting for a run
//! that never comes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{binary, text};

/// A copy of [`binary`] (mode 0755) in a fresh directory under /tmp (mode 0755; /tmp itself
/// is open to all, whatever TMPDIR says), removed with everything in it when dropped.
pub struct Installed {
    dir: tempfile::TempDir,
    binary: PathBuf,
}

impl Installed {
    pub fn new() -> Installed {
        let dir = tempfile::Builder::new()
            .prefix("hvmon-bin-")
            .tempdir_in("/tmp")
            .expect("create a directory under /tmp");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let installed = dir.path().join("hv_monitor");
        std::fs::copy(binary(), &installed).unwrap_or_else(|e| {
            panic!(
                "copy {} to {}: {e}",
                binary().display(),
                installed.display()
            )
        });
        std::fs::set_permissions(&installed, std::fs::Permissions::from_mode(0o755)).unwrap();
        Installed {
            dir,
            binary: installed,
        }
    }

    /// [`Installed::new`], checked with [`assert_runnable_by`] for `user`.
    pub fn for_user(user: &str) -> Installed {
        let installed = Installed::new();
        assert_runnable_by(user, installed.binary());
        installed
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The directory of the copy, for other files the same user must read.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self) -> Command {
        Command::new(&self.binary)
    }
}

/// Fails the test at once, naming `path`, unless `user` may execute it: every directory on
/// the way searchable, the file executable, the file system not mounted noexec.
pub fn assert_runnable_by(user: &str, path: &Path) {
    assert_access(user, "-x", "execute", path);
}

/// Fails the test at once, naming `path`, unless `user` may read it.
pub fn assert_readable_by(user: &str, path: &Path) {
    assert_access(user, "-r", "read", path);
}

/// `test FLAG PATH` as `user` (access(2) with that user's ids).
fn assert_access(user: &str, flag: &str, what: &str, path: &Path) {
    let out = Command::new("runuser")
        .args(["-u", user, "--", "test", flag])
        .arg(path)
        .output()
        .expect("run runuser");
    assert!(
        out.status.success(),
        "user {user} may not {what} {}{}; a directory on the way or the file itself shuts \
         them out",
        path.display(),
        match text(&out.stderr).trim() {
            "" => String::new(),
            err => format!(" ({err})"),
        }
    );
}
