//! The per-VM, per-device and total fields of the document, written straight from the model
//! under the keys LibreNMS reads, in the Perl tool's order.
//!
//! Unknown disk stats (a busy VM) are left out, not written as 0: LibreNMS stores a missing
//! key as U, the honest value.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::guest_fields;
use super::names::{Form, disk_keys};
use crate::model::{Disk, DiskIo, DiskSum, Guest, NetCounters, Nic, Process, State, Totals, Vm};

/// How much per-device detail a document carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// Every VM's `disks` and `ifs` maps filled (LibreNMS's per-disk and per-NIC graphs).
    #[default]
    Devices,
    /// `disks` and `ifs` left empty, VM-level sums kept: about half the size (BENCHMARKS.md), for hosts
    /// whose full document does not fit one SNMP reply.
    VmsOnly,
}

/// A value as the document carries it: counts and bytes as integers, times and percentages
/// as floats LibreNMS can store (finite, never `null`).
#[derive(Clone, Copy)]
enum Number {
    Int(u64),
    Float(f64),
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Number::Int(v) => s.serialize_u64(v),
            Number::Float(v) => s.serialize_f64(if v.is_finite() { v } else { 0.0 }),
        }
    }
}

use Number::{Float, Int};

/// A key of the document and how to read its value from `T`. The tables below are the one
/// place the LibreNMS keys are written: the serializers walk them and [`VM_RRD_KEYS`] and
/// [`TOTALS_STATE_KEYS`] list them.
type Field<T> = (&'static str, fn(&T) -> Number);

/// The sizes a VM and the totals share.
const SIZES: [Field<Sizes>; 4] = [
    ("mem_alloc", |s| Int(s.mem_alloc)),
    ("cpus", |s| Int(s.cpus)),
    ("snaps", |s| Int(s.vm_snapshots)),
    ("snaps_size", |s| Int(s.vm_snapshots_size)),
];

const PROCESS: [Field<Process>; 15] = [
    ("pcpu", |p| Float(p.pcpu)),
    ("pmem", |p| Float(p.pmem)),
    ("etimes", |p| Int(p.etimes)),
    ("usertime", |p| Float(p.usertime)),
    ("systime", |p| Float(p.systime)),
    ("rss", |p| Int(p.rss)),
    ("vsz", |p| Int(p.vsz)),
    ("minflt", |p| Int(p.minflt)),
    ("majflt", |p| Int(p.majflt)),
    ("nvcsw", |p| Int(p.nvcsw)),
    ("nivcsw", |p| Int(p.nivcsw)),
    ("cow", |p| Int(p.cow)),
    ("nswap", |p| Int(p.nswap)),
    ("inblk", |p| Int(p.inblk)),
    ("oublk", |p| Int(p.oublk)),
];

/// A VM's disk I/O sums and each disk's own, under the same keys.
const DISK_IO: [Field<DiskIo>; 8] = [
    ("rbytes", |io| Int(io.rbytes)),
    ("rreqs", |io| Int(io.rreqs)),
    ("rtime", |io| Float(io.rtime)),
    ("wbytes", |io| Int(io.wbytes)),
    ("wreqs", |io| Int(io.wreqs)),
    ("wtime", |io| Float(io.wtime)),
    ("freqs", |io| Int(io.freqs)),
    ("ftime", |io| Float(io.ftime)),
];

/// A VM's disk sizes summed over its disks (each disk's own are `alloc`, `in_use`, `on_disk`).
const DISK_SIZES: [Field<DiskSum>; 3] = [
    ("disk_alloc", |d| Int(d.capacity)),
    ("disk_in_use", |d| Int(d.allocated)),
    ("disk_on_disk", |d| Int(d.physical)),
];

/// A VM's network sums, and each NIC's own under the same keys.
const NET: [Field<NetCounters>; 9] = [
    ("ipkts", |n| Int(n.ipkts)),
    ("ibytes", |n| Int(n.ibytes)),
    ("ierrs", |n| Int(n.ierrs)),
    ("idrop", |n| Int(n.idrop)),
    ("opkts", |n| Int(n.opkts)),
    ("obytes", |n| Int(n.obytes)),
    ("oerrs", |n| Int(n.oerrs)),
    ("odrop", |n| Int(n.odrop)),
    ("coll", |n| Int(n.coll)),
];

/// A VM's state as LibreNMS's `status_int` code; the only RRD key `totals` does not sum.
const STATUS_INT: &str = "status_int";

/// The VM counts in `totals`, by the Perl tool's names for the states they count.
const STATE_COUNTS: [(&str, &[State]); 10] = [
    ("on", &[State::Running]),
    ("blocked", &[State::Blocked]),
    ("paused", &[State::Paused]),
    ("off_soft", &[State::Shutdown]),
    ("off_hard", &[State::Shutoff]),
    ("crashed", &[State::Crashed]),
    ("pmsuspended", &[State::PmSuspended]),
    ("off", &[State::Off]),
    ("nostate", &[State::NoState]),
    ("unknown", &[State::Maintenance, State::Unknown]),
];

/// The per-VM numbers LibreNMS's hv-monitor poller stores in the VM's RRD (the VM's other
/// keys it does not read). `totals` holds their sums, but for `status_int`.
pub const VM_RRD_KEYS: [&str;
    SIZES.len() + PROCESS.len() + DISK_IO.len() + DISK_SIZES.len() + NET.len() + 1] = {
    let mut keys =
        [""; SIZES.len() + PROCESS.len() + DISK_IO.len() + DISK_SIZES.len() + NET.len() + 1];
    let mut at = 0;
    macro_rules! append {
        ($table:expr) => {
            let mut i = 0;
            while i < $table.len() {
                keys[at] = $table[i].0;
                at += 1;
                i += 1;
            }
        };
    }
    append!(SIZES);
    append!(PROCESS);
    append!(DISK_IO);
    append!(DISK_SIZES);
    append!(NET);
    keys[at] = STATUS_INT;
    keys
};

/// The VM counts by state in `totals`, next to the sums of [`VM_RRD_KEYS`].
pub const TOTALS_STATE_KEYS: [&str; STATE_COUNTS.len()] = {
    let mut keys = [""; STATE_COUNTS.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = STATE_COUNTS[i].0;
        i += 1;
    }
    keys
};

/// Writes `table`'s keys with their values read from `from`.
fn entries<M: SerializeMap, T>(m: &mut M, table: &[Field<T>], from: &T) -> Result<(), M::Error> {
    for (key, value) in table {
        m.serialize_entry(key, &value(from))?;
    }
    Ok(())
}

/// The sizes of [`SIZES`], a VM's or summed over the VMs.
struct Sizes {
    mem_alloc: u64,
    cpus: u64,
    vm_snapshots: u64,
    vm_snapshots_size: u64,
}

/// The keys a VM and the totals share: sizes, process stats, disk and network sums.
struct Sums<'a> {
    sizes: Sizes,
    /// `None`: no process, every process key 0.
    process: Option<&'a Process>,
    /// `None`: unknown, left out.
    disk: Option<&'a DiskSum>,
    net: &'a NetCounters,
}

