//! The Xymon jobs: `hv_monitor xymon` (collect, build the messages, print or send them) and
//! `hv_monitor xymon-rrd HOST TEST FILE` (the xymond_rrd extra-script handler).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::collect::{self, Backend, CollectOptions};
use crate::emit::xymon::message;
use crate::emit::xymon::metrics::VmSample;
use crate::emit::xymon::names::{host_for_message, valid_column};
use crate::emit::xymon::settings::{Format, Kind, Report, Settings};
use crate::error::{SendError, XymonSetupError, exit};
use crate::output::{finish_on_stdout, stdout_deadline};
use crate::rates::RateState;
use crate::rrd_script;
use crate::transport::combo::combine;
use crate::transport::{CaFile, DEFAULT_PORT, Sender, Target, parse_port};

use crate::rates::store::{STATE_LOCK_WAIT, StateLock, default_state_path, refuse_unless_regular};

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
    /// `--ca-file`: CA certificates trusted for https:// servers besides the system's.
    pub ca_file: Option<PathBuf>,
}

/// Runs `hv_monitor xymon`; returns the exit code.
pub fn run(options: &Options) -> i32 {
    let started = Instant::now();
    match prepare(options) {
        Ok(plan) => execute(options, &plan, started),
        Err(e) => {
            crate::diag!("hv_monitor: {e}");
            e.exit_code()
        }
    }
}

/// What was settled before collecting: bad options fail before any work.
struct Plan {
    settings: Settings,
    /// The host as xymond knows it (dots), for the `hostinfo` check.
    dotted_host: String,
    targets: Vec<Target>,
    ca_file: Option<CaFile>,
    /// `Err`: the default state directory is unusable (said how to fix it).
    state_path: Option<Result<PathBuf, String>>,
}

fn prepare(options: &Options) -> Result<Plan, XymonSetupError> {
    let host = match &options.host {
        Some(h) => h.clone(),
        None => std::env::var("MACHINE")
            .ok()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(this_host_name),
    };
    let message_host = host_for_message(&host)
        .ok_or_else(|| XymonSetupError::BadHost(host.escape_debug().to_string()))?;
    let column = options
        .column
        .clone()
        .unwrap_or_else(|| default_column(options.format).to_string());
    if !valid_column(&column) {
        return Err(XymonSetupError::BadColumn(
            column.escape_debug().to_string(),
        ));
    }
    let targets = if options.print {
        Vec::new()
    } else {
        targets(&options.servers)?
    };
    let ca_file = match &options.ca_file {
        Some(path) if !options.print => Some(CaFile::read(path)?),
        _ => None,
    };
    let state_path = match (&options.state, options.format.uses_rates(), options.print) {
        (_, false, _) => None,
        (Some(path), true, _) => Some(Ok(path.clone())),
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
        ca_file,
        state_path,
    })
}

