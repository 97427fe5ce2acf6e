//! What we graph, per VM and for the whole host, and how counters become rates.
//!
//! Counters (bytes, requests, CPU time) grow from the VM's start. xymond_rrd's NCV and SPLITNCV
//! modes create every dataset with min U, so a DERIVE counter that resets (a VM restart)
//! shows a huge negative spike. For those modes we send **rates** as GAUGE, computed here
//! from the previous run's counters kept in a small state file ([`RateState`]); a rate is
//! left out when the VM restarted (other process), a counter went down, or the previous
//! sample is missing or stale. The extra-script mode sends the raw counters instead and
//! declares them DERIVE with min 0, so RRDtool computes the rates and a reset gives one
//! unknown point, never a spike.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::model::{Snapshot, State, Vm};

use super::names::vm_key;

/// Instant values, graphed as they are.
pub const VM_GAUGES: [&str; 6] = ["up", "vcpus", "mem", "rss", "disksize", "diskused"];

/// Ever-growing counters. `cpu` is in centiseconds, so its rate is "% of one core";
/// `rtime`/`wtime` are microseconds spent reading/writing.
pub const COUNTERS: [&str; 13] = [
    "cpu", "rbytes", "wbytes", "rops", "wops", "rtime", "wtime", "netin", "netout", "pktin",
    "pktout", "neterr", "netdrop",
];

/// Host-wide instant values: VM counts by state group, then the VM gauges summed.
pub const TOTAL_GAUGES: [&str; 11] = [
    "vms", "running", "paused", "off", "crashed", "other", "vcpus", "mem", "rss", "disksize",
    "diskused",
];

/// Per-second rates sent in place of the counters; the disk time counters become average
/// latencies (ms per request) instead, which is what a person wants to see.
pub const RATES: [&str; 13] = [
    "cpu", "rbytes", "wbytes", "rops", "wops", "rlat", "wlat", "netin", "netout", "pktin",
    "pktout", "neterr", "netdrop",
];

const RTIME: usize = 5;
const WTIME: usize = 6;
const ROPS: usize = 3;
const WOPS: usize = 4;

/// One VM's figures, raw.
#[derive(Debug, Clone, PartialEq)]
pub struct VmSample {
    pub key: String,
    pub gauges: [Option<f64>; VM_GAUGES.len()],
    pub counters: [Option<u64>; COUNTERS.len()],
    /// The process that ran the VM; counters of different incarnations are not comparable.
    pub pid: Option<u32>,
    pub running: bool,
}

impl VmSample {
    pub fn of(vm: &Vm) -> VmSample {
        let disk = vm.disk_sum();
        let net = vm.net_sum();
        let process = vm.process.as_ref();
        let us = |ms: f64| (ms.max(0.0) * 1000.0).round() as u64;
        // Unknown (busy VM), not zero: a zero would read as a counter reset or an empty disk.
        let io = (!vm.disk_stats_unknown).then_some(&disk.io);
        let sizes_known = !vm.disk_stats_unknown;
        VmSample {
            key: vm_key(&vm.name),
            gauges: [
                Some(if vm.state.has_process() { 1.0 } else { 0.0 }),
                Some(vm.cpus as f64),
                Some(vm.mem_alloc as f64),
                process.map(|p| p.rss as f64),
                sizes_known.then_some(disk.alloc as f64),
                sizes_known.then_some(disk.in_use as f64),
            ],
            counters: [
                process.map(|p| ((p.usertime + p.systime).max(0.0) * 100.0).round() as u64),
                io.map(|io| io.rbytes),
                io.map(|io| io.wbytes),
                io.map(|io| io.rreqs),
                io.map(|io| io.wreqs),
                io.map(|io| us(io.rtime)),
                io.map(|io| us(io.wtime)),
                Some(net.ibytes),
                Some(net.obytes),
                Some(net.ipkts),
                Some(net.opkts),
                Some(net.ierrs.saturating_add(net.oerrs)),
                Some(net.idrop.saturating_add(net.odrop)),
            ],
            pid: process.map(|p| p.pid),
            running: vm.state.has_process(),
        }
    }
}

/// The state group a VM counts in for the host-wide state graph.
pub fn state_group(state: State) -> &'static str {
    match state {
        State::Running => "running",
        State::Paused | State::PmSuspended => "paused",
        State::Shutoff | State::Off | State::Shutdown | State::NoState => "off",
        State::Crashed => "crashed",
        State::Blocked | State::Maintenance | State::Unknown => "other",
    }
}

/// Host-wide gauges, in [`TOTAL_GAUGES`] order. A VM without a process adds no RSS; a VM
/// whose disk sizes are unknown (busy) makes the disk sums unknown rather than too small.
pub fn total_gauges(
    snapshot: &Snapshot,
    samples: &[VmSample],
) -> [Option<f64>; TOTAL_GAUGES.len()] {
    let mut t = [Some(0.0); TOTAL_GAUGES.len()];
    t[0] = Some(snapshot.vms.len() as f64);
    for vm in &snapshot.vms {
        let group = state_group(vm.state);
        let i = TOTAL_GAUGES.iter().position(|g| *g == group).unwrap_or(5);
        t[i] = t[i].map(|n| n + 1.0);
    }
    for s in samples {
        // vcpus, mem, rss, disksize, diskused are VM_GAUGES[1..].
        for (i, g) in s.gauges[1..].iter().enumerate() {
            let total = &mut t[6 + i];
            match g {
                Some(v) => *total = total.map(|t| t + v),
                None if matches!(VM_GAUGES[i + 1], "disksize" | "diskused") => *total = None,
                None => {}
            }
        }
    }
    t
}

