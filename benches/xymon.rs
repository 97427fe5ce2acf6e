//! `cargo bench --bench xymon`: time and size of building and sending the Xymon messages for
//! 10, 100, 500 and 2000 VMs (libvirt test-driver node XMLs), how many messages each needs,
//! and the extra-script handler's time per message. Sends to a private xymond on
//! 127.0.0.1:19845 (tests/lab/xymon-up.sh); without Xymon installed it reports building only.
//! Prints its BENCHMARKS.md section; `scripts/benchmarks_md.py write -- cargo bench --bench
//! xymon` writes it there.
//!
//! `cargo bench --bench xymon -- sizes` (scripts/message-size-figures.sh): instead, the table
//! of the largest message over the mass-failure matrix (tests/support/mass_failure.rs) against
//! each `--max-size`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use hv_monitor::collect::{self, Backend, CollectOptions};
use hv_monitor::emit::xymon::{Report, Settings, build};
use hv_monitor::rates::{self, PreviousCounters};
use hv_monitor::rrd_script;
use hv_monitor::transport::combine;
use hv_monitor::transport::{Sender, Target};
use hv_monitor::xymon_wire::{Format, Messages, VmSample};
use support::xymon::Server;
use support::{mass_failure, node_xml, scratch};

const PORT: u16 = 19845;
const HOST: &str = "hv-bench.example.com";
const ROUNDS: u32 = 5;

