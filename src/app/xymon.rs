//! The Xymon jobs: `hv_monitor xymon` (collect, build the messages, print or send them) and
//! `hv_monitor xymon-rrd HOST TEST FILE` (the xymond_rrd extra-script handler).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::collect::{self, Backend, CollectOptions};
use crate::emit::xymon::combo::combine;
use crate::emit::xymon::message;
use crate::emit::xymon::metrics::VmSample;
use crate::emit::xymon::names::{host_for_message, valid_column};
use crate::emit::xymon::rates::RateState;
use crate::emit::xymon::rrd_script;
use crate::emit::xymon::settings::{Format, Kind, Report, Settings};
use crate::emit::xymon::transport::{DEFAULT_PORT, Sender, Target};
use crate::error::{SendError, exit};
use crate::output::replace_file;

/// The column each format is meant for; the shipped server settings use these names.
pub fn default_column(format: Format) -> &'static str {
    match format {
        Format::SplitNcv => "hvmon",
        Format::Ncv => "hvmontot",
        Format::RrdScript => "hvmonrrd",
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub backend: Backend,
    pub collect: CollectOptions,
    pub deadline: Duration,
    /// `None`: `$MACHINE` (set by xymonlaunch), else this machine's name.
    pub host: Option<String>,
    /// `None`: [`default_column`] of the format.
    pub column: Option<String>,
    pub format: Format,
    pub kind: Kind,
    pub interval: Duration,
    pub max_size: usize,
    /// Print the messages instead of sending them.
    pub print: bool,
    /// `None`: from `$XYMSRV` / `$XYMSERVERS`.
    pub servers: Vec<String>,
    pub timeout: Duration,
    /// Where the previous run's counters are kept. `None`: a default path when sending, no
    /// state at all when printing (a trial run must not disturb the real job's rates).
    pub state: Option<PathBuf>,
    /// Ask each server whether it knows the host before sending.
    pub host_check: bool,
}

/// Runs `hv_monitor xymon`; returns the exit code.
pub fn run(options: &Options) -> i32 {
    match prepare(options) {
        Ok(plan) => execute(options, &plan),
        Err((code, message)) => {
            eprintln!("hv_monitor: {message}");
            code
        }
    }
}

/// What was settled before collecting: bad options fail before any work.
struct Plan {
    settings: Settings,
    /// The host as xymond knows it (dots), for the `hostinfo` check.
    dotted_host: String,
    targets: Vec<Target>,
    state_path: Option<PathBuf>,
}

fn prepare(options: &Options) -> Result<Plan, (i32, String)> {
    let host = match &options.host {
        Some(h) => h.clone(),
        None => std::env::var("MACHINE")
            .ok()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(this_host_name),
    };
    let message_host = host_for_message(&host).ok_or_else(|| {
        (
            exit::USAGE,
            format!(
                "host name '{}' has characters Xymon cannot take (letters, digits, . , - _ only)",
                host.escape_debug()
            ),
        )
    })?;
    let column = options
        .column
        .clone()
        .unwrap_or_else(|| default_column(options.format).to_string());
    if !valid_column(&column) {
        return Err((
            exit::USAGE,
            format!(
                "column '{}' must be 1-60 of [A-Za-z0-9_-] (it becomes part of RRD file names)",
                column.escape_debug()
            ),
        ));
    }
    let targets = if options.print {
        Vec::new()
    } else {
        targets(&options.servers).map_err(|e| (e.exit_code(), e.to_string()))?
    };
    let state_path = match (&options.state, options.format.uses_rates(), options.print) {
        (_, false, _) => None,
        (Some(path), true, _) => Some(path.clone()),
        (None, true, true) => None,
        (None, true, false) => Some(default_state_path(&message_host, &column)),
    };
    Ok(Plan {
        settings: Settings {
            host: message_host.clone(),
            column,
            format: options.format,
            kind: options.kind,
            interval: options.interval,
            max_size: options.max_size,
        },
        dotted_host: message_host.replace(',', "."),
        targets,
        state_path,
    })
}