/// Raw counters summed over all VMs (extra-script mode). A running VM whose counter is
/// unknown makes the sum unknown: left out, the sum would drop now and jump back next time,
/// which a DERIVE turns into a spike. A stopped VM simply adds nothing.
pub fn total_counters(samples: &[VmSample]) -> [Option<u64>; COUNTERS.len()] {
    let mut t = [Some(0u64); COUNTERS.len()];
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

/// Per-second rates of the raw counters, in [`COUNTERS`] order; `None` where no honest rate
/// exists.
pub type CounterRates = [Option<f64>; COUNTERS.len()];

/// What the state file keeps of one VM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Previous {
    pid: Option<u32>,
    running: bool,
    counters: Vec<Option<u64>>,
}

/// The previous run's counters, as kept in the state file (JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RateState {
    /// Bumped when the meaning of the counters changes: an old file is then ignored.
    version: u32,
    taken_at_ms: u64,
    vms: BTreeMap<String, Previous>,
}

const STATE_VERSION: u32 = 1;

impl RateState {
    pub fn new(taken_at: SystemTime, samples: &[VmSample]) -> RateState {
        RateState {
            version: STATE_VERSION,
            taken_at_ms: millis(taken_at),
            vms: samples
                .iter()
                .map(|s| {
                    (
                        s.key.clone(),
                        Previous {
                            pid: s.pid,
                            running: s.running,
                            counters: s.counters.to_vec(),
                        },
                    )
                })
                .collect(),
        }
    }

    pub fn to_json(&self) -> String {
        // A map of plain numbers and strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a state file's text; a file of another version or shape is an error the caller
    /// reports before starting afresh.
    pub fn from_json(text: &str) -> Result<RateState, String> {
        let state: RateState = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if state.version != STATE_VERSION {
            return Err(format!(
                "version {} (expected {STATE_VERSION})",
                state.version
            ));
        }
        if state
            .vms
            .values()
            .any(|p| p.counters.len() != COUNTERS.len())
        {
            return Err("a VM entry has the wrong number of counters".into());
        }
        Ok(state)
    }

    /// Rates of `sample`'s counters since this earlier state. None at all when the VM is new,
    /// runs in another process than before (restarted), or the earlier sample is older than
    /// `max_age` (an average over hours would pass for a current rate); none for a counter
    /// that went down.
    pub fn rates(
        &self,
        taken_at: SystemTime,
        sample: &VmSample,
        max_age: Duration,
    ) -> CounterRates {
        let mut rates: CounterRates = [None; COUNTERS.len()];
        let now_ms = millis(taken_at);
        let fresh =
            now_ms > self.taken_at_ms && now_ms - self.taken_at_ms <= max_age.as_millis() as u64;
        let Some(prev) = self.vms.get(&sample.key).filter(|_| fresh) else {
            return rates;
        };
        if prev.pid != sample.pid || prev.running != sample.running {
            return rates;
        }
        let seconds = (now_ms - self.taken_at_ms) as f64 / 1000.0;
        for (i, rate) in rates.iter_mut().enumerate() {
            *rate = sample.counters[i]
                .zip(prev.counters[i])
                .and_then(|(now, before)| now.checked_sub(before))
                .map(|d| d as f64 / seconds);
        }
        rates
    }
}

/// Host-wide counter rates: the VMs' rates summed, so a VM that comes or goes makes no step.
/// Complete (a VM's missing rate counts as 0: NCV needs the same names every time) unless
/// there is no rate at all.
pub fn total_rates(per_vm: &[CounterRates]) -> CounterRates {
    // No rate at all means no usable previous sample (first run, a lost or locked state
    // file): the totals are unknown, not a drop to 0.
    if !per_vm.is_empty() && per_vm.iter().flatten().all(Option::is_none) {
        return [None; COUNTERS.len()];
    }
    let mut sum = [0.0; COUNTERS.len()];
    for rates in per_vm {
        for (s, r) in sum.iter_mut().zip(rates) {
            *s += r.unwrap_or(0.0);
        }
    }
    sum.map(Some)
}

/// What is graphed in rate modes, in [`RATES`] order: the counter rates, with the disk time
/// rates turned into average latencies (ms per request; 0 when there were no requests).
pub fn display_rates(rates: &CounterRates) -> [Option<f64>; RATES.len()] {
    let latency = |time_us: Option<f64>, ops: Option<f64>| {
        let (time_us, ops) = (time_us?, ops?);
        Some(if ops > 0.0 {
            time_us / 1000.0 / ops
        } else {
            0.0
        })
    };
    let mut out = *rates;
    out[RTIME] = latency(rates[RTIME], rates[ROPS]);
    out[WTIME] = latency(rates[WTIME], rates[WOPS]);
    out
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Process, State};

