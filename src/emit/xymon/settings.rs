//! What the user asks of the Xymon messages: host, column, format, message types, interval
//! size limit, and how full a storage pool may get.

use std::time::Duration;

use super::colour::PoolLimits;
use super::guest_fs::FsLimits;
use crate::xymon_wire::{
    DEFAULT_MAX_SIZE, Format, MAX_COLUMN_LEN, MAX_HOST_LEN, MAX_INTERVAL_SECS, Messages,
};

/// What every message of a run is built with: where it goes and in which shape.
#[derive(Debug, Clone)]
pub struct Settings {
    /// As it goes into messages (dots written as commas).
    pub host: String,
    /// The Xymon column of the status and data messages.
    pub column: String,
    /// The shape of the graph lines.
    pub format: Format,
    /// Which message types carry what (`--message`).
    pub messages: Messages,
    /// How often the job runs: sets the status lifetime and the RRD heartbeat.
    pub interval: Duration,
    /// Largest message in bytes; what would be bigger is split (data) or cut (status).
    pub max_size: usize,
    /// When a storage pool turns the column yellow and red.
    pub pool_limits: PoolLimits,
    /// Guest file system percents that turn the status yellow and red.
    pub fs_limits: FsLimits,
    /// Whether the messages carry graph lines: not a status sent between intervals on a VM
    /// change (`--watch`), whose samples would fall off the RRD steps.
    pub graph_lines: bool,
}

impl Settings {
    /// `host` (as it goes into messages) and `column` for `format` and `messages`, with the
    /// CLI's default interval (300 s), size limit ([`DEFAULT_MAX_SIZE`]) and pool limits.
    pub fn new(host: &str, column: &str, format: Format, messages: Messages) -> Settings {
        Settings {
            host: host.to_string(),
            column: column.to_string(),
            format,
            messages,
            interval: Duration::from_secs(300),
            max_size: DEFAULT_MAX_SIZE,
            pool_limits: PoolLimits::DEFAULT,
            fs_limits: FsLimits::default(),
            graph_lines: true,
        }
    }

    /// The column of the per-VM graphs of the SPLITNCV and rrd-script forms ("hvmonvm" for
    /// "hvmon", "hvmonrrdvm" for "hvmonrrd"): a page of its own keeps the main column's page
    /// small at any VM count.
    pub fn vm_graphs_column(&self) -> String {
        format!("{}vm", self.column)
    }

    /// The same settings for the status alone: its colour and text, no graph lines.
    pub fn without_graph_lines(self) -> Settings {
        Settings {
            graph_lines: false,
            ..self
        }
    }

    /// The same settings with another size limit.
    pub fn with_max_size(self, max_size: usize) -> Settings {
        Settings { max_size, ..self }
    }

    /// The same settings with other pool limits.
    pub fn with_pool_limits(self, pool_limits: PoolLimits) -> Settings {
        Settings {
            pool_limits,
            ..self
        }
    }

    /// The same settings with other guest file system thresholds.
    pub fn with_fs_limits(self, fs_limits: FsLimits) -> Settings {
        Settings { fs_limits, ..self }
    }

    /// The same settings with another interval.
    pub fn with_interval(self, interval: Duration) -> Settings {
        Settings { interval, ..self }
    }

    /// The longest host, column and interval the CLI accepts: the most a message's fixed
    /// parts can take from its size budget.
    pub fn longest(format: Format, messages: Messages, max_size: usize) -> Settings {
        Settings::new(
            &"h".repeat(MAX_HOST_LEN),
            &"c".repeat(MAX_COLUMN_LEN),
            format,
            messages,
        )
        .with_interval(Duration::from_secs(MAX_INTERVAL_SECS))
        .with_max_size(max_size)
    }
}

/// Twice the interval and a minute, in minutes: one late or lost run does not turn the
/// column purple, two do.
pub fn lifetime_minutes(interval: Duration) -> u64 {
    (2 * interval.as_secs()).div_ceil(60) + 1
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