fn execute(options: &Options, plan: &Plan) -> i32 {
    let mut code = exit::OK;
    // Held from reading the previous counters to writing the new ones, so two runs at once
    // (one still collecting when the next starts, or one by hand) never both take rates
    // from the same sample or overwrite each other's.
    let mut rates_lost: Option<String> = None;
    let state_lock = match plan.state_path.as_deref() {
        None => None,
        Some(path) => match StateLock::acquire(path, STATE_LOCK_WAIT) {
            Ok(Some(lock)) => Some(lock),
            Ok(None) => {
                eprintln!(
                    "hv_monitor: warning: another hv_monitor run is using state file '{}'; \
                     this run sends no rates and leaves the file to it",
                    path.display()
                );
                None
            }
            Err(e) => {
                eprintln!("hv_monitor: {e}; this run sends no rates");
                code = exit::WRITE_FAILED;
                rates_lost = Some(rates_lost_text(&e, path));
                None
            }
        },
    };
    let previous = state_lock.as_ref().and_then(|l| read_state(&l.state));
    let collected = collect::collect_within(options.backend, &options.collect, options.deadline);
    let messages = match &collected {
        Ok(snapshot) => {
            for warning in &snapshot.warnings {
                eprintln!("hv_monitor: warning: {warning}");
            }
            // Written before the messages are built, so a failure shows on the page.
            if let Some(lock) = &state_lock {
                let samples: Vec<VmSample> = snapshot.vms.iter().map(VmSample::of).collect();
                let state = RateState::new(snapshot.taken_at, &samples);
                if let Err(e) = replace_file(&lock.state, state.to_json().as_bytes()) {
                    let e = format!("cannot keep counters for the next run's rates: {e}");
                    eprintln!("hv_monitor: {e}");
                    code = exit::WRITE_FAILED;
                    rates_lost = Some(rates_lost_text(&e, &lock.state));
                }
            }
            let report = Report::Collected {
                snapshot,
                previous: previous.as_ref(),
                rates_lost: rates_lost.as_deref(),
            };
            message::build(&report, &plan.settings)
        }
        Err(e) => {
            eprintln!("hv_monitor: {e}");
            code = e.exit_code();
            let error = e.to_string();
            message::build(
                &Report::Failed {
                    error: &error,
                    at: std::time::SystemTime::now(),
                },
                &plan.settings,
            )
        }
    };

    if options.print {
        let mut out = std::io::stdout().lock();
        let text = messages.join("\n");
        // A closed pipe (`| head`) is not worth a panic.
        let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
        return code;
    }
    let payloads = combine(&messages);
    let mut sender = Sender::new(options.timeout);
    let mut failed = false;
    for target in &plan.targets {
        if let Err(e) = send_to(
            &mut sender,
            target,
            &plan.dotted_host,
            &payloads,
            options.host_check,
        ) {
            eprintln!("hv_monitor: {e}");
            failed = true;
        }
    }
    if failed { exit::SEND_FAILED } else { code }
}

fn send_to(
    sender: &mut Sender,
    target: &Target,
    host: &str,
    payloads: &[Vec<u8>],
    host_check: bool,
) -> Result<(), SendError> {
    if host_check && !sender.host_known(target, host)? {
        return Err(SendError::UnknownHost {
            target: target.to_string(),
            host: host.to_string(),
        });
    }
    for payload in payloads {
        sender.send(target, payload)?;
    }
    Ok(())
}

/// `--server` values, else what xymonlaunch exports: `$XYMSRV`, or every `$XYMSERVERS` entry
/// when `$XYMSRV` is `0.0.0.0` (Xymon's "all servers"); the port from `$XYMONDPORT`.
fn targets(servers: &[String]) -> Result<Vec<Target>, SendError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let port = match env("XYMONDPORT") {
        Some(p) => p.trim().parse::<u16>().map_err(|_| SendError::BadServer {
            spec: format!("XYMONDPORT={p}"),
            reason: "not a port number".into(),
        })?,
        None => DEFAULT_PORT,
    };
    let specs: Vec<String> = if !servers.is_empty() {
        servers.to_vec()
    } else {
        match env("XYMSRV").as_deref().map(str::trim) {
            Some("0.0.0.0" | "0" | "::") | None => env("XYMSERVERS")
                .map(|s| {
                    s.split([' ', ',', '\t'])
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            Some(one) => vec![one.to_string()],
        }
    };
    if specs.is_empty() {
        return Err(SendError::NoServer);
    }
    specs.iter().map(|s| Target::parse(s, port)).collect()
}

/// `$XYMONTMP` is the Xymon client's scratch directory; elsewhere /var/tmp survives reboots,
/// which keeps rates right across one.
/// The status page's line when the state file cannot be used: what failed and the fix (the
/// usual cause is one run by hand as root leaving files the xymon user cannot open).
fn rates_lost_text(error: &str, state: &Path) -> String {
    format!(
        "hv_monitor keeps no rates (CPU, disk and network graphs stop): {error}. Fix: give \
         '{0}' and '{0}.lock' to the user that runs hv_monitor (the xymon user under \
         xymonlaunch: chown xymon: '{0}' '{0}.lock'), or remove both",
        state.display()
    )
}

fn default_state_path(host: &str, column: &str) -> PathBuf {
    let dir = std::env::var_os("XYMONTMP")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    dir.join(format!("hv_monitor.{host}.{column}.state.json"))
}

/// How long a run waits for another run using the same state file before it goes on
/// without rates. A run holds the lock for one collection, normally well under a second.
const STATE_LOCK_WAIT: Duration = Duration::from_secs(1);
const STATE_LOCK_POLL: Duration = Duration::from_millis(20);

/// A state file is a few hundred bytes per VM; anything near this is not ours.
const MAX_STATE_BYTES: u64 = 64 << 20;

/// Exclusive use of a state file: `flock` on `STATE.lock` beside it. The lock file is never
/// removed (removing it would let two runs lock two different files); the state file itself
/// is still replaced atomically, so a reader without the lock never sees half a file.
/// Released when dropped (the descriptor closes).
struct StateLock {
    state: PathBuf,
    _file: File,
}

impl StateLock {
    /// `Ok(None)`: another process held the lock for all of `wait`.
    fn acquire(state: &Path, wait: Duration) -> Result<Option<StateLock>, String> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        let mut lock_path = state.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&lock_path)
            .map_err(|e| format!("cannot lock state file '{}': {e}", lock_path.display()))?;
        let give_up = Instant::now() + wait;
        loop {
            // SAFETY: flock on a descriptor this function owns; no memory is involved.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(Some(StateLock {
                    state: state.to_path_buf(),
                    _file: file,
                }));
            }
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::WouldBlock if Instant::now() < give_up => {
                    std::thread::sleep(STATE_LOCK_POLL)
                }
                std::io::ErrorKind::WouldBlock => return Ok(None),
                std::io::ErrorKind::Interrupted => {}
                _ => {
                    return Err(format!(
                        "cannot lock state file '{}': {e}",
                        lock_path.display()
                    ));
                }
            }
        }
    }
}

