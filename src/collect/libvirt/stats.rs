//! Pure conversion of `virConnectGetAllDomainStats` parameters into the model.

use std::collections::HashMap;

use super::bulk::ParamValue;
use crate::model::{Disk, DiskIo, NetCounters, Nic, State, Vm};

/// Which stats groups the driver returned for a domain; the rest must come from per-domain calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Groups {
    pub balloon: bool,
    pub vcpu: bool,
    pub block: bool,
    pub net: bool,
}

/// The parameters of one domain, looked up by name.
pub struct Params<'a>(HashMap<&'a str, &'a ParamValue>);

impl<'a> Params<'a> {
    pub fn new(params: &'a [(String, ParamValue)]) -> Params<'a> {
        Params(params.iter().map(|(k, v)| (k.as_str(), v)).collect())
    }

    fn u64(&self, key: &str) -> Option<u64> {
        self.0.get(key).and_then(|v| v.as_u64())
    }

    fn count(&self, key: &str) -> u64 {
        self.u64(key).unwrap_or(0)
    }

    fn str(&self, key: &str) -> Option<&'a str> {
        self.0.get(key).and_then(|v| v.as_str())
    }

    /// A time in nanoseconds, as milliseconds.
    #[allow(clippy::cast_precision_loss)] // ns past 2^53 (104 days) lose only sub-µs digits
    fn ms(&self, key: &str) -> f64 {
        self.count(key) as f64 / 1e6
    }

    /// The model's [`Vm::disk_stats_unknown`]: a domain with a process listed its disks but
    /// left out their I/O counters, because QEMU's answer needs the domain's job lock, which
    /// NOWAIT does not wait for. (A shut-off domain has no counters to give.)
    pub fn disk_stats_unknown(&self) -> bool {
        self.count("block.count") > 0
            && !self.0.contains_key("block.0.rd.reqs")
            && self.state().is_some_and(State::has_process)
    }

    /// The host path of disk `name` (`block.N.path`; the first entry, the top image).
    pub fn disk_path(&self, name: &str) -> Option<&'a str> {
        let count = self.u64("block.count")?;
        (0..count)
            .find(|i| self.str(&format!("block.{i}.name")) == Some(name))
            .and_then(|i| self.str(&format!("block.{i}.path")))
    }

    /// Whether the driver returned the block group in bulk (the test driver does not).
    pub fn has_block_group(&self) -> bool {
        self.u64("block.count").is_some()
    }

    /// Whether the driver returned the net group in bulk.
    pub fn has_net_group(&self) -> bool {
        self.u64("net.count").is_some()
    }

    pub fn state(&self) -> Option<State> {
        self.u64("state.state")
            .map(|s| i64::try_from(s).map_or(State::Unknown, State::from_libvirt))
    }

    /// Whether the domain is paused because a disk I/O failed.
    pub fn paused_on_io_error(&self) -> bool {
        self.state() == Some(State::Paused)
            && self.0.get("state.reason").and_then(|v| v.as_u64())
                == Some(VIR_DOMAIN_PAUSED_IOERROR)
    }
}

/// libvirt's virDomainPausedReason for "paused due to a disk I/O error".
pub const VIR_DOMAIN_PAUSED_IOERROR: u64 = 2;

/// Fills `vm` from the bulk parameters and says which groups were there.
pub fn apply(vm: &mut Vm, p: &Params) -> Groups {
    let mut groups = Groups::default();
    if let Some(state) = p.state() {
        vm.state = state;
        vm.paused_on_io_error = p.paused_on_io_error();
    }
    if let Some(max_kib) = p.u64("balloon.maximum") {
        vm.mem_alloc = max_kib * 1024;
        groups.balloon = true;
    }
    if let Some(current) = p.u64("vcpu.current") {
        vm.cpus = current;
        groups.vcpu = true;
    }
    if let Some(disks) = disks(p) {
        vm.disks = disks;
        groups.block = true;
    }
    if let Some(nics) = nics(p) {
        vm.nics = nics;
        groups.net = true;
    }
    groups
}

