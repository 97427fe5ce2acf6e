//! The per-VM, per-device and total fields of the document, written straight from the model
//! under the keys LibreNMS reads, in the Perl tool's order.
//!
//! Unknown disk stats (a busy VM) are left out, not written as 0: LibreNMS stores a missing
//! key as U, the honest value. So are the guest's own figures ([`GUEST_KEYS`]) where the
//! guest or the backend does not give them.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::agent_fields;
use super::names::{Form, disk_keys};
use crate::model::{
    AgentInfo, Disk, DiskIo, DiskSum, GuestMemory, NetCounters, Nic, Pool, Process, State, Totals,
    VcpuTimes, Vm,
};

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

/// A key whose value may be unknown, then left out.
type MaybeField<T> = (&'static str, fn(&T) -> Option<u64>);

/// The guest's memory, a VM's and summed in `totals` over the VMs that report each figure
/// (bytes; faults as counts). `mem_` is already an entry head (names.rs), so these keys
/// change no VM's key.
const GUEST_MEMORY: [MaybeField<GuestMemory>; 12] = [
    ("mem_current", |m| m.current),
    ("mem_maximum", |m| m.maximum),
    ("mem_available", |m| m.available),
    ("mem_unused", |m| m.unused),
    ("mem_usable", |m| m.usable),
    ("mem_used", GuestMemory::used),
    ("mem_disk_caches", |m| m.disk_caches),
    ("mem_swap_in", |m| m.swap_in),
    ("mem_swap_out", |m| m.swap_out),
    ("mem_major_fault", |m| m.major_fault),
    ("mem_minor_fault", |m| m.minor_fault),
    ("mem_last_update", |m| m.last_update),
];

/// `mem_last_update` says when one guest reported; `totals` has no such key.
const PER_VM_ONLY: &str = "mem_last_update";

/// A VM's vCPU times summed over its vCPUs, nanoseconds (counters). One word each: no new
/// entry head.
const VCPU: [MaybeField<VcpuTimes>; 3] = [
    ("vcputime", |v| v.time),
    ("vcpuwait", |v| v.wait),
    ("vcpudelay", |v| v.delay),
];

/// The keys a VM carries only where known: the guest's memory and vCPU times. LibreNMS's
/// poller stores none of them in an RRD file.
pub const GUEST_KEYS: [&str; GUEST_MEMORY.len() + VCPU.len()] = {
    let mut keys = [""; GUEST_MEMORY.len() + VCPU.len()];
    let mut i = 0;
    while i < GUEST_MEMORY.len() {
        keys[i] = GUEST_MEMORY[i].0;
        i += 1;
    }
    while i < keys.len() {
        keys[i] = VCPU[i - GUEST_MEMORY.len()].0;
        i += 1;
    }
    keys
};

/// Writes the keys of `table` whose values are known, but for `skip`.
fn known_entries<M: SerializeMap, T>(
    m: &mut M,
    table: &[MaybeField<T>],
    from: &T,
    skip: Option<&str>,
) -> Result<(), M::Error> {
    for (key, value) in table {
        if Some(*key) != skip
            && let Some(v) = value(from)
        {
            m.serialize_entry(key, &v)?;
        }
    }
    Ok(())
}

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

/// One disk; nothing but its error code when its VM's disk stats are unknown.
struct DiskOut<'a> {
    disk: &'a Disk,
    known: bool,
    /// libvirt's `virDomainDiskErrorCode` of the disk's error; 0 (`none`) without one.
    error: u32,
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
        m.serialize_entry("error", &self.error)?;
        m.end()
    }
}

struct NicOut<'a> {
    nic: &'a Nic,
    form: Form,
    agent: Option<&'a AgentInfo>,
}

