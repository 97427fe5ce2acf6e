//! Builds the VMs from `cbsd bls` and the host-wide commands' parsed answers
//! ([`HostAnswers`]): pure, so it is tested on fixtures (tests/fixtures/cbsd/) and below.

use std::collections::{BTreeSet, HashMap};

use super::answers::HostAnswers;
use super::parse::{self, BlsVm, DiskRow, NicRow, SnapshotSum, Zvol};
use crate::model::{Disk, DiskIo, NetCounters, Nic, Process, State, Vm};

/// CBSD's status word as a state: `On`, `Off`, `Maintenance[:reason]`; anything else
/// (`Slave`, `Unknown`, `Unregister`) is unknown.
pub fn state_from_cbsd(status: &str) -> State {
    let word = status.split(':').next().unwrap_or_default().trim();
    if word.eq_ignore_ascii_case("On") {
        State::Running
    } else if word.eq_ignore_ascii_case("Off") {
        State::Off
    } else if word.eq_ignore_ascii_case("Maintenance") {
        State::Maintenance
    } else {
        State::Unknown
    }
}

/// A host tap's counters swapped to the guest's side: what the tap received the guest sent.
pub fn guest_side(tap: &NetCounters) -> NetCounters {
    NetCounters {
        ipkts: tap.opkts,
        ibytes: tap.obytes,
        ierrs: tap.oerrs,
        idrop: tap.odrop,
        opkts: tap.ipkts,
        obytes: tap.ibytes,
        oerrs: tap.ierrs,
        odrop: tap.idrop,
        coll: tap.coll,
    }
}

/// The bhyve process's stats. bls's CPU % (RACCT) is preferred; where RACCT is off bls
/// prints 0 and `ps`'s decaying %CPU is the figure there is.
fn process(ps: &Process, bls_pcpu: f64) -> Process {
    Process {
        pcpu: if bls_pcpu > 0.0 { bls_pcpu } else { ps.pcpu },
        ..ps.clone()
    }
}

/// Indexes over [`HostAnswers`], built once for all VMs.
struct Index<'a> {
    disks: HashMap<&'a str, Vec<&'a DiskRow>>,
    nics: HashMap<&'a str, Vec<&'a NicRow>>,
    snapshots: HashMap<&'a str, &'a SnapshotSum>,
    /// (VM, NIC index) → host interface.
    taps: HashMap<(&'a str, usize), &'a str>,
    interfaces: HashMap<&'a str, &'a NetCounters>,
    processes: HashMap<u32, &'a Process>,
}

