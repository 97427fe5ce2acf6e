//! The per-VM, per-device and total fields of the document, shaped as LibreNMS reads them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Detail;
use super::names::{Form, keys_of};
use crate::model::{Disk, DiskIo, DiskSum, NetCounters, Nic, Process, State, Totals, Vm};

/// The per-VM numbers LibreNMS's hv-monitor poller stores in the VM's RRD (the VM's other
/// keys it does not read). `totals` holds their sums, but for `status_int`.
pub const VM_RRD_KEYS: [&str; 40] = [
    "mem_alloc",
    "cpus",
    "pcpu",
    "pmem",
    "status_int",
    "snaps",
    "snaps_size",
    "etimes",
    "usertime",
    "systime",
    "rss",
    "vsz",
    "minflt",
    "majflt",
    "nvcsw",
    "nivcsw",
    "cow",
    "nswap",
    "inblk",
    "oublk",
    "rbytes",
    "wbytes",
    "rreqs",
    "wreqs",
    "freqs",
    "rtime",
    "wtime",
    "ftime",
    "disk_alloc",
    "disk_in_use",
    "disk_on_disk",
    "ipkts",
    "ibytes",
    "ierrs",
    "idrop",
    "opkts",
    "obytes",
    "oerrs",
    "odrop",
    "coll",
];

/// The VM counts by state in `totals`, next to the sums of [`VM_RRD_KEYS`].
pub const TOTALS_STATE_KEYS: [&str; 10] = [
    "on",
    "blocked",
    "paused",
    "off_soft",
    "off_hard",
    "crashed",
    "pmsuspended",
    "off",
    "nostate",
    "unknown",
];