/// The previous run's counters; a missing file is a first run, an unusable one is reported
/// and replaced (rates resume one run later).
fn read_state(path: &Path) -> Option<RateState> {
    let mut text = String::new();
    let read = File::open(path).and_then(|f| f.take(MAX_STATE_BYTES + 1).read_to_string(&mut text));
    match read {
        Ok(n) if n as u64 > MAX_STATE_BYTES => {
            eprintln!(
                "hv_monitor: warning: ignoring state file '{}' (over {} MiB, not one of ours); \
                 rates resume next run",
                path.display(),
                MAX_STATE_BYTES >> 20
            );
            None
        }
        Ok(_) => match RateState::from_json(&text) {
            Ok(state) => Some(state),
            Err(e) => {
                eprintln!(
                    "hv_monitor: warning: ignoring state file '{}' ({e}); rates resume next run",
                    path.display()
                );
                None
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            eprintln!(
                "hv_monitor: warning: cannot read state file '{}' ({e}); rates resume next run",
                path.display()
            );
            None
        }
    }
}

fn this_host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // fails, and we stop at the first NUL either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Runs `hv_monitor xymon-rrd HOST TEST FILE`: the lines for xymond_rrd on stdout, or an
/// error on stderr and nothing on stdout.
pub fn run_rrd(host: &str, test: &str, file: &Path) -> i32 {
    match rrd_script::handle(host, test, file) {
        Ok(lines) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(lines.as_bytes()).and_then(|_| out.flush()) {
                Ok(()) => exit::OK,
                Err(e) => {
                    eprintln!("hv_monitor: xymon-rrd: cannot write to xymond_rrd: {e}");
                    exit::SEND_FAILED
                }
            }
        }
        Err(e) => {
            eprintln!("hv_monitor: xymon-rrd {host} {test}: {e}");
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_state_lock_turns_a_second_run_away_after_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let first = StateLock::acquire(&state, Duration::ZERO).unwrap().unwrap();
        assert!(dir.path().join("s.json.lock").exists());
        // flock locks belong to the open file, so a second open in this process conflicts
        // exactly as another process would.
        let started = Instant::now();
        let second = StateLock::acquire(&state, Duration::from_millis(100)).unwrap();
        assert!(second.is_none(), "the lock is held");
        assert!(started.elapsed() >= Duration::from_millis(100), "it waited");
        drop(first);
        let third = StateLock::acquire(&state, Duration::ZERO).unwrap();
        assert!(third.is_some(), "free again once the first run is done");
    }

    #[test]
    fn an_unusable_lock_file_is_an_error_naming_it() {
        let err = StateLock::acquire(Path::new("/nonexistent-dir/s.json"), Duration::ZERO)
            .err()
            .unwrap();
        assert!(err.contains("/nonexistent-dir/s.json.lock"), "{err}");
    }

    #[test]
    fn state_files_that_are_not_ours_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        assert!(read_state(&path).is_none(), "missing: a first run");
        std::fs::write(&path, b"\xff\xfe not UTF-8").unwrap();
        assert!(read_state(&path).is_none());
        std::fs::write(&path, b"{\"version\":1,\"taken_at_ms\":").unwrap();
        assert!(read_state(&path).is_none(), "cut short");
        let huge = std::fs::File::create(&path).unwrap();
        huge.set_len(MAX_STATE_BYTES + 1).unwrap();
        assert!(read_state(&path).is_none(), "far too big to be ours");
        let good = RateState::new(std::time::SystemTime::now(), &[]);
        std::fs::write(&path, good.to_json()).unwrap();
        assert_eq!(read_state(&path), Some(good));
    }
}