impl Serialize for NicOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("if", &self.form.text(&self.nic.device))?;
        m.serialize_entry("parent", &self.form.text(&self.nic.parent))?;
        m.serialize_entry("mac", &self.form.text(&self.nic.mac))?;
        m.serialize_entry("ips", &agent_fields::nic_ips(self.agent, self.nic))?;
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
        known_entries(&mut m, &GUEST_MEMORY, &vm.guest_memory, None)?;
        known_entries(&mut m, &VCPU, &vm.vcpu_times, None)?;
        m.serialize_entry("os_type", &form.text(&vm.os_type))?;
        m.serialize_entry("ip", &form.text(&vm.ip))?;
        m.serialize_entry(STATUS_INT, &vm.state.code())?;
        // Why: libvirt's reason code as it gives it (its meaning depends on the state), -1
        // where the backend gives none (CBSD); and libvirt's name for it, lower-cased.
        m.serialize_entry("state_reason", &vm.reason.code.map_or(-1, i64::from))?;
        m.serialize_entry("state_reason_name", vm.reason.kind.name())?;
        // 1 when some keys are left out because the VM's disk stats are unknown.
        m.serialize_entry("stats_incomplete", &u8::from(vm.disk_stats_unknown))?;
        // Disks with an error libvirt keeps (a VM paused on a full or failing disk).
        m.serialize_entry("disk_errors", &vm.disk_errors.len())?;
        m.serialize_entry("console_type", &form.text(&vm.console_type))?;
        m.serialize_entry("console", &form.text(&vm.console))?;
        m.serialize_entry("nice", &vm.process.as_ref().map_or(0, |p| p.nice))?;
        m.serialize_entry("pri", &vm.process.as_ref().map_or(0, |p| p.pri))?;
        let mut disks = BTreeMap::new();
        let mut ifs = BTreeMap::new();
        if self.detail == Detail::Devices {
            let names: Vec<&str> = vm.disks.iter().map(|d| d.name.as_str()).collect();
            for (key, disk) in disk_keys(&names, form).into_iter().zip(&vm.disks) {
                let error = vm
                    .disk_errors
                    .iter()
                    .find(|e| e.disk == disk.name)
                    .map_or(0, |e| e.code);
                disks.insert(key, DiskOut { disk, known, error });
            }
            // `nicN` keys are distinct and left as they are by LibreNMS's safeName.
            for (i, nic) in vm.nics.iter().enumerate() {
                let agent = vm.agent.info();
                ifs.insert(format!("nic{i}"), NicOut { nic, form, agent });
            }
        }
        m.serialize_entry("disks", &disks)?;
        m.serialize_entry("ifs", &ifs)?;
        agent_fields::entries(&mut m, vm, form, self.detail == Detail::Devices)?;
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
        known_entries(&mut m, &GUEST_MEMORY, &t.guest_memory, Some(PER_VM_ONLY))?;
        for (key, states) in STATE_COUNTS {
            let count: u64 = states.iter().map(|&state| t.in_state(state)).sum();
            m.serialize_entry(key, &count)?;
        }
        m.end()
    }
}

/// One storage pool in `data.pools`: libvirt's state code (-1 where the backend is not
/// libvirt) and name, and its sizes in bytes.
pub(super) struct PoolOut<'a>(pub &'a Pool);

impl Serialize for PoolOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("state", &p.state_code.map_or(-1, i64::from))?;
        m.serialize_entry("state_name", p.state.name())?;
        m.serialize_entry("capacity", &p.capacity)?;
        m.serialize_entry("allocation", &p.allocation)?;
        m.serialize_entry("available", &p.available)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    //! The guest's keys: present where known, absent (LibreNMS's unknown) where not.

    use super::*;

    fn vm_doc(vm: &Vm) -> serde_json::Value {
        serde_json::to_value(VmOut {
            vm,
            detail: Detail::Devices,
            form: Form::Plain,
        })
        .unwrap()
    }

    fn totals_doc(vms: &[Vm]) -> serde_json::Value {
        serde_json::to_value(TotalsOut(&Totals::of(vms))).unwrap()
    }

    fn reporting(name: &str) -> Vm {
        let mut vm = Vm::new(name, State::Running);
        vm.guest_memory = GuestMemory {
            current: Some(256 << 20),
            maximum: Some(256 << 20),
            available: Some(200 << 20),
            unused: Some(150 << 20),
            usable: Some(160 << 20),
            disk_caches: Some(1 << 20),
            swap_in: Some(0),
            swap_out: Some(4096),
            major_fault: Some(2),
            minor_fault: Some(900),
            last_update: Some(1_700_000_000),
        };
        vm.vcpu_times = VcpuTimes {
            time: Some(3_000_000_000),
            wait: Some(0),
            delay: Some(500),
        };
        vm
    }

    #[test]
    fn guest_figures_are_sent_where_known_and_summed_over_those_that_report() {
        let mut silent = Vm::new("silent", State::Running);
        silent.guest_memory.current = Some(128 << 20);
        let vms = [reporting("a"), reporting("b"), silent];
        let doc: Vec<serde_json::Value> = vms.iter().map(vm_doc).collect();
        let (a, silent_doc) = (&doc[0], &doc[2]);
        assert_eq!(a["mem_used"], 50 << 20);
        assert_eq!(a["mem_swap_out"], 4096);
        assert_eq!(a["mem_last_update"], 1_700_000_000);
        assert_eq!(a["vcputime"], 3_000_000_000u64);
        assert_eq!(a["vcpudelay"], 500);
        for key in GUEST_KEYS {
            assert!(a[key].is_u64(), "{key}");
            if key != "mem_current" {
                assert!(silent_doc[key].is_null(), "unknown, not 0: {key}");
            }
        }
        let totals = &totals_doc(&vms);
        assert_eq!(totals["mem_current"], (256 + 256 + 128) << 20);
        assert_eq!(
            totals["mem_available"],
            400 << 20,
            "the silent VM adds nothing"
        );
        assert_eq!(totals["mem_used"], 100 << 20);
        assert!(totals["mem_last_update"].is_null());
        assert!(totals["vcputime"].is_null(), "vCPU times are per VM");
        let none = totals_doc(&[Vm::new("c", State::Off)]);
        for key in GUEST_KEYS {
            assert!(none[key].is_null(), "no VM reports {key}");
        }
    }

    #[test]
    fn guest_keys_start_with_a_known_entry_head_or_are_one_word() {
        for key in GUEST_KEYS {
            match key.split_once('_') {
                Some((head, _)) => {
                    assert!(super::super::names::VM_ENTRY_HEADS.contains(&head), "{key}")
                }
                None => assert!(!key.is_empty()),
            }
        }
    }
}