/// A float LibreNMS can store: finite, never `null`.
fn num(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

#[derive(Serialize, Default)]
struct ProcessOut {
    pcpu: f64,
    pmem: f64,
    etimes: u64,
    usertime: f64,
    systime: f64,
    rss: u64,
    vsz: u64,
    minflt: u64,
    majflt: u64,
    nvcsw: u64,
    nivcsw: u64,
    cow: u64,
    nswap: u64,
    inblk: u64,
    oublk: u64,
}

impl From<&Process> for ProcessOut {
    fn from(p: &Process) -> ProcessOut {
        ProcessOut {
            pcpu: num(p.pcpu),
            pmem: num(p.pmem),
            etimes: p.etimes,
            usertime: num(p.usertime),
            systime: num(p.systime),
            rss: p.rss,
            vsz: p.vsz,
            minflt: p.minflt,
            majflt: p.majflt,
            nvcsw: p.nvcsw,
            nivcsw: p.nivcsw,
            cow: p.cow,
            nswap: p.nswap,
            inblk: p.inblk,
            oublk: p.oublk,
        }
    }
}

#[derive(Serialize)]
struct IoOut {
    rbytes: u64,
    rreqs: u64,
    rtime: f64,
    wbytes: u64,
    wreqs: u64,
    wtime: f64,
    freqs: u64,
    ftime: f64,
}

impl From<&DiskIo> for IoOut {
    fn from(io: &DiskIo) -> IoOut {
        IoOut {
            rbytes: io.rbytes,
            rreqs: io.rreqs,
            rtime: num(io.rtime),
            wbytes: io.wbytes,
            wreqs: io.wreqs,
            wtime: num(io.wtime),
            freqs: io.freqs,
            ftime: num(io.ftime),
        }
    }
}

#[derive(Serialize)]
struct NetOut {
    ipkts: u64,
    ibytes: u64,
    ierrs: u64,
    idrop: u64,
    opkts: u64,
    obytes: u64,
    oerrs: u64,
    odrop: u64,
    coll: u64,
}

impl From<&NetCounters> for NetOut {
    fn from(n: &NetCounters) -> NetOut {
        NetOut {
            ipkts: n.ipkts,
            ibytes: n.ibytes,
            ierrs: n.ierrs,
            idrop: n.idrop,
            opkts: n.opkts,
            obytes: n.obytes,
            oerrs: n.oerrs,
            odrop: n.odrop,
            coll: n.coll,
        }
    }
}

#[derive(Serialize)]
struct DiskOut {
    /// Sizes and counters are left out when unknown (a busy VM): LibreNMS stores a missing
    /// key as U, the honest value.
    #[serde(flatten)]
    sizes: Option<DiskSizesOut>,
    #[serde(flatten)]
    io: Option<IoOut>,
}

#[derive(Serialize)]
struct DiskSizesOut {
    alloc: u64,
    in_use: u64,
    on_disk: u64,
}

impl DiskOut {
    fn new(d: &Disk, unknown: bool) -> DiskOut {
        DiskOut {
            sizes: (!unknown).then_some(DiskSizesOut {
                alloc: d.alloc,
                in_use: d.in_use,
                on_disk: d.on_disk,
            }),
            io: (!unknown).then(|| IoOut::from(&d.io)),
        }
    }
}

#[derive(Serialize)]
struct NicOut {
    #[serde(rename = "if")]
    device: String,
    parent: String,
    mac: String,
    #[serde(flatten)]
    counters: NetOut,
}

impl NicOut {
    fn new(n: &Nic, form: Form) -> NicOut {
        NicOut {
            device: form.text(&n.device).into_owned(),
            parent: form.text(&n.parent).into_owned(),
            mac: form.text(&n.mac).into_owned(),
            counters: NetOut::from(&n.counters),
        }
    }
}

/// The keys a VM and the totals share: sizes, process stats, disk and network sums.
#[derive(Serialize)]
struct SumsOut {
    mem_alloc: u64,
    cpus: u64,
    snaps: u64,
    snaps_size: u64,
    #[serde(flatten)]
    process: ProcessOut,
    /// Left out when unknown: LibreNMS stores a missing key as U, the honest value.
    #[serde(flatten)]
    io: Option<IoOut>,
    #[serde(flatten)]
    sizes: Option<DiskSumSizesOut>,
    #[serde(flatten)]
    net: NetOut,
}

#[derive(Serialize)]
struct DiskSumSizesOut {
    disk_alloc: u64,
    disk_in_use: u64,
    disk_on_disk: u64,
}

impl SumsOut {
    fn new(
        mem_alloc: u64,
        cpus: u64,
        snaps: (u64, u64),
        process: ProcessOut,
        disk: &DiskSum,
        disk_unknown: bool,
        net: &NetCounters,
    ) -> SumsOut {
        SumsOut {
            mem_alloc,
            cpus,
            snaps: snaps.0,
            snaps_size: snaps.1,
            process,
            io: (!disk_unknown).then(|| IoOut::from(&disk.io)),
            sizes: (!disk_unknown).then_some(DiskSumSizesOut {
                disk_alloc: disk.alloc,
                disk_in_use: disk.in_use,
                disk_on_disk: disk.on_disk,
            }),
            net: NetOut::from(net),
        }
    }
}

#[derive(Serialize)]
pub(super) struct VmOut {
    #[serde(flatten)]
    sums: SumsOut,
    os_type: String,
    ip: String,
    status_int: u8,
    /// 1 when some stats could not be read this run (a busy VM); those keys are left out.
    stats_incomplete: u8,
    console_type: String,
    console: String,
    nice: i64,
    pri: i64,
    disks: BTreeMap<String, DiskOut>,
    ifs: BTreeMap<String, NicOut>,
}

impl VmOut {
    pub(super) fn new(vm: &Vm, detail: Detail, form: Form) -> VmOut {
        let (disks, ifs) = match detail {
            Detail::Devices => {
                let names: Vec<&str> = vm.disks.iter().map(|d| d.name.as_str()).collect();
                let disks = keys_of(&names, form)
                    .into_iter()
                    .zip(&vm.disks)
                    .map(|(key, d)| (key, DiskOut::new(d, vm.disk_stats_unknown)))
                    .collect();
                // `nicN` keys are distinct and left as they are by LibreNMS's safeName.
                let ifs = vm
                    .nics
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (format!("nic{i}"), NicOut::new(n, form)))
                    .collect();
                (disks, ifs)
            }
            Detail::VmsOnly => (BTreeMap::new(), BTreeMap::new()),
        };
        let process = vm.process.as_ref();
        VmOut {
            sums: SumsOut::new(
                vm.mem_alloc,
                vm.cpus,
                (vm.snaps, vm.snaps_size),
                process.map(ProcessOut::from).unwrap_or_default(),
                &vm.disk_sum(),
                vm.disk_stats_unknown,
                &vm.net_sum(),
            ),
            os_type: form.text(&vm.os_type).into_owned(),
            ip: form.text(&vm.ip).into_owned(),
            status_int: vm.state.code(),
            stats_incomplete: u8::from(vm.disk_stats_unknown),
            console_type: form.text(&vm.console_type).into_owned(),
            console: form.text(&vm.console).into_owned(),
            nice: process.map_or(0, |p| p.nice),
            pri: process.map_or(0, |p| p.pri),
            disks,
            ifs,
        }
    }
}

#[derive(Serialize)]
pub(super) struct TotalsOut {
    #[serde(flatten)]
    sums: SumsOut,
    on: u64,
    blocked: u64,
    paused: u64,
    off_soft: u64,
    off_hard: u64,
    crashed: u64,
    pmsuspended: u64,
    off: u64,
    nostate: u64,
    unknown: u64,
}

impl From<&Totals> for TotalsOut {
    fn from(t: &Totals) -> TotalsOut {
        TotalsOut {
            sums: SumsOut::new(
                t.mem_alloc,
                t.cpus,
                (t.snaps, t.snaps_size),
                ProcessOut::from(&t.process),
                &t.disk,
                t.disk_stats_unknown,
                &t.net,
            ),
            on: t.in_state(State::Running),
            blocked: t.in_state(State::Blocked),
            paused: t.in_state(State::Paused),
            off_soft: t.in_state(State::Shutdown),
            off_hard: t.in_state(State::Shutoff),
            crashed: t.in_state(State::Crashed),
            pmsuspended: t.in_state(State::PmSuspended),
            off: t.in_state(State::Off),
            nostate: t.in_state(State::NoState),
            unknown: t.in_state(State::Maintenance) + t.in_state(State::Unknown),
        }
    }
}
