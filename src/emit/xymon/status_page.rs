//! The human part of the status message: the summary after the date, problems with Xymon's
//! colour icons, a table of VMs and one of storage pools, and the collection's warnings, all
//! within a byte budget.

use std::fmt::Write as _;

use super::colour::{Colour, Finding, Subject};
use crate::model::{Agent, Snapshot, Totals, Vm};
use crate::text::{for_status_page, within_bytes};
use crate::xymon_wire::{Counter, CounterRates, TotalGauge, total_gauges, vm_key};

/// The first line's free text, after the date.
pub fn summary(snapshot: &Snapshot) -> String {
    let totals = total_gauges(&Totals::of(&snapshot.vms));
    let count = |g: TotalGauge| totals[g].unwrap_or(0.0);
    let mut s = format!(
        "{} VMs: {} running, {} paused, {} off",
        snapshot.vms.len(),
        count(TotalGauge::Running),
        count(TotalGauge::Paused),
        count(TotalGauge::Off)
    );
    for extra in [TotalGauge::Crashed, TotalGauge::Other] {
        if count(extra) > 0.0 {
            let _ = write!(s, ", {} {}", count(extra), extra.name());
        }
    }
    if let Some(f) = &snapshot.filtered {
        let _ = write!(s, "; {} more left out by --vm/--exclude", f.left_out);
    }
    s
}

/// Room kept for each "N more ... not listed" line.
const MORE_LINE_MAX: usize = 160;
/// Characters of a VM name shown in full; a longer one is cut and followed by its key.
const NAME_SHOWN_MAX: usize = 64;
/// Characters of one collection warning or collector error shown.
const NOTE_SHOWN_MAX: usize = 300;

/// Characters of a guest's host name and OS shown in the table.
const AGENT_SHOWN_MAX: usize = 48;

/// The table's `GUEST HOSTNAME, OS` column: the host name and OS the guest agent gives
/// (short, escaped), whether the agent did not answer, or `-`.
fn agent_shown(agent: &Agent) -> String {
    match agent {
        Agent::Answered(info) => {
            let text = format!("{} {}", info.hostname, info.os);
            let text = text.trim();
            for_status_page(
                if text.is_empty() { "-" } else { text },
                Some(AGENT_SHOWN_MAX),
                None,
            )
        }
        Agent::NoAnswer => "(agent did not answer)".into(),
        Agent::Absent | Agent::NotAsked => "-".into(),
    }
}

/// The status text of a failed collection, at most `budget` bytes.
pub fn failure_text(error: &str, budget: usize) -> String {
    let lead = "&red hv_monitor could not collect VM figures: ";
    let room = budget.saturating_sub(lead.len() + 1);
    format!(
        "{lead}{}\n",
        for_status_page(error, Some(NOTE_SHOWN_MAX), Some(room))
    )
}

/// A VM name as the status page shows it: escaped, and at most [`NAME_SHOWN_MAX`]
/// characters followed by its key (which tells two long names apart and names its graphs).
fn shown_name(name: &str) -> String {
    if name.chars().count() <= NAME_SHOWN_MAX {
        for_status_page(name, None, None)
    } else {
        let head: String = name.chars().take(NAME_SHOWN_MAX - 16).collect();
        format!(
            "{}... (key {})",
            for_status_page(&head, None, None),
            vm_key(name)
        )
    }
}

/// Appends `lines` while they fit in `budget` bytes, then `more(left out)` if any were left
/// out (that line is not counted: callers keep [`MORE_LINE_MAX`] for it). Returns the bytes
/// of `lines` written.
fn push_within(
    out: &mut String,
    lines: impl ExactSizeIterator<Item = String>,
    budget: usize,
    more: impl FnOnce(usize) -> String,
) -> usize {
    let total = lines.len();
    let mut used = 0;
    let mut listed = 0;
    for line in lines {
        if used + line.len() > budget {
            break;
        }
        used += line.len();
        listed += 1;
        out.push_str(&line);
    }
    if listed < total {
        out.push_str(within_bytes(&more(total - listed), MORE_LINE_MAX));
    }
    used
}

