//! What we graph, per VM and for the whole host: each metric a variant with its name in the
//! messages and RRDs, its unit (on the variant), its RRD type and how it is read from the
//! model. Values of one kind sit in fixed-size arrays indexed by the metric.
//!
//! Counters (bytes, requests, CPU time) grow from the VM's start; [`crate::rates`] turns them
//! into rates for the NCV and SPLITNCV formats.

use std::ops::{Index, IndexMut};

use crate::model::{DiskSum, NetCounters, State, Totals, Vm};

use super::key::{vm_key, vm_keys};

/// A VM's instant values, graphed as they are (RRD type `GAUGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmGauge {
    /// 1 while the VM has a process (running, paused, blocked), else 0.
    Up,
    /// vCPUs.
    Vcpus,
    /// Memory given to the VM, bytes.
    Mem,
    /// Resident memory of its process, bytes.
    Rss,
    /// Disk capacity, bytes.
    DiskSize,
    /// Disk space in use, bytes.
    DiskUsed,
    /// Memory in use inside the guest (its balloon driver's available - unused), bytes.
    GuestUsed,
    /// The same as a percentage of the memory the guest has now (the balloon's size).
    GuestMem,
}

/// Ever-growing counters (RRD type `DERIVE` in the extra-script's RRDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// CPU time in centiseconds, so its rate is "% of one core".
    Cpu,
    /// Bytes read from disks.
    RBytes,
    /// Bytes written to disks.
    WBytes,
    /// Disk read requests.
    ROps,
    /// Disk write requests.
    WOps,
    /// Microseconds spent reading; shown as a latency in rate modes.
    RTime,
    /// Microseconds spent writing; shown as a latency in rate modes.
    WTime,
    /// Bytes received by the guest.
    NetIn,
    /// Bytes sent by the guest.
    NetOut,
    /// Packets received.
    PktIn,
    /// Packets sent.
    PktOut,
    /// Errors, both directions.
    NetErr,
    /// Drops, both directions.
    NetDrop,
    /// vCPU run time in centiseconds, summed over the vCPUs: its rate is "% of one vCPU".
    Vcpu,
    /// vCPU delay (time ready to run but queued on the host, the guest's steal time) in
    /// centiseconds: its rate is "% of one vCPU" too.
    Steal,
}

/// Host-wide instant values (RRD type `GAUGE`): VM counts by state group, then the VM
/// gauges summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalGauge {
    /// VMs.
    Vms,
    /// VMs running.
    Running,
    /// VMs paused or suspended.
    Paused,
    /// VMs off or shutting down.
    Off,
    /// VMs crashed.
    Crashed,
    /// VMs in any other state.
    Other,
    /// vCPUs of all VMs.
    Vcpus,
    /// Memory given to all VMs, bytes.
    Mem,
    /// Resident memory of all VM processes, bytes.
    Rss,
    /// Disk capacity of all VMs, bytes.
    DiskSize,
    /// Disk space in use by all VMs, bytes.
    DiskUsed,
}

/// The RRD data-source type of a value read as it is.
pub const GAUGE: &str = "GAUGE";
/// The RRD data-source type of a counter: rrdtool takes the rate, min 0 so a reset is no spike.
pub const DERIVE: &str = "DERIVE";

/// Lets an array of one value per metric be indexed by the metric.
macro_rules! indexes_arrays {
    ($metric:ty) => {
        impl<T> Index<$metric> for [T; <$metric>::ALL.len()] {
            type Output = T;
            fn index(&self, m: $metric) -> &T {
                &self[m as usize]
            }
        }
        impl<T> IndexMut<$metric> for [T; <$metric>::ALL.len()] {
            fn index_mut(&mut self, m: $metric) -> &mut T {
                &mut self[m as usize]
            }
        }
    };
}
indexes_arrays!(VmGauge);
indexes_arrays!(Counter);
indexes_arrays!(TotalGauge);

/// One VM's gauges, indexed by [`VmGauge`]; `None` where unknown.
pub type VmGauges = [Option<f64>; VmGauge::ALL.len()];
/// One VM's (or the host's) counters, indexed by [`Counter`]; `None` where unknown.
pub type Counters = [Option<u64>; Counter::ALL.len()];
/// The host's gauges, indexed by [`TotalGauge`]; `None` where unknown.
pub type TotalGauges = [Option<f64>; TotalGauge::ALL.len()];
/// Per-second rates of the raw counters, indexed by [`Counter`]; `None` where no honest rate
/// exists.
pub type CounterRates = [Option<f64>; Counter::ALL.len()];

