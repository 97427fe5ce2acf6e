//! The Xymon counters file: the previous run's counters, kept where other users cannot
//! write (`$XYMONTMP`, else `$STATE_DIRECTORY`, else a directory of ours created 0700),
//! locked from reading to writing, read only when it is ours, and replaced atomically.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::PreviousCounters;
use crate::error::{SafeFileError, WriteError};
use crate::output::replace_files;
use crate::safe_file::{self, Owner};

/// Our own state directory when neither Xymon nor systemd gives one (FreeBSD keeps such
/// state under /var/db).
#[cfg(not(target_os = "freebsd"))]
pub const DEFAULT_STATE_DIR: &str = "/var/lib/hv-monitor";
/// Our own state directory when neither Xymon nor systemd gives one: FreeBSD keeps such
/// state under /var/db.
#[cfg(target_os = "freebsd")]
pub const DEFAULT_STATE_DIR: &str = "/var/db/hv-monitor";

/// How long a run waits for another run using the same counters file before it goes on
/// without rates. A run holds the lock for one collection, normally well under a second.
pub const COUNTERS_LOCK_WAIT: Duration = Duration::from_secs(1);
const STATE_LOCK_POLL: Duration = Duration::from_millis(20);

/// What [`CountersLock::read`] found in a counters file of ours.
#[derive(Debug, PartialEq)]
pub struct Read {
    /// The previous run's counters, if there are any to use.
    pub counters: Option<PreviousCounters>,
    /// Why a file of ours was ignored (damaged, or from another version), for stderr.
    pub warning: Option<String>,
}

/// A counters file is a few hundred bytes per VM; anything near this is not ours.
const MAX_COUNTERS_BYTES: u64 = 64 << 20;

/// `DIR/hv_monitor.HOST.COLUMN.state.json`, HOST in Xymon's comma form. DIR: `$XYMONTMP`
/// (the Xymon client's own scratch directory, set by xymonlaunch), else `$STATE_DIRECTORY`
/// (systemd's `StateDirectory=`), else [`DEFAULT_STATE_DIR`], created 0700 if missing.
pub fn default_counters_path(host: &str, column: &str) -> Result<PathBuf, String> {
    let env = |name: &str| std::env::var_os(name).filter(|d| !d.is_empty());
    let dir = match (env("XYMONTMP"), env("STATE_DIRECTORY")) {
        (Some(xymon), _) => {
            let dir = PathBuf::from(xymon);
            given_dir(&dir, "$XYMONTMP")?;
            dir
        }
        // systemd lists one directory per StateDirectory= entry, separated by colons.
        (None, Some(systemd)) => {
            let dir = std::env::split_paths(&systemd).next().unwrap_or_default();
            given_dir(&dir, "$STATE_DIRECTORY")?;
            dir
        }
        (None, None) => {
            private_dir(Path::new(DEFAULT_STATE_DIR))?;
            PathBuf::from(DEFAULT_STATE_DIR)
        }
    };
    Ok(dir.join(format!("hv_monitor.{host}.{column}.state.json")))
}

/// Creates `dir` 0700, or checks that the one there is a directory only we can write.
fn private_dir(dir: &Path) -> Result<(), String> {
    let advice = "give --state PATH in a directory only this user can write, or set XYMONTMP";
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(format!(
                "cannot create state directory '{}' ({e}): create it (mode 0700, owned by the user \
                 running hv_monitor), or {advice}",
                dir.display()
            ));
        }
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("state directory '{}': {e}", dir.display()))?;
    let problem = if !meta.file_type().is_dir() {
        Some("not a directory".to_string())
    } else if meta.uid() != safe_file::euid() {
        Some(format!("owned by uid {}, not by this user", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "writable by others (mode {:04o})",
            meta.mode() & 0o7777
        ))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(format!(
            "state directory '{}' is {p}: fix it, or {advice}",
            dir.display()
        )),
    }
}

