//! Output files are replaced atomically, and a set of them together: every new file is
//! written in full to a temporary file beside its target first, then all are renamed over
//! the old ones. A reader (snmpd's `cat`) sees an old or a new file, never half of one, and a
//! run that fails before the renames (disk full, a kill) leaves every old file as it was.
//!
//! Temporary files are named `.TARGET.tmp.XXXXXX` (random, created `O_EXCL`, so nothing
//! planted at a guessed name is ever opened) and `flock`ed while their run lives. A run killed
//! before its renames leaves its temporary files behind; the next run removes the ones that
//! are ours and no longer locked, and leaves everything else alone.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::WriteError;
use crate::safe_file::{self, Owner};

/// Replaces each `(path, contents)` with its contents, file mode `mode`; on error every target
/// keeps its old content and the error names the target, never a temporary file. Only a
/// regular file (or nothing) at a target is replaced: a device, FIFO, socket, directory or
/// symbolic link there is refused, never swapped for a file of ours. `Ok` holds notes for
/// the admin (a file named like our temporary files that is not ours, left alone): the
/// caller shows them.
pub fn replace_files(files: &[(&Path, &[u8])], mode: u32) -> Result<Vec<String>, WriteError> {
    let mut written = Vec::with_capacity(files.len());
    let mut notes = Vec::new();
    for (path, contents) in files {
        refuse_unless_replaceable(path)?;
        remove_leftovers(path, &mut notes);
        written.push(write_temp(path, contents, mode)?);
    }
    // A rename can still fail (an immutable file, a target changed meanwhile), so each target
    // renamed before another keeps its old file under a second name until all are done, to
    // be put back then: the set stays all old or all new.
    let mut kept: Vec<Kept> = files[..files.len().saturating_sub(1)]
        .iter()
        .map(|(path, _)| keep_old(path))
        .collect();
    // Nothing was renamed yet: an error up to here drops (deletes) every temporary file and
    // every second name. The renames follow each other directly, in the order given.
    for (done, (temp, (path, _))) in written.into_iter().zip(files).enumerate() {
        if let Err(e) = temp.persist(path) {
            let mut error = WriteError {
                path: path.to_path_buf(),
                source: e.error,
            };
            let earlier = files[..done].iter().zip(kept.drain(..done));
            for ((earlier, _), old) in earlier.rev() {
                if let Err(undo) = put_back(earlier, old) {
                    error.source = std::io::Error::new(
                        error.source.kind(),
                        format!(
                            "{}; and '{}' could not be put back: {undo}",
                            error.source,
                            earlier.display()
                        ),
                    );
                }
            }
            return Err(error);
        }
    }
    Ok(notes)
}

fn refuse_unless_replaceable(path: &Path) -> Result<(), WriteError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => Err(WriteError {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!(
                "{}; refused, not replaced (give a path to a regular file, or to none)",
                safe_file::not_regular(meta.file_type())
            )),
        }),
        // Missing is what a first run finds; another error shows when the write fails.
        _ => Ok(()),
    }
}

/// `.NAME.old.`: what the second names of old targets start with.
fn old_prefix(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!(".{name}.old.")
}

/// What became of a target's old file while the set is replaced.
enum Kept {
    /// There was none: putting back removes the new one.
    Missing,
    /// Under a second name (a hard link, removed when dropped), locked so that no other run's
    /// cleanup takes it.
    Linked(tempfile::NamedTempFile<std::fs::File>),
    /// It could not be linked (a file system without hard links, another user's file under
    /// `fs.protected_hardlinks`, an immutable file whose own rename then fails first): the
    /// replacing goes on as before there were second names, and this says why.
    Unkept(std::io::Error),
}

fn keep_old(path: &Path) -> Kept {
    let kept = tempfile::Builder::new()
        .prefix(&old_prefix(path))
        .rand_bytes(RANDOM_LEN)
        .make_in(dir_of(path), |second| {
            std::fs::hard_link(path, second)?;
            let locked = std::fs::File::open(second)
                .and_then(|file| safe_file::try_lock(&file).map(|_| file));
            if locked.is_err() {
                let _ = std::fs::remove_file(second);
            }
            locked
        });
    match kept {
        Ok(kept) => Kept::Linked(kept),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Kept::Missing,
        Err(e) => Kept::Unkept(std::io::Error::new(e.kind(), strip_temp_name(&e))),
    }
}

