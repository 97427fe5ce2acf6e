//! The libvirt backend against a real libvirtd with real QEMU guests, as started by
//! tests/lab/libvirt-up.sh: `hvmon-running`, `hvmon-paused` and `hvmon-off` (autostart, one
//! snapshot). Fails under CI when the lab is not up.

mod common;

use common::{librenms_decode, missing_service, qemu_uri, run, stderr, stdout};
use serde_json::Value;

fn collect(uri: &str) -> Value {
    let out = run(&["--uri", uri, "-c"]);
    assert!(out.status.success(), "hv_monitor failed: {}", stderr(&out));
    librenms_decode(stdout(&out).trim_end()).expect("LibreNMS decodes the output")
}

fn uri_or_skip() -> Option<String> {
    let uri = qemu_uri();
    if uri.is_none() {
        missing_service("libvirtd with the hvmon-* QEMU guests (tests/lab/libvirt-up.sh)");
    }
    uri
}

#[test]
fn a_running_guest_has_real_counters_and_process_stats() {
    let Some(uri) = uri_or_skip() else { return };
    let before = collect(&uri);
    let vm = &before["data"]["VMs"]["hvmon-running"];
    assert_eq!(vm["status_int"], 1);
    assert_eq!(vm["mem_alloc"], 128u64 << 20);
    assert_eq!(vm["cpus"], 1);
    for key in [
        "rss",
        "vsz",
        "minflt",
        "nvcsw",
        "rbytes",
        "rreqs",
        "disk_alloc",
        "disk_on_disk",
        "opkts",
        "obytes",
    ] {
        assert!(vm[key].as_u64().unwrap() > 0, "{key} = {}", vm[key]);
    }
    for key in ["pcpu", "pmem", "rtime"] {
        assert!(vm[key].as_f64().unwrap() > 0.0, "{key} = {}", vm[key]);
    }
    assert!(vm["usertime"].as_f64().unwrap() + vm["systime"].as_f64().unwrap() > 0.0);
    assert_eq!(vm["pri"], 19, "ps -o pri of a nice-0 process");
    assert_eq!(
        vm["disk_alloc"],
        64u64 << 20,
        "the CD-ROM image is left out of the sums"
    );
    assert_eq!(vm["disks"]["hdc"]["alloc"], 1u64 << 20, "but listed");
    assert_eq!(vm["console_type"], "vnc");
    assert!(
        vm["console"].as_str().unwrap().starts_with("127.0.0.1:59"),
        "{}",
        vm["console"]
    );
    let nic = &vm["ifs"]["nic0"];
    assert_eq!(nic["if"], "hvmtap1");
    assert_eq!(nic["mac"], "52:54:00:4d:00:01");

    assert_eq!(
        nic["opkts"], vm["opkts"],
        "one NIC: the VM's sums are its counters"
    );

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let after = collect(&uri);
    let etimes = after["data"]["VMs"]["hvmon-running"]["etimes"]
        .as_u64()
        .unwrap();
    assert!(etimes >= vm["etimes"].as_u64().unwrap());
}

#[test]
fn a_paused_guest_keeps_its_process_stats() {
    let Some(uri) = uri_or_skip() else { return };
    let doc = collect(&uri);
    let vm = &doc["data"]["VMs"]["hvmon-paused"];
    assert_eq!(vm["status_int"], 3);
    assert!(vm["rss"].as_u64().unwrap() > 0);
    assert!(vm["vsz"].as_u64().unwrap() > 0);
    assert_eq!(vm["ifs"]["nic0"]["if"], "hvmtap2");
}

#[test]
fn a_shut_off_guest_has_sizes_and_snapshots_but_no_process() {
    let Some(uri) = uri_or_skip() else { return };
    let doc = collect(&uri);
    let vm = &doc["data"]["VMs"]["hvmon-off"];
    assert_eq!(vm["status_int"], 5);
    assert_eq!(vm["snaps"], 1);
    for key in ["rss", "vsz", "etimes", "minflt", "rbytes"] {
        assert_eq!(vm[key], 0, "{key}");
    }
    assert_eq!(vm["pcpu"], 0.0);
    assert_eq!(vm["disk_alloc"], 64u64 << 20);
    assert_eq!(vm["console"], "", "no port while shut off");
    assert_eq!(vm["ifs"]["nic0"]["mac"], "52:54:00:4d:00:03");

    let totals = &doc["data"]["totals"];
    assert!(totals["on"].as_u64().unwrap() >= 1);
    assert!(totals["paused"].as_u64().unwrap() >= 1);
    assert!(totals["off_hard"].as_u64().unwrap() >= 1);
    let vms = doc["data"]["VMs"].as_object().unwrap();
    let snaps: u64 = vms.values().map(|v| v["snaps"].as_u64().unwrap()).sum();
    assert_eq!(
        totals["snaps"].as_u64().unwrap(),
        snaps,
        "snapshots counted once"
    );
}

/// A transient guest started and destroyed over and over while hv_monitor runs: a VM that
/// appears or vanishes mid-collection must never fail a run or blank the others.
#[test]
fn guests_coming_and_going_never_break_a_run() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(uri) = uri_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("churn.xml");
    std::fs::write(
        &xml,
        "<domain type='qemu'><name>hvmon-churn</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
         <emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices></domain>",
    )
    .unwrap();
    let stop = AtomicBool::new(false);
    /// Stops the churn even when an assertion fails, so the scope can end.
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let virsh = |args: &[&str]| {
        std::process::Command::new("virsh")
            .args(["-q", "-c", &uri])
            .args(args)
            .output()
            .unwrap()
    };
    let (runs, seen) = std::thread::scope(|s| {
        let churn = s.spawn(|| {
            let mut cycles = 0;
            while !stop.load(Ordering::Relaxed) {
                if virsh(&["create", xml.to_str().unwrap()]).status.success() {
                    cycles += 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(30 * (cycles % 4)));
                virsh(&["destroy", "hvmon-churn"]);
            }
            cycles
        });
        let _stop = StopOnDrop(&stop);
        let mut seen = 0;
        let mut runs = 0;
        while runs < 40 || seen == 0 && runs < 200 {
            let out = run(&["--uri", &uri]);
            assert!(out.status.success(), "run {runs}: {}", stderr(&out));
            let doc = librenms_decode(stdout(&out).trim_end()).expect("every run decodes");
            let vms = &doc["data"]["VMs"];
            assert_eq!(
                vms["hvmon-running"]["status_int"], 1,
                "the others are never blanked"
            );
            if vms["hvmon-churn"].is_object() {
                seen += 1;
            }
            runs += 1;
        }
        stop.store(true, Ordering::Relaxed);
        let cycles = churn.join().unwrap();
        assert!(cycles > 0, "the transient guest never started");
        (runs, seen)
    });
    virsh(&["destroy", "hvmon-churn"]);
    assert!(
        seen > 0,
        "the transient guest was seen in {seen} of {runs} runs"
    );
}