/// Checks a state directory named by the environment (`$XYMONTMP`, `$STATE_DIRECTORY`).
/// It must be a directory (a link to one is the admin's choice) owned by this user or root,
/// and writable by no one else, unless it is sticky like /tmp: there no one can remove or
/// rename our files, and each file is checked to be ours when it is opened. A directory
/// anyone can write that is not sticky lets anyone swap the counters file between our check and
/// our read, so it is refused, as is one owned by another user (who could do the same).
fn given_dir(dir: &Path, variable: &str) -> Result<(), String> {
    let refuse = |problem: String, fix: &str| {
        Err(format!(
            "state directory '{}' (from {variable}) {problem}: {fix}, or give --state PATH in a \
             directory only this user can write",
            dir.display()
        ))
    };
    let meta = match std::fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) => return refuse(format!("cannot be used ({e})"), "create it"),
    };
    let me = safe_file::euid();
    let mode = meta.mode() & 0o7777;
    if !meta.is_dir() {
        refuse(
            "is not a directory".to_string(),
            "point the variable at one",
        )
    } else if meta.uid() != me && meta.uid() != 0 {
        refuse(
            format!(
                "is owned by {}, not by this user ({}) or root",
                safe_file::user_name(meta.uid()),
                safe_file::user_name(me)
            ),
            "give it to the user running hv_monitor (chown)",
        )
    } else if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        refuse(
            format!("is writable by others (mode {mode:04o}) and not sticky"),
            &format!("chmod go-w '{}'", dir.display()),
        )
    } else {
        Ok(())
    }
}

/// Refuses a counters file path where something other than a regular file is (`--state /dev/null`,
/// a FIFO, a directory, a link): it is someone's, never ours to replace, and its lock file
/// beside it is not made. Nothing there is a first run.
pub fn refuse_unless_regular(state: &Path) -> Result<(), SafeFileError> {
    match std::fs::symlink_metadata(state) {
        Ok(meta) if !meta.file_type().is_file() => Err(SafeFileError::Refused {
            path: state.to_path_buf(),
            reason: safe_file::not_regular(meta.file_type()),
        }),
        _ => Ok(()),
    }
}

/// Exclusive use of a counters file: `flock` on `STATE.lock` beside it. The lock file is never
/// removed (removing it would let two runs lock two different files); the counters file itself
/// is still replaced atomically, so a reader without the lock never sees half a file.
/// Released when dropped (the descriptor closes).
pub struct CountersLock {
    counters_file: PathBuf,
    _file: File,
}

impl CountersLock {
    /// `Ok(None)`: another process held the lock for all of `wait`.
    pub fn acquire(state: &Path, wait: Duration) -> Result<Option<CountersLock>, String> {
        let mut lock_path = state.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let file = safe_file::open_lock(&lock_path).map_err(|e| format!("lock file {e}"))?;
        let give_up = Instant::now() + wait;
        loop {
            match safe_file::try_lock(&file) {
                Ok(true) => {
                    return Ok(Some(CountersLock {
                        counters_file: state.to_path_buf(),
                        _file: file,
                    }));
                }
                Ok(false) if Instant::now() < give_up => std::thread::sleep(STATE_LOCK_POLL),
                Ok(false) => return Ok(None),
                Err(e) => {
                    return Err(format!(
                        "cannot lock state file '{}': {e}",
                        lock_path.display()
                    ));
                }
            }
        }
    }

