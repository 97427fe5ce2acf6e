//! The per-VM, per-device and total fields of the document, written straight from the model
//! under the keys LibreNMS reads, in the Perl tool's order.
//!
//! Unknown disk stats (a busy VM) are left out, not written as 0: LibreNMS stores a missing
//! key as U, the honest value.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::Detail;
use super::names::{Form, disk_keys};
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

fn process_entries<M: SerializeMap>(m: &mut M, p: &Process) -> Result<(), M::Error> {
    m.serialize_entry("pcpu", &num(p.pcpu))?;
    m.serialize_entry("pmem", &num(p.pmem))?;
    m.serialize_entry("etimes", &p.etimes)?;
    m.serialize_entry("usertime", &num(p.usertime))?;
    m.serialize_entry("systime", &num(p.systime))?;
    m.serialize_entry("rss", &p.rss)?;
    m.serialize_entry("vsz", &p.vsz)?;
    m.serialize_entry("minflt", &p.minflt)?;
    m.serialize_entry("majflt", &p.majflt)?;
    m.serialize_entry("nvcsw", &p.nvcsw)?;
    m.serialize_entry("nivcsw", &p.nivcsw)?;
    m.serialize_entry("cow", &p.cow)?;
    m.serialize_entry("nswap", &p.nswap)?;
    m.serialize_entry("inblk", &p.inblk)?;
    m.serialize_entry("oublk", &p.oublk)
}

fn io_entries<M: SerializeMap>(m: &mut M, io: &DiskIo) -> Result<(), M::Error> {
    m.serialize_entry("rbytes", &io.rbytes)?;
    m.serialize_entry("rreqs", &io.rreqs)?;
    m.serialize_entry("rtime", &num(io.rtime))?;
    m.serialize_entry("wbytes", &io.wbytes)?;
    m.serialize_entry("wreqs", &io.wreqs)?;
    m.serialize_entry("wtime", &num(io.wtime))?;
    m.serialize_entry("freqs", &io.freqs)?;
    m.serialize_entry("ftime", &num(io.ftime))
}

fn net_entries<M: SerializeMap>(m: &mut M, n: &NetCounters) -> Result<(), M::Error> {
    m.serialize_entry("ipkts", &n.ipkts)?;
    m.serialize_entry("ibytes", &n.ibytes)?;
    m.serialize_entry("ierrs", &n.ierrs)?;
    m.serialize_entry("idrop", &n.idrop)?;
    m.serialize_entry("opkts", &n.opkts)?;
    m.serialize_entry("obytes", &n.obytes)?;
    m.serialize_entry("oerrs", &n.oerrs)?;
    m.serialize_entry("odrop", &n.odrop)?;
    m.serialize_entry("coll", &n.coll)
}

/// The keys a VM and the totals share: sizes, process stats, disk and network sums.
struct Sums<'a> {
    mem_alloc: u64,
    cpus: u64,
    snaps: u64,
    snaps_size: u64,
    /// `None`: no process, every process key 0.
    process: Option<&'a Process>,
    /// `None`: unknown, left out.
    disk: Option<&'a DiskSum>,
    net: &'a NetCounters,
}

impl Sums<'_> {
    fn entries<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        m.serialize_entry("mem_alloc", &self.mem_alloc)?;
        m.serialize_entry("cpus", &self.cpus)?;
        m.serialize_entry("snaps", &self.snaps)?;
        m.serialize_entry("snaps_size", &self.snaps_size)?;
        process_entries(m, self.process.unwrap_or(&Process::default()))?;
        if let Some(disk) = self.disk {
            io_entries(m, &disk.io)?;
            m.serialize_entry("disk_alloc", &disk.capacity)?;
            m.serialize_entry("disk_in_use", &disk.allocated)?;
            m.serialize_entry("disk_on_disk", &disk.physical)?;
        }
        net_entries(m, self.net)
    }
}

/// One disk; nothing but the key when its VM's disk stats are unknown.
struct DiskOut<'a> {
    disk: &'a Disk,
    known: bool,
}

impl Serialize for DiskOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if self.known {
            m.serialize_entry("alloc", &self.disk.capacity)?;
            m.serialize_entry("in_use", &self.disk.allocated)?;
            m.serialize_entry("on_disk", &self.disk.physical)?;
            io_entries(&mut m, &self.disk.io)?;
        }
        m.end()
    }
}

