//! The Xymon jobs: `hv_monitor xymon` (collect, build the messages, print or send them) and
//! `hv_monitor xymon-rrd HOST COLUMN FILE` (the rrd-script handler for xymond_rrd).
//!
//! - `host` and `servers`: who the messages are for and where they go;
//! - `counters`: the counters file around the collection;
//! - `send`: every server, each within `--timeout`;
//! - `rrd_script`: the handler's runner.
//!
//! With `--watch` the same run repeats at every interval, and a status alone (no graph
//! lines, counters untouched) goes out soon after a VM changes (`app::watch`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::beside;
use super::stdio::finish_on_stdout;
use super::watch as app_watch;
use crate::collect::{self, Backend, CollectOptions};
use crate::emit::xymon::{FsLimits, PoolLimits, Report, Settings, build};
use crate::error::{XymonSetupError, exit};
use crate::output::stdout_deadline;
use crate::rates::store::default_counters_path;
use crate::rates::{self, max_rate_age};
use crate::transport::{CaFile, Target};
use crate::xymon_wire::{Format, Messages, host_for_message, valid_column};

mod counters;
mod host;
mod rrd_script;
mod send;
mod servers;

pub use rrd_script::run_rrd_script;

use counters::Outcome;

/// What `hv_monitor xymon` was told on its command line (see `--help` for each).
#[derive(Debug, Clone)]
pub struct Options {
    /// The hypervisor stack to collect from (`-b`).
    pub backend: Backend,
    /// The libvirt URI and connection count.
    pub collect: CollectOptions,
    /// How long the collection may take (`-t`); past it the status turns red.
    pub deadline: Duration,
    /// `None`: `$MACHINE` (set by xymonlaunch), else this machine's name.
    pub host: Option<String>,
    /// `None`: [`Format::default_column`].
    pub column: Option<String>,
    /// The shape of the graph lines (`--format`).
    pub format: Format,
    /// Which messages to send (`--message`).
    pub messages: Messages,
    /// How often the job runs (`--interval`): the status lifetime and the RRD heartbeat.
    pub interval: Duration,
    /// Largest message in bytes (`--max-size`); bigger ones are split or cut.
    pub max_size: usize,
    /// Print the messages instead of sending them.
    pub print: bool,
    /// `None`: from `$XYMSRV` / `$XYMSERVERS`.
    pub servers: Vec<String>,
    /// The whole exchange with one server may take this long (`--timeout`).
    pub timeout: Duration,
    /// The counters file (`--state`): where the previous run's counters are kept. `None`: a
    /// default path when sending, none at all when printing (a trial run must not disturb
    /// the real job's rates).
    pub counters_file: Option<PathBuf>,
    /// Ask each server whether it knows the host before sending.
    pub host_check: bool,
    /// `--ca-file`: CA certificates trusted for https:// servers besides the system's.
    pub ca_file: Option<PathBuf>,
    /// `--pool-warn`: percent full at which a storage pool turns the column yellow.
    pub pool_warn: u8,
    /// `--pool-panic`: percent full at which a storage pool turns the column red.
    pub pool_panic: u8,
    /// `--fs-warn`, `--fs-panic`: guest file system percents for yellow and red.
    pub fs_limits: FsLimits,
    /// `--watch`: keep running, report every interval and on each VM change.
    pub watch: bool,
}

/// Runs `hv_monitor xymon`; returns the exit code.
pub fn run(options: &Options) -> i32 {
    let started = Instant::now();
    match prepare(options) {
        Ok(plan) if options.watch => watch(options, &plan),
        Ok(plan) => execute(options, &plan, started).code,
        Err(e) => {
            crate::diag!("hv_monitor: {e}");
            e.exit_code()
        }
    }
}

