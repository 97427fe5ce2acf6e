//! The "NAME : value" lines xymond_rrd turns into graphs, in groups that are never split
//! across messages: the host totals, then one group per VM.

use std::fmt::Write as _;

use super::metrics::{Counter, TotalGauge, VmGauge, VmSample, total_counters, total_gauges};
use super::settings::Format;
use crate::model::{Snapshot, Totals};
use crate::rates::{CounterRates, display_rates, total_rates};

/// One value as it goes into a line.
#[derive(Debug, Clone, Copy)]
enum Figure {
    Real(f64),
    Whole(u64),
}

/// The groups of graph lines for one snapshot: the totals, then (but for NCV) one per VM.
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

pub fn groups(
    snapshot: &Snapshot,
    samples: &[VmSample],
    rates: &[CounterRates],
    format: Format,
) -> Vec<String> {
    let gauges = total_gauges(&Totals::of(&snapshot.vms));
    let gauges = TotalGauge::ALL.map(|g| (g.name(), gauges[g].map(Figure::Real)));
    let totals: Vec<(&str, Option<Figure>)> = match format {
        Format::RrdScript => {
            let counters = total_counters(samples);
            let counters = Counter::ALL.map(|c| (c.name(), counters[c].map(Figure::Whole)));
            gauges.into_iter().chain(counters).collect()
        }
        Format::SplitNcv | Format::Ncv => {
            let shown = display_rates(&split_totals(format, rates));
            let rates = Counter::ALL.map(|c| (c.rate_name(), shown[c].map(Figure::Real)));
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
    let mut out = vec![group(prefix, &totals, format)];
    if format == Format::Ncv {
        return out;
    }
    for (sample, rates) in samples.iter().zip(rates) {
        let gauges = VmGauge::ALL.map(|g| (g.name(), sample.gauges[g].map(Figure::Real)));
        let figures: Vec<(&str, Option<Figure>)> = if format == Format::RrdScript {
            let counters = Counter::ALL.map(|c| (c.name(), sample.counters[c].map(Figure::Whole)));
            gauges.into_iter().chain(counters).collect()
        } else {
            let shown = display_rates(rates);
            let rates = Counter::ALL.map(|c| (c.rate_name(), shown[c].map(Figure::Real)));
            gauges.into_iter().chain(rates).collect()
        };
        out.push(group(&format!("vm_{}_", sample.key), &figures, format));
    }
    out
}

/// `PREFIXNAME : value` lines. An unknown value (or one NCV cannot read, like NaN) is `U`
/// for the extra-script, which wants every name; elsewhere the line is left out: NCV drops
/// what it cannot read anyway, and a missing line is a gap in the graph, as it should be.
fn group(prefix: &str, figures: &[(&str, Option<Figure>)], format: Format) -> String {
    let mut out = String::new();
    for (name, figure) in figures {
        let value = match figure {
            Some(Figure::Real(v)) if v.is_finite() => number(*v),
            Some(Figure::Whole(v)) => v.to_string(),
            _ if format == Format::RrdScript => "U".to_string(),
            _ => continue,
        };
        let _ = writeln!(out, "{prefix}{name} : {value}");
    }
    out
}

/// A number NCV reads whole: no exponent (Rust never writes one for f64), integers without a
/// fraction, others with at most 3 decimals.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_never_use_exponents() {
        assert_eq!(number(8589934592.0), "8589934592");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1.23456), "1.235");
        assert_eq!(number(1e20), "100000000000000000000");
        assert_eq!(number(0.0001), "0");
    }
}