/// `block.N.*`, read by index. With backing-chain entries (the BACKING flag) one name comes
/// more than once, the top image first; only that one is the guest's disk. (`backingIndex`
/// says nothing here: QEMU with -blockdev numbers the top image too.)
fn disks(p: &Params) -> Option<Vec<Disk>> {
    let count = p.u64("block.count")?;
    let mut disks: Vec<Disk> = Vec::new();
    for i in 0..count {
        let key = |field: &str| format!("block.{i}.{field}");
        let Some(name) = p.str(&key("name")) else {
            continue;
        };
        if disks.iter().any(|d| d.name == name) {
            continue;
        }
        disks.push(Disk {
            name: name.to_string(),
            // Decided with the domain XML: assemble::is_image.
            is_image: false,
            capacity: p.count(&key("capacity")),
            allocated: p.count(&key("allocation")),
            physical: p.count(&key("physical")),
            io: DiskIo {
                rbytes: p.count(&key("rd.bytes")),
                rreqs: p.count(&key("rd.reqs")),
                rtime: p.ms(&key("rd.times")),
                wbytes: p.count(&key("wr.bytes")),
                wreqs: p.count(&key("wr.reqs")),
                wtime: p.ms(&key("wr.times")),
                freqs: p.count(&key("fl.reqs")),
                ftime: p.ms(&key("fl.times")),
            },
        });
    }
    Some(disks)
}

