//! What one run has to report.

use std::time::SystemTime;

use crate::model::Snapshot;
use crate::xymon_wire::CounterRates;

/// What one run has to report: a collection with the rates the app computed from it (once,
/// with the counters it keeps for the next run), or a failure.
pub enum Report<'a> {
    /// A collection that answered.
    Collected {
        /// What it saw.
        snapshot: &'a Snapshot,
        /// Each VM's rates, in the snapshot's order; `None` on a first run, without a
        /// counters file, or in a format that sends raw counters.
        rates: Option<&'a [CounterRates]>,
        /// Why this run cannot keep counters for the next one (and how to fix it): the
        /// column turns at least yellow with this text, so lost rates do not go unseen.
        rates_lost: Option<&'a str>,
    },
    /// The collection failed: a red status with this text, and no graph lines.
    Failed {
        /// Why, as the status page shows it.
        error: &'a str,
        /// When the run gave up: the status's date.
        at: SystemTime,
    },
}