impl VmGauge {
    /// In declaration order, which is the order of the messages and of the RRD datasets.
    pub const ALL: [VmGauge; 8] = [
        VmGauge::Up,
        VmGauge::Vcpus,
        VmGauge::Mem,
        VmGauge::Rss,
        VmGauge::DiskSize,
        VmGauge::DiskUsed,
        VmGauge::GuestUsed,
        VmGauge::GuestMem,
    ];

    /// The gauges of a VM's main RRD file in the extra-script format: those it was created
    /// with, so existing files keep taking updates.
    pub const MAIN: [VmGauge; 6] = [
        VmGauge::Up,
        VmGauge::Vcpus,
        VmGauge::Mem,
        VmGauge::Rss,
        VmGauge::DiskSize,
        VmGauge::DiskUsed,
    ];

    /// The guest's own gauges: per VM only, in the extra-script format in a file of their
    /// own ([`VmGauge::MAIN`] says why).
    pub const GUEST: [VmGauge; 2] = [VmGauge::GuestUsed, VmGauge::GuestMem];

    /// The metric's name in NCV lines and RRD files.
    pub fn name(self) -> &'static str {
        match self {
            VmGauge::Up => "up",
            VmGauge::Vcpus => "vcpus",
            VmGauge::Mem => "mem",
            VmGauge::Rss => "rss",
            VmGauge::DiskSize => "disksize",
            VmGauge::DiskUsed => "diskused",
            VmGauge::GuestUsed => "guestused",
            VmGauge::GuestMem => "guestmem",
        }
    }

    /// Unknown (a busy VM's disk sizes, a running VM whose process was not found), never a
    /// made-up 0.
    fn read(self, vm: &Vm, disk: &DiskSum) -> Option<f64> {
        let sizes_known = !vm.disk_stats_unknown;
        match self {
            VmGauge::Up => Some(if vm.state.has_process() { 1.0 } else { 0.0 }),
            VmGauge::Vcpus => Some(gauge(vm.cpus)),
            VmGauge::Mem => Some(gauge(vm.mem_alloc)),
            // A VM without a process holds no memory: 0, so every VM has its RRD.
            VmGauge::Rss if !vm.state.has_process() => Some(0.0),
            VmGauge::Rss => vm.process.as_ref().map(|p| gauge(p.rss)),
            VmGauge::DiskSize => sizes_known.then_some(gauge(disk.capacity)),
            VmGauge::DiskUsed => sizes_known.then_some(gauge(disk.allocated)),
            VmGauge::GuestUsed => vm.guest_memory.used().map(gauge),
            VmGauge::GuestMem => {
                let has = vm.guest_memory.current.filter(|&c| c > 0)?;
                Some(gauge(vm.guest_memory.used()?) * 100.0 / gauge(has))
            }
        }
    }
}

impl Counter {
    /// In declaration order, which is the order of the messages and of the RRD datasets.
    pub const ALL: [Counter; 15] = [
        Counter::Cpu,
        Counter::RBytes,
        Counter::WBytes,
        Counter::ROps,
        Counter::WOps,
        Counter::RTime,
        Counter::WTime,
        Counter::NetIn,
        Counter::NetOut,
        Counter::PktIn,
        Counter::PktOut,
        Counter::NetErr,
        Counter::NetDrop,
        Counter::Vcpu,
        Counter::Steal,
    ];

    /// The counters of the host totals and of a VM's main RRD file: a fixed set, since the
    /// NCV totals file and the extra-script's files keep the datasets they were created with.
    pub const HOST: [Counter; 13] = [
        Counter::Cpu,
        Counter::RBytes,
        Counter::WBytes,
        Counter::ROps,
        Counter::WOps,
        Counter::RTime,
        Counter::WTime,
        Counter::NetIn,
        Counter::NetOut,
        Counter::PktIn,
        Counter::PktOut,
        Counter::NetErr,
        Counter::NetDrop,
    ];

    /// The guest's own counters: per VM only, beside [`VmGauge::GUEST`].
    pub const GUEST: [Counter; 2] = [Counter::Vcpu, Counter::Steal];

