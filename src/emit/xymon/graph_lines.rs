//! The "NAME : value" lines xymond_rrd turns into graphs, in groups that are never split
//! across messages: the host totals, then one group per VM, then (but for NCV, whose set of
//! names is fixed) one per storage pool.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::{Snapshot, Totals};
use crate::xymon_wire::{
    Counter, CounterRates, Format, PoolGauge, PoolSample, TotalGauge, VmGauge, VmGauges, VmSample,
    display_rates, number, total_counters, total_gauges, total_rates,
};

/// One value as it goes into a line.
#[derive(Debug, Clone, Copy)]
enum Figure {
    Real(f64),
    Whole(u64),
}

/// The host's rates. In SPLITNCV each total has its own RRD, so a total that no VM has a
/// rate for (CPU when no VM has a process) is left out rather than drawn as 0; NCV needs
/// every name or none.
fn split_totals(format: Format, rates: &[CounterRates]) -> CounterRates {
    let mut totals = total_rates(rates);
    if format == Format::SplitNcv {
        for c in Counter::ALL {
            if rates.iter().all(|r| r[c].is_none()) {
                totals[c] = None;
            }
        }
    }
    totals
}

/// A group's lines before they are written: the prefix of every name, then each name and
/// its value.
struct Figures {
    prefix: String,
    figures: Vec<(&'static str, Option<Figure>)>,
}

/// The figures of one snapshot: the totals, then (but for NCV) one group per VM and per pool.
fn figures(
    snapshot: &Snapshot,
    samples: &[VmSample],
    rates: &[CounterRates],
    format: Format,
) -> Vec<Figures> {
    let (vm_gauges, rates) = process_figures_if_seen(samples, rates);
    let gauges = total_gauges(&Totals::of(&snapshot.vms));
    let gauges = TotalGauge::ALL.map(|g| (g.name(), gauges[g].map(Figure::Real)));
    let totals: Vec<(&'static str, Option<Figure>)> = match format {
        Format::RrdScript => {
            let counters = total_counters(samples);
            let counters = Counter::HOST.map(|c| (c.name(), counters[c].map(Figure::Whole)));
            gauges.into_iter().chain(counters).collect()
        }
        Format::SplitNcv | Format::Ncv => {
            let shown = display_rates(&split_totals(format, &rates));
            // The guest's counters are per VM only (Counter::HOST says why).
            let rates = Counter::HOST.map(|c| (c.rate_name(), shown[c].map(Figure::Real)));
            let all: Vec<_> = gauges.into_iter().chain(rates).collect();
            // NCV keeps one RRD whose datasets the first message fixes for good: all the names
            // or none (no update this run), never a partial set.
            if format == Format::Ncv && all.iter().any(|(_, v)| v.is_none()) {
                Vec::new()
            } else {
                all
            }
        }
    };
    let prefix = if format == Format::Ncv { "" } else { "all_" };
    let mut out = vec![Figures {
        prefix: prefix.to_string(),
        figures: totals,
    }];
    if format == Format::Ncv {
        return out;
    }
    for ((sample, gauges), rates) in samples.iter().zip(&vm_gauges).zip(&rates) {
        let gauges = VmGauge::ALL.map(|g| (g.name(), gauges[g].map(Figure::Real)));
        let figures: Vec<(&'static str, Option<Figure>)> = if format == Format::RrdScript {
            let counters = Counter::ALL.map(|c| (c.name(), sample.counters[c].map(Figure::Whole)));
            gauges.into_iter().chain(counters).collect()
        } else {
            let shown = display_rates(rates);
            let rates = Counter::ALL.map(|c| (c.rate_name(), shown[c].map(Figure::Real)));
            gauges.into_iter().chain(rates).collect()
        };
        out.push(Figures {
            prefix: format!("vm_{}_", sample.key),
            figures,
        });
    }
    for pool in PoolSample::all(&snapshot.pools) {
        let figures = PoolGauge::ALL.map(|g| (g.name(), pool.gauges[g].map(Figure::Real)));
        out.push(Figures {
            prefix: format!("pool_{}_", pool.key),
            figures: figures.to_vec(),
        });
    }
    out
}

/// The groups of graph lines for one snapshot: the totals, then (but for NCV) one per VM.
pub fn groups(
    snapshot: &Snapshot,
    samples: &[VmSample],
    rates: &[CounterRates],
    format: Format,
) -> Vec<String> {
    figures(snapshot, samples, rates, format)
        .iter()
        .map(|g| group(&g.prefix, &g.figures, format))
        .collect()
}

/// Which lines a report sends (SPLITNCV) or has a value in (rrd-script), for the graphs
/// its status pages draw: how many VMs
/// send each per-VM name (`cpu` for `vm_<key>_cpu`: so many RRD files the graph of that
/// name has) and which totals (`all_<name>`) are sent; and the same for a report with rates
/// wherever libvirt gave the counters, to tell a graph without data this run only (no rates
/// yet) from one without data at all (the test driver's CPU).
#[derive(Debug)]
pub struct LinesSent {
    now: Tally,
    with_rates: Tally,
}

#[derive(Debug, Default, Clone)]
struct Tally {
    per_vm: BTreeMap<&'static str, usize>,
    totals: BTreeSet<&'static str>,
}

impl Tally {
    /// The known figures of `format`'s lines: SPLITNCV leaves out the others, the
    /// rrd-script form writes them `U`.
    fn of(
        snapshot: &Snapshot,
        samples: &[VmSample],
        rates: &[CounterRates],
        format: Format,
    ) -> Tally {
        // What SPLITNCV writes is exactly what is known.
        let known = |figure: Option<Figure>| written(figure, Format::SplitNcv).is_some();
        let mut tally = Tally::default();
        let all = figures(snapshot, samples, rates, format);
        let (totals, vms) = all.split_first().expect("the totals come first");
        for (name, figure) in &totals.figures {
            if known(*figure) {
                tally.totals.insert(name);
            }
        }
        for vm in vms.iter().take(samples.len()) {
            for (name, figure) in &vm.figures {
                if known(*figure) {
                    *tally.per_vm.entry(name).or_default() += 1;
                }
            }
        }
        tally
    }
}

impl LinesSent {
    /// How many VMs send a `vm_<key>_<name>` line.
    pub fn vms_with(&self, name: &str) -> usize {
        self.now.per_vm.get(name).copied().unwrap_or(0)
    }

