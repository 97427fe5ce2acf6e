//! Checking a message line by line: [`parse`].

use std::collections::BTreeMap;

use super::message::{Parsed, Value};
use crate::text::{Shown, for_terminal};
use crate::xymon_wire::{
    Counter, DEFAULT_MAX_SIZE, END_MARKER, Format, MARKER_PREFIX, MAX_INTERVAL_SECS, MAX_KEY_LEN,
    PoolGauge, TotalGauge, VmGauge,
};

/// Larger than any message xymond passes on (it cuts them at 256 KiB).
pub(crate) const MAX_MESSAGE_FILE: u64 = 512 * 1024;

/// The most VMs one message from `hv_monitor xymon` can carry: its largest message
/// ([`DEFAULT_MAX_SIZE`], the top of `--max-size`) filled with the smallest VM groups it
/// makes (every metric, a one-character key, one-character values). A message with more is
/// not ours, and would make an RRD file per VM name: refused.
pub(crate) fn max_vms_per_message() -> usize {
    let smallest_group: usize = VmGauge::ALL
        .map(VmGauge::name)
        .into_iter()
        .chain(Counter::ALL.map(Counter::name))
        .map(|metric| "vm_x_".len() + metric.len() + " : U\n".len())
        .sum();
    DEFAULT_MAX_SIZE / smallest_group
}

/// Characters of hostile input an error message quotes (escaped as Rust does, so a quote in
/// it cannot close ours).
const SHOWN_MAX: usize = 60;