fn settings(format: Format) -> Settings {
    Settings::new(
        &HOST.replace('.', ","),
        format.default_column(),
        format,
        Messages::Status,
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A markdown table, one row per node of the mass-failure matrix: per size limit, the largest
/// message over every format and `--message` kind, and the most messages one run needed.
fn sizes() {
    let dir = scratch("bench-sizes");
    print!("| VMs | name bytes |");
    for max in mass_failure::MAX_SIZES {
        print!(" `--max-size {max}` |");
    }
    println!(" collect |");
    println!(
        "|---:|---:|{}---:|",
        "---:|".repeat(mass_failure::MAX_SIZES.len())
    );
    let mut overall = [0usize; mass_failure::MAX_SIZES.len()];
    for count in mass_failure::COUNTS {
        for name_len in mass_failure::NAME_LENGTHS {
            let (uri, _) = mass_failure::write_node(&dir, count, name_len);
            let started = Instant::now();
            let snapshot = mass_failure::collect(&uri);
            let collect_time = started.elapsed();
            let built = mass_failure::build_all(&snapshot);
            print!("| {count} | {name_len} |");
            for (i, max) in mass_failure::MAX_SIZES.iter().enumerate() {
                let at_max = built.iter().filter(|b| b.max_size == *max);
                let largest = at_max.clone().map(|b| b.largest).max().unwrap_or(0);
                let messages = at_max.map(|b| b.messages).max().unwrap_or(0);
                assert!(built.iter().all(|b| b.unterminated == 0));
                overall[i] = overall[i].max(largest);
                print!(" {largest} B, {messages} msgs |");
            }
            println!(" {} |", ms(collect_time));
        }
    }
    print!("| largest | |");
    for (largest, max) in overall.iter().zip(mass_failure::MAX_SIZES) {
        let verdict = if *largest <= max { "fits" } else { "OVER" };
        print!(" {largest} B {verdict} |");
    }
    println!(" |");
}

/// The `produced-by` line of the section (scripts/benchmarks_md.py, shared by every
/// benchmark).
fn produced_by(command: &str) -> String {
    let out = Command::new(support::repo().join("scripts/benchmarks_md.py"))
        .args(["produced-by", command])
        .output()
        .expect("run scripts/benchmarks_md.py");
    assert!(
        out.status.success(),
        "scripts/benchmarks_md.py produced-by failed"
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn main() {
    if std::env::args().any(|a| a == "sizes") {
        sizes();
        return;
    }
    let server = Server::shared(PORT);
    if server.is_none() {
        eprintln!("xymon not installed: building only, no sending");
    }
    let dir = scratch("bench");
    let command = "cargo bench --bench xymon";
    println!("## Xymon messages by VM count (`{command}`)\n");
    println!("{}", produced_by(command));
    println!(
        "Libvirt test-driver hosts (the lab's state mix; test-driver VMs have no QEMU process, so \
         no CPU/RSS lines), collected twice over one connection so every rate is present; each \
         form built {ROUNDS} times (the mean shown); {}; the extra-script handler on every \
         rrd-script message, in process and as xymond_rrd runs it (one process per message). \
         \"collect\" is mostly libvirt loading the test driver's node XML.\n",
        if server.is_some() {
            "the SPLITNCV messages sent in one extcombo connection to a private xymond on \
             loopback, host check included"
        } else {
            "no sending (Xymon is not installed)"
        }
    );
    println!(
        "| VMs | collect | build splitncv | bytes | msgs | build rrd-script | bytes | msgs \
         | send (TCP) | xymon-rrd per message (in process / as a process) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut largest_host = (0, 0);
    for n in [10usize, 100, 500, 2000] {
        let uri = node_xml::write_mixed(n, &dir.join(format!("node-{n}.xml")));
        // One connection: each test-driver connection parses the node XML anew.
        let options = CollectOptions {
            uri: Some(uri.clone()),
            connections: Some(1),
            ..CollectOptions::default()
        };
        let started = Instant::now();
        let first = collect::collect(Backend::Libvirt, &options).expect("collect");
        let collect_time = started.elapsed();
        std::thread::sleep(Duration::from_millis(20));
        let snapshot = collect::collect(Backend::Libvirt, &options).expect("collect");
        let samples: Vec<VmSample> = first.vms.iter().map(VmSample::of).collect();
        let previous = PreviousCounters::new(first.taken_at, &samples);

        // Rates are computed in the timed loop: building a run's messages includes them.
        let time_build = |format: Format| {
            let started = Instant::now();
            let mut messages = Vec::new();
            for _ in 0..ROUNDS {
                let settings = settings(format);
                let previous = Some(&previous).filter(|_| format.uses_rates());
                let computed =
                    rates::compute(&snapshot, previous, rates::max_rate_age(settings.interval));
                let report = Report::Collected {
                    snapshot: &snapshot,
                    rates: computed.per_vm.as_deref(),
                    rates_lost: None,
                };
                messages = build(&report, &settings);
            }
            (started.elapsed() / ROUNDS, messages)
        };
        let (split_time, split) = time_build(Format::SplitNcv);
        let (rrd_time, rrd) = time_build(Format::RrdScript);
        let size = |m: &[String]| m.iter().map(String::len).sum::<usize>();

        let send_time = server.map(|server| {
            let target = Target::parse(&server.addr(), 1984).unwrap();
            let mut sender = Sender::new(Duration::from_secs(15), None);
            let payloads = combine(&split);
            let started = Instant::now();
            let mut exchange = sender.exchange(&target);
            assert!(exchange.host_known(HOST).unwrap(), "{HOST} in hosts.cfg");
            for p in &payloads {
                exchange.send(p).expect("send");
            }
            started.elapsed()
        });

        // The handler in-process, and as xymond_rrd runs it: one process per message it gets
        // (not the hvmonrrdvm status: no TEST2RRD name, so never the extra-script's).
        let files: Vec<_> = rrd
            .iter()
            .filter(|m| !m.lines().next().is_some_and(|l| l.contains(".hvmonrrdvm ")))
            .enumerate()
            .map(|(i, m)| {
                let f = dir.join(format!("msg-{n}-{i}"));
                std::fs::write(&f, m).unwrap();
                f
            })
            .collect();
        let started = Instant::now();
        for _ in 0..ROUNDS {
            for f in &files {
                rrd_script::handle(HOST, "hvmonrrd", f).expect("handler");
            }
        }
        let per_message = started.elapsed() / (ROUNDS * files.len() as u32);
        let started = Instant::now();
        for f in &files {
            let out = support::hv_monitor()
                .args(["xymon-rrd", HOST, "hvmonrrd", f.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success());
        }
        let per_process = started.elapsed() / files.len() as u32;

        println!(
            "| {n} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            ms(collect_time),
            ms(split_time),
            size(&split),
            split.len(),
            ms(rrd_time),
            size(&rrd),
            rrd.len(),
            send_time.map_or("-".into(), ms),
            ms(per_message),
            ms(per_process),
        );
        largest_host = (n, split.len());
    }
    let (vms, messages) = largest_host;
    println!(
        "\nA {vms}-VM host needs {messages} SPLITNCV messages, sent in one extcombo connection."
    );
}