/// Undoes one rename: the old file back at `path`, or no file if there was none.
fn put_back(path: &Path, old: Kept) -> std::io::Result<()> {
    match old {
        Kept::Linked(old) => old.persist(path).map(drop).map_err(|e| e.error),
        Kept::Missing => std::fs::remove_file(path),
        Kept::Unkept(e) => Err(std::io::Error::new(
            e.kind(),
            format!("its old file could not be kept ({e})"),
        )),
    }
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// `.NAME.tmp.`: what every temporary file of `path` starts with.
fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!(".{name}.tmp.")
}

/// tempfile's random part: six characters from `[A-Za-z0-9]`.
const RANDOM_LEN: usize = 6;

fn write_temp(
    path: &Path,
    contents: &[u8],
    mode: u32,
) -> Result<tempfile::NamedTempFile, WriteError> {
    let fail = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let mut temp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .rand_bytes(RANDOM_LEN)
        .tempfile_in(dir_of(path))
        .map_err(|e| fail(std::io::Error::new(e.kind(), strip_temp_name(&e))))?;
    // Held until the file is renamed or deleted: a run starting meanwhile leaves it alone.
    safe_file::try_lock(temp.as_file()).map_err(fail)?;
    // Through the File: NamedTempFile's own writes add the temporary path to errors.
    temp.as_file_mut().write_all(contents).map_err(fail)?;
    temp.as_file().sync_all().map_err(fail)?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(fail)?;
    Ok(temp)
}

/// tempfile adds the temporary path to its errors; ours name the target instead.
fn strip_temp_name(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.split_once(" at path ") {
        Some((reason, _)) => reason.to_string(),
        None => text,
    }
}

/// Removes what killed runs left of `path`'s temporary files and second names: only
/// regular files of ours, opened without following links, that no live run holds locked.
/// (Removing a name never touches another name of the same file, so a second name that
/// still shares the target's file goes as safely as a temporary file.) Files of others with
/// such names are left, with a note in `notes`.
fn remove_leftovers(path: &Path, notes: &mut Vec<String>) {
    let dir = dir_of(path);
    let prefixes = [temp_prefix(path), old_prefix(path)];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return; // writing will fail with the reason
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_ours = name.to_str().is_some_and(|n| {
            prefixes.iter().any(|prefix| {
                n.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                    rest.len() == RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric())
                })
            })
        });
        if !is_ours {
            continue;
        }
        let leftover = dir.join(&name);
        let opened = safe_file::open_read(&leftover, Owner::Anyone).and_then(|file| {
            safe_file::check_owner_is_us(&file, &leftover)?;
            Ok(file)
        });
        match opened {
            Ok(file) => {
                if safe_file::try_lock(&file).unwrap_or(false) {
                    // Best effort: a file we cannot remove costs only its space.
                    let _ = std::fs::remove_file(&leftover);
                }
            }
            Err(e) if e.is_missing() => {} // another run removed it first
            // Never ours: someone else made a name like our temporary files.
            Err(e) => notes.push(format!("temporary file {e}; left alone")),
        }
    }
}

/// Why stdout did not take all of our output.
#[derive(Debug)]
pub enum StdoutError {
    /// The reader went away (EPIPE: `| head`, snmpd giving up): said nowhere, it knows.
    Closed,
    /// A write failed (a full disk, `/dev/full`).
    Failed {
        /// Bytes written before the failure.
        written: usize,
        /// The failed write's I/O error.
        source: std::io::Error,
    },
    /// The reader took nothing more before `until`.
    Stalled {
        /// Bytes written before the reader stalled.
        written: usize,
    },
}

/// A write of at most this much never blocks once poll says a pipe is writable.
const STDOUT_CHUNK: usize = libc::PIPE_BUF;

