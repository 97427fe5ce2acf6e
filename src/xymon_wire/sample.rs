//! A VM's figures read together ([`VmSample`]) and the host's sums of them: the gauges from
//! the model's totals, the raw counters and the rates summed over the VMs.

use crate::model::{Totals, Vm};

use super::key::{vm_key, vm_keys};
use super::metric::{Counter, CounterRates, Counters, TotalGauge, TotalGauges, VmGauge, VmGauges};

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

#[cfg(test)]
mod tests {
    //! The metrics and the samples read from them.

    use super::*;
    use crate::model::{Disk, Process, State};

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
    fn guestfs_is_the_fullest_file_system_the_agent_reports() {
        use crate::model::{Agent, AgentInfo, GuestFs};
        let fs = |mountpoint: &str, used, total| GuestFs {
            mountpoint: mountpoint.into(),
            fstype: "ext4".into(),
            used,
            total,
        };
        let mut vm = Vm::new("vm", State::Running);
        assert_eq!(VmSample::of(&vm).gauges[VmGauge::GuestFs], None, "no agent");
        vm.agent = Agent::Answered(Box::new(AgentInfo {
            file_systems: vec![
                fs("/", Some(50), Some(200)),
                fs("/srv", Some(90), Some(100)),
                fs("/proc", None, None),
            ],
            ..AgentInfo::default()
        }));
        assert_eq!(VmSample::of(&vm).gauges[VmGauge::GuestFs], Some(90.0));
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
