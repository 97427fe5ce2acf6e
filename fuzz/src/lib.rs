//! What every fuzz target checks, one function per target: feed the bytes to the code under
//! test, then assert what must hold for any input (no panic is the least of it).
//!
//! Shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`, one line each) and by the main
//! crate's `tests/fuzz_regressions.rs`, which includes this file with `#[path]` and replays the
//! committed corpus and crashers through [`TARGETS`] in plain `cargo test`. So this file may
//! use only `hv_monitor`, `serde_json` and `std`, which both places have.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hv_monitor::collect::cbsd::parse as cbsd;
use hv_monitor::collect::cbsd::{HostAnswers, assemble};
use hv_monitor::emit::librenms::{Detail, Form, document, rrd_safe_name, safe_text, utf8_text};
use hv_monitor::emit::xymon::{Report, Settings, build};
use hv_monitor::model::{Backend, Disk, DiskIo, NetCounters, Nic, Process, Snapshot, State, Vm};
use hv_monitor::rates::PreviousCounters;
use hv_monitor::rrd_script;
use hv_monitor::xymon_wire::{
    Counter, END_MARKER, Format, MARKER_PREFIX, MAX_KEY_LEN, Messages, TotalGauge, VmGauge,
    VmSample, ncv_rule, splitncv_rule, vm_key, vm_keys,
};

/// The metric names, from the metric types.
pub fn vm_gauges() -> Vec<&'static str> {
    VmGauge::ALL.map(VmGauge::name).to_vec()
}
pub fn counters() -> Vec<&'static str> {
    Counter::ALL.map(Counter::name).to_vec()
}
pub fn rates() -> Vec<&'static str> {
    Counter::ALL.map(Counter::rate_name).to_vec()
}
pub fn total_gauges() -> Vec<&'static str> {
    TotalGauge::ALL.map(TotalGauge::name).to_vec()
}

/// What one target runs on one input; it panics when a check fails.
pub type Check = fn(&[u8]);

/// Every target by name: the name of its `fuzz_targets/NAME.rs` and of its `seeds/NAME/`,
/// `corpus/NAME/` and `regressions/NAME/` directories.
pub const TARGETS: &[(&str, Check)] = &[
    ("rrd_script", rrd_script),
    ("xymon_names", xymon_names),
    ("librenms", librenms),
    #[cfg(all(feature = "libvirt", target_os = "linux"))]
    ("domain_xml", domain_xml),
    #[cfg(all(feature = "libvirt", target_os = "linux"))]
    ("guest_info", guest_info),
    #[cfg(target_os = "linux")]
    ("procfs", procfs),
    ("rate_state", rate_state),
    ("cbsd_bls", cbsd_bls),
    ("cbsd_disk_list", cbsd_disk_list),
    ("cbsd_nic_list", cbsd_nic_list),
    ("cbsd_snapshots", cbsd_snapshots),
    ("cbsd_ifconfig", cbsd_ifconfig),
    ("cbsd_netstat", cbsd_netstat),
    ("cbsd_ps", cbsd_ps),
    ("cbsd_zfs", cbsd_zfs),
    ("cbsd_kstat", cbsd_kstat),
    ("cbsd_cells", cbsd_cells),
    ("cbsd_assemble", cbsd_assemble),
];

/// The host and column the extra-script handler is called for in [`rrd_script`]; the seeds
/// are messages for them.
pub const RRD_HOST: &str = "hv1.example.com";
pub const RRD_TEST: &str = "hvmon";

/// Command output and files are read as lossy UTF-8 by the collectors; do the same.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Inputs that hold several strings (VM names, command outputs) separate them with NUL,
/// which no VM name, command output or XML can contain.
fn pieces(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == 0).map(text).collect()
}

// ---------------------------------------------------------------------------------------
// Xymon