/// Writes all of `bytes` to stdout (fd 1, past Rust's buffer, so nothing is left to flush at
/// exit), giving up at `until`: a reader that stops reading must not hold the run past its
/// deadline. Each chunk waits for poll(POLLOUT) with the time left, then is written whole or
/// in part; a short write is followed by the rest, an error ends it.
pub fn write_stdout(bytes: &[u8], until: std::time::Instant) -> Result<(), StdoutError> {
    let mut written = 0;
    while written < bytes.len() {
        let left = until.saturating_duration_since(std::time::Instant::now());
        let mut ready = libc::pollfd {
            fd: libc::STDOUT_FILENO,
            events: libc::POLLOUT,
            revents: 0,
        };
        // Rounded up, so a wait never ends just before `until` and busy-loops.
        let wait_ms = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd for the length given.
        let polled = unsafe { libc::poll(&raw mut ready, 1, wait_ms) };
        if polled < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(StdoutError::Failed { written, source: e });
        }
        if polled == 0 {
            return Err(StdoutError::Stalled { written });
        }
        // POLLERR or POLLHUP: the write below says which error.
        let chunk = &bytes[written..bytes.len().min(written + STDOUT_CHUNK)];
        // SAFETY: the pointer and length are those of a live slice.
        let n = unsafe { libc::write(libc::STDOUT_FILENO, chunk.as_ptr().cast(), chunk.len()) };
        match usize::try_from(n) {
            Ok(0) => {
                return Err(StdoutError::Failed {
                    written,
                    source: std::io::ErrorKind::WriteZero.into(),
                });
            }
            Ok(n) => written += n,
            Err(_) => {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR | libc::EAGAIN) => {}
                    Some(libc::EPIPE) => return Err(StdoutError::Closed),
                    _ => return Err(StdoutError::Failed { written, source: e }),
                }
            }
        }
    }
    Ok(())
}