    /// Whether the `all_<name>` line is sent.
    pub fn total(&self, name: &str) -> bool {
        self.now.totals.contains(name)
    }

    /// Whether a run with rates would send a `vm_<key>_<name>` line.
    pub fn vms_with_rates(&self, name: &str) -> bool {
        self.with_rates.per_vm.contains_key(name)
    }

    /// Whether a run with rates would send the `all_<name>` line.
    pub fn total_with_rates(&self, name: &str) -> bool {
        self.with_rates.totals.contains(name)
    }
}

/// Rates wherever libvirt gave the counter: what the lines of a run with rates are made of.
fn rates_where_counted(samples: &[VmSample]) -> Vec<CounterRates> {
    samples
        .iter()
        .map(|s| s.counters.map(|c| c.map(|_| 0.0)))
        .collect()
}

/// The SPLITNCV lines of this snapshot with these `rates` (one entry per VM, `None` where
/// there is none).
pub fn lines_sent(snapshot: &Snapshot, samples: &[VmSample], rates: &[CounterRates]) -> LinesSent {
    LinesSent {
        now: Tally::of(snapshot, samples, rates, Format::SplitNcv),
        with_rates: Tally::of(
            snapshot,
            samples,
            &rates_where_counted(samples),
            Format::SplitNcv,
        ),
    }
}

/// The rrd-script form's lines with a known value (the others are `U`): every VM has its
/// files, and a graph has data where some VM has a known value of its datasets.
pub fn rrd_script_lines_known(snapshot: &Snapshot, samples: &[VmSample]) -> LinesSent {
    let no_rates = vec![[None; Counter::ALL.len()]; samples.len()];
    let known = Tally::of(snapshot, samples, &no_rates, Format::RrdScript);
    LinesSent {
        now: known.clone(),
        with_rates: known,
    }
}

/// The SPLITNCV lines an interval's report of this snapshot sends, for a status between
/// intervals (`--watch`), which sends none: a rate line where libvirt gave the counter.
pub fn lines_of_the_interval(snapshot: &Snapshot, samples: &[VmSample]) -> LinesSent {
    lines_sent(snapshot, samples, &rates_where_counted(samples))
}

/// Each VM's gauges and rates, but where no VM shows a process (the test driver, a remote
/// URI) without CPU and memory for anyone, and where no running VM has vCPU times (the test
/// driver) without vCPU and steal rates. Xymon splits a per-VM graph into images by VM
/// count, so its RRDs must be one per VM, and an off VM's figures are 0 for that; when
/// nobody's are known, RRDs (and a host total) for the off VMs alone would be out of step.
fn process_figures_if_seen(
    samples: &[VmSample],
    rates: &[CounterRates],
) -> (Vec<VmGauges>, Vec<CounterRates>) {
    let seen = processes_seen(samples);
    let unseen_vcpu_counters = unseen_vcpu_counters(samples);
    samples
        .iter()
        .zip(rates)
        .map(|(sample, rates)| {
            let (mut gauges, mut rates) = (sample.gauges, *rates);
            if !seen {
                gauges[VmGauge::Rss] = None;
                rates[Counter::Cpu] = None;
            }
            for &c in &unseen_vcpu_counters {
                rates[c] = None;
            }
            (gauges, rates)
        })
        .unzip()
}

/// Whether any VM shows a process: else no VM has CPU or memory lines.
fn processes_seen(samples: &[VmSample]) -> bool {
    samples.iter().any(|s| s.pid.is_some())
}

/// The vCPU counters no running VM has: no VM has their lines.
fn unseen_vcpu_counters(samples: &[VmSample]) -> Vec<Counter> {
    [Counter::Vcpu, Counter::Steal]
        .into_iter()
        .filter(|&c| !samples.iter().any(|s| s.running && s.counters[c].is_some()))
        .collect()
}

/// `PREFIXNAME : value` lines. An unknown value (or one NCV cannot read, like NaN) is `U`
/// for the extra-script, which wants every name; elsewhere the line is left out: NCV drops
/// what it cannot read anyway, and a missing line is a gap in the graph, as it should be.
fn group(prefix: &str, figures: &[(&str, Option<Figure>)], format: Format) -> String {
    let mut out = String::new();
    for (name, figure) in figures {
        if let Some(value) = written(*figure, format) {
            let _ = writeln!(out, "{prefix}{name} : {value}");
        }
    }
    out
}

/// A figure as its line writes it, `None` where the line is left out.
fn written(figure: Option<Figure>, format: Format) -> Option<String> {
    match figure {
        Some(Figure::Real(v)) if v.is_finite() => Some(number(v)),
        Some(Figure::Whole(v)) => Some(v.to_string()),
        _ if format == Format::RrdScript => Some("U".to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::emit::xymon::test_support::{rates_since, snapshot};
    use crate::model::{Process, State, Vm};
    use crate::rates::PreviousCounters;
    use std::time::Duration;

    /// SPLITNCV lines of two runs 300 s apart over the same VMs.
    fn second_run_lines(vms: Vec<Vm>) -> String {
        let snapshot = snapshot(vms);
        let samples: Vec<VmSample> = VmSample::all(&snapshot.vms);
        let before = PreviousCounters::new(snapshot.taken_at - Duration::from_secs(300), &samples);
        let rates = rates_since(&before, &snapshot);
        groups(&snapshot, &samples, &rates, Format::SplitNcv).concat()
    }

    #[test]
    fn pools_have_lines_of_their_own_but_not_in_ncv() {
        use crate::model::{Pool, PoolState};
        let mut s = snapshot(vec![Vm::new("a", State::Running)]);
        s.pools = vec![Pool {
            name: "images".into(),
            state: PoolState::Running,
            state_code: None,
            capacity: 400,
            allocation: 100,
            available: 100,
        }];
        let samples = VmSample::all(&s.vms);
        let rates = vec![[None; Counter::ALL.len()]];
        let split = groups(&s, &samples, &rates, Format::SplitNcv);
        assert_eq!(
            split.last().unwrap(),
            "pool_images_pct : 75\npool_images_size : 400\npool_images_free : 100\n"
        );
        let ncv = groups(&s, &samples, &rates, Format::Ncv).concat();
        assert!(!ncv.contains("pool"), "{ncv}");
    }

    #[test]
    fn an_off_vm_graphs_zero_cpu_and_memory_where_processes_are_seen() {
        let mut running = Vm::new("run", State::Running);
        running.process = Some(Process {
            pid: 7,
            ..Process::default()
        });
        let lines = second_run_lines(vec![running.clone(), Vm::new("off", State::Shutoff)]);
        for line in ["vm_off_cpu : 0\n", "vm_off_rss : 0\n", "vm_run_cpu : 0\n"] {
            assert!(lines.contains(line), "{line:?} missing from {lines}");
        }
        // No process anywhere (a remote URI): nobody's CPU or memory, no total either.
        running.process = None;
        let lines = second_run_lines(vec![running, Vm::new("off", State::Shutoff)]);
        for name in ["vm_off_cpu", "vm_off_rss", "all_cpu"] {
            assert!(!lines.contains(name), "{name} in {lines}");
        }
    }

    #[test]
    fn an_off_vm_graphs_zero_vcpu_and_steal_where_a_running_vm_has_them() {
        use crate::model::VcpuTimes;
        let mut running = Vm::new("run", State::Running);
        running.vcpu_times = VcpuTimes {
            time: Some(1_000_000_000),
            wait: None,
            delay: Some(10_000_000),
        };
        let lines = second_run_lines(vec![running.clone(), Vm::new("off", State::Shutoff)]);
        for line in [
            "vm_off_vcpu : 0\n",
            "vm_off_steal : 0\n",
            "vm_run_vcpu : 0\n",
        ] {
            assert!(lines.contains(line), "{line:?} missing from {lines}");
        }
        // No vCPU times anywhere (the test driver): no zeros for the off VM alone.
        running.vcpu_times = VcpuTimes::default();
        let lines = second_run_lines(vec![running, Vm::new("off", State::Shutoff)]);
        for name in ["vm_off_vcpu :", "vm_off_steal :"] {
            assert!(!lines.contains(name), "{name} in {lines}");
        }
    }
}
