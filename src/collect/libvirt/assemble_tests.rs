//! [`super::vm`] on answers recorded from the lab's real guests and libvirt's test driver
//! (tests/fixtures/libvirt/, recorded by capture.py there; each file says how and when).

use super::*;
use crate::collect::libvirt::raw::{Answer, StateAnswer};
use crate::model::Reason;
use virt::sys;

fn recorded(name: &str) -> RawDomain {
    let text = match name {
        "hvmon-running" => include_str!("../../../tests/fixtures/libvirt/hvmon-running.json"),
        "hvmon-paused" => include_str!("../../../tests/fixtures/libvirt/hvmon-paused.json"),
        "hvmon-off" => include_str!("../../../tests/fixtures/libvirt/hvmon-off.json"),
        "test" => include_str!("../../../tests/fixtures/libvirt/test.json"),
        _ => unreachable!("no fixture {name}"),
    };
    let file: serde_json::Value = serde_json::from_str(text).unwrap();
    assert!(file["captured"].as_str().unwrap().starts_with("virsh -c "));
    serde_json::from_value(file["raw"].clone()).unwrap()
}

fn stat(raw: &RawDomain, key: &str) -> u64 {
    let (_, v) = raw.stats.iter().find(|(k, _)| k == key).unwrap();
    v.as_u64().unwrap()
}

fn assembled(raw: &RawDomain) -> (Vm, Vec<String>) {
    let mut warnings = Vec::new();
    let vm = vm(raw, &mut warnings).expect("kept");
    (vm, warnings)
}

fn failed<T>(vanished: bool) -> Answer<T> {
    Err(CallError {
        vanished,
        message: "recorded failure".into(),
    })
}

#[test]
fn a_running_qemu_guest_takes_everything_from_bulk_stats_and_xml() {
    let raw = recorded("hvmon-running");
    let (vm, warnings) = assembled(&raw);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(vm.state, State::Running);
    assert_eq!(
        vm.reason,
        StateReason {
            code: Some(sys::VIR_DOMAIN_RUNNING_BOOTED),
            kind: Reason::Booted
        }
    );
    assert_eq!(vm.mem_alloc, 128 << 20);
    assert_eq!(vm.cpus, 1);
    assert_eq!(vm.os_type, "hvm");
    assert_eq!(vm.console_type, "vnc");
    assert!(vm.console.starts_with("127.0.0.1:59"), "{}", vm.console);
    assert_eq!((vm.snaps, vm.autostart), (0, Some(false)));
    assert!(!vm.disk_stats_unknown);
    let names: Vec<(&str, bool)> = vm
        .disks
        .iter()
        .map(|d| (d.name.as_str(), d.is_image))
        .collect();
    assert_eq!(
        names,
        [("vda", false), ("hdc", true)],
        "the CD-ROM is an image"
    );
    assert_eq!(vm.disks[0].capacity, 64 << 20);
    assert_eq!(vm.disks[1].capacity, 1 << 20);
    assert_eq!(vm.disks[0].io.rreqs, stat(&raw, "block.0.rd.reqs"));
    assert_eq!(vm.nics.len(), 1);
    let nic = &vm.nics[0];
    assert_eq!(
        (nic.device.as_str(), nic.mac.as_str()),
        ("hvmtap1", "52:54:00:4d:00:01")
    );
    assert_eq!(nic.counters.opkts, stat(&raw, "net.0.tx.pkts"));
    assert!(nic.counters.opkts > 0, "iPXE's DHCP requests");
    assert!(vm.process.is_none(), "not recorded");
}

