//! Opening files in directories other users may write (`/var/tmp`, a shared `$XYMONTMP`, the
//! directory xymond_rrd leaves its message files in). Whatever another user planted at the
//! path (a symlink, a FIFO, a device, a file of their own) gives an error naming the file and
//! why: never a hang, never a read of a device, never a file created through a link.
//!
//! Every open but [`read_named`]'s is `O_NOFOLLOW` (a symlink in the last component fails);
//! all are `O_NONBLOCK` (a FIFO opens at once instead of waiting for a writer) and
//! `O_NOCTTY`; the descriptor is checked with fstat before a byte is read, and reads stop at
//! a cap.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::SafeFileError;

/// Whose file we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Any regular file: a message another program wrote for us to read.
    Anyone,
    /// Only this user's, writable by no one else, with one link: what we read decides the
    /// figures we report, so a file someone else could have written is not believed.
    Us,
}

const OPEN_FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;

/// Opens `path` for reading after the checks; a missing file is an error
/// [`SafeFileError::is_missing`] recognises.
pub fn open_read(path: &Path, owner: Owner) -> Result<File, SafeFileError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OPEN_FLAGS)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    check(&file, path, owner)?;
    Ok(file)
}

/// The whole of `path`, at most `cap` bytes (a larger file is refused, not cut).
pub fn read_capped(path: &Path, cap: u64, owner: Owner) -> Result<Vec<u8>, SafeFileError> {
    read_all_capped(open_read(path, owner)?, path, cap)
}

/// The whole of a file the admin named (a CA bundle), at most `cap` bytes. Symlinks are
/// followed, as such files are commonly installed through them; a FIFO or device still fails
/// at once instead of hanging or being read.
pub fn read_named(path: &Path, cap: u64) -> Result<Vec<u8>, SafeFileError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    check(&file, path, Owner::Anyone)?;
    read_all_capped(file, path, cap)
}

fn read_all_capped(file: File, path: &Path, cap: u64) -> Result<Vec<u8>, SafeFileError> {
    let too_big = |size: u64| SafeFileError::Refused {
        path: path.to_path_buf(),
        reason: format!("{size} bytes, more than the {cap} bytes allowed"),
    };
    let size = file.metadata().map_err(|e| open_error(path, e))?.len();
    if size > cap {
        return Err(too_big(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // The file may grow after the fstat; the cap holds either way.
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| open_error(path, e))?;
    if bytes.len() as u64 > cap {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Opens or creates (mode 0600) a lock file of ours; nothing is ever read from or written to
/// it, but one planted by someone else would let them hold our lock.
pub fn open_lock(path: &Path) -> Result<File, SafeFileError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(OPEN_FLAGS)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    check(&file, path, Owner::Us)?;
    Ok(file)
}

/// `flock(LOCK_EX | LOCK_NB)`: `Ok(false)` when another open file holds the lock.
pub fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    loop {
        // SAFETY: flock on a descriptor `file` owns; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::WouldBlock => return Ok(false),
            std::io::ErrorKind::Interrupted => {}
            _ => return Err(e),
        }
    }
}

/// This process's effective user: files we create belong to it.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// `uid 1001 (mallory)`: a user as an error message names them, the name from /etc/passwd
/// (not NSS, which may ask a directory server that does not answer); the number alone when
/// that file does not list it.
pub fn user_name(uid: u32) -> String {
    let passwd = read_capped(Path::new("/etc/passwd"), 16 << 20, Owner::Anyone).unwrap_or_default();
    let name = String::from_utf8_lossy(&passwd).lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.escape_debug().to_string())
    });
    match name {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}

/// Refuses `file` unless this user owns it (whatever its mode and links).
pub fn check_owner_is_us(file: &File, path: &Path) -> Result<(), SafeFileError> {
    let uid = file.metadata().map_err(|e| open_error(path, e))?.uid();
    let me = euid();
    if uid == me {
        return Ok(());
    }
    Err(SafeFileError::Refused {
        path: path.to_path_buf(),
        reason: format!(
            "owned by {}, not by this user ({})",
            user_name(uid),
            user_name(me)
        ),
    })
}

