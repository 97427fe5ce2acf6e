//! `--watch`: one long-running process instead of a job started by a timer. It runs the
//! job's full report at every interval, on a fixed schedule, and a shorter one soon after a
//! VM changes: libvirt's lifecycle events (`collect::events`) wake it, and after a short
//! settle time one report covers every change that came in meanwhile.
//!
//! The event connection has libvirt's keepalive; when it is lost the watcher says so, reports
//! at once (a collection then fails as a one-shot run's would, and says why), and connects
//! again with a growing pause. The first report after reconnecting covers what happened
//! while it was away. SIGTERM and SIGINT end it with exit 0; every file it writes is replaced
//! whole, so an end at any moment leaves them consistent.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crate::collect::events::{self, Change, Subscription};
use crate::collect::{Backend, CollectOptions};
use crate::error::{WatchError, exit};
use crate::safe_file::{open_lock, try_lock};

/// Quiet time after an event before the report: a VM that is destroyed and started again,
/// or a host that suspends twenty VMs at once, gives one report.
const SETTLE: Duration = Duration::from_millis(300);
/// Longest a stream of events delays the report after its first event.
const SETTLE_MAX: Duration = Duration::from_secs(1);
/// The pause before connecting again after a loss, doubled each failure up to the most.
const RECONNECT_FIRST: Duration = Duration::from_secs(1);
const RECONNECT_MOST: Duration = Duration::from_secs(60);
/// How long a signal waits for the main loop to end on its own (it is between reports almost
/// always; a report under way may wait on a server up to `--timeout`) before the process
/// ends from the signal thread.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// What the watcher runs: a full report at every interval, a short one on a change.
pub trait Job {
    /// The interval's report: everything a one-shot run does.
    fn every_interval(&mut self);
    /// The report on a VM change (or a lost connection) between intervals.
    fn on_change(&mut self);
}

/// The lock that lets one watcher at a time use a set of state or cache files: `path`,
/// held (flock) for as long as the returned file is open.
pub fn lock(path: &Path) -> Result<File, WatchError> {
    let failed = |reason: String| WatchError::Lock {
        lock: path.to_path_buf(),
        reason,
    };
    let file = open_lock(path).map_err(|e| failed(e.to_string()))?;
    match try_lock(&file) {
        Ok(true) => Ok(file),
        Ok(false) => Err(WatchError::Busy {
            lock: path.to_path_buf(),
        }),
        Err(e) => Err(failed(e.to_string())),
    }
}

/// What wakes the main loop.
enum Wake {
    /// A change from the subscription of this generation.
    Change(u64, Change),
    /// SIGTERM or SIGINT (its name).
    Stop(&'static str),
}

/// Runs `job` until SIGTERM or SIGINT; returns the exit code (0, or a setup failure's).
pub fn run(
    backend: Backend,
    options: &CollectOptions,
    interval: Duration,
    job: &mut dyn Job,
) -> i32 {
    let (tx, rx) = mpsc::channel();
    let stopped = match stop_on_signals(tx.clone()) {
        Ok(stopped) => stopped,
        Err(e) => {
            crate::diag!("hv_monitor: {e}");
            return e.exit_code();
        }
    };
    let mut events = Events::new(backend, options.clone(), tx);
    let mut next_full = Instant::now();
    let mut pending = Pending::default();
    loop {
        let now = Instant::now();
        if events.connect_if_due(now) {
            pending.note(now);
        }
        if now >= next_full {
            job.every_interval();
            // The schedule, not the end of this report: RRD steps stay regular, and a report
            // that took longer than an interval skips the slots it missed.
            while next_full <= Instant::now() {
                next_full += interval;
            }
            pending = Pending::default();
            continue;
        }
        if pending.due().is_some_and(|due| now >= due) {
            job.on_change();
            pending = Pending::default();
            continue;
        }
        let wake_at = [Some(next_full), pending.due(), events.next_attempt()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_full);
        match rx.recv_timeout(wake_at.saturating_duration_since(now)) {
            Ok(Wake::Change(generation, change)) if generation == events.generation => match change
            {
                Change::Domain { name, at } => {
                    if options.select.admits(&name) {
                        pending.note(at);
                    }
                }
                Change::Lost(why) => {
                    crate::diag!(
                        "hv_monitor: warning: libvirt's event connection is lost ({why}); \
                             reporting now and connecting again"
                    );
                    events.lost(Instant::now());
                    pending.note(Instant::now());
                }
            },
            // A change from a subscription already dropped.
            Ok(Wake::Change(..)) | Err(RecvTimeoutError::Timeout) => {}
            Ok(Wake::Stop(signal)) => {
                crate::diag!("hv_monitor: note: {signal}: the watch ends");
                let _ = stopped.send(());
                return exit::OK;
            }
            // `events` holds a sender for as long as this loop runs.
            Err(RecvTimeoutError::Disconnected) => unreachable!("the loop holds a sender"),
        }
    }
}

/// Events seen since the last report: when the first and the last came.
#[derive(Default)]
struct Pending {
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Pending {
    fn note(&mut self, at: Instant) {
        self.first.get_or_insert(at);
        self.last = Some(at.max(self.last.unwrap_or(at)));
    }

    /// When the report for them is due: [`SETTLE`] after the last, at most [`SETTLE_MAX`]
    /// after the first.
    fn due(&self) -> Option<Instant> {
        Some((self.last? + SETTLE).min(self.first? + SETTLE_MAX))
    }
}

/// The subscription to the backend's changes, and when to try again without one.
struct Events {
    backend: Backend,
    options: CollectOptions,
    tx: Sender<Wake>,
    subscription: Option<Subscription>,
    /// Counts subscriptions, so a change still queued from a dropped one is ignored.
    generation: u64,
    /// When to connect again; `None` while subscribed, or for a backend without events.
    retry_at: Option<Instant>,
    pause: Duration,
    /// Whether a subscription was lost (or never made) since the last success.
    lost: bool,
}

impl Events {
    fn new(backend: Backend, options: CollectOptions, tx: Sender<Wake>) -> Events {
        Events {
            backend,
            options,
            tx,
            subscription: None,
            generation: 0,
            retry_at: Some(Instant::now()),
            pause: RECONNECT_FIRST,
            lost: false,
        }
    }

