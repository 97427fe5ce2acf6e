//! Counters turned into rates with the counters file.
//!
//! xymond_rrd's NCV and SPLITNCV modes create every dataset with min U, so a DERIVE counter
//! that resets (a VM restart) shows a huge negative spike. For those modes we send **rates**
//! as GAUGE, computed here from the previous run's counters kept in a small counters file
//! ([`PreviousCounters`]); a rate is left out when the VM restarted (other process), a counter went
//! down, or the previous sample is missing or stale. The extra-script mode sends the raw
//! counters instead and declares them DERIVE with min 0, so RRDtool computes the rates and a
//! reset gives one unknown point, never a spike.
//!
//! Where the file lives, its lock, and reading it safely: `store`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::model::Snapshot;
use crate::xymon_wire::{Counter, CounterRates, VmSample};

pub(crate) mod store;

/// What the counters file keeps of one VM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Previous {
    pid: Option<u32>,
    running: bool,
    counters: Vec<Option<u64>>,
}

/// The previous run's counters, as kept in the counters file (JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PreviousCounters {
    /// Bumped when the meaning of the counters changes: an old file is then ignored.
    version: u32,
    taken_at_ms: u64,
    vms: BTreeMap<String, Previous>,
}

// 2: the guest's vCPU counters joined the list.
const STATE_VERSION: u32 = 2;

