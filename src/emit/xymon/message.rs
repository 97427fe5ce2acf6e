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
        Report::Collected {
            snapshot,
            previous,
            rates_lost,
        } => {
            let samples: Vec<VmSample> = snapshot.vms.iter().map(VmSample::of).collect();
            let rates: Vec<CounterRates> = match previous {
                Some(prev) if settings.format.uses_rates() => samples
                    .iter()
                    .map(|s| prev.rates(snapshot.taken_at, s, max_rate_age(settings.interval)))
                    .collect(),
                _ => vec![[None; COUNTERS.len()]; samples.len()],
            };
            let (mut colour, findings) = assess(snapshot);
            let mut text = status_text(snapshot, &findings, &rates, settings.max_size / 2);
            if let Some(why) = rates_lost {
                colour = colour.max(Colour::Yellow);
                text.insert_str(0, &format!("&yellow {}\n", escape(why)));
            }
            if settings.format == Format::RrdScript {
                // svcstatus splits each graph into images of the GRAPHS entry's size
                // ("hvmonrrd::20") when the status says how many RRDs (one per VM) there are.
                let _ = writeln!(text, "<!-- linecount={} -->", snapshot.vms.len());
            }
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
            .and_then(|i| totals[i])
            .unwrap_or(0.0)
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

/// The host's rates. In SPLITNCV each total has its own RRD, so a total that no VM has a
/// rate for (CPU when no VM has a process) is left out rather than drawn as 0; NCV needs
/// every name or none.
fn split_totals(format: Format, rates: &[CounterRates]) -> CounterRates {
    let mut totals = total_rates(rates);
    if format == Format::SplitNcv {
        for (i, total) in totals.iter_mut().enumerate() {
            if rates.iter().all(|r| r[i].is_none()) {
                *total = None;
            }
        }
    }
    totals
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
    match format {
        Format::RrdScript => {
            // The extra-script wants every name; U marks the unknown ones.
            for (name, v) in TOTAL_GAUGES.iter().zip(gauges) {
                match v {
                    Some(v) => line(&mut totals, prefix, name, Some(v)),
                    None => writeln!(totals, "{prefix}{name} : U").unwrap_or_default(),
                }
            }
            for (name, v) in COUNTERS.iter().zip(total_counters(samples)) {
                match v {
                    Some(v) => writeln!(totals, "all_{name} : {v}"),
                    None => writeln!(totals, "all_{name} : U"),
                }
                .unwrap_or_default();
            }
        }
        Format::SplitNcv | Format::Ncv => {
            let values: Vec<(&str, Option<f64>)> = TOTAL_GAUGES
                .iter()
                .copied()
                .zip(gauges)
                .chain(
                    RATES
                        .iter()
                        .copied()
                        .zip(display_rates(&split_totals(format, rates))),
                )
                .collect();
            // NCV keeps one RRD whose datasets the first message fixes for good: all the names
            // or none (no update this run), never a partial set.
            let complete = values.iter().all(|(_, v)| v.is_some());
            if format == Format::SplitNcv || complete {
                for (name, v) in values {
                    line(&mut totals, prefix, name, v);
                }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::emit::xymon::names::{ncv_rule, splitncv_rule, vm_key};
    use crate::model::{Disk, DiskIo, Hypervisor, Process, State, Vm};

    /// What xymond_rrd's NCV parser reads from a message (Xymon 4.3.30 do_ncv.c, as the
    /// contract describes it): names and values, before its name rewriting.
    pub(crate) fn ncv_parse(message: &str) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        let mut skipping = false;
        for line in message.lines().skip(1) {
            if line == "@@" || line.contains("<!-- ncv_end -->") {
                break;
            }
            if line.contains("<!-- ncv_skipstart -->") {
                skipping = true;
            }
            if line.contains("<!-- ncv_skipend -->") {
                skipping = false;
                continue;
            }
            if skipping || line.contains("<!-- ncv_skip -->") {
                continue;
            }
            let Some(at) = line.find([':', '=']) else {
                continue;
            };
            let mut name = line[..at].trim();
            for colour in [
                "&green ", "&yellow ", "&red ", "&clear ", "&blue ", "&purple ",
            ] {
                name = name.strip_prefix(colour).unwrap_or(name);
            }
            let rest = line[at + 1..].trim_start();
            let value: String = rest
                .chars()
                .take_while(|c| "+-0123456789.eE".contains(*c))
                .collect();
            if let Ok(v) = value.parse::<f64>() {
                out.push((name.to_string(), v));
            }
        }
        out
    }

    pub(crate) fn busy_vm(name: &str) -> Vm {
        let mut vm = Vm::new(name, State::Running);
        vm.cpus = 2;
        vm.mem_alloc = 1 << 30;
        vm.autostart = Some(true);
        vm.process = Some(Process {
            pid: 42,
            usertime: 10.0,
            systime: 2.5,
            rss: 1 << 28,
            ..Process::default()
        });
        vm.disks = vec![Disk {
            name: "vda".into(),
            alloc: 10 << 30,
            in_use: 1 << 30,
            io: DiskIo {
                rbytes: 1000,
                rreqs: 10,
                rtime: 5.0,
                ..DiskIo::default()
            },
            ..Disk::default()
        }];
        vm
    }

    pub(crate) fn snapshot(vms: Vec<Vm>) -> Snapshot {
        Snapshot {
            hypervisor: Hypervisor::Libvirt,
            taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            vms,
            warnings: vec!["VM 'x:1' vanished during collection; left out".into()],
        }
    }

    pub(crate) fn settings(format: Format, kind: Kind, max_size: usize) -> Settings {
        Settings {
            host: "hv1,example,com".into(),
            column: "hvmon".into(),
            format,
            kind,
            interval: Duration::from_secs(300),
            max_size,
        }
    }

    const HOSTILE: &[&str] = &[
        "web-01",
        "web_01",
        "evil\nvm_x_cpu : 99",
        "<!-- ncv_skipend -->",
        "@@",
        "a:b=c",
        "&red x",
        "../../etc",
        "名前",
    ];

    #[test]
    fn xymond_reads_exactly_our_graph_lines_and_its_rules_keep_every_name() {
        let s = snapshot(HOSTILE.iter().map(|n| busy_vm(n)).collect());
        let report = Report::Collected {
            snapshot: &s,
            previous: None,
            rates_lost: None,
        };
        let messages = build(
            &report,
            &settings(Format::SplitNcv, Kind::Status, DEFAULT_MAX_SIZE),
        );
        assert_eq!(messages.len(), 1);
        let parsed = ncv_parse(&messages[0]);
        let names: Vec<&str> = parsed.iter().map(|(n, _)| n.as_str()).collect();
        // Nothing from the table, the warnings or a VM name leaks into the graphs.
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("all_") || n.starts_with("vm_")),
            "{names:?}"
        );
        for name in &names {
            assert_eq!(splitncv_rule(name), *name, "xymond_rrd would rename {name}");
        }
        for vm in HOSTILE {
            let key = vm_key(vm);
            assert!(
                names.contains(&format!("vm_{key}_vcpus").as_str()),
                "{vm:?}"
            );
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            names.len(),
            "a name seen twice: the first value would win"
        );
        let value = |n: &str| parsed.iter().find(|(k, _)| k == n).unwrap().1;
        assert_eq!(value("all_vms"), 9.0);
        assert_eq!(value("vm_web_01_mem"), (1u64 << 30) as f64);
    }

    #[test]
    fn a_total_no_vm_has_a_rate_for_is_left_out_in_splitncv() {
        // Disk rates but no process, hence no CPU rate: all_cpu must not be a flat 0.
        let mut vm = busy_vm("a");
        vm.process = None;
        let s = snapshot(vec![vm]);
        let earlier = RateState::new(
            s.taken_at - Duration::from_secs(300),
            &s.vms.iter().map(VmSample::of).collect::<Vec<_>>(),
        );
        let report = Report::Collected {
            snapshot: &s,
            previous: Some(&earlier),
            rates_lost: None,
        };
        let m = build(
            &report,
            &settings(Format::SplitNcv, Kind::Status, DEFAULT_MAX_SIZE),
        );
        let names: Vec<String> = ncv_parse(&m[0]).into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"all_rbytes".to_string()), "{names:?}");
        assert!(!names.contains(&"all_cpu".to_string()), "{names:?}");
    }

    #[test]
    fn ncv_names_are_short_fixed_and_in_a_fixed_order() {
        let one = snapshot(vec![busy_vm("a")]);
        let two = snapshot(vec![busy_vm("a"), Vm::new("b", State::Shutoff)]);
        let earlier = RateState::new(
            two.taken_at - Duration::from_secs(300),
            &two.vms.iter().map(VmSample::of).collect::<Vec<_>>(),
        );
        let names_of = |s: &Snapshot, previous: Option<&RateState>| -> Vec<String> {
            let report = Report::Collected {
                snapshot: s,
                previous,
                rates_lost: None,
            };
            let m = build(
                &report,
                &settings(Format::Ncv, Kind::Status, DEFAULT_MAX_SIZE),
            );
            ncv_parse(&m[0]).into_iter().map(|(n, _)| n).collect()
        };
        let names = names_of(&one, Some(&earlier));
        assert_eq!(
            names,
            names_of(&two, Some(&earlier)),
            "NCV needs the same names every time"
        );
        assert_eq!(names.len(), TOTAL_GAUGES.len() + RATES.len());
        for n in &names {
            assert_eq!(&ncv_rule(n), n);
        }
        assert!(
            names_of(&one, None).is_empty(),
            "without rates (first run) no NCV line at all, not a partial set that would fix the RRD's datasets"
        );
    }

    #[test]
    fn big_hosts_split_under_the_limit_with_each_vm_whole() {
        let vms: Vec<Vm> = (0..400).map(|i| busy_vm(&format!("vm{i:04}"))).collect();
        let s = snapshot(vms);
        let report = Report::Collected {
            snapshot: &s,
            previous: None,
            rates_lost: None,
        };
        let max = 6_000;
        for format in [Format::SplitNcv, Format::RrdScript] {
            let messages = build(&report, &settings(format, Kind::Status, max));
            assert!(messages.len() > 5, "{}", messages.len());
            assert!(messages[0].starts_with("status+11 hv1,example,com.hvmon green "));
            let mut seen_vms = std::collections::BTreeSet::new();
            for (i, m) in messages.iter().enumerate() {
                assert!(m.len() <= max, "message {i} is {} bytes", m.len());
                if i > 0 {
                    assert!(m.starts_with("data hv1,example,com.hvmon\n<!-- hvmon v1 "));
                }
                assert!(m.ends_with(&format!("{END_MARKER}\n")));
                // Every VM's lines are in exactly one message.
                let here: std::collections::BTreeSet<String> = ncv_parse(m)
                    .into_iter()
                    .filter_map(|(n, _)| n.strip_prefix("vm_").map(|r| r[..6].to_string()))
                    .collect();
                for vm in here {
                    assert!(seen_vms.insert(vm.clone()), "{vm} split across messages");
                }
            }
            assert_eq!(seen_vms.len(), 400);
        }
    }

    #[test]
    fn the_table_is_trimmed_to_fit_with_problems_first() {
        let mut vms: Vec<Vm> = (0..3000).map(|i| busy_vm(&format!("vm{i:04}"))).collect();
        vms[2999].state = State::Crashed;
        let s = snapshot(vms);
        let report = Report::Collected {
            snapshot: &s,
            previous: None,
            rates_lost: None,
        };
        let messages = build(
            &report,
            &settings(Format::SplitNcv, Kind::Status, DEFAULT_MAX_SIZE),
        );
        let status = &messages[0];
        assert!(status.len() <= DEFAULT_MAX_SIZE);
        assert!(status.starts_with("status+11 hv1,example,com.hvmon red "));
        assert!(status.contains("&red vm2999: crashed"));
        let table = &status[status.find("<pre>").unwrap()..];
        assert!(table.find("vm2999").unwrap() < table.find("vm0000").unwrap());
        assert!(status.contains("more VMs not listed"));
    }

    #[test]
    fn kinds_and_failures() {
        let s = snapshot(vec![busy_vm("a")]);
        let report = Report::Collected {
            snapshot: &s,
            previous: None,
            rates_lost: None,
        };
        let data = build(
            &report,
            &settings(Format::SplitNcv, Kind::Data, DEFAULT_MAX_SIZE),
        );
        assert_eq!(data.len(), 1);
        assert!(data[0].starts_with("data hv1,example,com.hvmon\n"));
        assert!(!data[0].contains("<pre>"));
        let both = build(
            &report,
            &settings(Format::SplitNcv, Kind::Both, DEFAULT_MAX_SIZE),
        );
        assert_eq!(both.len(), 2);
        assert!(
            ncv_parse(&both[0]).is_empty(),
            "graph lines only in the data message"
        );
        assert!(both[1].starts_with("data ") && !ncv_parse(&both[1]).is_empty());

        let failed = Report::Failed {
            error: "cannot connect to libvirt at 'qemu:///system': <refused>",
            at: SystemTime::UNIX_EPOCH,
        };
        let m = build(
            &failed,
            &settings(Format::RrdScript, Kind::Data, DEFAULT_MAX_SIZE),
        );
        assert_eq!(
            m.len(),
            1,
            "a failure is always one status, even with --message data"
        );
        assert!(m[0].starts_with("status+11 hv1,example,com.hvmon red "));
        assert!(m[0].contains("&lt;refused&gt;"));
        assert!(ncv_parse(&m[0]).is_empty());
    }

    #[test]
    fn lifetime_covers_two_intervals() {
        assert_eq!(lifetime_minutes(Duration::from_secs(300)), 11);
        assert_eq!(lifetime_minutes(Duration::from_secs(60)), 3);
        assert_eq!(lifetime_minutes(Duration::from_secs(45)), 3);
    }

    #[test]
    fn numbers_never_use_exponents() {
        assert_eq!(number(8589934592.0), "8589934592");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1.23456), "1.235");
        assert_eq!(number(1e20), "100000000000000000000");
        assert_eq!(number(0.0001), "0");
    }

    #[test]
    fn extcombo_offsets_point_at_each_message() {
        let messages: Vec<String> = (0..3).map(|i| format!("status h.t{i} green x\n")).collect();
        let combos = combine(&messages);
        assert_eq!(combos.len(), 1);
        let combo = String::from_utf8(combos[0].clone()).unwrap();
        let (header, _) = combo.split_once('\n').unwrap();
        let offsets: Vec<usize> = header
            .split(' ')
            .skip(1)
            .map(|o| o.parse().unwrap())
            .collect();
        assert_eq!(offsets[0], header.len() + 1);
        for (i, w) in offsets.windows(2).enumerate() {
            assert_eq!(&combo[w[0]..w[1]], messages[i]);
        }
        assert_eq!(*offsets.last().unwrap(), combo.len());
        assert_eq!(
            combine(&messages[..1]),
            vec![messages[0].as_bytes().to_vec()]
        );
        let many: Vec<String> = (0..250).map(|i| format!("data h.t\nx{i} : 1\n")).collect();
        assert_eq!(combine(&many).len(), 3, "at most 100 messages per combo");
        let big: Vec<String> = (0..9).map(|_| "x".repeat(DEFAULT_MAX_SIZE)).collect();
        let combos = combine(&big);
        assert!(combos.iter().all(|c| c.len() <= MAX_COMBO_SIZE));
        assert_eq!(combos.len(), 3);
    }

    #[test]
    fn escaping_keeps_names_on_one_line_and_out_of_html() {
        assert_eq!(escape("a\nb<c>&"), "a\\x0ab&lt;c&gt;&amp;");
        assert_eq!(escape("名前"), "名前");
    }
}
