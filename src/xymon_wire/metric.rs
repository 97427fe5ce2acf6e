//! What we graph, per VM and for the whole host: each metric a variant with its name in the
//! messages and RRDs, its unit (on the variant), its RRD type and how it is read from the
//! model. Values of one kind sit in fixed-size arrays indexed by the metric.
//!
//! Counters (bytes, requests, CPU time) grow from the VM's start; [`crate::rates`] turns them
//! into rates for the NCV and SPLITNCV formats. A VM's values read together, and the host's
//! sums, are in `sample`.

use std::ops::{Index, IndexMut};

use crate::model::{DiskSum, NetCounters, State, Totals, Vm};

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
    /// Percent in use of the guest's fullest file system (its agent's answer): one figure
    /// per VM, so a host of hundreds of VMs has one file per VM, not one per file system.
    GuestFs,
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
    pub const ALL: [VmGauge; 9] = [
        VmGauge::Up,
        VmGauge::Vcpus,
        VmGauge::Mem,
        VmGauge::Rss,
        VmGauge::DiskSize,
        VmGauge::DiskUsed,
        VmGauge::GuestUsed,
        VmGauge::GuestMem,
        VmGauge::GuestFs,
    ];

    /// The gauges of a VM's main RRD file in the extra-script format: those it was created
    /// with, so existing files keep taking updates.
    pub const MAIN: [VmGauge; 6] = *VmGauge::ALL.first_chunk().unwrap();

    /// The guest's own gauges: per VM only, in the extra-script format in a file of their
    /// own ([`VmGauge::MAIN`] says why).
    pub const GUEST: [VmGauge; 3] = *VmGauge::ALL.last_chunk().unwrap();

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
            VmGauge::GuestFs => "guestfs",
        }
    }

    /// Unknown (a busy VM's disk sizes, a running VM whose process was not found), never a
    /// made-up 0.
    pub(super) fn read(self, vm: &Vm, disk: &DiskSum) -> Option<f64> {
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
            VmGauge::GuestFs => vm.agent.info()?.fullest_fs().map(|(_, pct)| pct),
        }
    }
}

impl Counter {
    /// In declaration order, which is the order of the messages and of the RRD datasets:
    /// [`Counter::HOST`], then [`Counter::GUEST`].
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
    pub const HOST: [Counter; 13] = *Counter::ALL.first_chunk().unwrap();

    /// The guest's own counters: per VM only, beside [`VmGauge::GUEST`].
    pub const GUEST: [Counter; 2] = *Counter::ALL.last_chunk().unwrap();

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
    pub(super) fn read(self, vm: &Vm, disk: &DiskSum, net: &NetCounters) -> Option<u64> {
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
    pub(super) fn read(self, t: &Totals) -> Option<f64> {
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
