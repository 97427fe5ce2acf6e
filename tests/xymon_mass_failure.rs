//! A mass failure end to end: hosts whose VMs are all crashed or blocked (libvirt test-driver
//! node XMLs, runstate 6 and 2), with names of 10, 150 and 1000 bytes, sent in every
//! `--format` to a real xymond + xymond_rrd (with our extra-script) on 127.0.0.1:19850.
//!
//! Every message must arrive whole: the status xymond keeps ends with our end marker, every
//! VM's RRD is written (a message cut at xymond's 256 KiB would lose the VMs after the cut),
//! and the extra-script refuses nothing (it refuses any message without its end marker).
//!
//! The full matrix is 3 counts x 3 name lengths x 3 formats. Every node is collected once
//! through the test driver and its messages built in every format, `--message` kind and
//! four size limits, each checked against the limit; the server runs get the combinations
//! that stress what the server sees (see [`SERVER_RUNS`]). The test driver takes seconds
//! to parse a 5000-domain node, every run parses it again: the whole test takes a few
//! minutes on two cores.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hv_monitor::xymon_wire::END_MARKER;
use hv_monitor::xymon_wire::vm_key;
use support::mass_failure::{COUNTS, NAME_LENGTHS, build_all, collect, write_node};
use support::xymon::{self, Server, rrd_info};
use support::{run, scratch, text};

const PORT: u16 = 19850;

/// The combinations sent to the server: (VMs, name bytes, format). Each run makes the test
/// driver parse the node again and xymond_rrd create one RRD per VM (per VM and metric for
/// splitncv), about 100 s for 5000 VMs on a loaded two-core machine, so the server gets the
/// combinations that stress it and the size limits of all 27 are checked without it:
///
/// - rrd-script, the largest messages (raw counters, `U` for the unknown) and the strictest
///   receiver (the extra-script refuses a message without its end marker): 100 VMs with short
///   and long names, the 2000 VMs with 150-byte names, and 5000 VMs with 1000-byte
///   names, the largest case;
/// - splitncv, one RRD per VM and metric (5000 VMs would make ~25,000 files, minutes of
///   xymond_rrd for nothing 2000 do not show): 100 VMs, and 2000 with 1000-byte names;
/// - ncv, one totals RRD whatever the count, sent twice (rates need a previous run): 2000 VMs
///   with 1000-byte names, so its status is as full of problems as it gets.
const SERVER_RUNS: &[(usize, usize, &str)] = &[
    (100, 10, "rrd-script"),
    (100, 1000, "rrd-script"),
    (2000, 150, "rrd-script"),
    (5000, 1000, "rrd-script"),
    (100, 150, "splitncv"),
    (2000, 1000, "splitncv"),
    (2000, 1000, "ncv"),
];

fn host(count: usize, name_len: usize, format: &str) -> String {
    format!("mf-{count}-{name_len}-{format}.example.com")
}

fn column(format: &str) -> &'static str {
    match format {
        "splitncv" => "hvmon",
        "ncv" => "hvmontot",
        _ => "hvmonrrd",
    }
}

/// Our own server (its own port and hosts), stopped by its watchdog when this process exits.
fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    let server = SERVER.get_or_init(|| {
        let hosts: Vec<String> = SERVER_RUNS
            .iter()
            .map(|(c, n, f)| host(*c, *n, f))
            .chain(["mf-control.example.com".to_string()])
            .collect();
        Server::start(PORT, &hosts)
    });
    xymon::required(server.as_ref())
}

/// hv_monitor's stderr lines for messages the extra-script refused, from the workers' logs.
fn refusals(server: &Server) -> Vec<String> {
    let mut found = Vec::new();
    for log in ["rrd-status.log", "rrd-data.log"] {
        let text = std::fs::read_to_string(server.home.join("logs").join(log)).unwrap_or_default();
        found.extend(
            text.lines()
                .filter(|l| l.contains("hv_monitor: xymon-rrd"))
                .map(str::to_string),
        );
    }
    found
}

