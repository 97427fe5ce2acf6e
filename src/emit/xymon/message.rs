//! Building the Xymon messages for one snapshot (or one failed collection).
//!
//! Layout of the first message (a status, unless only data is asked for):
//!
//! ```text
//! status+11 hv1,example,com.hvmon yellow Mon Nov 21 12:30:00 2025 3 VMs: 2 running, 1 off
//! <!-- hvmon v1 splitncv interval 300 -->
//! <!-- ncv_skipstart -->
//! &yellow web: set to autostart but not running
//! <pre> ...a table of VMs... </pre>
//! <!-- ncv_skipend -->
//! all_vms : 3
//! vm_web_cpu : 12.5
//! <!-- hvmon end -->
//! ```
//!
//! The first line is never parsed by xymond_rrd, free text sits between the NCV skip
//! markers, and the two `hvmon` markers (no `:` or `=`, so NCV ignores them) let the
//! extra-script handler refuse a message that is not ours or that was cut short. Graph lines
//! that do not fit under the size limit go into `data HOST.COLUMN` messages with the same
//! markers: a second status would replace the first. One VM's lines always stay together.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::colour::{Colour, Finding, assess};
use super::metrics::{
    COUNTERS, CounterRates, RATES, RateState, TOTAL_GAUGES, VM_GAUGES, VmSample, display_rates,
    total_counters, total_gauges, total_rates,
};
use crate::model::Snapshot;

/// xymond cuts status and data messages at 256 KiB on the way to its workers; the channel
/// header it adds needs a little room too.
pub const DEFAULT_MAX_SIZE: usize = 240_000;
/// The smallest size limit that still holds a status header, the markers and one VM.
pub const MIN_MAX_SIZE: usize = 4_096;
/// xymoncgimsg.cgi takes at most 1 MB; xymond took a 950 kB extcombo in our tests.
pub const MAX_COMBO_SIZE: usize = 1_000_000;
/// xymon's own client never puts more than 100 messages in one combo.
pub const MAX_COMBO_MESSAGES: usize = 100;

pub const END_MARKER: &str = "<!-- hvmon end -->";
pub const MARKER_PREFIX: &str = "<!-- hvmon v1 ";

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