/// The human part of the status page, at most `budget` bytes: problems with Xymon's colour
/// icons (worst first), a table of VMs, the collection's warnings. On a host with thousands
/// of VMs in trouble each part lists what fits, the worst first, and says how many it left
/// out: the problems get at most half, the warnings a quarter of the rest, the table the
/// remainder, listing the VMs with problems first.
pub fn status_text(
    snapshot: &Snapshot,
    findings: &[Finding],
    rates: &[CounterRates],
    budget: usize,
) -> String {
    let names: Vec<String> = snapshot.vms.iter().map(|vm| shown_name(&vm.name)).collect();
    let pool_names: Vec<String> = snapshot.pools.iter().map(|p| shown_name(&p.name)).collect();
    let subject = |s: Subject| match s {
        Subject::Vm(i) => names[i].clone(),
        Subject::Pool(i) => format!("pool {}", pool_names[i]),
    };
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(2)
        .clamp(2, 40);
    let states: Vec<String> = snapshot.vms.iter().map(Vm::state_text).collect();
    let state_width = states.iter().map(String::len).max().unwrap_or(0).max(11);
    let ips: Vec<String> = snapshot
        .vms
        .iter()
        .map(|vm| for_status_page(if vm.ip.is_empty() { "-" } else { &vm.ip }, Some(45), None))
        .collect();
    let ip_width = ips.iter().map(String::len).max().unwrap_or(0).max(2);
    let header = format!(
        "<pre>\n{:<width$}  {:<state_width$} {:<9} {:>5} {:>10} {:>9} {:>7} {:<ip_width$} {}\n",
        "VM",
        "STATE",
        "AUTOSTART",
        "VCPUS",
        "MEMORY MiB",
        "GUEST MiB",
        "CPU %",
        "IP",
        "GUEST HOSTNAME, OS"
    );
    let version = format!(
        "hv_monitor {} ({} backend)\n",
        env!("CARGO_PKG_VERSION"),
        snapshot.backend
    );
    // Totals and counts cover the chosen VMs only: the page says which.
    let filter = snapshot.filtered.as_ref().map_or_else(String::new, |f| {
        format!(
            "VMs reported: only those chosen by {} ({} left out)\n",
            for_status_page(&f.rules, Some(NOTE_SHOWN_MAX), None),
            f.left_out
        )
    });
    let all_well = "&green all VMs as expected\n";
    let mut room = budget.saturating_sub(
        header.len()
            + "</pre>\n".len()
            + version.len()
            + filter.len()
            + all_well.len()
            + 3 * MORE_LINE_MAX,
    );

    let mut problems = String::new();
    if findings.is_empty() {
        problems.push_str(all_well);
    }
    let icon = |colour: Colour| match colour {
        Colour::Red => "&red",
        Colour::Yellow => "&yellow",
        Colour::Green => "&green",
    };
    let lines = findings
        .iter()
        .map(|f| format!("{} {}: {}\n", icon(f.colour), subject(f.subject), f.what));
    room -= push_within(&mut problems, lines, room / 2, |left| {
        let worst = findings[findings.len() - left].colour;
        format!(
            "{} {left} more VMs with problems not listed: the status would not fit in one Xymon message\n",
            icon(worst)
        )
    });

    let mut warnings = String::new();
    let shown = |kind: &str, text: &str| {
        format!(
            "{kind}: {}\n",
            for_status_page(text, Some(NOTE_SHOWN_MAX), None)
        )
    };
    let lines: Vec<String> = (snapshot.warnings.iter().map(|w| shown("warning", w)))
        .chain(snapshot.notes.iter().map(|n| shown("note", n)))
        .collect();
    let lines = lines.into_iter();
    room -= push_within(&mut warnings, lines, room / 4, |left| {
        format!("({left} more warnings not listed)\n")
    });

    let row = |i: usize| {
        let vm = &snapshot.vms[i];
        let autostart = match vm.autostart {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let cpu = rates[i][Counter::Cpu].map_or("-".to_string(), |r| format!("{r:.1}"));
        // In use inside the guest, where its balloon driver says.
        let guest_used = vm
            .guest_memory
            .used()
            .map_or("-".to_string(), |b| (b >> 20).to_string());
        format!(
            "{:<width$}  {:<state_width$} {:<9} {:>5} {:>10} {:>9} {:>7} {:<ip_width$} {}\n",
            names[i],
            states[i],
            autostart,
            vm.cpus,
            vm.mem_alloc >> 20,
            guest_used,
            cpu,
            ips[i],
            agent_shown(&vm.agent)
        )
    };
    let all: Vec<usize> = (0..snapshot.vms.len()).collect();
    let full_size: usize = all.iter().map(|&i| row(i).len()).sum();
    let order: Vec<usize> = if full_size <= room {
        all
    } else {
        let mut flagged = vec![false; snapshot.vms.len()];
        let mut first = Vec::new();
        for f in findings {
            if let Subject::Vm(i) = f.subject
                && !flagged[i]
            {
                flagged[i] = true;
                first.push(i);
            }
        }
        let rest = (0..snapshot.vms.len()).filter(|&i| !flagged[i]);
        first.into_iter().chain(rest).collect()
    };
    let pool_table = pool_table(snapshot, &pool_names);
    let mut out = problems;
    out.push_str(&header);
    let vm_room = room.saturating_sub(pool_table.len().min(room / 4));
    let used = push_within(&mut out, order.into_iter().map(row), vm_room, |left| {
        format!(
            "({left} more VMs not listed: the table would not fit in one Xymon message; problems are listed first)\n"
        )
    });
    if !pool_table.is_empty() {
        let left = room - used;
        if pool_table.len() <= left {
            out.push_str(&pool_table);
        } else {
            out.push_str(within_bytes(
                "(the storage pools would not fit in one Xymon message; their problems are listed above)\n",
                MORE_LINE_MAX,
            ));
        }
    }
    out.push_str("</pre>\n");
    out.push_str(&warnings);
    out.push_str(&filter);
    out.push_str(&version);
    out
}

/// The storage pools' rows under the VM table, with a header; empty without pools.
fn pool_table(snapshot: &Snapshot, names: &[String]) -> String {
    if snapshot.pools.is_empty() {
        return String::new();
    }
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    let mut out = format!(
        "\n{:<width$}  {:<12} {:>10} {:>10} {:>6}\n",
        "POOL", "STATE", "SIZE MiB", "FREE MiB", "USED %"
    );
    for (pool, name) in snapshot.pools.iter().zip(names) {
        let used = pool
            .used_percent()
            .map_or("-".to_string(), |u| format!("{u:.1}"));
        let _ = writeln!(
            out,
            "{name:<width$}  {:<12} {:>10} {:>10} {used:>6}",
            pool.state.name(),
            pool.capacity >> 20,
            pool.available >> 20,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_names_on_one_line_and_out_of_html() {
        let escape = |s| for_status_page(s, None, None);
        assert_eq!(escape("a\nb<c>&"), "a\\x0ab&lt;c&gt;&amp;");
        assert_eq!(escape("名前"), "名前");
    }

    #[test]
    fn a_filter_is_said_in_the_summary_and_on_the_page() {
        use crate::emit::xymon::test_support::{running_vm, snapshot};
        use crate::model::Filtered;
        let s = snapshot(vec![running_vm("web-1")]);
        assert!(!summary(&s).contains("left out"));
        assert!(!status_text(&s, &[], &[CounterRates::default()], 4000).contains("chosen by"));
        let s = s.filtered(Some(Filtered {
            rules: "--vm 'web-*' --exclude '<b>'".into(),
            left_out: 4,
        }));
        assert_eq!(
            summary(&s),
            "1 VMs: 1 running, 0 paused, 0 off; 4 more left out by --vm/--exclude"
        );
        let page = status_text(&s, &[], &[CounterRates::default()], 4000);
        assert!(
            page.contains("VMs reported: only those chosen by --vm 'web-*' --exclude '&lt;b&gt;' (4 left out)\n"),
            "{page}"
        );
    }

    #[test]
    fn long_names_are_shown_cut_with_their_key() {
        let long = "x".repeat(1000);
        let shown = shown_name(&long);
        assert!(shown.len() < 150, "{shown}");
        assert!(shown.contains(&vm_key(&long)));
        assert_eq!(shown_name("web-01"), "web-01");
        let text = failure_text(&"<".repeat(100_000), 1000);
        assert!(text.len() <= 1000 && text.ends_with('\n'), "{}", text.len());
    }

    #[test]
    fn agent_text_in_the_table_is_short_and_escaped() {
        use crate::model::AgentInfo;
        let hostile = Agent::Answered(Box::new(AgentInfo {
            hostname: "<script>\nalert".into(),
            os: "x".repeat(1000),
            ..AgentInfo::default()
        }));
        let shown = agent_shown(&hostile);
        assert!(!shown.contains('<') && !shown.contains('\n'), "{shown}");
        assert!(shown.len() < 120, "{}", shown.len());
        assert_eq!(agent_shown(&Agent::NoAnswer), "(agent did not answer)");
        assert_eq!(agent_shown(&Agent::NotAsked), "-");
    }
}