    /// The previous run's counters. `counters: None`: none to use (a first run, or a damaged
    /// file of ours, then with a `warning`; rates resume next run). `Err`: the file failed a
    /// check (not ours, not a regular file, too large): it is not believed.
    pub fn read(&self) -> Result<Read, SafeFileError> {
        let bytes = match safe_file::read_capped(&self.counters_file, MAX_COUNTERS_BYTES, Owner::Us)
        {
            Ok(bytes) => bytes,
            Err(e) if e.is_missing() => {
                return Ok(Read {
                    counters: None,
                    warning: None,
                });
            }
            Err(e) => return Err(e),
        };
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|_| "not UTF-8".to_string())
            .and_then(PreviousCounters::from_json);
        Ok(match parsed {
            Ok(counters) => Read {
                counters: Some(counters),
                warning: None,
            },
            Err(e) => Read {
                counters: None,
                warning: Some(format!(
                    "ignoring state file '{}' ({e}); rates resume next run",
                    self.counters_file.display()
                )),
            },
        })
    }

    /// The counters file this lock is for.
    pub fn path(&self) -> &Path {
        &self.counters_file
    }

    /// Replaces the counters file (mode 0600) with `state`; `Ok` holds notes for the admin
    /// (see [`replace_files`]).
    pub fn write(&self, state: &PreviousCounters) -> Result<Vec<String>, WriteError> {
        replace_files(&[(&self.counters_file, state.to_json().as_bytes())], 0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_held_state_lock_turns_a_second_run_away_after_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let first = CountersLock::acquire(&state, Duration::ZERO)
            .unwrap()
            .unwrap();
        assert!(dir.path().join("s.json.lock").exists());
        // flock locks belong to the open file, so a second open in this process conflicts
        // exactly as another process would.
        let started = Instant::now();
        let second = CountersLock::acquire(&state, Duration::from_millis(100)).unwrap();
        assert!(second.is_none(), "the lock is held");
        assert!(started.elapsed() >= Duration::from_millis(100), "it waited");
        drop(first);
        let third = CountersLock::acquire(&state, Duration::ZERO).unwrap();
        assert!(third.is_some(), "free again once the first run is done");
    }

    #[test]
    fn an_unusable_lock_file_is_an_error_naming_it() {
        let err = CountersLock::acquire(Path::new("/nonexistent-dir/s.json"), Duration::ZERO)
            .err()
            .unwrap();
        assert!(err.contains("/nonexistent-dir/s.json.lock"), "{err}");
    }

    #[test]
    fn damaged_state_files_of_ours_give_no_rates_and_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let lock = CountersLock::acquire(&path, Duration::ZERO)
            .unwrap()
            .unwrap();
        assert!(
            lock.read().unwrap().counters.is_none(),
            "missing: a first run"
        );
        std::fs::write(&path, b"\xff\xfe not UTF-8").unwrap();
        assert!(lock.read().unwrap().counters.is_none());
        std::fs::write(&path, b"{\"version\":1,\"taken_at_ms\":").unwrap();
        assert!(lock.read().unwrap().counters.is_none(), "cut short");
        let huge = File::create(&path).unwrap();
        huge.set_len(MAX_COUNTERS_BYTES + 1).unwrap();
        assert!(lock.read().is_err(), "far too big to be ours");
        let good = PreviousCounters::new(std::time::SystemTime::now(), &[]);
        lock.write(&good).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "private");
        assert_eq!(lock.read().unwrap().counters, Some(good));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = lock.read().unwrap_err().to_string();
        assert!(err.contains("s.json' refused: writable by others"), "{err}");
    }

    #[test]
    fn a_directory_from_the_environment_is_checked_like_our_own() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("xymontmp");
        std::fs::create_dir(&dir).unwrap();
        let set = |mode| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode));
        for ok in [0o700, 0o755, 0o1777, 0o1770] {
            set(ok).unwrap();
            given_dir(&dir, "$XYMONTMP").unwrap_or_else(|e| panic!("{ok:o}: {e}"));
        }
        for (bad, said) in [(0o777, "mode 0777"), (0o775, "mode 0775")] {
            set(bad).unwrap();
            let err = given_dir(&dir, "$XYMONTMP").unwrap_err();
            let named = format!("state directory '{}' (from $XYMONTMP)", dir.display());
            assert!(err.contains(&named), "{err}");
            assert!(err.contains(said) && err.contains("not sticky"), "{err}");
            assert!(
                err.contains(&format!("chmod go-w '{}'", dir.display())),
                "{err}"
            );
            assert!(err.contains("--state PATH"), "{err}");
        }
        set(0o755).unwrap();
        if safe_file::euid() == 0 {
            std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
            let err = given_dir(&dir, "$STATE_DIRECTORY").unwrap_err();
            assert!(err.contains("is owned by uid 65534"), "{err}");
            assert!(
                err.contains("not by this user (uid 0 (root)) or root"),
                "{err}"
            );
        }
        let file = base.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(
            given_dir(&file, "$XYMONTMP")
                .unwrap_err()
                .contains("not a directory")
        );
        let err = given_dir(&base.path().join("missing"), "$XYMONTMP").unwrap_err();
        assert!(
            err.contains("cannot be used") && err.contains("create it"),
            "{err}"
        );
    }

    #[test]
    fn only_a_regular_state_file_or_none_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        refuse_unless_regular(&state).unwrap();
        std::fs::write(&state, b"{}").unwrap();
        refuse_unless_regular(&state).unwrap();
        std::fs::remove_file(&state).unwrap();
        std::fs::create_dir(&state).unwrap();
        let err = refuse_unless_regular(&state).unwrap_err().to_string();
        assert!(
            err.contains("s.json' refused: a directory, not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn the_default_directory_is_created_private_and_checked() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("hv-monitor");
        private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        private_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = private_dir(&dir).unwrap_err();
        assert!(err.contains("writable by others (mode 0777)") && err.contains("--state"));
        let err = private_dir(&base.path().join("missing/hv-monitor")).unwrap_err();
        assert!(err.contains("cannot create state directory"), "{err}");
        assert!(err.contains("XYMONTMP"), "{err}");
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(private_dir(&link).unwrap_err().contains("not a directory"));
    }
}
