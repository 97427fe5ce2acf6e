//! `cargo bench --bench soak`: `SOAK_RUNS` (default 1000) consecutive collections and LibreNMS
//! documents in one process, per libvirt URI, watching this process for leaks: VmRSS and the
//! number of open file descriptors after the first run, after a warm-up tenth of the runs
//! (allocator pools and libvirt's one-time setup are grown by then), and after the last.
//!
//! URIs: `SOAK_URIS` (whitespace-separated), else a 500-domain test-driver node in the lab
//! mix (tests/support/node_xml.rs) plus the lab's QEMU guests when tests/lab/libvirt-up.sh runs.
//! scripts/soak.sh runs this and the same soak through the CLI, with libvirtd's own figures.
//!
//! Fails (exit 1) when a run fails, descriptors grow, or RSS grows after the warm-up by more
//! than [`RSS_GROWTH_LIMIT_KIB`]: one leaked document a run would pass that in a few hundred.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use hv_monitor::collect::{self, Backend, CollectOptions};
use hv_monitor::emit::librenms::{self, Detail, Form};

const RSS_GROWTH_LIMIT_KIB: u64 = 4096;

/// VmRSS of this process, KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    run: usize,
    rss_kib: u64,
    fds: usize,
}

impl Mark {
    fn now(run: usize) -> Mark {
        Mark {
            run,
            rss_kib: rss_kib(),
            fds: open_fds(),
        }
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Soaks one URI; `true` when it survived without a failed run or a leak.
fn soak(uri: &str, runs: usize) -> bool {
    let options = CollectOptions {
        uri: Some(uri.to_string()),
        ..CollectOptions::default()
    };
    let warm = (runs / 10).max(1);
    let (mut first, mut warmed, mut last) = (None, None, None);
    let mut failed = 0;
    let mut first_error = None;
    let mut vms = 0;
    let mut bytes = 0;
    let started = Instant::now();
    for run in 1..=runs {
        match collect::collect(Backend::Libvirt, &options) {
            Ok(snapshot) => {
                vms = snapshot.vms.len();
                bytes = librenms::document(&snapshot, Detail::Devices, Form::Plain).len();
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("run {run}: {e}"));
            }
        }
        for (at, mark) in [(1, &mut first), (warm, &mut warmed), (runs, &mut last)] {
            if run == at {
                *mark = Some(Mark::now(run));
            }
        }
    }
    let per_run = started.elapsed() / runs as u32;
    // 1 <= warm <= runs, so every mark was taken.
    let (first, warmed, last) = (first.unwrap(), warmed.unwrap(), last.unwrap());
    let growth = last.rss_kib.saturating_sub(warmed.rss_kib);
    println!(
        "soak in-process {uri}: {runs} runs, {failed} failed, {vms} VMs, {bytes} bytes a document, {:.1} ms a run",
        ms(per_run)
    );
    println!(
        "  VmRSS {} after run {}, {} after run {}, {} after run {} (+{} KiB since the warm-up)",
        mib(first.rss_kib),
        first.run,
        mib(warmed.rss_kib),
        warmed.run,
        mib(last.rss_kib),
        last.run,
        growth
    );
    println!(
        "  open fds {} after run {}, {} after run {}",
        first.fds, first.run, last.fds, last.run
    );
    if let Some(e) = first_error {
        println!("  first failure: {e}");
    }
    let leaked_fds = last.fds > first.fds;
    let grew = growth > RSS_GROWTH_LIMIT_KIB;
    if leaked_fds {
        println!("  LEAK: file descriptors grew");
    }
    if grew {
        println!("  LEAK: RSS grew by more than {RSS_GROWTH_LIMIT_KIB} KiB after the warm-up");
    }
    failed == 0 && !leaked_fds && !grew
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The 500-domain node and the lab's QEMU URI, when nothing was named.
fn default_uris(scratch: &Path) -> Vec<String> {
    let mut uris = vec![support::node_xml::write_mixed(
        500,
        &scratch.join("test-500.xml"),
    )];
    match support::qemu_uri() {
        Some(uri) => uris.push(uri),
        None => eprintln!("soak: no lab (tests/lab/libvirt-up.sh): QEMU guests left out"),
    }
    uris
}

fn main() {
    let runs: usize = std::env::var("SOAK_RUNS")
        .ok()
        .map(|r| r.parse().expect("SOAK_RUNS is a number of runs"))
        .unwrap_or(1000)
        .max(1);
    let scratch = tempfile::tempdir().unwrap();
    let uris: Vec<String> = match std::env::var("SOAK_URIS") {
        Ok(list) if !list.trim().is_empty() => list.split_whitespace().map(String::from).collect(),
        _ => default_uris(scratch.path()),
    };
    let survived = uris.iter().filter(|uri| soak(uri, runs)).count();
    if survived < uris.len() {
        std::process::exit(1);
    }
}