/// The extra-script message parser: any bytes are refused or parsed, and what is parsed
/// prints only well-formed lines (see [`check_rrd_output`]).
pub fn rrd_script(data: &[u8]) {
    let Ok(parsed) = rrd_script::parse(data, RRD_HOST, RRD_TEST) else {
        return;
    };
    assert!((1..=86_400).contains(&parsed.interval));
    check_rrd_output(&parsed, &rrd_script::render(&parsed, RRD_TEST), RRD_TEST);
}

/// What xymond_rrd reads from the extra-script: DS lines, `TEST,FILE.rrd` (and the totals'
/// `TEST-states.rrd`) lines that stay in
/// the host's RRD directory, and value lines; never a blank line (it ends xymond_rrd's
/// reading) nor a line ending in `\` (a continuation to rrdtool).
pub fn check_rrd_output(parsed: &rrd_script::Parsed, out: &str, test: &str) {
    assert!(out.is_empty() || out.ends_with('\n'), "unterminated output");
    let mut files = BTreeSet::new();
    let mut values = 0;
    for line in out.lines() {
        assert!(!line.trim().is_empty(), "blank line in {out:?}");
        assert!(!line.ends_with('\\'), "continuation line {line:?}");
        if let Some(ds) = line.strip_prefix("DS:") {
            let f: Vec<&str> = ds.split(':').collect();
            assert_eq!(f.len(), 5, "{line:?}");
            assert!(
                total_gauges().contains(&f[0])
                    || vm_gauges().contains(&f[0])
                    || counters().contains(&f[0]),
                "{line:?}"
            );
            assert!(matches!(f[1], "GAUGE" | "DERIVE"), "{line:?}");
            assert!(f[2].parse::<u64>().is_ok_and(|h| h >= 600), "{line:?}");
            assert_eq!(&f[3..], ["0", "U"], "{line:?}");
        } else if let Some(file) = line.strip_suffix(".rrd") {
            // The host's totals: TEST-states.rrd, named so the trends page finds its graph.
            if file.strip_prefix(test) == Some("-states") {
                assert!(files.insert(file.to_string()), "file {line:?} twice");
                continue;
            }
            // A VM's main file TEST,vm_KEY and its guest file TEST-guest,vm_KEY.
            let (kind, object) = file
                .strip_prefix(test)
                .and_then(|f| f.split_once(','))
                .filter(|(kind, _)| ["", "-guest"].contains(kind))
                .unwrap_or_else(|| panic!("file outside the column: {line:?}"));
            assert!(
                !object.is_empty()
                    && object
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "file name {line:?} could leave the directory"
            );
            assert!(
                files.insert(format!("{kind},{object}")),
                "file {line:?} twice"
            );
        } else {
            assert!(
                line.split(':').all(|v| v == "U"
                    || (!v.is_empty()
                        && v.bytes()
                            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-'))),
                "value line {line:?}"
            );
            values += 1;
        }
    }
    // Each VM has two files: its main one and its guest one.
    let expected = usize::from(parsed.totals.is_some()) + 2 * parsed.vms.len();
    assert_eq!(files.len(), expected, "one file per object");
    assert_eq!(values, expected, "one value line per file");
}

/// VM names (NUL-separated) through every Xymon format: keys are safe and distinct, every
/// graph line of every message is one we meant to send under a name xymond_rrd keeps
/// unchanged, and the extra-script handler reads back exactly the VMs' keys.
pub fn xymon_names(data: &[u8]) {
    let mut names: Vec<String> = pieces(data);
    names.sort();
    names.dedup();
    // A few names already cover collisions; hundreds would only slow the fuzzer down.
    names.truncate(8);

    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut by_key: HashMap<String, &str> = HashMap::new();
    let mut folded: HashMap<String, &str> = HashMap::new();
    for (name, key) in names.iter().zip(vm_keys(&refs)) {
        check_key(name, &key);
        // Alone on its host, a name has the same key unless a case twin took it.
        let alone = vm_key(name);
        assert!(
            key == alone || key.contains("_h"),
            "{name:?}: {key:?} / {alone:?}"
        );
        if let Some(other) = folded.insert(key.to_ascii_lowercase(), name) {
            panic!("{other:?} and {name:?} share the key {key:?} in lower case");
        }
        by_key.insert(key, name);
        // The rules themselves: their output is a fixed point, of the documented shape.
        let split = splitncv_rule(name);
        assert_eq!(splitncv_rule(&split), split);
        assert!(split.len() <= 200 && !split.ends_with('_') && !split.contains("__"));
        let ncv = ncv_rule(name);
        assert!(ncv.len() <= 19 && ncv.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    let snapshot = Snapshot::new(
        Backend::Libvirt,
        names
            .iter()
            .enumerate()
            .map(|(i, name)| vm_with_known_stats(name, i as u64))
            .collect(),
    )
    .taken_at(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    .with_warnings(names.iter().map(|n| format!("VM '{n}' warned")));
    let report = Report::Collected {
        snapshot: &snapshot,
        rates: None,
        rates_lost: None,
    };
    for format in Format::ALL {
        let settings = Settings::new("hv1,example,com", RRD_TEST, format, Messages::Status);
        let messages = build(&report, &settings);
        let mut seen = BTreeSet::new();
        for m in &messages {
            check_graph_lines(m, format, &by_key, &mut seen);
        }
        if format == Format::RrdScript {
            let mut keys: Vec<String> = Vec::new();
            for m in messages.iter().filter(|m| for_the_extra_script(m)) {
                let parsed = rrd_script::parse(m.as_bytes(), RRD_HOST, RRD_TEST)
                    .unwrap_or_else(|e| panic!("our own message refused: {e}\n{m}"));
                check_rrd_output(&parsed, &rrd_script::render(&parsed, RRD_TEST), RRD_TEST);
                keys.extend(parsed.vms.into_iter().map(|(k, _)| k));
            }
            let mut expected: Vec<String> = by_key.keys().cloned().collect();
            expected.sort();
            keys.sort();
            assert_eq!(
                keys, expected,
                "the handler reads back every VM's key, once"
            );
        }
    }
}

/// A key is `[A-Za-z0-9]` runs joined by single `_`, at most [`MAX_KEY_LEN`] characters,
/// and every graph name built from it survives xymond_rrd's SPLITNCV rule.
fn check_key(name: &str, key: &str) {
    assert!(
        !key.is_empty() && key.len() <= MAX_KEY_LEN,
        "{name:?} -> {key:?}"
    );
    assert!(
        key.split('_')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric())),
        "{name:?} -> {key:?}"
    );
    for metric in vm_gauges().iter().chain(&counters()).chain(&rates()) {
        let full = format!("vm_{key}_{metric}");
        assert_eq!(splitncv_rule(&full), full, "{name:?}");
    }
}

/// A VM in the `i`th state (cycling) with every stat known, its strings all `name`.
fn vm_with_known_stats(name: &str, i: u64) -> Vm {
    let mut vm = Vm::new(name, State::ALL[(i as usize) % State::ALL.len()]);
    vm.cpus = 2;
    vm.mem_alloc = 1 << 30;
    vm.autostart = Some(i % 2 == 0);
    vm.os_type = name.to_string();
    vm.console = name.to_string();
    vm.process = Some(Process {
        pid: 100 + i as u32,
        usertime: 10.0,
        systime: 2.5,
        rss: 1 << 28,
        ..Process::default()
    });
    vm.disks = vec![Disk {
        name: name.to_string(),
        capacity: 10 << 30,
        allocated: 1 << 30,
        io: DiskIo {
            rbytes: 1000,
            rreqs: 10,
            ..DiskIo::default()
        },
        ..Disk::default()
    }];
    vm.nics = vec![Nic {
        device: name.to_string(),
        parent: name.to_string(),
        mac: name.to_string(),
        leases: Vec::new(),
        counters: NetCounters {
            ibytes: 5,
            ..NetCounters::default()
        },
    }];
    vm
}

/// One message: line 1 is the status or data line (xymond_rrd never reads it), line 2 our
/// marker, free text only between NCV skip markers, then graph lines of names we meant to
/// send, each once, up to the end marker.
/// Whether xymond_rrd hands `m` to the extra-script: not the per-VM graphs' status of the
/// `RRD_TESTvm` column, which has no TEST2RRD name (its text only draws images).
fn for_the_extra_script(m: &str) -> bool {
    let column = m
        .lines()
        .next()
        .and_then(|first| first.split_whitespace().nth(1))
        .and_then(|host_column| host_column.rsplit_once('.'))
        .map(|(_, column)| column);
    column != Some(&format!("{RRD_TEST}vm"))
}

fn check_graph_lines(
    m: &str,
    format: Format,
    by_key: &HashMap<String, &str>,
    seen: &mut BTreeSet<String>,
) {
    let mut lines = m.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with("status") || first.starts_with("data"),
        "{first:?}"
    );
    let marker = lines.next().unwrap_or_default();
    assert!(
        marker.starts_with(MARKER_PREFIX) && marker.contains(format.name()),
        "{marker:?}"
    );
    let mut skipping = false;
    let mut ended = false;
    for line in lines {
        assert!(!ended, "text after the end marker: {line:?}");
        if skipping {
            // Free text: a hostile name must not end the block early.
            skipping = line != "<!-- ncv_skipend -->";
            continue;
        }
        match line {
            "<!-- ncv_skipstart -->" => skipping = true,
            END_MARKER => ended = true,
            "" => {}
            _ => {
                let (name, value) = line
                    .split_once(" : ")
                    .unwrap_or_else(|| panic!("not a graph line: {line:?}\n{m}"));
                assert!(
                    value == "U" || value.parse::<f64>().is_ok_and(f64::is_finite),
                    "{line:?}"
                );
                let rule = if format == Format::Ncv {
                    ncv_rule(name)
                } else {
                    splitncv_rule(name)
                };
                assert_eq!(rule, name, "xymond_rrd would rename {name:?}");
                assert!(
                    expected_name(name, format, by_key),
                    "unexpected {line:?}\n{m}"
                );
                assert!(seen.insert(name.to_string()), "{name:?} sent twice");
            }
        }
    }
    assert!(
        ended && !skipping,
        "no end marker outside the free text:\n{m}"
    );
}

fn expected_name(name: &str, format: Format, by_key: &HashMap<String, &str>) -> bool {
    let counters = if format == Format::RrdScript {
        counters()
    } else {
        rates()
    };
    if format == Format::Ncv {
        return total_gauges().contains(&name) || counters.contains(&name);
    }
    if let Some(metric) = name.strip_prefix("all_") {
        return total_gauges().contains(&metric) || counters.contains(&metric);
    }
    name.strip_prefix("vm_")
        .and_then(|rest| rest.rsplit_once('_'))
        .is_some_and(|(key, metric)| {
            by_key.contains_key(key)
                && (vm_gauges().contains(&metric) || counters.contains(&metric))
        })
}

/// The rates state file, as another version, a crash or a person may have left it: read or
/// refused, and what is read gives finite, non-negative rates and writes back the same.
pub fn rate_state(data: &[u8]) {
    let Ok(state) = PreviousCounters::from_json(&text(data)) else {
        return;
    };
    assert_eq!(
        PreviousCounters::from_json(&state.to_json()).as_ref(),
        Ok(&state)
    );
    let mut vm = vm_with_known_stats("vm", 0);
    vm.state = State::Running;
    let sample = VmSample::of(&vm);
    for secs in [1_700_000_000, 1_700_000_300, u64::MAX / 2_000] {
        let rates = state.rates(
            UNIX_EPOCH + Duration::from_secs(secs),
            &sample,
            Duration::from_secs(1200),
        );
        for r in rates.into_iter().flatten() {
            assert!(r.is_finite() && r >= 0.0, "rate {r}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// LibreNMS

/// Both forms' texts decode back to the input (so two names never share a key): `safe_text`
/// is printable ASCII, `utf8_text` keeps every character JSON carries without an escape;
/// neither holds `"` or `\`. A whole document of such names checks out in both forms (see
/// [`check_document`]).
pub fn librenms(data: &[u8]) {
    let s = text(data);
    let safe = safe_text(&s);
    assert!(
        safe.bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'),
        "{safe:?}"
    );
    assert_eq!(
        percent_decode(&safe),
        s.as_bytes(),
        "not reversible: {safe:?}"
    );
    let utf8 = utf8_text(&s);
    assert!(
        utf8.chars()
            .all(|c| !c.is_control() && c != '"' && c != '\\'),
        "{utf8:?}"
    );
    assert_eq!(
        percent_decode(&utf8),
        s.as_bytes(),
        "not reversible: {utf8:?}"
    );

    let mut names = pieces(data);
    names.sort();
    names.dedup();
    names.truncate(8);
    let snapshot = Snapshot::new(
        Backend::Cbsd,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| vm_with_known_stats(n, i as u64))
            .collect(),
    )
    .taken_at(SystemTime::UNIX_EPOCH);
    check_document(&snapshot, Form::Plain);
    check_document(&snapshot, Form::Compressed);
}

/// `%XX` back to the byte; anything else as it is.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) if b[i] == b'%' => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

/// The LibreNMS document of a snapshot in `form`: one line without a backslash (LibreNMS
/// strips them before decoding), printable ASCII in the plain form, valid JSON, one entry per
/// VM whose key is the name's text in that form, or the start of it, `~h` and 24 hex digits;
/// a plain lower-case name its own key; and no two keys in one LibreNMS RRD file, even
/// where case is ignored.
fn check_document(snapshot: &Snapshot, form: Form) {
    let doc = document(snapshot, Detail::Devices, form);
    assert!(!doc.contains(['\\', '\n']), "{doc}");
    if form == Form::Plain {
        assert!(doc.bytes().all(|b| (0x20..0x7f).contains(&b)), "{doc}");
    }
    let value: serde_json::Value = serde_json::from_str(&doc).expect("valid JSON");
    let vms = value["data"]["VMs"].as_object().expect("a VMs object");
    assert_eq!(vms.len(), snapshot.vms.len(), "two VMs share a key");
    let files: BTreeSet<String> = vms
        .keys()
        .map(|k| rrd_safe_name(k).to_lowercase())
        .collect();
    assert_eq!(files.len(), vms.len(), "two VMs share an RRD file: {vms:?}");
    for vm in &snapshot.vms {
        let text = form.text(&vm.name);
        let key_of_vm = vms.keys().find(|k| {
            k.as_str() == text
                || k.rsplit_once("~h").is_some_and(|(start, hash)| {
                    text.starts_with(start)
                        && hash.len() == 24
                        && hash.bytes().all(|b| b.is_ascii_hexdigit())
                })
        });
        assert!(key_of_vm.is_some(), "no key for {:?}", vm.name);
        // No `_` (no flattened-name word, no hash-like end), no capital, short.
        let plain = rrd_safe_name(&vm.name) == vm.name
            && !vm.name.contains('_')
            && !vm.name.starts_with('h')
            && !vm.name.bytes().any(|b| b.is_ascii_uppercase())
            && vm.name.len() <= 140;
        if plain {
            assert!(vms.contains_key(&vm.name), "a plain name is its own key");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Linux

/// A libvirt domain XML: parsed or refused; a console address is `listen:port`.
#[cfg(all(feature = "libvirt", target_os = "linux"))]
pub fn domain_xml(data: &[u8]) {
    use hv_monitor::collect::libvirt::parse::parse_domain_xml;
    let Ok(x) = parse_domain_xml(&text(data)) else {
        return;
    };
    if let Some(g) = x.graphics {
        assert!(g.kind == "vnc" || g.kind == "spice");
        assert!(
            g.address.is_empty()
                || g.address
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u32>().is_ok())
        );
    }
}

/// A guest agent's answer (`field=value` lines, a value of digits only read as a number)
/// through the parser, then as a VM's guest data through the LibreNMS document in both forms
/// and the Xymon status: every count and string within its cap, every address an address,
/// every document valid JSON without a backslash, the status without HTML from the guest.
#[cfg(all(feature = "libvirt", target_os = "linux"))]
pub fn guest_info(data: &[u8]) {
    use hv_monitor::collect::libvirt::parse::{
        MAX_ADDRESSES, MAX_FILE_SYSTEMS, MAX_INTERFACES, MAX_TEXT, ParamValue, parse_guest_info,
    };
    use hv_monitor::model::Agent;
    let params: Vec<(String, ParamValue)> = text(data)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let value = match v.parse::<u64>() {
                Ok(n) if !v.starts_with('+') => ParamValue::UInt(n),
                _ => ParamValue::Str(v.to_string()),
            };
            (k.to_string(), value)
        })
        .collect();
    let g = parse_guest_info(&params);
    let within = |s: &str| s.chars().count() <= MAX_TEXT;
    assert!(within(&g.os) && within(&g.hostname));
    assert!(g.file_systems.len() <= MAX_FILE_SYSTEMS && g.interfaces.len() <= MAX_INTERFACES);
    for fs in &g.file_systems {
        assert!(!fs.mountpoint.is_empty() && within(&fs.mountpoint) && within(&fs.fstype));
        assert!(fs.percent_used().is_none_or(|p| (0.0..=100.0).contains(&p)));
    }
    for i in &g.interfaces {
        assert!(within(&i.name) && i.addresses.len() <= MAX_ADDRESSES);
        assert!(i.mac.is_empty() || i.mac.len() == 17);
        for a in &i.addresses {
            assert!(a.prefix <= if a.ip.is_ipv4() { 32 } else { 128 });
        }
    }
    let mut vm = Vm::new("g", State::Running);
    vm.nics = g
        .interfaces
        .iter()
        .map(|i| Nic {
            mac: i.mac.clone(),
            ..Nic::default()
        })
        .collect();
    if let Some(ip) = g.primary_ip(vm.nics.iter().map(|n| n.mac.as_str())) {
        assert!(!ip.is_loopback());
        vm.ip = ip.to_string();
    }
    vm.agent = Agent::Answered(Box::new(g));
    let snapshot = Snapshot::new(Backend::Libvirt, vec![vm]);
    for form in [Form::Plain, Form::Compressed] {
        let doc = document(&snapshot, Detail::Devices, form);
        assert!(!doc.contains('\\'));
        let _: serde_json::Value = serde_json::from_str(&doc).expect("valid JSON");
    }
    let settings = Settings::new("hv1", "hvmon", Format::SplitNcv, Messages::Status);
    let report = Report::Collected {
        snapshot: &snapshot,
        rates: None,
        rates_lost: None,
    };
    for message in build(&report, &settings) {
        assert!(!message.contains("<script") && !message.contains("<b>"));
    }
}

/// The /proc readers on one text (stat, status, meminfo, uptime, cmdline alike): parsed or
/// refused, and a parsed stat gives finite, non-negative process figures.
#[cfg(target_os = "linux")]
pub fn procfs(data: &[u8]) {
    use hv_monitor::collect::libvirt::parse::{
        Host, cmdline_runs_guest, parse_ctxt_switches, parse_mem_total, parse_stat, parse_uptime,
        process,
    };
    let t = text(data);
    let host = Host {
        root: std::path::PathBuf::from("/proc"),
        clock_ticks: 100,
        page_size: 4096,
        mem_total: parse_mem_total(&t).unwrap_or(16 << 30),
        uptime: parse_uptime(&t)
            .filter(|u| u.is_finite() && *u >= 0.0)
            .unwrap_or(1e6),
    };
    let ctxt = parse_ctxt_switches(&t);
    if let Ok(stat) = parse_stat(&t) {
        let p = process(42, &stat, ctxt, &host);
        for v in [p.pcpu, p.pmem, p.usertime, p.systime] {
            assert!(v.is_finite() && v >= 0.0, "{p:?}");
        }
    }
    cmdline_runs_guest(data, "web,01");
}

// ---------------------------------------------------------------------------------------
// CBSD and FreeBSD tools: each parser on any text, then the whole backend.

/// Rows plus problems never outnumber what a parser was given: a line costs at most itself.
fn check_counts<T>(parsed: &cbsd::Parsed<T>, t: &str) {
    assert!(parsed.rows.len() <= t.lines().count());
}

pub fn cbsd_bls(data: &[u8]) {
    let t = text(data);
    let p = cbsd::parse_bls(&t);
    check_counts(&p, &t);
    for vm in &p.rows {
        assert!(!vm.name.is_empty() && !vm.name.contains(char::is_whitespace));
        assert!(!vm.name.contains('\u{1b}'), "colour left in {:?}", vm.name);
        assert!(!vm.status.is_empty());
        assert!(vm.pcpu.is_finite());
    }
}

pub fn cbsd_disk_list(data: &[u8]) {
    let t = text(data);
    let p = cbsd::parse_disk_list(&t);
    check_counts(&p, &t);
    assert!(
        p.rows
            .iter()
            .all(|d| !d.vm.is_empty() && !d.path.is_empty())
    );
}

pub fn cbsd_nic_list(data: &[u8]) {
    let t = text(data);
    let p = cbsd::parse_nic_list(&t);
    check_counts(&p, &t);
    assert!(p.rows.iter().all(|n| !n.vm.is_empty()));
}

pub fn cbsd_snapshots(data: &[u8]) {
    let t = text(data);
    let p = cbsd::parse_snapshots(&t);
    check_counts(&p, &t);
    let names: BTreeSet<&str> = p.rows.iter().map(|(vm, _)| vm.as_str()).collect();
    assert_eq!(names.len(), p.rows.len(), "one row per VM");
    let count: u64 = p.rows.iter().map(|(_, s)| s.count).sum();
    assert!(count as usize <= t.lines().count());
}

pub fn cbsd_ifconfig(data: &[u8]) {
    let t = text(data);
    for (name, description) in cbsd::parse_ifconfig_descriptions(&t) {
        assert!(!name.is_empty() && !name.contains(char::is_whitespace));
        assert!(!description.is_empty());
        if let Some((vm, _)) = cbsd::parse_tap_description(&description) {
            assert!(!vm.is_empty());
        }
    }
}

pub fn cbsd_netstat(data: &[u8]) {
    let t = text(data);
    let p = cbsd::parse_netstat(&t);
    check_counts(&p, &t);
    assert!(p.rows.iter().all(|(name, _)| !name.ends_with('*')));
}

pub fn cbsd_ps(data: &[u8]) {
    let t = text(data);
    let p = cbsd::parse_ps(&t);
    check_counts(&p, &t);
    for row in &p.rows {
        for v in [row.pcpu, row.pmem, row.systime, row.usertime] {
            assert!(v.is_finite(), "{row:?}");
        }
        assert!(row.systime >= 0.0 && row.usertime >= 0.0, "{row:?}");
    }
}

pub fn cbsd_zfs(data: &[u8]) {
    let t = text(data);
    let p = cbsd::parse_zfs_volumes(&t);
    check_counts(&p, &t);
    for z in &p.rows {
        assert!(z.name.starts_with(z.pool()));
        z.is_disk_of("vm1", "dsk1.vhd");
    }
}

pub fn cbsd_kstat(data: &[u8]) {
    let t = text(data);
    let datasets = cbsd::parse_kstat_datasets(&t);
    assert!(datasets.len() <= t.lines().count());
}

/// The cell readers and the colour stripper on one string.
pub fn cbsd_cells(data: &[u8]) {
    let t = text(data);
    let plain = cbsd::strip_ansi(&t);
    assert!(!plain.contains('\u{1b}') && plain.len() <= t.len());
    // Everything from the first `/` on is ignored (`bhyve-dsk-list` prints `20g/...`).
    assert_eq!(cbsd::parse_size(&t), cbsd::parse_size(&format!("{t}/1G")));
    if let Some(seconds) = cbsd::parse_cpu_time(&t) {
        assert!(seconds.is_finite() && seconds >= 0.0, "{t:?} -> {seconds}");
    }
    if let Some((vm, _)) = cbsd::parse_tap_description(&t) {
        assert!(!vm.is_empty());
    }
}

/// The whole backend on hostile output: NUL-separated outputs of bls, bhyve-dsk-list,
/// bhyve-nic-list, jsnapshot, zfs list, sysctl kstat, ifconfig, netstat and ps (a missing
/// one is a failed command), assembled into VMs that make a valid LibreNMS document and
/// Xymon messages.
pub fn cbsd_assemble(data: &[u8]) {
    let outputs = pieces(data);
    let out = |i: usize| outputs.get(i).map(String::as_str);
    let mut warnings = Vec::new();
    let bls = out(0).map(|t| cbsd::parse_bls(t).rows).unwrap_or_default();
    let disks = out(1).and_then(|t| rows_of(cbsd::parse_disk_list(t), &mut warnings));
    let nics = out(2).and_then(|t| rows_of(cbsd::parse_nic_list(t), &mut warnings));
    let snapshots = out(3).and_then(|t| rows_of(cbsd::parse_snapshots(t), &mut warnings));
    let zvols = out(4).and_then(|t| rows_of(cbsd::parse_zfs_volumes(t), &mut warnings));
    let host = HostAnswers {
        disks,
        nics,
        snapshots,
        zvols,
        kstats: out(5).map(cbsd::parse_kstat_datasets),
        taps: out(6).map(cbsd::parse_ifconfig_descriptions),
        interfaces: out(7).and_then(|t| rows_of(cbsd::parse_netstat(t), &mut warnings)),
        processes: out(8).and_then(|t| rows_of(cbsd::parse_ps(t), &mut warnings)),
    };
    let bls_count = bls.len();
    let vms = assemble(bls, &host, &mut warnings);
    assert!(vms.len() <= bls_count);
    let snapshot = Snapshot::new(Backend::Cbsd, vms)
        .taken_at(UNIX_EPOCH)
        .with_warnings(warnings);
    check_document(&snapshot, Form::Plain);
    check_document(&snapshot, Form::Compressed);
    let names: Vec<&str> = snapshot.vms.iter().map(|vm| vm.name.as_str()).collect();
    let by_key: HashMap<String, &str> = vm_keys(&names).into_iter().zip(names).collect();
    let report = Report::Collected {
        snapshot: &snapshot,
        rates: None,
        rates_lost: None,
    };
    let settings = Settings::new(
        "hv1,example,com",
        RRD_TEST,
        Format::RrdScript,
        Messages::Status,
    );
    let mut seen = BTreeSet::new();
    for m in build(&report, &settings) {
        check_graph_lines(&m, Format::RrdScript, &by_key, &mut seen);
        if !for_the_extra_script(&m) {
            continue;
        }
        let parsed = rrd_script::parse(m.as_bytes(), RRD_HOST, RRD_TEST)
            .unwrap_or_else(|e| panic!("our own message refused: {e}\n{m}"));
        check_rrd_output(&parsed, &rrd_script::render(&parsed, RRD_TEST), RRD_TEST);
    }
}

fn rows_of<T>(parsed: cbsd::Parsed<T>, warnings: &mut Vec<String>) -> Option<Vec<T>> {
    warnings.extend(parsed.problems);
    Some(parsed.rows)
}
