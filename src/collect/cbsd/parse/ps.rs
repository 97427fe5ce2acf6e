//! `ps -o`: the bhyve processes.

use super::{Parsed, count_cell, float_cell, is_blank, quote, signed_cell};
use crate::model::Process;

/// The `ps -o` keywords we ask for, in this order; [`parse_ps`] reads them by position.
pub const PS_KEYWORDS: &str = "pid,%cpu,etimes,%mem,cow,majflt,minflt,nice,nivcsw,nswap,nvcsw,inblk,oublk,pri,rss,systime,usertime,vsz";

/// The bhyve processes from `ps -o` `PS_KEYWORDS` `-p PID,...`: `rss` and `vsz` in bytes (ps
/// prints KiB), CPU times in seconds, `pcpu` as ps's own decaying %CPU.
pub fn parse_ps(text: &str) -> Parsed<Process> {
    let columns = PS_KEYWORDS.split(',').count();
    let mut out = Parsed::default();
    for (i, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        // FreeBSD ps prints a header line `PID %CPU ELAPSED ...` first.
        if cells.first().is_none_or(|first| *first == "PID") {
            continue;
        }
        match ps_row(&cells, columns) {
            Ok(row) => out.rows.push(row),
            Err(what) => out
                .problems
                .push(format!("ps line {}: {what}: '{}'", i + 1, quote(line))),
        }
    }
    out
}

fn ps_row(cells: &[&str], columns: usize) -> Result<Process, String> {
    if cells.len() != columns {
        return Err(format!("{} fields, expected {columns}", cells.len()));
    }
    let count = |i: usize, name: &str| {
        count_cell(cells[i]).ok_or_else(|| format!("{name} is not a number"))
    };
    let signed = |i: usize, name: &str| {
        signed_cell(cells[i]).ok_or_else(|| format!("{name} is not a number"))
    };
    let float = |i: usize, name: &str| {
        float_cell(cells[i]).ok_or_else(|| format!("{name} is not a number"))
    };
    let time = |i: usize, name: &str| {
        parse_cpu_time(cells[i]).ok_or_else(|| format!("{name} is not a time"))
    };
    Ok(Process {
        pid: cells[0].parse().map_err(|_| "pid is not a number")?,
        pcpu: float(1, "%cpu")?,
        etimes: count(2, "etimes")?,
        pmem: float(3, "%mem")?,
        cow: count(4, "cow")?,
        majflt: count(5, "majflt")?,
        minflt: count(6, "minflt")?,
        nice: signed(7, "nice")?,
        nivcsw: count(8, "nivcsw")?,
        nswap: count(9, "nswap")?,
        nvcsw: count(10, "nvcsw")?,
        inblk: count(11, "inblk")?,
        oublk: count(12, "oublk")?,
        pri: signed(13, "pri")?,
        rss: count(14, "rss")?.saturating_mul(1024),
        systime: time(15, "systime")?,
        usertime: time(16, "usertime")?,
        vsz: count(17, "vsz")?.saturating_mul(1024),
    })
}

/// A CPU or elapsed time as `ps` prints it: `[[d-]h:]m:ss[.frac]`, `ss[.frac]`; FreeBSD's
/// `systime`/`usertime` print `M:SS.hh` with minutes past 59. Seconds.
pub fn parse_cpu_time(cell: &str) -> Option<f64> {
    if is_blank(cell) {
        return Some(0.0);
    }
    let (days, clock) = match cell.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, cell),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let (seconds, whole) = parts.split_last()?;
    let seconds = float_cell(seconds)?;
    let mut total = 0.0;
    for part in whole {
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        total = total * 60.0 + part.parse::<f64>().ok()?;
    }
    // A few hundred digits parse as an infinite f64: no time at all, not an endless one.
    #[allow(clippy::cast_precision_loss)] // days past 2^53 are nonsense either way
    let total = days as f64 * 86_400.0 + total * 60.0 + seconds;
    (seconds >= 0.0 && total.is_finite()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_in_every_ps_form() {
        assert_eq!(parse_cpu_time("0:01.25"), Some(1.25));
        assert_eq!(parse_cpu_time("125:07.50"), Some(7507.5));
        assert_eq!(parse_cpu_time("1:02:03.00"), Some(3723.0));
        assert_eq!(parse_cpu_time("2-01:00:00"), Some(2.0 * 86_400.0 + 3600.0));
        assert_eq!(
            parse_cpu_time("42.5"),
            Some(42.5),
            "no colon: plain seconds"
        );
        assert_eq!(parse_cpu_time("0:01,25"), Some(1.25));
        assert_eq!(parse_cpu_time("-"), Some(0.0));
        assert_eq!(parse_cpu_time("1::2"), None);
        assert_eq!(parse_cpu_time("a:01.00"), None);
        assert_eq!(parse_cpu_time("1:2:3:4"), None);
        assert_eq!(parse_cpu_time(&format!("{}:00", "9".repeat(400))), None);
    }
}