impl PreviousCounters {
    /// The counters of `samples`, taken at `taken_at`, to keep for the next run.
    pub fn new(taken_at: SystemTime, samples: &[VmSample]) -> PreviousCounters {
        PreviousCounters {
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

    /// The counters file's contents.
    pub fn to_json(&self) -> String {
        // A map of plain numbers and strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a counters file's text; a file of another version or shape is an error the caller
    /// reports before starting afresh.
    pub fn from_json(text: &str) -> Result<PreviousCounters, String> {
        let state: PreviousCounters = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if state.version != STATE_VERSION {
            return Err(format!(
                "version {} (expected {STATE_VERSION})",
                state.version
            ));
        }
        if state
            .vms
            .values()
            .any(|p| p.counters.len() != Counter::ALL.len())
        {
            return Err("a VM entry has the wrong number of counters".into());
        }
        Ok(state)
    }

    /// Rates of `sample`'s counters since this earlier state. None at all when the VM is new,
    /// runs in another process than before (restarted), or the earlier sample is older than
    /// `max_age` (an average over hours would pass for a current rate); none for a counter
    /// that went down.
    // Rates are floats: a difference past 2^53 loses only its lowest digits.
    #[allow(clippy::cast_precision_loss)]
    pub fn rates(
        &self,
        taken_at: SystemTime,
        sample: &VmSample,
        max_age: Duration,
    ) -> CounterRates {
        let mut rates: CounterRates = [None; Counter::ALL.len()];
        let now_ms = millis(taken_at);
        let fresh =
            now_ms > self.taken_at_ms && now_ms - self.taken_at_ms <= saturating_millis(max_age);
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
        if !sample.running {
            // No process then and now: the VM used no CPU and ran no vCPU, so nothing was
            // stolen from it (its counters are unknown, not 0). A 0 gives every VM its RRD,
            // which a status page's split images count on.
            for c in [Counter::Cpu, Counter::Vcpu, Counter::Steal] {
                rates[c] = Some(0.0);
            }
        }
        rates
    }
}

/// How old the previous sample may be for its rates to count: a few missed runs are fine.
pub fn max_rate_age(interval: Duration) -> Duration {
    interval * 4
}

/// One run's rates and the counters the next run needs, from one reading of the VMs.
pub struct Computed {
    /// Each VM's rates, in the order of the snapshot's VMs; `None` without previous counters.
    pub per_vm: Option<Vec<CounterRates>>,
    /// This run's counters, for the counters file.
    pub next: PreviousCounters,
}

/// The rates of `snapshot` since `previous` (samples no older than `max_age`) and the
/// counters to keep for the next run: the one place samples are taken for both, so the
/// rates sent and the counters kept are keyed alike ([`VmSample::all`]).
pub fn compute(
    snapshot: &Snapshot,
    previous: Option<&PreviousCounters>,
    max_age: Duration,
) -> Computed {
    let samples = VmSample::all(&snapshot.vms);
    let per_vm = previous.map(|prev| {
        samples
            .iter()
            .map(|s| prev.rates(snapshot.taken_at, s, max_age))
            .collect()
    });
    Computed {
        per_vm,
        next: PreviousCounters::new(snapshot.taken_at, &samples),
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(saturating_millis)
        .unwrap_or(0)
}

fn saturating_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Process, State, Vm};
    use crate::xymon_wire::{display_rates, total_rates};

    fn sample(pid: Option<u32>, cpu_cs: u64, rbytes: u64, rops: u64, rtime_us: u64) -> VmSample {
        let mut s = VmSample::of(&Vm::new("vm", State::Running));
        s.pid = pid;
        s.counters[Counter::Cpu] = Some(cpu_cs);
        s.counters[Counter::RBytes] = Some(rbytes);
        s.counters[Counter::ROps] = Some(rops);
        s.counters[Counter::RTime] = Some(rtime_us);
        s
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    const AGE: Duration = Duration::from_secs(1200);

    #[test]
    fn rates_per_second_and_latency_per_request() {
        let state = PreviousCounters::new(at(1000), &[sample(Some(7), 1000, 0, 100, 50_000)]);
        let now = sample(Some(7), 4000, 300_000, 400, 650_000);
        let rates = state.rates(at(1300), &now, AGE);
        assert_eq!(
            rates[Counter::Cpu],
            Some(10.0),
            "3000 cs in 300 s: 10 % of a core"
        );
        assert_eq!(rates[Counter::RBytes], Some(1000.0));
        let shown = display_rates(&rates);
        assert_eq!(shown[Counter::RTime], Some(2.0), "600 ms over 300 requests");
        assert_eq!(
            shown[Counter::WTime],
            Some(0.0),
            "no writes: 0, not a division by zero"
        );
    }

    #[test]
    fn a_vm_off_then_and_now_used_no_cpu() {
        let off = VmSample::of(&Vm::new("vm", State::Shutoff));
        let state = PreviousCounters::new(at(1000), std::slice::from_ref(&off));
        let rates = state.rates(at(1300), &off, AGE);
        assert_eq!(rates[Counter::Cpu], Some(0.0));
        let started = VmSample::of(&Vm::new("vm", State::Running));
        assert_eq!(
            state.rates(at(1300), &started, AGE)[Counter::Cpu],
            None,
            "started since: no rate"
        );
    }

    #[test]
    fn restarts_resets_stale_and_new_vms_give_no_rate() {
        let state = PreviousCounters::new(at(1000), &[sample(Some(7), 1000, 500, 0, 0)]);
        let restarted = sample(Some(8), 2000, 600, 0, 0);
        assert!(
            state
                .rates(at(1300), &restarted, AGE)
                .iter()
                .all(Option::is_none)
        );
        let reset = sample(Some(7), 2000, 10, 0, 0);
        let rates = state.rates(at(1300), &reset, AGE);
        assert_eq!(rates[Counter::RBytes], None, "a counter that went down");
        assert!(rates[Counter::Cpu].is_some());
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
        let a = [Some(1.0); Counter::ALL.len()];
        let mut b = [None; Counter::ALL.len()];
        b[Counter::RBytes] = Some(2.0);
        let t = total_rates(&[a, b]);
        assert_eq!(t[Counter::Cpu], Some(1.0));
        assert_eq!(t[Counter::RBytes], Some(3.0));
        assert!(t.iter().all(Option::is_some));
        let first_run = [None; Counter::ALL.len()];
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
        let state = PreviousCounters::new(at(1000), &[VmSample::of(&vm)]);
        assert_eq!(
            PreviousCounters::from_json(&state.to_json()).unwrap(),
            state
        );
        let other = state.to_json().replace("\"version\":2", "\"version\":9");
        assert!(
            PreviousCounters::from_json(&other)
                .unwrap_err()
                .contains("version 9")
        );
        assert!(PreviousCounters::from_json("{not json").is_err());
        let short = state.to_json().replace("[150,", "[");
        assert!(PreviousCounters::from_json(&short).is_err());
    }
}