    fn sample(pid: Option<u32>, cpu_cs: u64, rbytes: u64, rops: u64, rtime_us: u64) -> VmSample {
        let mut s = VmSample::of(&Vm::new("vm", State::Running));
        s.pid = pid;
        s.counters[0] = Some(cpu_cs);
        s.counters[1] = Some(rbytes);
        s.counters[ROPS] = Some(rops);
        s.counters[RTIME] = Some(rtime_us);
        s
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    const AGE: Duration = Duration::from_secs(1200);

    #[test]
    fn rates_per_second_and_latency_per_request() {
        let state = RateState::new(at(1000), &[sample(Some(7), 1000, 0, 100, 50_000)]);
        let now = sample(Some(7), 4000, 300_000, 400, 650_000);
        let rates = state.rates(at(1300), &now, AGE);
        assert_eq!(rates[0], Some(10.0), "3000 cs in 300 s: 10 % of a core");
        assert_eq!(rates[1], Some(1000.0));
        let shown = display_rates(&rates);
        assert_eq!(shown[RTIME], Some(2.0), "600 ms over 300 requests");
        assert_eq!(
            shown[WTIME],
            Some(0.0),
            "no writes: 0, not a division by zero"
        );
    }

    #[test]
    fn a_busy_vm_has_unknown_disk_counters_not_zero() {
        let mut vm = Vm::new("busy", State::Running);
        vm.disk_stats_unknown = true;
        let s = VmSample::of(&vm);
        assert_eq!(s.counters[1], None);
        assert_eq!(s.counters[ROPS], None);
        assert_eq!(s.counters[RTIME], None);
        let state = RateState::new(at(1000), &[sample(None, 0, 500, 5, 0)]);
        assert_eq!(
            state.rates(at(1300), &s, AGE)[1],
            None,
            "no rate from an unknown value"
        );
    }

    #[test]
    fn restarts_resets_stale_and_new_vms_give_no_rate() {
        let state = RateState::new(at(1000), &[sample(Some(7), 1000, 500, 0, 0)]);
        let restarted = sample(Some(8), 2000, 600, 0, 0);
        assert!(
            state
                .rates(at(1300), &restarted, AGE)
                .iter()
                .all(Option::is_none)
        );
        let reset = sample(Some(7), 2000, 10, 0, 0);
        let rates = state.rates(at(1300), &reset, AGE);
        assert_eq!(rates[1], None, "a counter that went down");
        assert!(rates[0].is_some());
        let later = sample(Some(7), 2000, 600, 0, 0);
        assert!(
            state
                .rates(at(5000), &later, AGE)
                .iter()
                .all(Option::is_none),
            "stale"
        );
        assert!(
            state
                .rates(at(1000), &later, AGE)
                .iter()
                .all(Option::is_none),
            "same instant"
        );
        let mut other = later.clone();
        other.key = "other".into();
        assert!(
            state
                .rates(at(1300), &other, AGE)
                .iter()
                .all(Option::is_none),
            "new VM"
        );
    }

    #[test]
    fn totals_sum_rates_and_are_always_complete() {
        let a = [Some(1.0); COUNTERS.len()];
        let mut b = [None; COUNTERS.len()];
        b[1] = Some(2.0);
        let t = total_rates(&[a, b]);
        assert_eq!(t[0], Some(1.0));
        assert_eq!(t[1], Some(3.0));
        assert!(t.iter().all(Option::is_some));
        let first_run = [None; COUNTERS.len()];
        assert!(
            total_rates(&[first_run, first_run])
                .iter()
                .all(Option::is_none),
            "unknown, not 0"
        );
        assert!(
            total_rates(&[]).iter().all(|r| *r == Some(0.0)),
            "no VMs: truly 0"
        );
    }

    #[test]
    fn the_state_file_round_trips_and_refuses_other_versions() {
        let mut vm = Vm::new("vm", State::Running);
        vm.process = Some(Process {
            pid: 3,
            usertime: 1.5,
            ..Process::default()
        });
        let state = RateState::new(at(1000), &[VmSample::of(&vm)]);
        assert_eq!(RateState::from_json(&state.to_json()).unwrap(), state);
        let other = state.to_json().replace("\"version\":1", "\"version\":9");
        assert!(
            RateState::from_json(&other)
                .unwrap_err()
                .contains("version 9")
        );
        assert!(RateState::from_json("{not json").is_err());
        let short = state.to_json().replace("[150,", "[");
        assert!(RateState::from_json(&short).is_err());
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
        assert_eq!(s.counters[0], Some(175), "CPU seconds as centiseconds");
        assert_eq!(s.gauges[0], Some(1.0), "a paused VM still has its process");
        let off = VmSample::of(&Vm::new("vm", State::Shutoff));
        assert_eq!(
            (off.gauges[0], off.gauges[3], off.counters[0]),
            (Some(0.0), None, None)
        );
    }
}