impl Sums<'_> {
    fn entries<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        entries(m, &SIZES, &self.sizes)?;
        entries(m, &PROCESS, self.process.unwrap_or(&Process::default()))?;
        if let Some(disk) = self.disk {
            entries(m, &DISK_IO, &disk.io)?;
            entries(m, &DISK_SIZES, disk)?;
        }
        entries(m, &NET, self.net)
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
            entries(&mut m, &DISK_IO, &self.disk.io)?;
        }
        m.end()
    }
}

struct NicOut<'a> {
    nic: &'a Nic,
    form: Form,
    guest: Option<&'a Guest>,
}

impl Serialize for NicOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("if", &self.form.text(&self.nic.device))?;
        m.serialize_entry("parent", &self.form.text(&self.nic.parent))?;
        m.serialize_entry("mac", &self.form.text(&self.nic.mac))?;
        m.serialize_entry("ips", &guest_fields::nic_ips(self.guest, self.nic))?;
        entries(&mut m, &NET, &self.nic.counters)?;
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
            sizes: Sizes {
                mem_alloc: vm.mem_alloc,
                cpus: vm.cpus,
                vm_snapshots: vm.vm_snapshots,
                vm_snapshots_size: vm.vm_snapshots_size,
            },
            process: vm.process.as_ref(),
            disk: known.then_some(&vm.disk_sum()),
            net: &vm.net_sum(),
        }
        .entries(&mut m)?;
        m.serialize_entry("os_type", &form.text(&vm.os_type))?;
        m.serialize_entry("ip", &form.text(&vm.ip))?;
        m.serialize_entry(STATUS_INT, &vm.state.code())?;
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
                let guest = vm.agent.guest();
                ifs.insert(format!("nic{i}"), NicOut { nic, form, guest });
            }
        }
        m.serialize_entry("disks", &disks)?;
        m.serialize_entry("ifs", &ifs)?;
        guest_fields::entries(&mut m, vm, form, self.detail == Detail::Devices)?;
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
            sizes: Sizes {
                mem_alloc: t.mem_alloc,
                cpus: t.cpus,
                vm_snapshots: t.vm_snapshots,
                vm_snapshots_size: t.vm_snapshots_size,
            },
            process: Some(&t.process),
            disk: (!t.disk_stats_unknown).then_some(&t.disk),
            net: &t.net,
        }
        .entries(&mut m)?;
        for (key, states) in STATE_COUNTS {
            let count: u64 = states.iter().map(|&state| t.in_state(state)).sum();
            m.serialize_entry(key, &count)?;
        }
        m.end()
    }
}
