//! The counters file for one run: locked before the previous counters are read, replaced
//! with this run's before the messages are built, and what to tell the admin when it cannot
//! be used.

use std::path::{Path, PathBuf};

use crate::app::stdio::print_notes;
use crate::error::exit;
use crate::rates::PreviousCounters;
use crate::rates::store::{COUNTERS_LOCK_WAIT, CountersLock, refuse_unless_regular};

/// How the run is going so far: its exit code, and why it keeps no rates if it cannot.
pub struct Outcome {
    /// The exit code so far ([`exit`]).
    pub code: i32,
    /// The status page's line when the counters file cannot be used.
    pub rates_lost: Option<String>,
}

/// The lock on the counters file at `path` (`None`: no counters file this run, `Err`: the
/// default directory is unusable), or `None` when the file cannot or must not be used.
pub fn lock(path: Option<&Result<PathBuf, String>>, outcome: &mut Outcome) -> Option<CountersLock> {
    match path {
        None => None,
        Some(Err(e)) => {
            crate::diag!("hv_monitor: {e}; this run sends no rates");
            outcome.code = exit::WRITE_FAILED;
            outcome.rates_lost = Some(rates_lost_text(e, Fix::StateDirectory));
            None
        }
        Some(Ok(path)) => match refuse_unless_regular(path) {
            // A device, FIFO or directory is someone's, never ours to replace (`--state
            // /dev/null` must leave /dev/null alone): no counters this run, nor until it is
            // fixed.
            Err(e) => {
                let e = format!("state file {e}");
                crate::diag!("hv_monitor: {e}; this run sends no rates and leaves it alone");
                outcome.code = exit::BAD_INPUT;
                outcome.rates_lost = Some(rates_lost_text(&e, Fix::RegularFile));
                None
            }
            Ok(()) => match CountersLock::acquire(path, COUNTERS_LOCK_WAIT) {
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
                    outcome.code = exit::WRITE_FAILED;
                    outcome.rates_lost = Some(rates_lost_text(&e, Fix::Owner(path)));
                    None
                }
            },
        },
    }
}

/// The previous run's counters, if the file holds counters we can believe.
pub fn read(lock: Option<&CountersLock>, outcome: &mut Outcome) -> Option<PreviousCounters> {
    match lock.map(CountersLock::read) {
        Some(Ok(read)) => {
            if let Some(warning) = read.warning {
                crate::diag!("hv_monitor: warning: {warning}");
            }
            read.counters
        }
        Some(Err(e)) => {
            // Not believed: a file someone else could write must not become our rates.
            crate::diag!("hv_monitor: state file {e}; this run sends no rates and replaces it");
            outcome.code = exit::BAD_INPUT;
            None
        }
        None => None,
    }
}

/// Replaces the counters file with this run's counters.
pub fn write(lock: &CountersLock, next: &PreviousCounters, outcome: &mut Outcome) {
    match lock.write(next) {
        Ok(notes) => print_notes(&notes),
        Err(e) => {
            let e = format!("cannot keep counters for the next run's rates: {e}");
            crate::diag!("hv_monitor: {e}");
            outcome.code = exit::WRITE_FAILED;
            outcome.rates_lost = Some(rates_lost_text(&e, Fix::Owner(lock.path())));
        }
    }
}

/// What to tell the admin to do about a counters file that cannot be used.
enum Fix<'a> {
    /// It belongs to someone else (usually one run by hand as root).
    Owner(&'a Path),
    /// Its directory cannot be used.
    StateDirectory,
    /// It is not a regular file (a device, FIFO or directory).
    RegularFile,
}

/// The status page's line when the counters file cannot be used: what failed and the fix.
fn rates_lost_text(error: &str, fix: Fix) -> String {
    let fix = match fix {
        Fix::Owner(file) => format!(
            "give '{0}' and '{0}.lock' to the user that runs hv_monitor (the xymon user \
             under xymonlaunch: chown xymon: '{0}' '{0}.lock'), or remove both",
            file.display()
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