/// Checks a whole message; the error says what is wrong and on which line.
pub fn parse(bytes: &[u8], host: &str, column: &str) -> Result<Parsed, String> {
    if bytes.len() as u64 > MAX_MESSAGE_FILE {
        return Err(format!("{} bytes, too large", bytes.len()));
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(format!("binary data (a NUL byte at offset {at})"));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not text (invalid UTF-8 at byte {})", e.valid_up_to()))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    // Checked first: a message cut short would otherwise be reported by its broken last line.
    let has_end = lines.clone().any(|l| l == END_MARKER);

    let first = lines.next().unwrap_or("");
    check_first_line(first, host, column)?;
    let interval = parse_marker(lines.next().unwrap_or(""))?;
    if !has_end {
        return Err(format!(
            "no end marker '{END_MARKER}': the message was cut short (over Xymon's size limit?)"
        ));
    }

    let mut totals: Option<BTreeMap<&'static str, Value>> = None;
    let mut vms: Vec<(String, BTreeMap<&'static str, Value>)> = Vec::new();
    let mut vm_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut pools: Vec<(String, BTreeMap<&'static str, Value>)> = Vec::new();
    let mut pool_index: BTreeMap<String, usize> = BTreeMap::new();
    let max_vms = max_vms_per_message();
    let mut skipping = false;
    let mut ended = false;
    for (n, line) in lines.enumerate() {
        let line_no = n + 3;
        if ended {
            if line.trim().is_empty() {
                continue;
            }
            return Err(format!("line {line_no}: text after the end marker"));
        }
        match line {
            "" => {}
            "<!-- ncv_skipstart -->" => skipping = true,
            "<!-- ncv_skipend -->" => skipping = false,
            _ if skipping => {}
            END_MARKER => ended = true,
            _ => {
                let (object, metric, value) =
                    parse_line(line).map_err(|e| format!("line {line_no}: {e}"))?;
                let values = match object {
                    Object::Totals => totals.get_or_insert_with(BTreeMap::new),
                    Object::Vm(key) => {
                        if !vm_index.contains_key(&key) && vms.len() == max_vms {
                            return Err(format!(
                                "line {line_no}: more than {max_vms} VMs, the most one message \
                                 of `hv_monitor xymon` holds"
                            ));
                        }
                        let i = *vm_index.entry(key.clone()).or_insert_with(|| {
                            vms.push((key, BTreeMap::new()));
                            vms.len() - 1
                        });
                        &mut vms[i].1
                    }
                    // As many pools as VMs at most: each makes a file too.
                    Object::Pool(key) => {
                        if !pool_index.contains_key(&key) && pools.len() == max_vms {
                            return Err(format!(
                                "line {line_no}: more than {max_vms} storage pools"
                            ));
                        }
                        let i = *pool_index.entry(key.clone()).or_insert_with(|| {
                            pools.push((key, BTreeMap::new()));
                            pools.len() - 1
                        });
                        &mut pools[i].1
                    }
                };
                if values.insert(metric, value).is_some() {
                    return Err(format!("line {line_no}: a second value for the same name"));
                }
            }
        }
    }
    // An end marker hidden in a skipped block does not count.
    if !ended {
        return Err(format!(
            "no end marker '{END_MARKER}' outside the skipped text"
        ));
    }
    Ok(Parsed {
        interval,
        totals,
        vms,
        pools,
    })
}

/// `status[+LIFETIME][/group:G] HOST.TEST COLOUR ...` or `data HOST.TEST`, for our HOST/TEST.
fn check_first_line(first: &str, host: &str, column: &str) -> Result<(), String> {
    let mut words = first.split(' ');
    let verb = words.next().unwrap_or("");
    if !(verb == "data"
        || verb == "status"
        || verb.starts_with("status+")
        || verb.starts_with("status/"))
    {
        return Err(format!(
            "line 1: not a status or data message (starts with '{}')",
            for_terminal(verb, Shown::chars(SHOWN_MAX).rust_escaped())
        ));
    }
    let target = words.next().unwrap_or("");
    let Some((msg_host, msg_column)) = target.rsplit_once('.') else {
        return Err(format!(
            "line 1: '{}' is not HOST.TEST",
            for_terminal(target, Shown::chars(SHOWN_MAX).rust_escaped())
        ));
    };
    if msg_column != column {
        return Err(format!(
            "line 1: the message is for test '{}', we were called for '{column}'",
            for_terminal(msg_column, Shown::chars(SHOWN_MAX).rust_escaped())
        ));
    }
    if msg_host.replace(',', ".") != host.replace(',', ".") {
        return Err(format!(
            "line 1: the message is for host '{}', we were called for '{}'",
            for_terminal(msg_host, Shown::chars(SHOWN_MAX).rust_escaped()),
            for_terminal(host, Shown::chars(SHOWN_MAX).rust_escaped())
        ));
    }
    Ok(())
}

/// `<!-- hvmon v1 rrd-script interval SECONDS -->`: ours, this version, the right format.
fn parse_marker(line: &str) -> Result<u64, String> {
    let Some(rest) = line
        .strip_prefix(MARKER_PREFIX)
        .and_then(|r| r.strip_suffix(" -->"))
    else {
        return Err(
            "line 2: no hv_monitor marker: not a message from `hv_monitor xymon` (or another version)"
                .into(),
        );
    };
    let words: Vec<&str> = rest.split(' ').collect();
    match words.as_slice() {
        [format, "interval", seconds] => {
            if Format::from_name(format) != Some(Format::RrdScript) {
                return Err(format!(
                    "line 2: the message is in '{}' form; the extra-script reads only \
                     `hv_monitor xymon --format rrd-script`",
                    for_terminal(format, Shown::chars(SHOWN_MAX).rust_escaped())
                ));
            }
            match seconds.parse::<u64>() {
                Ok(s) if (1..=MAX_INTERVAL_SECS).contains(&s) => Ok(s),
                _ => Err(format!(
                    "line 2: interval '{}' is not 1..{MAX_INTERVAL_SECS} seconds",
                    for_terminal(seconds, Shown::chars(SHOWN_MAX).rust_escaped())
                )),
            }
        }
        _ => Err("line 2: malformed hv_monitor marker".into()),
    }
}

enum Object {
    Totals,
    Vm(String),
    Pool(String),
}

/// `all_METRIC : VALUE`, `vm_KEY_METRIC : VALUE` or `pool_KEY_METRIC : VALUE` (gauges
/// only), nothing else on the line.
fn parse_line(line: &str) -> Result<(Object, &'static str, Value), String> {
    let Some((name, value)) = line.split_once(" : ") else {
        return Err(format!(
            "not 'NAME : VALUE': '{}'",
            for_terminal(line, Shown::chars(SHOWN_MAX).rust_escaped())
        ));
    };
    let Some((object, metric)) = name.rsplit_once('_') else {
        return Err(format!(
            "unknown name '{}'",
            for_terminal(name, Shown::chars(SHOWN_MAX).rust_escaped())
        ));
    };
    let (object, gauges, counters) = if object == "all" {
        (
            Object::Totals,
            TotalGauge::ALL.map(TotalGauge::name).to_vec(),
            &Counter::HOST[..],
        )
    } else if let Some(key) = object.strip_prefix("vm_").filter(|k| valid_key(k)) {
        (
            Object::Vm(key.to_string()),
            VmGauge::ALL.map(VmGauge::name).to_vec(),
            &Counter::ALL[..],
        )
    } else if let Some(key) = object.strip_prefix("pool_").filter(|k| valid_key(k)) {
        let Some(gauge) = PoolGauge::ALL
            .map(PoolGauge::name)
            .into_iter()
            .find(|g| *g == metric)
        else {
            return Err(format!(
                "unknown pool metric '{}'",
                for_terminal(metric, Shown::chars(SHOWN_MAX).rust_escaped())
            ));
        };
        return Ok((Object::Pool(key.to_string()), gauge, parse_gauge(value)?));
    } else {
        return Err(format!(
            "unknown name '{}'",
            for_terminal(name, Shown::chars(SHOWN_MAX).rust_escaped())
        ));
    };
    if let Some(gauge) = gauges.into_iter().find(|g| *g == metric) {
        Ok((object, gauge, parse_gauge(value)?))
    } else if let Some(counter) = counters.iter().find(|c| c.name() == metric) {
        Ok((object, counter.name(), parse_counter(value)?))
    } else {
        Err(format!(
            "unknown metric '{}'",
            for_terminal(metric, Shown::chars(SHOWN_MAX).rust_escaped())
        ))
    }
}

/// What [`crate::xymon_wire::vm_key`] can produce: `[A-Za-z0-9]` runs joined by single `_`.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .split('_')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn parse_gauge(v: &str) -> Result<Value, String> {
    if v == "U" {
        return Ok(Value::Unknown);
    }
    let plain = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    match v.parse::<f64>() {
        Ok(x) if plain && x.is_finite() => Ok(Value::Gauge(x)),
        _ => Err(format!(
            "'{}' is not a number",
            for_terminal(v, Shown::chars(SHOWN_MAX).rust_escaped())
        )),
    }
}

fn parse_counter(v: &str) -> Result<Value, String> {
    if v == "U" {
        return Ok(Value::Unknown);
    }
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{}' is not a counter (a whole number)",
            for_terminal(v, Shown::chars(SHOWN_MAX).rust_escaped())
        ));
    }
    v.parse::<u64>().map(Value::Counter).map_err(|_| {
        format!(
            "'{}' is too large for a counter",
            for_terminal(v, Shown::chars(SHOWN_MAX).rust_escaped())
        )
    })
}