#[test]
fn a_paused_guest_is_paused_with_its_own_nic() {
    let (vm, warnings) = assembled(&recorded("hvmon-paused"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(vm.state, State::Paused);
    assert_eq!(vm.reason.code, Some(sys::VIR_DOMAIN_PAUSED_USER));
    assert_eq!(vm.reason.kind, Reason::User, "virsh suspend");
    assert_eq!(vm.nics[0].device, "hvmtap2");
}

#[test]
fn a_shut_off_guest_has_sizes_snapshots_and_autostart_but_no_console() {
    let (vm, warnings) = assembled(&recorded("hvmon-off"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(vm.state, State::Shutoff);
    assert_eq!(
        vm.reason.code,
        Some(sys::VIR_DOMAIN_SHUTOFF_UNKNOWN),
        "never started"
    );
    assert_eq!((vm.snaps, vm.autostart), (1, Some(true)));
    assert_eq!(vm.disks[0].capacity, 64 << 20);
    assert_eq!(vm.console, "", "no port while shut off");
    assert_eq!(vm.nics[0].mac, "52:54:00:4d:00:03");
    assert_eq!(vm.nics[0].counters, NetCounters::default());
}

#[test]
fn the_test_driver_fills_the_rest_from_per_domain_answers() {
    let raw = recorded("test");
    let (vm, warnings) = assembled(&raw);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(vm.state, State::Running);
    assert_eq!((vm.mem_alloc, vm.cpus), (8 << 30, 2), "from the XML");
    let block = &raw.blocks[0];
    let (Ok(sizes), Some(Ok(counters))) = (&block.info, &block.stats) else {
        panic!("recorded answers");
    };
    assert_eq!(vm.disks.len(), 1);
    assert_eq!(vm.disks[0].capacity, sizes.capacity);
    assert_eq!(vm.disks[0].allocated, sizes.allocation);
    assert_eq!(vm.disks[0].io.wreqs, counter(counters.wr_req));
    let Ok(net) = &raw.interfaces[0].counters else {
        panic!("recorded answer");
    };
    assert_eq!(vm.nics[0].device, "testnet0");
    assert_eq!(vm.nics[0].counters.ibytes, counter(net.rx_bytes));
    assert_eq!(vm.nics[0].parent, "virbr0", "the network's bridge");
}

#[test]
fn a_busy_guest_keeps_its_disks_with_their_io_unknown() {
    let mut raw = recorded("hvmon-running");
    raw.stats
        .retain(|(k, _)| !(k.starts_with("block.") && (k.contains(".rd.") || k.contains(".wr."))));
    let (vm, warnings) = assembled(&raw);
    assert!(vm.disk_stats_unknown);
    assert_eq!(vm.disks.len(), 2);
    assert_eq!(
        warnings,
        ["VM 'hvmon-running' is busy (job lock held): disk stats unknown this run"]
    );
}

#[test]
fn failed_calls_cost_their_piece_and_a_warning_each() {
    let mut raw = recorded("test");
    raw.blocks[0].stats = Some(failed(false));
    raw.interfaces[0].counters = failed(false);
    raw.snapshots = failed(false);
    raw.autostart = failed(false);
    raw.process = Some(Err("no PID file".into()));
    let (vm, warnings) = assembled(&raw);
    assert_eq!(vm.disks[0].io, DiskIo::default());
    assert!(vm.disks[0].capacity > 0, "the block info still counts");
    assert_eq!(vm.autostart, None);
    assert_eq!(
        warnings,
        [
            "VM 'test': block stats of vda: recorded failure",
            "VM 'test': interface stats of testnet0: recorded failure",
            "VM 'test': snapshot count: recorded failure",
            "VM 'test': autostart: recorded failure",
            "VM 'test': QEMU process stats: no PID file",
        ]
    );
}

#[test]
fn an_unreadable_xml_leaves_the_vm_with_its_bulk_stats() {
    let mut raw = recorded("hvmon-running");
    raw.xml = failed(false);
    let (vm, warnings) = assembled(&raw);
    assert_eq!(vm.disks.len(), 2, "from the stats");
    assert_eq!(vm.nics[0].mac, "", "only the XML knows it");
    assert_eq!(
        warnings,
        ["VM 'hvmon-running': domain XML: recorded failure"]
    );
    raw.xml = Ok("<domain".into());
    let (_, warnings) = assembled(&raw);
    assert!(
        warnings[0].starts_with("VM 'hvmon-running': "),
        "{warnings:?}"
    );
}

#[test]
fn a_vanished_or_stateless_domain_is_left_out() {
    let mut raw = recorded("hvmon-off");
    raw.xml = failed(true);
    assert!(vm(&raw, &mut Vec::new()).unwrap_err().vanished);

    let mut raw = recorded("test");
    raw.stats.clear();
    raw.state = Some(failed(false));
    assert!(!vm(&raw, &mut Vec::new()).unwrap_err().vanished);
    raw.state = Some(Ok(StateAnswer {
        state: sys::VIR_DOMAIN_PAUSED,
        reason: Some(sys::VIR_DOMAIN_PAUSED_IOERROR),
    }));
    let (vm, _) = assembled(&raw);
    assert_eq!(vm.state, State::Paused);
    assert_eq!(vm.reason.kind, Reason::IoError);
}

#[test]
fn an_image_is_a_cdrom_or_an_iso_path() {
    assert!(
        is_image(Some("cdrom"), None),
        "per-domain calls: the XML only"
    );
    assert!(is_image(Some("cdrom"), Some("/dev/sr0")));
    assert!(is_image(Some("disk"), Some("/isos/debian.ISO")), "any case");
    assert!(is_image(None, Some("/isos/debian.iso")), "no XML: the path");
    assert!(!is_image(Some("disk"), Some("/var/lib/vm.raw")));
    assert!(!is_image(Some("disk"), None));
    assert!(!is_image(None, None));
}

#[test]
fn without_the_xml_the_iso_path_still_marks_the_image() {
    let mut raw = recorded("hvmon-running");
    raw.xml = failed(false);
    let (vm, _) = assembled(&raw);
    let images: Vec<(&str, bool)> = vm
        .disks
        .iter()
        .map(|d| (d.name.as_str(), d.is_image))
        .collect();
    assert_eq!(images, [("vda", false), ("hdc", true)]);
    assert_eq!(vm.disk_sum().capacity, 64 << 20, "the ISO left out");
}