    fn next_attempt(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Subscribes when an attempt is due; true when this ends a loss (a report is due: what
    /// changed while no event could come).
    fn connect_if_due(&mut self, now: Instant) -> bool {
        if self.retry_at.is_none_or(|at| now < at) {
            return false;
        }
        self.generation += 1;
        let (generation, tx) = (self.generation, self.tx.clone());
        let notify = move |change| {
            // The loop may be gone at the end; nothing to tell then.
            let _ = tx.send(Wake::Change(generation, change));
        };
        match events::subscribe(self.backend, &self.options, notify) {
            Ok(Some(subscription)) => {
                if self.lost {
                    crate::diag!("hv_monitor: note: libvirt's event connection is back");
                }
                self.subscription = Some(subscription);
                self.retry_at = None;
                self.pause = RECONNECT_FIRST;
                std::mem::take(&mut self.lost)
            }
            Ok(None) => {
                crate::diag!(
                    "hv_monitor: note: the {} backend has no event stream; --watch reports at \
                     every interval only",
                    self.backend.name()
                );
                self.retry_at = None;
                false
            }
            Err(e) => {
                // Each attempt, so the log shows the outage and the pauses (at most one line
                // a minute).
                crate::diag!(
                    "hv_monitor: warning: no libvirt events: {e}; next try in {} s",
                    self.pause.as_secs()
                );
                self.lost = true;
                self.retry_at = Some(now + self.pause);
                self.pause = (self.pause * 2).min(RECONNECT_MOST);
                false
            }
        }
    }

    /// The connection is gone: drop the subscription and try again after the pause.
    fn lost(&mut self, now: Instant) {
        self.subscription = None;
        self.lost = true;
        self.retry_at = Some(now + self.pause);
    }
}

/// Sends [`Wake::Stop`] on SIGTERM or SIGINT. When the loop does not answer on the returned
/// channel within [`STOP_GRACE`] (a report under way), the process ends from here.
fn stop_on_signals(tx: Sender<Wake>) -> Result<Sender<()>, WatchError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| WatchError::Signals(e.to_string()))?;
    let (stopped_tx, stopped_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                let _ = tx.send(Wake::Stop(name));
                if stopped_rx.recv_timeout(STOP_GRACE).is_err() {
                    crate::diag!("hv_monitor: note: {name}: the watch ends during a report");
                    // Not `exit`: the report's threads may be inside libvirt (see
                    // `app::end_process`); every file is replaced whole, none is half written.
                    // SAFETY: _exit ends the process at once; nothing runs after it.
                    unsafe { libc::_exit(exit::OK) }
                }
            }
        })
        .map_err(|e| WatchError::Signals(e.to_string()))?;
    Ok(stopped_tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_events_gives_one_report_soon_after_it_settles() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        assert_eq!(p.due(), None);
        p.note(t0);
        assert_eq!(p.due(), Some(t0 + Duration::from_millis(300)));
        p.note(t0 + Duration::from_millis(200));
        assert_eq!(p.due(), Some(t0 + Duration::from_millis(500)));
        // A stream that never goes quiet is reported a second after it began.
        for ms in (0..3000).step_by(100) {
            p.note(t0 + Duration::from_millis(ms));
        }
        assert_eq!(p.due(), Some(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn a_second_watcher_on_the_same_files_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.watch");
        let held = lock(&path).unwrap();
        let refused = lock(&path).unwrap_err();
        assert!(matches!(refused, WatchError::Busy { .. }), "{refused}");
        assert!(refused.to_string().contains("state.watch"), "{refused}");
        drop(held);
        lock(&path).unwrap();
    }
}