/// `--watch`: [`execute`] every interval, [`send_status`] on a VM change, under the lock
/// that keeps a second watcher off the same state files.
fn watch(options: &Options, plan: &Plan) -> i32 {
    let _lock = match plan.watch_lock.as_deref().map(app_watch::lock).transpose() {
        Ok(lock) => lock,
        Err(e) => {
            crate::diag!("hv_monitor: {e}");
            return e.exit_code();
        }
    };
    let mut job = Watched {
        options,
        plan,
        rates_lost: None,
    };
    app_watch::run(
        options.backend,
        &options.collect,
        options.interval,
        &mut job,
    )
}

/// The Xymon job as the watcher runs it.
struct Watched<'a> {
    options: &'a Options,
    plan: &'a Plan,
    /// The last interval's line about the counters file, kept on the statuses between.
    rates_lost: Option<String>,
}

impl app_watch::Job for Watched<'_> {
    fn every_interval(&mut self) {
        self.rates_lost = execute(self.options, self.plan, Instant::now()).rates_lost;
    }

    fn on_change(&mut self) {
        send_status(self.options, self.plan, self.rates_lost.as_deref());
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
    counters_path: Option<Result<PathBuf, String>>,
    /// The domain XML cache when `--domain-cache` named none: beside the counters file.
    domain_cache: Option<PathBuf>,
    /// `--watch`'s lock, beside the counters file; `None` for a `--print` trial without
    /// `--state`.
    watch_lock: Option<PathBuf>,
}

fn prepare(options: &Options) -> Result<Plan, XymonSetupError> {
    let host = host::message_host(options.host.as_deref());
    let message_host = host_for_message(&host)
        .ok_or_else(|| XymonSetupError::BadHost(host.escape_debug().to_string()))?;
    let column = options
        .column
        .clone()
        .unwrap_or_else(|| options.format.default_column().to_string());
    if !valid_column(&column) {
        return Err(XymonSetupError::BadColumn(
            column.escape_debug().to_string(),
        ));
    }
    let pool_limits = PoolLimits::new(options.pool_warn, options.pool_panic)
        .map_err(XymonSetupError::BadPoolLimits)?;
    let targets = if options.print {
        Vec::new()
    } else {
        servers::targets(&options.servers)?
    };
    let ca_file = match &options.ca_file {
        Some(path) if !options.print => Some(CaFile::read(path)?),
        _ => None,
    };
    let counters_path = match (
        &options.counters_file,
        options.format.uses_rates(),
        options.print,
    ) {
        (_, false, _) => None,
        (Some(path), true, _) => Some(Ok(path.clone())),
        (None, true, true) => None,
        (None, true, false) => Some(default_counters_path(&message_host, &column)),
    };
    // Beside the counters file, or where the default one would be (rrd-script keeps no
    // counters); a --print trial without --state keeps none.
    let state_file = match (&counters_path, &options.counters_file, options.print) {
        (Some(Ok(path)), _, _) | (None, Some(path), _) => Some(path.clone()),
        (None, None, false) => default_counters_path(&message_host, &column).ok(),
        _ => None,
    };
    Ok(Plan {
        settings: Settings::new(&message_host, &column, options.format, options.messages)
            .with_interval(options.interval)
            .with_max_size(options.max_size)
            .with_pool_limits(pool_limits)
            .with_fs_limits(options.fs_limits),
        dotted_host: message_host.replace(',', "."),
        targets,
        ca_file,
        counters_path,
        domain_cache: state_file.as_ref().map(|p| beside(p, ".domains")),
        watch_lock: state_file.as_ref().map(|p| beside(p, ".watch")),
    })
}

/// The collection options of a run: the domain cache beside the counters file unless
/// `--domain-cache` named one.
fn collect_options(options: &Options, plan: &Plan) -> CollectOptions {
    let mut collect_options = options.collect.clone();
    if collect_options.domain_cache.is_none() {
        collect_options.domain_cache.clone_from(&plan.domain_cache);
    }
    collect_options
}

