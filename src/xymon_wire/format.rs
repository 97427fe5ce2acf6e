//! What our Xymon messages are: the graph-line formats, which message types carry what, the
//! size limits, the markers around our lines and how a number is written.

/// xymond cuts status and data messages at 256 KiB on the way to its workers; the channel
/// header it adds needs a little room too.
pub const DEFAULT_MAX_SIZE: usize = 240_000;
/// The smallest size limit that still holds a status header, the markers and one VM.
pub const MIN_MAX_SIZE: usize = 4_096;
/// Longest host name we send (DNS's limit).
pub const MAX_HOST_LEN: usize = 253;
/// Longest column name we accept: it ends up in RRD file names and graph sections.
pub const MAX_COLUMN_LEN: usize = 60;
/// Longest `--interval`, seconds (a day; the RRD heartbeat is twice it).
pub const MAX_INTERVAL_SECS: u64 = 86_400;

/// Opens our marker line (`<!-- hvmon v1 FORMAT interval SECONDS -->`); no `:` or `=`, so
/// NCV ignores it, and the rrd-script handler refuses a message without it.
pub const MARKER_PREFIX: &str = "<!-- hvmon v1 ";
/// Ends every message of ours: the rrd-script handler refuses a message cut short.
pub const END_MARKER: &str = "<!-- hvmon end -->";
/// Xymon's NCV parser skips what lies between these two lines (our free text).
pub const SKIP_START: &str = "<!-- ncv_skipstart -->\n";
/// See [`SKIP_START`].
pub const SKIP_END: &str = "<!-- ncv_skipend -->\n";

/// Which "NAME : value" lines to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One graph per VM and metric, rates as GAUGE (server: `SPLITNCV_<column>="*:GAUGE"`).
    SplitNcv,
    /// Host totals only, a fixed set in a fixed order (server: `NCV_<column>="*:GAUGE"`).
    Ncv,
    /// Raw counters for our own rrd-script handler (`xymon-rrd`, DERIVE in the RRDs).
    RrdScript,
}

impl Format {
    /// Every format, in the order the help lists them.
    pub const ALL: [Format; 3] = [Format::SplitNcv, Format::Ncv, Format::RrdScript];

    /// The name on the command line and in our marker line.
    pub fn name(self) -> &'static str {
        match self {
            Format::SplitNcv => "splitncv",
            Format::Ncv => "ncv",
            Format::RrdScript => "rrd-script",
        }
    }

    /// The format `name` names (as `--format` and the message marker spell it).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether this format sends rates computed from the previous run.
    pub fn uses_rates(self) -> bool {
        self != Format::RrdScript
    }

    /// The column the format is meant for; the shipped server settings use these names.
    pub fn default_column(self) -> &'static str {
        match self {
            Format::SplitNcv => "hvmon",
            Format::Ncv => "hvmontot",
            Format::RrdScript => "hvmonrrd",
        }
    }
}

/// Which message types carry what (`--message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Messages {
    /// A status (colour, table, graph lines); data messages only for what does not fit.
    Status,
    /// Data messages only: graphs, no column on the web page.
    Data,
    /// A status with the colour and table only, and every graph line in data messages.
    Both,
}

impl Messages {
    /// Every choice, in the order the help lists them.
    pub const ALL: [Messages; 3] = [Messages::Status, Messages::Data, Messages::Both];

    /// The name on the command line (`--message`).
    pub fn name(self) -> &'static str {
        match self {
            Messages::Status => "status",
            Messages::Data => "data",
            Messages::Both => "both",
        }
    }
}

/// A number NCV reads whole: no exponent (Rust never writes one for f64), integers without a
/// fraction, others with at most 3 decimals.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_never_use_exponents() {
        assert_eq!(number(8589934592.0), "8589934592");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1.23456), "1.235");
        assert_eq!(number(1e20), "100000000000000000000");
        assert_eq!(number(0.0001), "0");
    }

    #[test]
    fn every_format_is_found_by_its_name() {
        for format in Format::ALL {
            assert_eq!(Format::from_name(format.name()), Some(format));
        }
    }
}