/// `net.N.*`; libvirt already reports them from the guest's side (rx = received by the guest).
fn nics(p: &Params) -> Option<Vec<Nic>> {
    let count = p.u64("net.count")?;
    let nics = (0..count)
        .map(|i| {
            let key = |field: &str| format!("net.{i}.{field}");
            Nic {
                device: p.str(&key("name")).unwrap_or("").to_string(),
                parent: String::new(),
                mac: String::new(),
                counters: NetCounters {
                    ipkts: p.count(&key("rx.pkts")),
                    ibytes: p.count(&key("rx.bytes")),
                    ierrs: p.count(&key("rx.errs")),
                    idrop: p.count(&key("rx.drop")),
                    opkts: p.count(&key("tx.pkts")),
                    obytes: p.count(&key("tx.bytes")),
                    oerrs: p.count(&key("tx.errs")),
                    odrop: p.count(&key("tx.drop")),
                    coll: 0,
                },
            }
        })
        .collect();
    Some(nics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, ParamValue)]) -> Vec<(String, ParamValue)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    use ParamValue::{Str, UInt};

    #[test]
    fn a_running_qemu_domain_fills_every_group() {
        let raw = params(&[
            ("state.state", ParamValue::Int(1)),
            ("state.reason", ParamValue::Int(1)),
            ("balloon.maximum", UInt(131072)),
            ("vcpu.current", UInt(2)),
            ("block.count", UInt(2)),
            ("block.0.name", Str("vda".into())),
            ("block.0.path", Str("/var/lib/vm.raw".into())),
            ("block.0.rd.reqs", UInt(10)),
            ("block.0.rd.bytes", UInt(4096)),
            ("block.0.rd.times", UInt(2_500_000)),
            ("block.0.wr.reqs", UInt(3)),
            ("block.0.wr.bytes", UInt(512)),
            ("block.0.wr.times", UInt(1_000_000)),
            ("block.0.fl.reqs", UInt(1)),
            ("block.0.fl.times", UInt(500_000)),
            ("block.0.allocation", UInt(1000)),
            ("block.0.capacity", UInt(67108864)),
            ("block.0.physical", UInt(2000)),
            ("block.1.name", Str("hdc".into())),
            ("block.1.path", Str("/isos/debian.ISO".into())),
            ("block.1.capacity", UInt(700)),
            ("net.count", UInt(1)),
            ("net.0.name", Str("vnet3".into())),
            ("net.0.rx.bytes", UInt(100)),
            ("net.0.rx.pkts", UInt(2)),
            ("net.0.tx.bytes", UInt(50)),
            ("net.0.tx.pkts", UInt(1)),
            ("net.0.tx.drop", UInt(7)),
        ]);
        let mut vm = Vm::new("vm", State::NoState);
        let groups = apply(&mut vm, &Params::new(&raw));
        assert_eq!(
            groups,
            Groups {
                balloon: true,
                vcpu: true,
                block: true,
                net: true
            }
        );
        assert_eq!(vm.state, State::Running);
        assert_eq!(vm.mem_alloc, 128 << 20);
        assert_eq!(vm.cpus, 2);
        let vda = &vm.disks[0];
        assert_eq!(
            (vda.capacity, vda.allocated, vda.physical),
            (67108864, 1000, 2000)
        );
        assert_eq!(vda.io.rtime, 2.5);
        assert_eq!(vda.io.wtime, 1.0);
        assert_eq!(vda.io.ftime, 0.5);
        assert_eq!((vda.io.rreqs, vda.io.wbytes, vda.io.freqs), (10, 512, 1));
        let p = Params::new(&raw);
        assert_eq!(p.disk_path("hdc"), Some("/isos/debian.ISO"));
        assert_eq!(p.disk_path("sda"), None);
        let nic = &vm.nics[0];
        assert_eq!(nic.device, "vnet3");
        assert_eq!(
            (
                nic.counters.ibytes,
                nic.counters.ipkts,
                nic.counters.obytes,
                nic.counters.odrop
            ),
            (100, 2, 50, 7)
        );
    }

    #[test]
    fn a_busy_domain_lists_disks_without_counters() {
        let running = ("state.state", ParamValue::Int(1));
        let busy = params(&[
            running.clone(),
            ("block.count", UInt(1)),
            ("block.0.name", Str("vda".into())),
            ("block.0.capacity", UInt(1 << 20)),
        ]);
        assert!(Params::new(&busy).disk_stats_unknown());
        let idle = params(&[
            running.clone(),
            ("block.count", UInt(1)),
            ("block.0.name", Str("vda".into())),
            ("block.0.rd.reqs", UInt(0)),
        ]);
        assert!(!Params::new(&idle).disk_stats_unknown());
        let no_disks = params(&[running, ("block.count", UInt(0))]);
        assert!(!Params::new(&no_disks).disk_stats_unknown());
        let shut_off = params(&[
            ("state.state", ParamValue::Int(5)),
            ("block.count", UInt(1)),
            ("block.0.name", Str("vda".into())),
            ("block.0.capacity", UInt(1 << 20)),
        ]);
        assert!(
            !Params::new(&shut_off).disk_stats_unknown(),
            "no process, no counters to miss"
        );
    }

    #[test]
    fn the_test_driver_returns_only_state() {
        let raw = params(&[
            ("state.state", ParamValue::Int(3)),
            ("state.reason", ParamValue::Int(1)),
        ]);
        let mut vm = Vm::new("vm", State::NoState);
        assert_eq!(apply(&mut vm, &Params::new(&raw)), Groups::default());
        assert_eq!(vm.state, State::Paused);
        assert!(!vm.paused_on_io_error, "reason 1 is a pause by a user");
    }

    #[test]
    fn a_pause_for_an_io_error_is_marked() {
        let raw = params(&[
            ("state.state", ParamValue::Int(3)),
            ("state.reason", ParamValue::UInt(VIR_DOMAIN_PAUSED_IOERROR)),
        ]);
        let mut vm = Vm::new("vm", State::NoState);
        apply(&mut vm, &Params::new(&raw));
        assert!(vm.paused_on_io_error);
        let running = params(&[
            ("state.state", ParamValue::Int(1)),
            ("state.reason", ParamValue::UInt(VIR_DOMAIN_PAUSED_IOERROR)),
        ]);
        let mut vm = Vm::new("vm", State::NoState);
        apply(&mut vm, &Params::new(&running));
        assert!(!vm.paused_on_io_error, "reason codes differ per state");
    }

    #[test]
    fn backing_chain_entries_are_not_disks_of_their_own() {
        let raw = params(&[
            ("block.count", UInt(2)),
            ("block.0.name", Str("vda".into())),
            ("block.0.backingIndex", UInt(2)),
            ("block.0.rd.bytes", UInt(10)),
            ("block.1.name", Str("vda".into())),
            ("block.1.backingIndex", UInt(1)),
            ("block.1.rd.bytes", UInt(99)),
        ]);
        let mut vm = Vm::new("vm", State::Running);
        apply(&mut vm, &Params::new(&raw));
        assert_eq!(vm.disks.len(), 1);
        assert_eq!(vm.disk_sum().io.rbytes, 10);
    }

    #[test]
    fn negative_or_missing_counters_read_as_zero() {
        let raw = params(&[
            ("net.count", UInt(1)),
            ("net.0.name", Str("tap0".into())),
            ("net.0.rx.bytes", ParamValue::Int(-1)),
        ]);
        let mut vm = Vm::new("vm", State::Running);
        apply(&mut vm, &Params::new(&raw));
        assert_eq!(vm.nics[0].counters, NetCounters::default());
    }
}