/// Waits until every file in `expected` is in `host`'s RRD directory; returns what is missing.
fn wait_for_files(server: &Server, host: &str, expected: &BTreeSet<String>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let present: BTreeSet<String> = server.rrd_files(host).into_iter().collect();
        let missing: Vec<String> = expected.difference(&present).cloned().collect();
        if missing.is_empty() || Instant::now() > deadline {
            return missing;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn every_combination_builds_messages_under_max_size() {
    let dir = scratch("mass-build");
    for count in COUNTS {
        for name_len in NAME_LENGTHS {
            let (uri, _) = write_node(&dir, count, name_len);
            let snapshot = collect(&uri);
            assert_eq!(snapshot.vms.len(), count);
            for b in build_all(&snapshot) {
                assert!(
                    b.largest <= b.max_size && b.unterminated == 0,
                    "{count} VMs, {name_len}-byte names, {} {:?} --max-size {}: largest of {} \
                     messages {} bytes, {} without the end marker",
                    b.format.name(),
                    b.kind,
                    b.max_size,
                    b.messages,
                    b.largest,
                    b.unterminated
                );
            }
        }
    }
}

#[test]
fn the_extra_script_refusal_check_sees_a_cut_message() {
    // The matrix relies on finding refusals in the workers' logs: prove a refusal shows.
    let Some(server) = server() else { return };
    let host = "mf-control.example.com";
    let cut = format!(
        "status {}.hvmonrrd green x\n<!-- hvmon v1 rrd-script interval 300 -->\nall_vms : 1\n",
        host.replace('.', ",")
    );
    let out = Command::new(Path::new(xymon::XYMON_BIN).join("xymon"))
        .arg(server.addr())
        .arg(&cut)
        .output()
        .expect("run xymon");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !refusals(server).iter().any(|l| l.contains(host)) {
        assert!(
            Instant::now() < deadline,
            "a message without the end marker was not refused, or its refusal is not in {}",
            server.home.join("logs").display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends one combination and checks what the server made of it.
fn run_on_server(server: &Server, dir: &Path, count: usize, name_len: usize, format: &str) {
    let started = Instant::now();
    let host = host(count, name_len, format);
    let (uri, names) = write_node(dir, count, name_len);
    let state = dir.join(format!("{count}-{name_len}-{format}.state.json"));
    // A new host's first messages reach the status and the data worker at once, and both
    // create its RRD directory: the loser logs "File exists" and drops its message (Xymon's
    // own race, costing one run on a real server). The directory is made first here.
    std::fs::create_dir_all(server.home.join("var/rrd").join(&host)).unwrap();
    let addr = server.addr();
    let args = [
        "xymon",
        "--server",
        &addr,
        "--uri",
        &uri,
        "--host",
        &host,
        "--format",
        format,
        "--state",
        state.to_str().unwrap(),
        "-t",
        "600",
    ];
    let out = run(&args);
    assert!(out.status.success(), "{host}: {}", text(&out.stderr));
    if format == "ncv" {
        // NCV sends its totals once rates exist: a second run, in a later second for
        // xymond_rrd.
        support::clock::next_second();
        let out = run(&args);
        assert!(out.status.success(), "{host}: {}", text(&out.stderr));
    }

    let expected: BTreeSet<String> = match format {
        "splitncv" => names
            .iter()
            .map(|n| format!("hvmon,vm_{}_vcpus.rrd", vm_key(n)))
            .chain(["hvmon,all_vms.rrd".to_string()])
            .collect(),
        "ncv" => ["hvmontot.rrd".to_string()].into(),
        _ => names
            .iter()
            .map(|n| format!("hvmonrrd,vm_{}.rrd", vm_key(n)))
            .chain(["hvmonrrd-states.rrd".to_string()])
            .collect(),
    };
    let missing = wait_for_files(server, &host, &expected);
    assert!(
        missing.is_empty(),
        "{host}: {} of {} RRDs never appeared (a message cut short?), e.g. {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(3)]
    );

    let status = server.xymon(&format!("xymondlog {host}.{}", column(format)));
    assert!(
        status.contains(&format!("\n{END_MARKER}\n")),
        "{host}: the status xymond keeps has no end marker ({} bytes)",
        status.len()
    );
    assert_eq!(server.colour(&host, column(format)), "red", "{host}");
    if format == "ncv" {
        let info = rrd_info(&server.rrd(&host, "hvmontot.rrd"));
        assert_eq!(info["ds[vms].last_ds"], count.to_string(), "{host}");
    }
    let refused: Vec<String> = refusals(server)
        .into_iter()
        .filter(|l| l.contains(&host))
        .collect();
    assert!(
        refused.is_empty(),
        "{host}: the extra-script refused {refused:?}"
    );
    eprintln!(
        "{host}: {} RRDs in {:.1} s",
        expected.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_mass_failure_reaches_every_rrd_in_every_format() {
    let Some(server) = server() else { return };
    let dir = scratch("mass-server");
    for (count, name_len, format) in SERVER_RUNS {
        run_on_server(server, &dir, *count, *name_len, format);
    }
}
