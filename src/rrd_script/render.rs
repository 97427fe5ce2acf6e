//! The lines xymond_rrd reads for a checked message: [`render`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::message::{Parsed, Value};
use crate::xymon_wire::{Counter, DERIVE, GAUGE, PoolGauge, TotalGauge, VmGauge, number};

/// The DS/file/values lines xymond_rrd reads; no blank line (it breaks xymond_rrd's parser).
pub fn render(parsed: &Parsed, column: &str) -> String {
    // xymond_rrd creates RRDs with a 300 s step: a heartbeat under that would make every
    // point unknown. Two intervals tolerate one lost message.
    let heartbeat = (2 * parsed.interval).max(600);
    let mut out = String::new();
    let ds_set = |out: &mut String, gauges: &[&str], counters: &[&str]| {
        for g in gauges {
            let _ = writeln!(out, "DS:{g}:{GAUGE}:{heartbeat}:0:U");
        }
        for c in counters {
            let _ = writeln!(out, "DS:{c}:{DERIVE}:{heartbeat}:0:U");
        }
    };
    let values = |out: &mut String, names: &[&str], values: &BTreeMap<&'static str, Value>| {
        let all: Vec<String> = names
            .iter()
            .map(|m| match values.get(m) {
                Some(Value::Gauge(x)) => number(*x),
                Some(Value::Counter(c)) => c.to_string(),
                Some(Value::Unknown) | None => "U".to_string(),
            })
            .collect();
        let _ = writeln!(out, "{}", all.join(":"));
    };
    let host_counters = Counter::HOST.map(Counter::name);
    if let Some(totals) = &parsed.totals {
        let gauges = TotalGauge::ALL.map(TotalGauge::name);
        ds_set(&mut out, &gauges, &host_counters);
        // Not "{column},...": Xymon's trends page graphs a file under the GRAPHS entry that is
        // its name's prefix up to "," or ".", and the VMs' files already take "{column}".
        let _ = writeln!(out, "{column}-states.rrd");
        values(&mut out, &[&gauges[..], &host_counters].concat(), totals);
    }
    // Each VM's main file, then its guest file ("{column}-guest,...": its own trends entry).
    let files = [
        (
            format!("{column},"),
            VmGauge::MAIN.map(VmGauge::name).to_vec(),
            host_counters.to_vec(),
        ),
        (
            format!("{column}-guest,"),
            VmGauge::GUEST.map(VmGauge::name).to_vec(),
            Counter::GUEST.map(Counter::name).to_vec(),
        ),
    ];
    if !parsed.vms.is_empty() {
        for (prefix, gauges, counters) in &files {
            ds_set(&mut out, gauges, counters);
            for (key, v) in &parsed.vms {
                let _ = writeln!(out, "{prefix}vm_{key}.rrd");
                values(&mut out, &[&gauges[..], counters].concat(), v);
            }
        }
    }
    if !parsed.pools.is_empty() {
        let gauges = PoolGauge::ALL.map(PoolGauge::name);
        ds_set(&mut out, &gauges, &[]);
        for (key, v) in &parsed.pools {
            let _ = writeln!(out, "{column},pool_{key}.rrd");
            values(&mut out, &gauges, v);
        }
    }
    out
}