fn execute(options: &Options, plan: &Plan, started: Instant) -> i32 {
    let mut code = exit::OK;
    // Held from reading the previous counters to writing the new ones, so two runs at once
    // (one still collecting when the next starts, or one by hand) never both take rates
    // from the same sample or overwrite each other's; released before sending, which may
    // take up to --timeout per server.
    let mut rates_lost: Option<String> = None;
    let state_lock = match &plan.state_path {
        None => None,
        Some(Err(e)) => {
            crate::diag!("hv_monitor: {e}; this run sends no rates");
            code = exit::WRITE_FAILED;
            rates_lost = Some(rates_lost_text(e, Fix::StateDirectory));
            None
        }
        Some(Ok(path)) => match refuse_unless_regular(path) {
            // A device, FIFO or directory is someone's, never ours to replace (`--state
            // /dev/null` must leave /dev/null alone): no state this run, nor until it is fixed.
            Err(e) => {
                let e = format!("state file {e}");
                crate::diag!("hv_monitor: {e}; this run sends no rates and leaves it alone");
                code = exit::BAD_INPUT;
                rates_lost = Some(rates_lost_text(&e, Fix::RegularFile));
                None
            }
            Ok(()) => match StateLock::acquire(path, STATE_LOCK_WAIT) {
                Ok(Some(lock)) => Some(lock),
                Ok(None) => {
                    crate::diag!(
                        "hv_monitor: warning: another hv_monitor run is using state file '{}'; \
                         this run sends no rates and leaves the file to it",
                        path.display()
                    );
                    None
                }
                Err(e) => {
                    crate::diag!("hv_monitor: {e}; this run sends no rates");
                    code = exit::WRITE_FAILED;
                    rates_lost = Some(rates_lost_text(&e, Fix::Owner(path)));
                    None
                }
            },
        },
    };
    let previous = match state_lock.as_ref().map(StateLock::read) {
        Some(Ok(previous)) => previous,
        Some(Err(e)) => {
            // Not believed: a file someone else could write must not become our rates.
            crate::diag!("hv_monitor: state file {e}; this run sends no rates and replaces it");
            code = exit::BAD_INPUT;
            None
        }
        None => None,
    };
    let collected = collect::collect_within(options.backend, &options.collect, options.deadline);
    let messages = match &collected {
        Ok(snapshot) => {
            for warning in &snapshot.warnings {
                crate::diag!("hv_monitor: warning: {warning}");
            }
            // Written before the messages are built, so a failure shows on the page.
            if let Some(lock) = &state_lock {
                let samples: Vec<VmSample> = VmSample::all(&snapshot.vms);
                let state = RateState::new(snapshot.taken_at, &samples);
                if let Err(e) = lock.write(&state) {
                    let e = format!("cannot keep counters for the next run's rates: {e}");
                    crate::diag!("hv_monitor: {e}");
                    code = exit::WRITE_FAILED;
                    rates_lost = Some(rates_lost_text(&e, Fix::Owner(lock.path())));
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
            crate::diag!("hv_monitor: {e}");
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

    // The new counters are written: a run starting now gets the lock and its rates, however
    // long the sending below takes.
    drop(state_lock);

    if options.print {
        let text = messages.join("\n");
        return finish_on_stdout(
            text.as_bytes(),
            stdout_deadline(started, options.deadline),
            code,
        );
    }
    let payloads = combine(&messages);
    let mut sender = Sender::new(options.timeout, plan.ca_file.clone());
    let mut failed = false;
    for target in &plan.targets {
        if let Err(e) = send_to(
            &mut sender,
            target,
            &plan.dotted_host,
            &payloads,
            options.host_check,
        ) {
            crate::diag!("hv_monitor: {e}");
            failed = true;
        }
    }
    if failed { exit::SEND_FAILED } else { code }
}

/// One server: the host check, then every payload, all within one `--timeout`.
fn send_to(
    sender: &mut Sender,
    target: &Target,
    host: &str,
    payloads: &[Vec<u8>],
    host_check: bool,
) -> Result<(), SendError> {
    let mut exchange = sender.exchange(target);
    if host_check && !exchange.host_known(host)? {
        return Err(SendError::UnknownHost {
            target: target.to_string(),
            host: host.to_string(),
        });
    }
    for payload in payloads {
        exchange.send(payload)?;
    }
    Ok(())
}

/// What to tell the admin to do about a state file that cannot be used.
enum Fix<'a> {
    /// It belongs to someone else (usually one run by hand as root).
    Owner(&'a Path),
    /// Its directory cannot be used.
    StateDirectory,
    /// It is not a regular file (a device, FIFO or directory).
    RegularFile,
}

/// The status page's line when the state file cannot be used: what failed and the fix.
fn rates_lost_text(error: &str, fix: Fix) -> String {
    let fix = match fix {
        Fix::Owner(state) => format!(
            "give '{0}' and '{0}.lock' to the user that runs hv_monitor (the xymon user \
             under xymonlaunch: chown xymon: '{0}' '{0}.lock'), or remove both",
            state.display()
        ),
        Fix::StateDirectory => "make the state file's directory ($XYMONTMP, or --state) the \
                                hv_monitor user's own"
            .to_string(),
        Fix::RegularFile => "give --state a path where hv_monitor may keep a regular file of \
                             its own (or leave --state out)"
            .to_string(),
    };
    format!("hv_monitor keeps no rates (CPU, disk and network graphs stop): {error}. Fix: {fix}")
}

/// `--server` values, else what xymonlaunch exports: `$XYMSRV`, or every `$XYMSERVERS` entry
/// when `$XYMSRV` is `0.0.0.0` (Xymon's "all servers"); the port from `$XYMONDPORT`.
fn targets(servers: &[String]) -> Result<Vec<Target>, SendError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let port = match env("XYMONDPORT") {
        Some(p) => parse_port(p.trim()).map_err(|reason| SendError::BadServer {
            spec: format!("XYMONDPORT={p}"),
            reason,
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
                    crate::diag!("hv_monitor: xymon-rrd: cannot write to xymond_rrd: {e}");
                    exit::SEND_FAILED
                }
            }
        }
        Err(e) => {
            crate::diag!("hv_monitor: xymon-rrd {host} {test}: {e}");
            e.exit_code()
        }
    }
}
