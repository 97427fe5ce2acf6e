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

use crate::error::{WriteError, exit};
use crate::safe_file::{self, Owner};

/// Replaces each `(path, contents)` with its contents, file mode `mode`; on error every target
/// keeps its old content and the error names the target, never a temporary file.
pub fn replace_files(files: &[(&Path, &[u8])], mode: u32) -> Result<(), WriteError> {
    let mut written = Vec::with_capacity(files.len());
    for (path, contents) in files {
        remove_leftovers(path);
        written.push(write_temp(path, contents, mode)?);
    }
    // Nothing was renamed yet: an error up to here drops (deletes) every temporary file.
    // The renames follow each other directly, in the order given.
    for (temp, (path, _)) in written.into_iter().zip(files) {
        temp.persist(path).map_err(|e| WriteError {
            path: path.to_path_buf(),
            source: e.error,
        })?;
    }
    Ok(())
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

/// Removes what killed runs left of `path`'s temporary files: only regular files of ours,
/// opened without following links, that no live run holds locked.
fn remove_leftovers(path: &Path) {
    let dir = dir_of(path);
    let prefix = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return; // writing will fail with the reason
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_ours = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .is_some_and(|rest| {
                rest.len() == RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !is_ours {
            continue;
        }
        let leftover = dir.join(&name);
        match safe_file::open_read(&leftover, Owner::Us) {
            Ok(file) => {
                if safe_file::try_lock(&file).unwrap_or(false) {
                    // Best effort: a file we cannot remove costs only its space.
                    let _ = std::fs::remove_file(&leftover);
                }
            }
            Err(e) if e.is_missing() => {} // another run removed it first
            // Never ours: someone else made a name like our temporary files.
            Err(e) => eprintln!("hv_monitor: warning: temporary file {e}; left alone"),
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
        written: usize,
        source: std::io::Error,
    },
    /// The reader took nothing more before `until`.
    Stalled { written: usize },
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

/// Writes a job's output to stdout by `until` and returns the run's exit code: `code`, or when
/// that is success and stdout failed, [`exit::WRITE_FAILED`] (the reason on stderr, except
/// for a reader that went away) or [`exit::DEADLINE`] for a reader that stopped reading.
/// An earlier failure's code is kept: it is the first thing to fix.
pub fn finish_on_stdout(bytes: &[u8], until: std::time::Instant, code: i32) -> i32 {
    let failed = match write_stdout(bytes, until) {
        Ok(()) => return code,
        Err(StdoutError::Closed) => exit::WRITE_FAILED,
        Err(StdoutError::Failed { written, source }) => {
            eprintln!(
                "hv_monitor: cannot write to stdout: {source} ({written} of {} bytes written)",
                bytes.len()
            );
            exit::WRITE_FAILED
        }
        Err(StdoutError::Stalled { written }) => {
            eprintln!(
                "hv_monitor: stdout: the reader took no more output by the deadline ({written} \
                 of {} bytes written); giving up",
                bytes.len()
            );
            exit::DEADLINE
        }
    };
    if code == exit::OK { failed } else { code }
}

/// How long stdout gets at least, however late in the deadline the output is ready: a reader
/// that reads at all takes it in far less.
pub const STDOUT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// When writing stdout must be done: the run's deadline, but at least [`STDOUT_GRACE`] from now.
pub fn stdout_deadline(started: std::time::Instant, deadline: std::time::Duration) -> std::time::Instant {
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

    #[test]
    fn a_missing_directory_names_the_file() {
        let err =
            replace_files(&[(Path::new("/nonexistent-dir/x.json"), b"x")], 0o644).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/x.json"), "{err}");
        assert!(!err.to_string().contains(".tmp."), "{err}");
    }
}