fn check(file: &File, path: &Path, owner: Owner) -> Result<(), SafeFileError> {
    let meta = file.metadata().map_err(|e| open_error(path, e))?;
    let refuse = |reason: String| {
        Err(SafeFileError::Refused {
            path: path.to_path_buf(),
            reason,
        })
    };
    if !meta.file_type().is_file() {
        return refuse(not_regular(meta.file_type()));
    }
    if owner == Owner::Us {
        let me = euid();
        if meta.uid() != me {
            return refuse(format!(
                "owned by {}, not by this user ({}): someone else may have put it there; \
                 remove it",
                user_name(meta.uid()),
                user_name(me)
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return refuse(format!(
                "writable by others (mode {:04o}); ours are never",
                meta.mode() & 0o7777
            ));
        }
        if meta.nlink() != 1 {
            return refuse(format!("has {} hard links; ours have one", meta.nlink()));
        }
    }
    Ok(())
}

pub(crate) fn not_regular(t: std::fs::FileType) -> String {
    if t.is_symlink() {
        return "a symbolic link (not followed)".into();
    }
    let kind = if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    format!("{kind}, not a regular file")
}

/// Turns the errors a planted file causes into what is at the path; others stay as they are.
fn open_error(path: &Path, e: std::io::Error) -> SafeFileError {
    // O_NOFOLLOW on a symlink: ELOOP on Linux, EMLINK on FreeBSD. ENXIO: a socket. EACCES
    // or EPERM: with fs.protected_* set, another user's file in a sticky directory.
    let planted = matches!(
        e.raw_os_error(),
        Some(libc::ELOOP | libc::EMLINK | libc::ENXIO | libc::EACCES | libc::EPERM)
    );
    if let Some(meta) = std::fs::symlink_metadata(path).ok().filter(|_| planted) {
        let reason = if meta.file_type().is_file() {
            format!("owned by {} ({e})", user_name(meta.uid()))
        } else {
            not_regular(meta.file_type())
        };
        return SafeFileError::Refused {
            path: path.to_path_buf(),
            reason,
        };
    }
    SafeFileError::Open {
        path: path.to_path_buf(),
        source: e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn refused(r: Result<impl std::fmt::Debug, SafeFileError>) -> String {
        match r {
            Err(e @ SafeFileError::Refused { .. }) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_regular_file_of_ours_is_read_whole_within_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(read_capped(&path, 5, Owner::Us).unwrap(), b"hello");
        let err = refused(read_capped(&path, 4, Owner::Anyone));
        assert!(err.contains("5 bytes, more than the 4"), "{err}");
        assert!(
            read_capped(&dir.path().join("none"), 5, Owner::Us)
                .unwrap_err()
                .is_missing()
        );
    }

    #[test]
    fn links_fifos_devices_and_directories_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("not-to-be-created");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(refused(open_lock(&link)).contains("symbolic link"));
        assert!(!target.exists(), "nothing created through the link");
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(refused(read_capped(&zero, 10, Owner::Anyone)).contains("symbolic link"));
        assert!(
            refused(read_capped(Path::new("/dev/zero"), 10, Owner::Anyone))
                .contains("character device")
        );
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
        assert!(refused(read_capped(&fifo, 10, Owner::Anyone)).contains("a FIFO"));
        assert!(refused(open_lock(&fifo)).contains("a FIFO"));
        assert!(refused(read_capped(dir.path(), 10, Owner::Anyone)).contains("directory"));
        assert!(refused(read_named(&fifo, 10)).contains("a FIFO"));
        assert!(refused(read_named(&zero, 10)).contains("character device"));
    }

    #[test]
    fn a_named_file_is_read_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, b"pem").unwrap();
        let link = dir.path().join("link.pem");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(read_named(&link, 3).unwrap(), b"pem");
        assert!(refused(read_named(&link, 2)).contains("3 bytes, more than the 2"));
    }

    #[test]
    fn our_files_must_be_private_with_one_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        std::fs::write(&path, b"{}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(refused(read_capped(&path, 10, Owner::Us)).contains("mode 0666"));
        assert_eq!(read_capped(&path, 10, Owner::Anyone).unwrap(), b"{}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::hard_link(&path, dir.path().join("other")).unwrap();
        assert!(refused(read_capped(&path, 10, Owner::Us)).contains("2 hard links"));
    }

    #[test]
    fn a_lock_file_is_created_private_and_locks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.lock");
        let first = open_lock(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(try_lock(&first).unwrap());
        let second = open_lock(&path).unwrap();
        assert!(
            !try_lock(&second).unwrap(),
            "flock conflicts between open files"
        );
    }
}