    /// The raw counter's name (extra-script format).
    pub fn name(self) -> &'static str {
        match self {
            Counter::Cpu => "cpu",
            Counter::RBytes => "rbytes",
            Counter::WBytes => "wbytes",
            Counter::ROps => "rops",
            Counter::WOps => "wops",
            Counter::RTime => "rtime",
            Counter::WTime => "wtime",
            Counter::NetIn => "netin",
            Counter::NetOut => "netout",
            Counter::PktIn => "pktin",
            Counter::PktOut => "pktout",
            Counter::NetErr => "neterr",
            Counter::NetDrop => "netdrop",
            Counter::Vcpu => "vcpu",
            Counter::Steal => "steal",
        }
    }

    /// The name of what rate modes graph in its place: the per-second rate, or for the disk
    /// time counters the average latency in ms per request.
    pub fn rate_name(self) -> &'static str {
        match self {
            Counter::RTime => "rlat",
            Counter::WTime => "wlat",
            other => other.name(),
        }
    }

    /// Unknown where the VM has no process (CPU) or its disk stats are unknown (busy VM):
    /// a zero would read as a counter reset.
    fn read(self, vm: &Vm, disk: &DiskSum, net: &NetCounters) -> Option<u64> {
        let io = (!vm.disk_stats_unknown).then_some(&disk.io);
        let us = |ms: f64| whole(ms * 1000.0);
        match self {
            Counter::Cpu => vm
                .process
                .as_ref()
                .map(|p| whole((p.usertime + p.systime) * 100.0)),
            Counter::RBytes => io.map(|io| io.rbytes),
            Counter::WBytes => io.map(|io| io.wbytes),
            Counter::ROps => io.map(|io| io.rreqs),
            Counter::WOps => io.map(|io| io.wreqs),
            Counter::RTime => io.map(|io| us(io.rtime)),
            Counter::WTime => io.map(|io| us(io.wtime)),
            Counter::NetIn => Some(net.ibytes),
            Counter::NetOut => Some(net.obytes),
            Counter::PktIn => Some(net.ipkts),
            Counter::PktOut => Some(net.opkts),
            Counter::NetErr => Some(net.ierrs.saturating_add(net.oerrs)),
            Counter::NetDrop => Some(net.idrop.saturating_add(net.odrop)),
            Counter::Vcpu => vm.vcpu_times.time.map(centiseconds),
            Counter::Steal => vm.vcpu_times.delay.map(centiseconds),
        }
    }
}

impl TotalGauge {
    /// In declaration order, which is the order of the messages and of the RRD datasets.
    pub const ALL: [TotalGauge; 11] = [
        TotalGauge::Vms,
        TotalGauge::Running,
        TotalGauge::Paused,
        TotalGauge::Off,
        TotalGauge::Crashed,
        TotalGauge::Other,
        TotalGauge::Vcpus,
        TotalGauge::Mem,
        TotalGauge::Rss,
        TotalGauge::DiskSize,
        TotalGauge::DiskUsed,
    ];

    /// The metric's name in NCV lines and RRD files.
    pub fn name(self) -> &'static str {
        match self {
            TotalGauge::Vms => "vms",
            TotalGauge::Running => "running",
            TotalGauge::Paused => "paused",
            TotalGauge::Off => "off",
            TotalGauge::Crashed => "crashed",
            TotalGauge::Other => "other",
            TotalGauge::Vcpus => "vcpus",
            TotalGauge::Mem => "mem",
            TotalGauge::Rss => "rss",
            TotalGauge::DiskSize => "disksize",
            TotalGauge::DiskUsed => "diskused",
        }
    }

    /// The state group a VM counts in.
    pub fn state_group(state: State) -> TotalGauge {
        match state {
            State::Running => TotalGauge::Running,
            State::Paused | State::PmSuspended => TotalGauge::Paused,
            State::Shutoff | State::Off | State::Shutdown | State::NoState => TotalGauge::Off,
            State::Crashed => TotalGauge::Crashed,
            State::Blocked | State::Maintenance | State::Unknown => TotalGauge::Other,
        }
    }

    /// A VM without a process adds no RSS; a VM whose disk sizes are unknown (busy) makes
    /// the disk sums unknown rather than too small.
    fn read(self, t: &Totals) -> Option<f64> {
        let in_group = || {
            State::ALL
                .iter()
                .filter(|s| TotalGauge::state_group(**s) == self)
                .map(|s| t.in_state(*s))
                .sum::<u64>()
        };
        let sizes_known = !t.disk_stats_unknown;
        match self {
            TotalGauge::Vms => Some(gauge(t.vms)),
            TotalGauge::Running
            | TotalGauge::Paused
            | TotalGauge::Off
            | TotalGauge::Crashed
            | TotalGauge::Other => Some(gauge(in_group())),
            TotalGauge::Vcpus => Some(gauge(t.cpus)),
            TotalGauge::Mem => Some(gauge(t.mem_alloc)),
            TotalGauge::Rss => Some(gauge(t.process.rss)),
            TotalGauge::DiskSize => sizes_known.then_some(gauge(t.disk.capacity)),
            TotalGauge::DiskUsed => sizes_known.then_some(gauge(t.disk.allocated)),
        }
    }
}