impl<'a> Index<'a> {
    fn new(host: &'a HostAnswers, warnings: &mut Vec<String>) -> Index<'a> {
        let mut disks: HashMap<&str, Vec<&DiskRow>> = HashMap::new();
        for row in host.disks.iter().flatten() {
            disks.entry(row.vm.as_str()).or_default().push(row);
        }
        let mut nics: HashMap<&str, Vec<&NicRow>> = HashMap::new();
        for row in host.nics.iter().flatten() {
            nics.entry(row.vm.as_str()).or_default().push(row);
        }
        let mut taps = HashMap::new();
        for (interface, description) in host.taps.iter().flatten() {
            let Some(key) = parse::parse_tap_description(description) else {
                continue;
            };
            if let Some(first) = taps.insert(key, interface.as_str()) {
                warnings.push(format!(
                    "interfaces {first} and {interface} are both described '{description}'; \
                     using {first}"
                ));
                taps.insert(key, first);
            }
        }
        Index {
            disks,
            nics,
            snapshots: host
                .snapshots
                .iter()
                .flatten()
                .map(|(vm, sum)| (vm.as_str(), sum))
                .collect(),
            taps,
            interfaces: host
                .interfaces
                .iter()
                .flatten()
                .rev() // the first line for a name wins
                .map(|(name, counters)| (name.as_str(), counters))
                .collect(),
            processes: host
                .processes
                .iter()
                .flatten()
                .map(|p| (p.pid, p))
                .collect(),
        }
    }
}

/// Builds the VMs from bls and the host-wide data, sorted by name. Pure: every problem is a
/// warning naming the VM, and costs only the data it concerns.
pub fn assemble(bls: Vec<BlsVm>, host: &HostAnswers, warnings: &mut Vec<String>) -> Vec<Vm> {
    let index = Index::new(host, warnings);
    let mut kstats_missing = false;
    let mut seen = BTreeSet::new();
    let mut vms = Vec::with_capacity(bls.len());
    for b in bls {
        if !seen.insert(b.name.clone()) {
            warnings.push(format!(
                "bls lists VM '{}' twice; keeping the first",
                b.name
            ));
            continue;
        }
        let mut vm = Vm::new(b.name.as_str(), state_from_cbsd(&b.status));
        let name = b.name.as_str();
        vm.mem_alloc = b.ram;
        vm.cpus = b.cpus;
        vm.os_type = b.os_type.clone();
        vm.ip = b.ip.clone();
        if !b.vnc.is_empty() {
            vm.console_type = "vnc".into();
            vm.console = b.vnc.clone();
        }
        // ps failed: already warned, no need to repeat it per VM.
        if b.pid > 0 && host.processes.is_some() {
            match index.processes.get(&b.pid) {
                Some(ps) => vm.process = Some(process(ps, b.pcpu)),
                None => warnings.push(format!(
                    "VM '{name}': bhyve process {} is gone (not in ps output)",
                    b.pid
                )),
            }
        }
        vm.disks = index
            .disks
            .get(name)
            .into_iter()
            .flatten()
            .map(|row| disk(name, row, host, &mut kstats_missing, warnings))
            .collect();
        vm.nics = nics(name, vm.state, &index, host, warnings);
        if let Some(sum) = index.snapshots.get(name) {
            vm.vm_snapshots = sum.count;
            vm.vm_snapshots_size = sum.bytes;
        }
        vms.push(vm);
    }
    if kstats_missing {
        warnings.push(
            "no per-dataset ZFS kstats (kstat.zfs.POOL.dataset, OpenZFS 2 / FreeBSD 13 and \
             later): zvol I/O counters are 0"
                .into(),
        );
    }
    vms.sort_by(|a, b| a.name.cmp(&b.name));
    vms
}

/// One disk: sizes from CBSD, or from its zvol (exact, plus I/O counters) when it has one.
fn disk(
    vm: &str,
    row: &DiskRow,
    host: &HostAnswers,
    kstats_missing: &mut bool,
    warnings: &mut Vec<String>,
) -> Disk {
    let mut disk = Disk {
        name: row.path.clone(),
        // bhyve-dsk-list lists a VM's own disks only; CBSD keeps ISO media in a list apart.
        is_image: false,
        capacity: row.size,
        allocated: row.size,
        physical: row.size,
        io: DiskIo::default(),
    };
    let zvols = host.zvols.as_deref().unwrap_or_default();
    // CBSD keeps a disk file name (its zvol is POOL/.../VM/FILE) or a /dev/zvol/ path.
    let matches: Vec<&Zvol> = match row.path.strip_prefix("/dev/zvol/") {
        Some(name) => zvols.iter().filter(|z| z.name == name).collect(),
        None => {
            let file = row.path.rsplit('/').next().unwrap_or_default();
            zvols.iter().filter(|z| z.is_disk_of(vm, file)).collect()
        }
    };
    let Some(zvol) = matches.first() else {
        return disk;
    };
    if matches.len() > 1 {
        warnings.push(format!(
            "VM '{vm}' disk '{}': {} zvols match ({}); using {}",
            row.path,
            matches.len(),
            matches
                .iter()
                .map(|z| z.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            zvol.name
        ));
    }
    disk.capacity = zvol.volsize;
    disk.allocated = zvol.referenced;
    disk.physical = zvol.used;
    // No kstats at all means sysctl failed, already warned about.
    if let Some(kstats) = &host.kstats {
        match kstats.get(&zvol.name) {
            Some(io) => disk.io = io.clone(),
            None if kstats.is_empty() => *kstats_missing = true,
            None => warnings.push(format!(
                "VM '{vm}' disk '{}': no kstat I/O counters for zvol {}",
                row.path, zvol.name
            )),
        }
    }
    disk
}

/// A VM's NICs in order: CBSD's list, each matched to the host tap described `VM-nicN`.
/// Taps without a CBSD row (the list failed) still count, with parent and MAC unknown.
fn nics(
    vm: &str,
    state: State,
    index: &Index<'_>,
    host: &HostAnswers,
    warnings: &mut Vec<String>,
) -> Vec<Nic> {
    let rows = index.nics.get(vm).map(Vec::as_slice).unwrap_or_default();
    let tapped = index
        .taps
        .keys()
        .filter(|(name, _)| *name == vm)
        .map(|(_, n)| n + 1)
        .max()
        .unwrap_or(0);
    let count = rows.len().max(tapped);
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let mut nic = Nic::default();
        if let Some(row) = rows.get(n) {
            nic.parent = row.parent.clone();
            nic.mac = row.mac.clone();
        }
        match index.taps.get(&(vm, n)) {
            Some(interface) => {
                nic.device = interface.to_string();
                match index.interfaces.get(interface) {
                    Some(counters) => nic.counters = guest_side(counters),
                    None if host.interfaces.is_some() => warnings.push(format!(
                        "VM '{vm}' nic{n}: netstat shows no counters for {interface}"
                    )),
                    None => {}
                }
            }
            None if state == State::Running && host.taps.is_some() => warnings.push(format!(
                "VM '{vm}' nic{n}: no host interface described '{vm}-nic{n}'; counters are 0"
            )),
            None => {}
        }
        out.push(nic);
    }
    out
}

#[cfg(test)]
mod tests {
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
        let host = HostAnswers {
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
        let host = HostAnswers {
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
}
