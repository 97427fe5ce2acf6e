//! [`super::assemble`] on hand-made answers; tests/cbsd.rs runs it on fixtures.

use super::*;
use std::collections::BTreeMap;

/// Each VM's NIC devices, in NIC order.
fn nic_devices(vms: &[Vm]) -> BTreeMap<String, Vec<String>> {
    vms.iter()
        .map(|vm| {
            (
                vm.name.clone(),
                vm.nics.iter().map(|n| n.device.clone()).collect(),
            )
        })
        .collect()
}

fn bls(name: &str, pid: u32, status: &str) -> BlsVm {
    BlsVm {
        name: name.into(),
        pid,
        ram: 1 << 30,
        cpus: 2,
        pcpu: 0.0,
        os_type: "freebsd".into(),
        ip: String::new(),
        status: status.into(),
        vnc: String::new(),
    }
}

fn tap(ipkts: u64, opkts: u64) -> NetCounters {
    NetCounters {
        ipkts,
        opkts,
        ibytes: ipkts * 100,
        obytes: opkts * 100,
        idrop: 1,
        odrop: 2,
        ..Default::default()
    }
}

#[test]
fn statuses_map_to_the_librenms_codes() {
    assert_eq!(state_from_cbsd("On").code(), 1);
    assert_eq!(state_from_cbsd("Off").code(), 8);
    assert_eq!(state_from_cbsd("Maintenance").code(), 9);
    assert_eq!(state_from_cbsd("Maintenance:backup").code(), 9);
    assert_eq!(state_from_cbsd("Slave").code(), 10);
    assert_eq!(state_from_cbsd("Unregister").code(), 10);
    assert_eq!(state_from_cbsd("").code(), 10);
}

#[test]
fn tap_counters_are_swapped_to_the_guest_side() {
    let guest = guest_side(&tap(10, 20));
    assert_eq!((guest.ipkts, guest.ibytes), (20, 2000), "the tap sent it");
    assert_eq!(
        (guest.opkts, guest.obytes),
        (10, 1000),
        "the tap received it"
    );
    assert_eq!((guest.idrop, guest.odrop), (2, 1));
}

#[test]
fn vm0_and_vm10_do_not_take_each_others_data() {
    let host = HostData {
        nics: Some(vec![
            NicRow {
                vm: "vm10".into(),
                parent: "bridge0".into(),
                mac: "m10".into(),
            },
            NicRow {
                vm: "vm1".into(),
                parent: "bridge0".into(),
                mac: "m1".into(),
            },
        ]),
        taps: Some(vec![
            ("tap1".into(), "vm10-nic0".into()),
            ("tap0".into(), "vm1-nic0".into()),
            ("tap2".into(), "vm1-nic1".into()),
        ]),
        interfaces: Some(vec![
            ("tap0".into(), tap(1, 2)),
            ("tap1".into(), tap(3, 4)),
            ("tap2".into(), tap(5, 6)),
        ]),
        zvols: Some(vec![
            Zvol {
                name: "zroot/vm/vm10/dsk1.vhd".into(),
                volsize: 10,
                used: 7,
                referenced: 5,
            },
            Zvol {
                name: "zroot/vm/vm1/dsk1.vhd".into(),
                volsize: 20,
                used: 9,
                referenced: 8,
            },
        ]),
        disks: Some(vec![
            DiskRow {
                vm: "vm1".into(),
                path: "dsk1.vhd".into(),
                size: 21,
            },
            DiskRow {
                vm: "vm10".into(),
                path: "dsk1.vhd".into(),
                size: 11,
            },
        ]),
        kstats: Some(HashMap::from([(
            "zroot/vm/vm10/dsk1.vhd".to_string(),
            DiskIo {
                rreqs: 1,
                wreqs: 2,
                rbytes: 3,
                wbytes: 4,
                ..DiskIo::default()
            },
        )])),
        processes: Some(vec![]),
        ..Default::default()
    };
    let mut warnings = vec![];
    let vms = assemble(
        vec![bls("vm10", 0, "Off"), bls("vm1", 0, "Off")],
        &host,
        &mut warnings,
    );
    assert_eq!(vms[0].name, "vm1");
    let devices = nic_devices(&vms);
    assert_eq!(devices["vm1"], ["tap0", "tap2"]);
    assert_eq!(devices["vm10"], ["tap1"]);
    assert_eq!(vms[0].nics[1].counters.ipkts, 6);
    assert_eq!(vms[0].nics[1].mac, "", "no CBSD row for nic1");
    assert_eq!(vms[0].disks[0].capacity, 20);
    assert_eq!(vms[1].disks[0].allocated, 5);
    assert_eq!(vms[1].disks[0].physical, 7);
    assert_eq!(vms[1].disks[0].io.wbytes, 4, "written bytes, not read");
    assert_eq!(vms[1].disks[0].io.wreqs, 2);
    assert_eq!(
        warnings,
        ["VM 'vm1' disk 'dsk1.vhd': no kstat I/O counters for zvol zroot/vm/vm1/dsk1.vhd"]
    );
}

#[test]
fn a_vanished_process_costs_only_its_stats() {
    let host = HostData {
        processes: Some(vec![Process {
            pid: 7,
            pcpu: 3.5,
            rss: 4096,
            ..Default::default()
        }]),
        taps: Some(vec![]),
        nics: Some(vec![NicRow {
            vm: "b".into(),
            parent: "bridge0".into(),
            mac: "00:a0:98:00:00:01".into(),
        }]),
        ..Default::default()
    };
    let mut a = bls("a", 7, "On");
    a.pcpu = 12.0;
    let mut warnings = vec![];
    let vms = assemble(
        vec![a, bls("b", 8, "On"), bls("a", 9, "On")],
        &host,
        &mut warnings,
    );
    assert_eq!(vms.len(), 2);
    let p = vms[0].process.as_ref().unwrap();
    assert_eq!((p.pcpu, p.rss), (12.0, 4096), "RACCT's pcpu first");
    assert!(vms[1].process.is_none());
    assert_eq!(vms[1].nics.len(), 1);
    assert_eq!(
        warnings,
        [
            "VM 'b': bhyve process 8 is gone (not in ps output)",
            "VM 'b' nic0: no host interface described 'b-nic0'; counters are 0",
            "bls lists VM 'a' twice; keeping the first",
        ]
    );
}