/// One VM's figures, raw.
#[derive(Debug, Clone, PartialEq)]
pub struct VmSample {
    /// The VM's key in NCV names and the counters file.
    pub key: String,
    /// Its gauges, by [`VmGauge`].
    pub gauges: VmGauges,
    /// Its raw counters, by [`Counter`].
    pub counters: Counters,
    /// The process that ran the VM; counters of different incarnations are not comparable.
    pub pid: Option<u32>,
    /// Whether the VM has a process (running, paused): a stopped VM's counters are no base.
    pub running: bool,
}

impl VmSample {
    /// The samples of a host's VMs, in their order, keyed by [`vm_keys`]: the keys of the
    /// messages and of the rate state must come from here, the one place that sees all
    /// names (case twins get distinct keys).
    pub fn all(vms: &[Vm]) -> Vec<VmSample> {
        let names: Vec<&str> = vms.iter().map(|vm| vm.name.as_str()).collect();
        vms.iter()
            .zip(vm_keys(&names))
            .map(|(vm, key)| VmSample::keyed(vm, key))
            .collect()
    }

    /// One VM's sample as if it were alone on its host ([`vm_key`]).
    pub fn of(vm: &Vm) -> VmSample {
        VmSample::keyed(vm, vm_key(&vm.name))
    }

    fn keyed(vm: &Vm, key: String) -> VmSample {
        let disk = vm.disk_sum();
        let net = vm.net_sum();
        VmSample {
            key,
            gauges: VmGauge::ALL.map(|g| g.read(vm, &disk)),
            counters: Counter::ALL.map(|c| c.read(vm, &disk, &net)),
            pid: vm.process.as_ref().map(|p| p.pid),
            running: vm.state.has_process(),
        }
    }
}

/// Host-wide gauges, read from the model's totals.
pub fn total_gauges(totals: &Totals) -> TotalGauges {
    TotalGauge::ALL.map(|g| g.read(totals))
}

/// Raw counters summed over all VMs (extra-script mode). A running VM whose counter is
/// unknown makes the sum unknown: left out, the sum would drop now and jump back next time,
/// which a DERIVE turns into a spike. A stopped VM simply adds nothing.
pub fn total_counters(samples: &[VmSample]) -> Counters {
    let mut t = [Some(0u64); Counter::ALL.len()];
    for s in samples {
        for (total, c) in t.iter_mut().zip(&s.counters) {
            match c {
                Some(c) => *total = total.map(|t| t.saturating_add(*c)),
                None if s.running => *total = None,
                None => {}
            }
        }
    }
    t
}

/// Host-wide counter rates: the VMs' rates summed, so a VM that comes or goes makes no step.
/// Complete (a VM's missing rate counts as 0: NCV needs the same names every time) unless
/// there is no rate at all.
pub fn total_rates(per_vm: &[CounterRates]) -> CounterRates {
    // No rate at all means no usable previous sample (first run, a lost or locked state
    // file): the totals are unknown, not a drop to 0.
    if !per_vm.is_empty() && per_vm.iter().flatten().all(Option::is_none) {
        return [None; Counter::ALL.len()];
    }
    let mut sum = [0.0; Counter::ALL.len()];
    for rates in per_vm {
        for (s, r) in sum.iter_mut().zip(rates) {
            *s += r.unwrap_or(0.0);
        }
    }
    sum.map(Some)
}

/// What is graphed in rate modes, named by [`Counter::rate_name`]: the counter rates, with
/// the disk time rates turned into average latencies (ms per request; 0 when there were no
/// requests).
pub fn display_rates(rates: &CounterRates) -> CounterRates {
    let latency = |time_us: Option<f64>, ops: Option<f64>| {
        let (time_us, ops) = (time_us?, ops?);
        Some(if ops > 0.0 {
            time_us / 1000.0 / ops
        } else {
            0.0
        })
    };
    let mut out = *rates;
    out[Counter::RTime] = latency(rates[Counter::RTime], rates[Counter::ROps]);
    out[Counter::WTime] = latency(rates[Counter::WTime], rates[Counter::WOps]);
    out
}

/// A count or size as a gauge value: past 2^53 (8 PiB) it loses only digits no graph shows.
#[allow(clippy::cast_precision_loss)]
fn gauge(v: u64) -> f64 {
    v as f64
}

/// Nanoseconds as centiseconds, the unit whose per-second rate is a percentage.
fn centiseconds(ns: u64) -> u64 {
    ns / 10_000_000
}

