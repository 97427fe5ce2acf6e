//! The overview above the VM table: the VM counts by state and reason, the host's totals,
//! and the short table of the VMs that matter now (in trouble, then the heaviest).

use std::fmt::Write as _;

use super::{Rates, cpu_column, cpu_shown};
use crate::emit::xymon::colour::{Finding, Subject};
use crate::model::{Reason, Snapshot, Totals, Vm};
use crate::xymon_wire::{Counter, TotalGauge, total_gauges};

/// VMs in trouble listed in the top table; the problems above list them all.
pub(super) const TOP_TROUBLE_MAX: usize = 10;
/// The heaviest VMs listed in the top table by each of CPU, disk and network.
pub(super) const TOP_HEAVY: usize = 5;

/// A rate of bytes for humans: `512 B/s`, `1.5 MiB/s`.
pub(super) fn bytes_per_second(v: f64) -> String {
    format!("{}/s", bytes_shown(v))
}

/// A size for humans: `512 B`, `1.5 GiB`.
pub(super) fn bytes_shown(v: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = v;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The VM counts by state group, each group but running with its reasons where libvirt
/// gives one: `500 VMs: 300 running, 2 paused (1 I/O error, 1 user), 100 off`.
pub(super) fn state_counts(snapshot: &Snapshot) -> String {
    let groups = [
        TotalGauge::Running,
        TotalGauge::Paused,
        TotalGauge::Off,
        TotalGauge::Crashed,
        TotalGauge::Other,
    ];
    let mut parts = Vec::new();
    for group in groups {
        let vms: Vec<&Vm> = (snapshot.vms.iter())
            .filter(|vm| TotalGauge::state_group(vm.state) == group)
            .collect();
        if vms.is_empty()
            && !matches!(
                group,
                TotalGauge::Running | TotalGauge::Paused | TotalGauge::Off
            )
        {
            continue;
        }
        let mut part = format!("{} {}", vms.len(), group.name());
        let mut reasons: Vec<(&str, usize)> = Vec::new();
        for vm in &vms {
            let text = match vm.reason.kind {
                Reason::Unknown => "no reason given",
                kind => kind.text(),
            };
            match reasons.iter_mut().find(|(r, _)| *r == text) {
                Some((_, n)) => *n += 1,
                None => reasons.push((text, 1)),
            }
        }
        if group != TotalGauge::Running && reasons.iter().any(|(r, _)| *r != "no reason given") {
            reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let list: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
            let _ = write!(part, " ({})", list.join(", "));
        }
        parts.push(part);
    }
    format!("{} VMs: {}", snapshot.vms.len(), parts.join(", "))
}

/// The host's totals: vCPUs and memory of all VMs, and their rates where known.
pub(super) fn host_totals(snapshot: &Snapshot, rates: Rates) -> String {
    let totals = total_gauges(&Totals::of(&snapshot.vms));
    let mut out = format!(
        "Host: {} vCPUs, {} memory given to VMs",
        totals[TotalGauge::Vcpus].unwrap_or(0.0),
        bytes_shown(totals[TotalGauge::Mem].unwrap_or(0.0))
    );
    if let Some(rss) =
        totals[TotalGauge::Rss].filter(|_| snapshot.vms.iter().any(|vm| vm.process.is_some()))
    {
        let _ = write!(out, ", {} resident", bytes_shown(rss));
    }
    out.push('\n');
    let sum = |c: Counter| {
        let known: Vec<f64> = (0..snapshot.vms.len())
            .filter_map(|i| rates.of(i, c))
            .collect();
        (!known.is_empty()).then(|| known.iter().sum::<f64>())
    };
    match rates {
        Rates::Raw => out.push_str(
            "      rates: not computed in the rrd-script form (rrdtool takes them; see the graphs)\n",
        ),
        Rates::NotYet => out.push_str(
            "      rates: none yet (first run, or the last run's counters were lost); the next run has them\n",
        ),
        Rates::Between => out.push_str(
            "      rates: with the next interval's report (this status was sent on a VM change)\n",
        ),
        Rates::PerVm(_) => {
            let mut parts = Vec::new();
            // Off VMs' rates are 0: they say nothing of whether the running ones have one.
            let running = |i: usize| snapshot.vms[i].state.has_process();
            let cpu_known =
                (0..snapshot.vms.len()).any(|i| running(i) && rates.of(i, Counter::Cpu).is_some());
            if cpu_known || !(0..snapshot.vms.len()).any(running) {
                let cpu = sum(Counter::Cpu).unwrap_or(0.0);
                parts.push(format!("CPU {cpu:.1} % of one core"));
            } else {
                parts.push("CPU unknown (libvirt gave no CPU time for the running VMs)".into());
            }
            if let (Some(r), Some(w)) = (sum(Counter::RBytes), sum(Counter::WBytes)) {
                parts.push(format!(
                    "disk {} read, {} written",
                    bytes_per_second(r),
                    bytes_per_second(w)
                ));
            }
            if let (Some(i), Some(o)) = (sum(Counter::NetIn), sum(Counter::NetOut)) {
                parts.push(format!(
                    "network {} in, {} out",
                    bytes_per_second(i),
                    bytes_per_second(o)
                ));
            }
            if parts.is_empty() {
                parts.push("no VM has rates".into());
            }
            let _ = writeln!(out, "      {}", parts.join("; "));
        }
    }
    out
}

/// The VMs that matter now, in order: those with a finding (worst first, at most
/// [`TOP_TROUBLE_MAX`]), then the heaviest [`TOP_HEAVY`] by CPU, by disk and by network
/// rate (none without a rate above 0). Each with why it is listed.
pub(super) fn top_vms(
    snapshot: &Snapshot,
    findings: &[Finding],
    rates: Rates,
) -> Vec<(usize, String)> {
    let mut listed: Vec<(usize, String)> = Vec::new();
    for f in findings {
        if let Subject::Vm(i) = f.subject
            && !listed.iter().any(|(j, _)| *j == i)
            && listed.len() < TOP_TROUBLE_MAX
        {
            listed.push((i, f.colour.name().to_string()));
        }
    }
    let heavy = [
        ("CPU", Counter::Cpu, None),
        ("disk", Counter::RBytes, Some(Counter::WBytes)),
        ("net", Counter::NetIn, Some(Counter::NetOut)),
    ];
    for (what, first, second) in heavy {
        let rate = |i| match second {
            Some(second) => rates.pair(i, first, second),
            None => rates.of(i, first),
        };
        let mut by: Vec<(usize, f64)> = (0..snapshot.vms.len())
            .filter_map(|i| rate(i).filter(|r| *r > 0.0).map(|r| (i, r)))
            .collect();
        by.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (i, _) in by.into_iter().take(TOP_HEAVY) {
            match listed.iter_mut().find(|(j, _)| *j == i) {
                Some((_, why)) if why.starts_with("top ") => {
                    let _ = write!(why, ", {what}");
                }
                Some(_) => {}
                None => listed.push((i, format!("top {what}"))),
            }
        }
    }
    listed
}

/// The top table: why each VM is listed, its state and its rates; empty when no VM is
/// listed.
pub(super) fn top_table(
    snapshot: &Snapshot,
    names: &[String],
    states: &[String],
    listed: &[(usize, String)],
    rates: Rates,
) -> String {
    if listed.is_empty() {
        return String::new();
    }
    let width = (listed.iter())
        .map(|(i, _)| names[*i].chars().count())
        .max()
        .unwrap_or(2)
        .clamp(2, 40);
    let why_width = listed
        .iter()
        .map(|(_, w)| w.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let state_width = listed
        .iter()
        .map(|(i, _)| states[*i].len())
        .max()
        .unwrap_or(5)
        .max(5);
    let with_rates = matches!(rates, Rates::PerVm(_));
    // Where no VM has a CPU rate the column would be all "-": the host's line says why.
    let with_cpu = with_rates && cpu_column(snapshot, rates);
    let mut out = format!(
        "{:<why_width$}  {:<width$}  {:<state_width$}",
        "WHY", "VM", "STATE"
    );
    if with_rates {
        if with_cpu {
            let _ = write!(out, " {:>7}", "CPU %");
        }
        let _ = write!(
            out,
            " {:>11} {:>11} {:>11} {:>11}",
            "DISK READ", "DISK WRITE", "NET IN", "NET OUT"
        );
    }
    out.push('\n');
    for (i, why) in listed {
        let _ = write!(
            out,
            "{why:<why_width$}  {:<width$}  {:<state_width$}",
            names[*i], states[*i]
        );
        if with_rates {
            if with_cpu {
                let cpu = cpu_shown(&snapshot.vms[*i], rates.of(*i, Counter::Cpu));
                let _ = write!(out, " {cpu:>7}");
            }
            let b = |c| rates.of(*i, c).map_or("-".to_string(), bytes_per_second);
            let _ = write!(
                out,
                " {:>11} {:>11} {:>11} {:>11}",
                b(Counter::RBytes),
                b(Counter::WBytes),
                b(Counter::NetIn),
                b(Counter::NetOut)
            );
        }
        out.push('\n');
    }
    out
}
