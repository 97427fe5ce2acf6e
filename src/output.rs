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