/// A float counter (CPU centiseconds, disk µs) as a whole number: below 0 and NaN read as 0,
/// past `u64::MAX` as `u64::MAX` (what `as` does).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(v: f64) -> u64 {
    v.max(0.0).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Disk, Process};

    #[test]
    fn arrays_are_indexed_in_declaration_order() {
        for (i, g) in VmGauge::ALL.iter().enumerate() {
            assert_eq!(*g as usize, i);
        }
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
        for (i, g) in TotalGauge::ALL.iter().enumerate() {
            assert_eq!(*g as usize, i);
        }
        assert_eq!([&VmGauge::MAIN[..], &VmGauge::GUEST].concat(), VmGauge::ALL);
        assert_eq!([&Counter::HOST[..], &Counter::GUEST].concat(), Counter::ALL);
    }

    #[test]
    fn guest_figures_are_unknown_unless_the_guest_reports_them() {
        let mut vm = Vm::new("vm", State::Running);
        let s = VmSample::of(&vm);
        assert_eq!(s.gauges[VmGauge::GuestUsed], None);
        assert_eq!(s.gauges[VmGauge::GuestMem], None);
        assert_eq!(s.counters[Counter::Vcpu], None);
        vm.guest_memory.current = Some(400);
        vm.guest_memory.available = Some(300);
        vm.guest_memory.unused = Some(200);
        vm.vcpu_times.time = Some(2_500_000_000);
        vm.vcpu_times.delay = Some(19_999_999);
        let s = VmSample::of(&vm);
        assert_eq!(s.gauges[VmGauge::GuestUsed], Some(100.0));
        assert_eq!(s.gauges[VmGauge::GuestMem], Some(25.0), "% of what it has");
        assert_eq!(
            s.counters[Counter::Vcpu],
            Some(250),
            "2.5 s as centiseconds"
        );
        assert_eq!(s.counters[Counter::Steal], Some(1));
    }

    #[test]
    fn a_busy_vm_has_unknown_disk_counters_not_zero() {
        let mut vm = Vm::new("busy", State::Running);
        vm.disk_stats_unknown = true;
        let s = VmSample::of(&vm);
        assert_eq!(s.counters[Counter::RBytes], None);
        assert_eq!(s.counters[Counter::ROps], None);
        assert_eq!(s.counters[Counter::RTime], None);
        assert_eq!(s.gauges[VmGauge::DiskSize], None);
    }

    #[test]
    fn samples_use_the_documented_units() {
        let mut vm = Vm::new("vm", State::Paused);
        vm.process = Some(Process {
            pid: 1,
            usertime: 1.25,
            systime: 0.5,
            ..Process::default()
        });
        let s = VmSample::of(&vm);
        assert_eq!(
            s.counters[Counter::Cpu],
            Some(175),
            "CPU seconds as centiseconds"
        );
        assert_eq!(
            s.gauges[VmGauge::Up],
            Some(1.0),
            "a paused VM still has its process"
        );
        let off = VmSample::of(&Vm::new("vm", State::Shutoff));
        assert_eq!(
            (
                off.gauges[VmGauge::Up],
                off.gauges[VmGauge::Rss],
                off.counters[Counter::Cpu]
            ),
            (Some(0.0), Some(0.0), None),
            "an off VM holds no memory; its CPU counter is unknown (a 0 would be a reset)"
        );
    }

    #[test]
    fn totals_count_state_groups_and_unknown_disks() {
        let mut busy = Vm::new("b", State::Running);
        busy.disk_stats_unknown = true;
        let mut sized = Vm::new("s", State::Shutoff);
        sized.disks = vec![Disk {
            capacity: 10,
            ..Disk::default()
        }];
        let vms = vec![
            busy,
            sized,
            Vm::new("c", State::Crashed),
            Vm::new("p", State::PmSuspended),
        ];
        let t = total_gauges(&Totals::of(&vms));
        assert_eq!(t[TotalGauge::Vms], Some(4.0));
        assert_eq!(t[TotalGauge::Running], Some(1.0));
        assert_eq!(t[TotalGauge::Off], Some(1.0));
        assert_eq!(t[TotalGauge::Crashed], Some(1.0));
        assert_eq!(t[TotalGauge::Paused], Some(1.0));
        assert_eq!(t[TotalGauge::DiskSize], None, "a busy VM's size is unknown");
        let t = total_gauges(&Totals::of(&vms[1..]));
        assert_eq!(t[TotalGauge::DiskSize], Some(10.0));
    }
}