struct NicOut<'a> {
    nic: &'a Nic,
    form: Form,
}

impl Serialize for NicOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("if", &self.form.text(&self.nic.device))?;
        m.serialize_entry("parent", &self.form.text(&self.nic.parent))?;
        m.serialize_entry("mac", &self.form.text(&self.nic.mac))?;
        net_entries(&mut m, &self.nic.counters)?;
        m.end()
    }
}

/// One VM's object in `data.VMs`.
pub(super) struct VmOut<'a> {
    pub vm: &'a Vm,
    pub detail: Detail,
    pub form: Form,
}

impl Serialize for VmOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (vm, form) = (self.vm, self.form);
        let known = !vm.disk_stats_unknown;
        let mut m = s.serialize_map(None)?;
        Sums {
            mem_alloc: vm.mem_alloc,
            cpus: vm.cpus,
            snaps: vm.snaps,
            snaps_size: vm.snaps_size,
            process: vm.process.as_ref(),
            disk: known.then_some(&vm.disk_sum()),
            net: &vm.net_sum(),
        }
        .entries(&mut m)?;
        m.serialize_entry("os_type", &form.text(&vm.os_type))?;
        m.serialize_entry("ip", &form.text(&vm.ip))?;
        m.serialize_entry("status_int", &vm.state.code())?;
        // Why: libvirt's reason code as it gives it (its meaning depends on the state), -1
        // where the backend gives none (CBSD); and libvirt's name for it, lower-cased.
        m.serialize_entry("state_reason", &vm.reason.code.map_or(-1, i64::from))?;
        m.serialize_entry("state_reason_name", vm.reason.kind.name())?;
        // 1 when some keys are left out because the VM's disk stats are unknown.
        m.serialize_entry("stats_incomplete", &u8::from(vm.disk_stats_unknown))?;
        m.serialize_entry("console_type", &form.text(&vm.console_type))?;
        m.serialize_entry("console", &form.text(&vm.console))?;
        m.serialize_entry("nice", &vm.process.as_ref().map_or(0, |p| p.nice))?;
        m.serialize_entry("pri", &vm.process.as_ref().map_or(0, |p| p.pri))?;
        let mut disks = BTreeMap::new();
        let mut ifs = BTreeMap::new();
        if self.detail == Detail::Devices {
            let names: Vec<&str> = vm.disks.iter().map(|d| d.name.as_str()).collect();
            for (key, disk) in disk_keys(&names, form).into_iter().zip(&vm.disks) {
                disks.insert(key, DiskOut { disk, known });
            }
            // `nicN` keys are distinct and left as they are by LibreNMS's safeName.
            for (i, nic) in vm.nics.iter().enumerate() {
                ifs.insert(format!("nic{i}"), NicOut { nic, form });
            }
        }
        m.serialize_entry("disks", &disks)?;
        m.serialize_entry("ifs", &ifs)?;
        m.end()
    }
}

/// `data.totals`: the shared sums, then VMs per state under the Perl tool's names.
pub(super) struct TotalsOut<'a>(pub &'a Totals);

impl Serialize for TotalsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(None)?;
        Sums {
            mem_alloc: t.mem_alloc,
            cpus: t.cpus,
            snaps: t.snaps,
            snaps_size: t.snaps_size,
            process: Some(&t.process),
            disk: (!t.disk_stats_unknown).then_some(&t.disk),
            net: &t.net,
        }
        .entries(&mut m)?;
        let unknown = t.in_state(State::Maintenance) + t.in_state(State::Unknown);
        for (key, count) in [
            ("on", t.in_state(State::Running)),
            ("blocked", t.in_state(State::Blocked)),
            ("paused", t.in_state(State::Paused)),
            ("off_soft", t.in_state(State::Shutdown)),
            ("off_hard", t.in_state(State::Shutoff)),
            ("crashed", t.in_state(State::Crashed)),
            ("pmsuspended", t.in_state(State::PmSuspended)),
            ("off", t.in_state(State::Off)),
            ("nostate", t.in_state(State::NoState)),
            ("unknown", unknown),
        ] {
            m.serialize_entry(key, &count)?;
        }
        m.end()
    }
}