/// How long stdout gets at least, however late in the deadline the output is ready: a reader
/// that reads at all takes it in far less.
pub const STDOUT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// When writing stdout must be done: the run's deadline, but at least [`STDOUT_GRACE`] from now.
pub fn stdout_deadline(
    started: std::time::Instant,
    deadline: std::time::Duration,
) -> std::time::Instant {
    (started + deadline).max(std::time::Instant::now() + STDOUT_GRACE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_a_pair_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("out.json");
        let b = dir.path().join("out.json.snmp");
        replace_files(&[(&a, b"one"), (&b, b"1")], 0o644).unwrap();
        replace_files(&[(&a, b"two"), (&b, b"2")], 0o644).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"two");
        assert_eq!(std::fs::read(&b).unwrap(), b"2");
        assert_eq!(names(dir.path()), ["out.json", "out.json.snmp"]);
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn a_failure_before_the_renames_keeps_every_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("out.json");
        replace_files(&[(&a, b"old")], 0o644).unwrap();
        let missing = dir.path().join("no-such-dir/out.json.snmp");
        let err = replace_files(&[(&a, b"new"), (&missing, b"x")], 0o644).unwrap_err();
        assert!(
            err.to_string().contains("no-such-dir/out.json.snmp"),
            "{err}"
        );
        assert!(
            !err.to_string().contains(".tmp."),
            "names the target: {err}"
        );
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.json"]);
    }

    #[test]
    fn leftovers_of_a_killed_run_go_but_locked_and_foreign_names_stay() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("out.json");
        std::fs::write(dir.path().join(".out.json.tmp.AbC123"), b"dead run").unwrap();
        let live = dir.path().join(".out.json.tmp.Live42");
        let held = File::create(&live).unwrap();
        assert!(safe_file::try_lock(&held).unwrap());
        std::fs::write(dir.path().join(".out.json.tmp.toolong1"), b"not ours").unwrap();
        std::fs::write(dir.path().join(".other.tmp.XyZ789"), b"not ours").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join(".out.json.tmp.Link00")).unwrap();
        replace_files(&[(&a, b"new")], 0o600).unwrap();
        assert_eq!(
            names(dir.path()),
            [
                ".other.tmp.XyZ789",
                ".out.json.tmp.Link00",
                ".out.json.tmp.Live42",
                ".out.json.tmp.toolong1",
                "out.json"
            ]
        );
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    /// `mknod` of a private null device (1:3) at `path`: a device node nothing else uses.
    fn null_device(path: &Path) -> bool {
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; makedev builds the number.
        unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) == 0 }
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_and_left_as_it_was() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let device = dir.path().join("null");
        if !null_device(&device) {
            assert_ne!(safe_file::euid(), 0, "root can mknod");
            eprintln!("SKIPPED the device case: mknod needs root");
        } else {
            let err = replace_files(&[(&device, b"x")], 0o600)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("'{}'", device.display())), "{err}");
            assert!(
                err.contains("a character device, not a regular file; refused"),
                "{err}"
            );
            let meta = std::fs::symlink_metadata(&device).unwrap();
            assert!(meta.file_type().is_char_device(), "still a device");
        }
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        for (path, what) in [(&fifo, "a FIFO"), (&link, "a symbolic link")] {
            let err = replace_files(&[(path, b"x")], 0o600)
                .unwrap_err()
                .to_string();
            assert!(err.contains(what), "{err}");
        }
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    }

    #[test]
    fn a_directory_at_the_second_target_keeps_both_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("out.json");
        let b = dir.path().join("out.json.snmp");
        std::fs::write(&a, b"old").unwrap();
        std::fs::create_dir(&b).unwrap();
        let err = replace_files(&[(&a, b"new"), (&b, b"1")], 0o644).unwrap_err();
        assert!(
            err.to_string().contains(&format!("'{}'", b.display())),
            "{err}"
        );
        assert!(err.to_string().contains("a directory"), "{err}");
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
        assert!(b.is_dir());
        assert_eq!(names(dir.path()), ["out.json", "out.json.snmp"]);
    }

    /// `chattr` on `path`; false when this file system or user cannot.
    fn chattr(flag: &str, path: &Path) -> bool {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    #[test]
    fn a_failing_second_rename_puts_the_first_target_back() {
        // In the source tree: /tmp may be a tmpfs without chattr.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        for first_existed in [true, false] {
            let a = dir.path().join("out.json");
            let b = dir.path().join("out.json.snmp");
            if first_existed {
                std::fs::write(&a, b"old").unwrap();
            }
            std::fs::write(&b, b"old snmp").unwrap();
            if !chattr("+i", &b) {
                eprintln!("SKIPPED: chattr +i does not work here");
                return;
            }
            let result = replace_files(&[(&a, b"new"), (&b, b"1")], 0o644);
            chattr("-i", &b);
            let err = result.unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("cannot write '{}'", b.display())),
                "{err}"
            );
            assert!(!err.contains("could not be put back"), "{err}");
            if first_existed {
                assert_eq!(std::fs::read(&a).unwrap(), b"old");
            } else {
                assert!(!a.exists(), "no new JSON beside the old .snmp");
            }
            assert_eq!(std::fs::read(&b).unwrap(), b"old snmp");
            let mut expected = vec!["out.json", "out.json.snmp"];
            if !first_existed {
                expected.remove(0);
            }
            assert_eq!(
                names(dir.path()),
                expected,
                "no temporary or second name left"
            );
            std::fs::remove_file(&b).unwrap();
            let _ = std::fs::remove_file(&a);
        }
    }

    #[test]
    fn an_immutable_first_target_fails_before_anything_is_renamed() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let a = dir.path().join("out.json");
        let b = dir.path().join("out.json.snmp");
        std::fs::write(&a, b"old").unwrap();
        std::fs::write(&b, b"old snmp").unwrap();
        if !chattr("+i", &a) {
            eprintln!("SKIPPED: chattr +i does not work here");
            return;
        }
        let result = replace_files(&[(&a, b"new"), (&b, b"1")], 0o644);
        chattr("-i", &a);
        let err = result.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot write '{}'", a.display())),
            "{err}"
        );
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
        assert_eq!(std::fs::read(&b).unwrap(), b"old snmp");
        assert_eq!(names(dir.path()), ["out.json", "out.json.snmp"]);
    }

    #[test]
    fn second_names_of_a_killed_run_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("out.json");
        let b = dir.path().join("out.json.snmp");
        std::fs::write(&a, b"old").unwrap();
        std::fs::hard_link(&a, dir.path().join(".out.json.old.Dead01")).unwrap();
        replace_files(&[(&a, b"new"), (&b, b"1")], 0o644).unwrap();
        assert_eq!(names(dir.path()), ["out.json", "out.json.snmp"]);
    }

    #[test]
    fn a_missing_directory_names_the_file() {
        let err =
            replace_files(&[(Path::new("/nonexistent-dir/x.json"), b"x")], 0o644).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/x.json"), "{err}");
        assert!(!err.to_string().contains(".tmp."), "{err}");
    }
}