/// What one run has to report.
pub enum Report<'a> {
    Collected {
        snapshot: &'a Snapshot,
        /// The previous run's counters; `None` on a first run or without a state file.
        previous: Option<&'a RateState>,
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

/// The messages for one run, in sending order, each at most `settings.max_size` bytes.
pub fn build(report: &Report, settings: &Settings) -> Vec<String> {
    let marker = format!(
        "{MARKER_PREFIX}{} interval {} -->\n",
        settings.format.name(),
        settings.interval.as_secs()
    );
    let (colour, summary, text, chunks, at) = match report {
        Report::Failed { error, at } => (
            Colour::Red,
            "collector failed".to_string(),
            format!(
                "&red hv_monitor could not collect VM figures: {}\n",
                escape(error)
            ),
            Vec::new(),
            *at,
        ),
        Report::Collected { snapshot, previous } => {
            let samples: Vec<VmSample> = snapshot.vms.iter().map(VmSample::of).collect();
            let rates: Vec<CounterRates> = match previous {
                Some(prev) if settings.format.uses_rates() => samples
                    .iter()
                    .map(|s| prev.rates(snapshot.taken_at, s, max_rate_age(settings.interval)))
                    .collect(),
                _ => vec![[None; COUNTERS.len()]; samples.len()],
            };
            let (colour, findings) = assess(snapshot);
            let text = status_text(snapshot, &findings, &rates, settings.max_size / 2);
            let chunks = graph_chunks(snapshot, &samples, &rates, settings.format);
            (colour, summary(snapshot), text, chunks, snapshot.taken_at)
        }
    };

    let date = chrono::DateTime::<chrono::Local>::from(at).format("%a %b %e %H:%M:%S %Y");
    let status_head = format!(
        "status+{} {}.{} {} {date} {summary}\n{marker}",
        lifetime_minutes(settings.interval),
        settings.host,
        settings.column,
        colour.name(),
    );
    let data_head = format!("data {}.{}\n{marker}", settings.host, settings.column);
    let text_block = format!("<!-- ncv_skipstart -->\n{text}<!-- ncv_skipend -->\n");

    // Only a status can turn red: a failed run always sends one, whatever was asked for.
    let kind = match report {
        Report::Failed { .. } => Kind::Status,
        Report::Collected { .. } => settings.kind,
    };
    let mut messages = Vec::new();
    let mut current = match kind {
        Kind::Status => status_head + &text_block,
        Kind::Both => {
            messages.push(format!("{status_head}{text_block}{END_MARKER}\n"));
            data_head.clone()
        }
        Kind::Data => data_head.clone(),
    };
    let fresh_len = current.len();
    let end_len = END_MARKER.len() + 1;
    for chunk in &chunks {
        if current.len() + chunk.len() + end_len > settings.max_size && current.len() > fresh_len {
            current.push_str(END_MARKER);
            current.push('\n');
            messages.push(std::mem::replace(&mut current, data_head.clone()));
        }
        current.push_str(chunk);
    }
    // A data message with no graph lines says nothing; a status always goes out.
    if kind == Kind::Status || current.len() > data_head.len() {
        current.push_str(END_MARKER);
        current.push('\n');
        messages.push(current);
    }
    messages
}

/// The first line's free text, after the date.
fn summary(snapshot: &Snapshot) -> String {
    let totals = total_gauges(snapshot, &[]);
    let count = |name: &str| {
        TOTAL_GAUGES
            .iter()
            .position(|g| *g == name)
            .map_or(0.0, |i| totals[i])
    };
    let mut s = format!(
        "{} VMs: {} running, {} paused, {} off",
        snapshot.vms.len(),
        count("running"),
        count("paused"),
        count("off")
    );
    for extra in ["crashed", "other"] {
        if count(extra) > 0.0 {
            let _ = write!(s, ", {} {extra}", count(extra));
        }
    }
    s
}

/// The human part of the status page: problems with Xymon's colour icons, a table of VMs,
/// the collection's warnings. At most `budget` bytes for the table: on a host with thousands
/// of VMs it lists the VMs with problems first and says how many it left out.
fn status_text(
    snapshot: &Snapshot,
    findings: &[Finding],
    rates: &[CounterRates],
    budget: usize,
) -> String {
    let mut out = String::new();
    for f in findings {
        let icon = match f.colour {
            Colour::Red => "&red",
            Colour::Yellow => "&yellow",
            Colour::Green => "&green",
        };
        let _ = writeln!(
            out,
            "{icon} {}: {}",
            escape(&snapshot.vms[f.vm].name),
            f.what
        );
    }
    if findings.is_empty() {
        out.push_str("&green all VMs as expected\n");
    }

    let width = snapshot
        .vms
        .iter()
        .map(|vm| escape(&vm.name).chars().count())
        .max()
        .unwrap_or(2)
        .clamp(2, 40);
    let header = format!(
        "{:<width$}  {:<11} {:<9} {:>5} {:>10} {:>7}\n",
        "VM", "STATE", "AUTOSTART", "VCPUS", "MEMORY MiB", "CPU %"
    );
    let row = |i: usize| {
        let vm = &snapshot.vms[i];
        let autostart = match vm.autostart {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let cpu = rates[i][0].map_or("-".to_string(), |r| format!("{r:.1}"));
        format!(
            "{:<width$}  {:<11} {:<9} {:>5} {:>10} {:>7}\n",
            escape(&vm.name),
            vm.state.name(),
            autostart,
            vm.cpus,
            vm.mem_alloc >> 20,
            cpu
        )
    };
    let all: Vec<usize> = (0..snapshot.vms.len()).collect();
    let full_size: usize = all.iter().map(|&i| row(i).len()).sum();
    let order: Vec<usize> = if full_size <= budget {
        all
    } else {
        let flagged: Vec<usize> = findings.iter().map(|f| f.vm).collect();
        let rest = (0..snapshot.vms.len()).filter(|i| !flagged.contains(i));
        flagged.iter().copied().chain(rest).collect()
    };
    out.push_str("<pre>\n");
    out.push_str(&header);
    let mut used = 0;
    let mut listed = 0;
    for &i in &order {
        let line = row(i);
        if used + line.len() > budget {
            break;
        }
        used += line.len();
        listed += 1;
        out.push_str(&line);
    }
    if listed < order.len() {
        let _ = writeln!(
            out,
            "({} more VMs not listed: the table would not fit in one Xymon message; problems are listed first)",
            order.len() - listed
        );
    }
    out.push_str("</pre>\n");
    for warning in &snapshot.warnings {
        let _ = writeln!(out, "warning: {}", escape(warning));
    }
    let _ = writeln!(
        out,
        "hv_monitor {} ({} backend)",
        env!("CARGO_PKG_VERSION"),
        snapshot.hypervisor.as_str()
    );
    out
}

/// Graph lines grouped so that no group is ever split across messages: the totals, then one
/// group per VM.
fn graph_chunks(
    snapshot: &Snapshot,
    samples: &[VmSample],
    rates: &[CounterRates],
    format: Format,
) -> Vec<String> {
    let gauges = total_gauges(snapshot, samples);
    let mut totals = String::new();
    let prefix = if format == Format::Ncv { "" } else { "all_" };
    for (name, v) in TOTAL_GAUGES.iter().zip(gauges) {
        line(&mut totals, prefix, name, Some(v));
    }
    match format {
        Format::RrdScript => {
            for (name, v) in COUNTERS.iter().zip(total_counters(samples)) {
                let _ = writeln!(totals, "all_{name} : {v}");
            }
        }
        Format::SplitNcv | Format::Ncv => {
            for (name, v) in RATES.iter().zip(display_rates(&total_rates(rates))) {
                line(&mut totals, prefix, name, v);
            }
        }
    }
    let mut chunks = vec![totals];
    if format == Format::Ncv {
        return chunks;
    }
    for (sample, rates) in samples.iter().zip(rates) {
        let mut chunk = String::new();
        let prefix = format!("vm_{}_", sample.key);
        match format {
            Format::RrdScript => {
                for (name, v) in VM_GAUGES.iter().zip(sample.gauges) {
                    match v {
                        Some(v) => line(&mut chunk, &prefix, name, Some(v)),
                        None => {
                            let _ = writeln!(chunk, "{prefix}{name} : U");
                        }
                    }
                }
                for (name, v) in COUNTERS.iter().zip(sample.counters) {
                    match v {
                        Some(v) => writeln!(chunk, "{prefix}{name} : {v}"),
                        None => writeln!(chunk, "{prefix}{name} : U"),
                    }
                    .unwrap_or_default();
                }
            }
            Format::SplitNcv | Format::Ncv => {
                for (name, v) in VM_GAUGES.iter().zip(sample.gauges) {
                    line(&mut chunk, &prefix, name, v);
                }
                for (name, v) in RATES.iter().zip(display_rates(rates)) {
                    line(&mut chunk, &prefix, name, v);
                }
            }
        }
        chunks.push(chunk);
    }
    chunks
}

/// `PREFIXNAME : value`, left out when the value is unknown: NCV drops what it cannot read
/// anyway, and a missing line is a gap in the graph, as it should be.
fn line(out: &mut String, prefix: &str, name: &str, value: Option<f64>) {
    if let Some(v) = value.filter(|v| v.is_finite()) {
        let _ = writeln!(out, "{prefix}{name} : {}", number(v));
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

/// Text that cannot break the status page or the message: HTML's three special characters
/// as entities, control characters as `\xNN` (a VM name with a newline must not start a line
/// of its own, where NCV would read it).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Joins messages into `extcombo` messages (xymond handles each part as if sent alone, over
/// one connection): at most [`MAX_COMBO_MESSAGES`] and [`MAX_COMBO_SIZE`] bytes each. A lone
/// message is sent as it is.
pub fn combine(messages: &[String]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut batch: Vec<&str> = Vec::new();
    let mut size = 0;
    let flush = |batch: &mut Vec<&str>, out: &mut Vec<Vec<u8>>| match batch.len() {
        0 => {}
        1 => out.push(batch[0].as_bytes().to_vec()),
        _ => out.push(extcombo(batch)),
    };
    for m in messages {
        // Room for the offsets in the header too.
        let cost = m.len() + 12;
        if !batch.is_empty()
            && (batch.len() == MAX_COMBO_MESSAGES || size + cost > MAX_COMBO_SIZE - 32)
        {
            flush(&mut batch, &mut out);
            batch.clear();
            size = 0;
        }
        batch.push(m);
        size += cost;
    }
    flush(&mut batch, &mut out);
    out
}

/// `extcombo START END1 ... ENDn\n` then the messages; offsets count from the start of the
/// whole combo, START is where the first message begins (the header's own length).
fn extcombo(messages: &[&str]) -> Vec<u8> {
    let mut header_len = 0;
    loop {
        let mut header = String::from("extcombo");
        let mut offset = header_len;
        let _ = write!(header, " {offset}");
        for m in messages {
            offset += m.len();
            let _ = write!(header, " {offset}");
        }
        header.push('\n');
        if header.len() == header_len {
            let mut out = header.into_bytes();
            for m in messages {
                out.extend_from_slice(m.as_bytes());
            }
            return out;
        }
        header_len = header.len();
    }
}
