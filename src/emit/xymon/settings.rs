//! What the user asks of the Xymon messages: format, message kinds, size limit, and what one
//! run has to report.

use std::time::{Duration, SystemTime};

use crate::model::Snapshot;
use crate::rates::RateState;

/// xymond cuts status and data messages at 256 KiB on the way to its workers; the channel
/// header it adds needs a little room too.
pub const DEFAULT_MAX_SIZE: usize = 240_000;
/// The smallest size limit that still holds a status header, the markers and one VM.
pub const MIN_MAX_SIZE: usize = 4_096;

/// Which "NAME : value" lines to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One graph per VM and metric, rates as GAUGE (server: `SPLITNCV_<column>="*:GAUGE"`).
    SplitNcv,
    /// Host totals only, a fixed set in a fixed order (server: `NCV_<column>="*:GAUGE"`).
    Ncv,
    /// Raw counters for our own `xymon-rrd` extra-script handler (DERIVE in the RRDs).
    RrdScript,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::SplitNcv => "splitncv",
            Format::Ncv => "ncv",
            Format::RrdScript => "rrd-script",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        [Format::SplitNcv, Format::Ncv, Format::RrdScript]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// Whether this format sends rates computed from the previous run.
    pub fn uses_rates(self) -> bool {
        self != Format::RrdScript
    }
}

/// Which message types carry what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A status (colour, table, graph lines); data messages only for what does not fit.
    Status,
    /// Data messages only: graphs, no column on the web page.
    Data,
    /// A status with the colour and table only, and every graph line in data messages.
    Both,
}

/// Longest host name we send (DNS's limit).
pub const MAX_HOST_LEN: usize = 253;
/// Longest column name we accept: it ends up in RRD file names and graph sections.
pub const MAX_COLUMN_LEN: usize = 60;
/// Longest `--interval`, seconds (a day; the RRD heartbeat is twice it).
pub const MAX_INTERVAL_SECS: u64 = 86_400;

#[derive(Debug, Clone)]
pub struct Settings {
    /// As it goes into messages (dots written as commas).
    pub host: String,
    pub column: String,
    pub format: Format,
    pub kind: Kind,
    /// How often the job runs: sets the status lifetime and the RRD heartbeat.
    pub interval: Duration,
    pub max_size: usize,
}

impl Settings {
    /// The longest host, column and interval the CLI accepts: the most a message's fixed
    /// parts can take from its size budget.
    pub fn longest(format: Format, kind: Kind, max_size: usize) -> Settings {
        Settings {
            host: "h".repeat(MAX_HOST_LEN),
            column: "c".repeat(MAX_COLUMN_LEN),
            format,
            kind,
            interval: Duration::from_secs(MAX_INTERVAL_SECS),
            max_size,
        }
    }
}

/// What one run has to report.
pub enum Report<'a> {
    Collected {
        snapshot: &'a Snapshot,
        /// The previous run's counters; `None` on a first run or without a state file.
        previous: Option<&'a RateState>,
        /// Why this run cannot keep counters for the next one (and how to fix it): the
        /// column turns at least yellow with this text, so lost rates do not go unseen.
        rates_lost: Option<&'a str>,
    },
    /// The collection failed: a red status with this text, and no graph lines.
    Failed { error: &'a str, at: SystemTime },
}

/// Twice the interval and a minute, in minutes: one late or lost run does not turn the
/// column purple, two do.
pub fn lifetime_minutes(interval: Duration) -> u64 {
    (2 * interval.as_secs()).div_ceil(60) + 1
}

/// How old the previous sample may be for its rates to count: a few missed runs are fine.
pub fn max_rate_age(interval: Duration) -> Duration {
    interval * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_covers_two_intervals() {
        assert_eq!(lifetime_minutes(Duration::from_secs(300)), 11);
        assert_eq!(lifetime_minutes(Duration::from_secs(60)), 3);
        assert_eq!(lifetime_minutes(Duration::from_secs(45)), 3);
    }
}