/// One run: collect, rates from the counters file, every message, sent (or printed).
fn execute(options: &Options, plan: &Plan, started: Instant) -> Outcome {
    let mut outcome = Outcome {
        code: exit::OK,
        rates_lost: None,
    };
    // Held from reading the previous counters to writing the new ones, so two runs at once
    // (one still collecting when the next starts, or one by hand) never both take rates
    // from the same sample or overwrite each other's; released before sending, which may
    // take up to --timeout per server.
    let counters_lock = counters::lock(plan.counters_path.as_ref(), &mut outcome);
    let previous = counters::read(counters_lock.as_ref(), &mut outcome);
    let collected = collect::collect_within(
        options.backend,
        &collect_options(options, plan),
        options.deadline,
    );
    let messages = match &collected {
        Ok(snapshot) => {
            print_diagnostics(snapshot);
            // Rates and the next run's counters from one set of samples. Written before the
            // messages are built, so a failure shows on the page.
            let computed = counters_lock.as_ref().map(|lock| {
                let computed = rates::compute(
                    snapshot,
                    previous.as_ref(),
                    max_rate_age(plan.settings.interval),
                );
                counters::write(lock, &computed.next, &mut outcome);
                computed
            });
            let report = Report::Collected {
                snapshot,
                rates: computed.as_ref().and_then(|c| c.per_vm.as_deref()),
                rates_lost: outcome.rates_lost.as_deref(),
            };
            build(&report, &plan.settings)
        }
        Err(e) => {
            outcome.code = e.exit_code();
            failure_messages(e, &plan.settings)
        }
    };

    // The new counters are written: a run starting now gets the lock and its rates, however
    // long the sending below takes.
    drop(counters_lock);
    outcome.code = deliver(&messages, options, plan, started, outcome.code);
    outcome
}

/// `--watch`'s status on a VM change: the colour and table now, no graph lines (they would
/// add a sample off the RRD steps) and the counters file untouched (the interval's rates
/// stay the interval's). `rates_lost`: the last interval's line about the counters file.
/// Nothing with `--message data`, which has no status column.
fn send_status(options: &Options, plan: &Plan, rates_lost: Option<&str>) {
    if plan.settings.messages == Messages::Data {
        return;
    }
    let started = Instant::now();
    let settings = plan.settings.clone().without_graph_lines();
    let (messages, code) = match collect::collect_within(
        options.backend,
        &collect_options(options, plan),
        options.deadline,
    ) {
        Ok(snapshot) => {
            print_diagnostics(&snapshot);
            let report = Report::Collected {
                snapshot: &snapshot,
                rates: None,
                rates_lost,
            };
            (build(&report, &settings), exit::OK)
        }
        Err(e) => (failure_messages(&e, &settings), e.exit_code()),
    };
    deliver(&messages, options, plan, started, code);
}

fn print_diagnostics(snapshot: &crate::model::Snapshot) {
    for warning in &snapshot.warnings {
        crate::diag!("hv_monitor: warning: {warning}");
    }
    for note in &snapshot.notes {
        crate::diag!("hv_monitor: note: {note}");
    }
}

/// The red status of a collection that failed, said on stderr too.
fn failure_messages(e: &collect::CollectError, settings: &Settings) -> Vec<String> {
    crate::diag!("hv_monitor: {e}");
    let error = e.to_string();
    build(
        &Report::Failed {
            error: &error,
            at: std::time::SystemTime::now(),
        },
        settings,
    )
}

/// Prints or sends `messages`; the run's exit code, `code` unless the sending failed.
fn deliver(
    messages: &[String],
    options: &Options,
    plan: &Plan,
    started: Instant,
    code: i32,
) -> i32 {
    if options.print {
        let text = messages.join("\n");
        return finish_on_stdout(
            text.as_bytes(),
            stdout_deadline(started, options.deadline),
            code,
        );
    }
    let all_sent = send::send_all(
        messages,
        &plan.targets,
        &plan.dotted_host,
        options.timeout,
        plan.ca_file.clone(),
        options.host_check,
    );
    if all_sent { code } else { exit::SEND_FAILED }
}
