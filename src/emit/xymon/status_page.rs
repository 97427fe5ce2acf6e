//! The human part of the status message: the summary after the date, problems with Xymon's
//! colour icons, a table of VMs and one of storage pools, and the collection's warnings, all
//! within a byte budget. The overview between the problems and the table (counts by state,
//! host totals, the VMs that matter now) is `overview`; the tables are `tables`.

use std::fmt::Write as _;

mod overview;
mod tables;

use super::colour::{Colour, Finding, Subject};
use crate::model::{Snapshot, Vm};
use crate::text::{for_status_page, within_bytes};
use crate::xymon_wire::{Counter, CounterRates, vm_key};
use overview::{host_totals, state_counts, top_table, top_vms};
use tables::{VmTable, pool_table};

/// The first line's free text, after the date: the VM counts by state and reason.
pub fn summary(snapshot: &Snapshot) -> String {
    let mut s = state_counts(snapshot);
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

/// What the page knows of each VM's counter rates.
#[derive(Debug, Clone, Copy)]
pub enum Rates<'a> {
    /// One entry per VM, `None` where there is no honest rate.
    PerVm(&'a [CounterRates]),
    /// None yet: the first run, or the previous run's counters were lost.
    NotYet,
    /// A status sent on a VM change between intervals (`--watch`): the interval's report
    /// has them.
    Between,
    /// The rrd-script form sends raw counters: rrdtool takes the rates, for the graphs.
    Raw,
}

impl Rates<'_> {
    fn of(&self, vm: usize, c: Counter) -> Option<f64> {
        match self {
            Rates::PerVm(r) => r.get(vm).and_then(|r| r[c]),
            Rates::NotYet | Rates::Between | Rates::Raw => None,
        }
    }

    /// The sum of two rates of a VM (read and write, in and out), known if either is.
    fn pair(&self, vm: usize, a: Counter, b: Counter) -> Option<f64> {
        match (self.of(vm, a), self.of(vm, b)) {
            (None, None) => None,
            (x, y) => Some(x.unwrap_or(0.0) + y.unwrap_or(0.0)),
        }
    }
}

/// Rows of the full VM table from which it is folded away (`<details>`), so that the
/// problems, the summary and the top VMs are on the first screen.
const FOLD_ROWS: usize = 30;
/// Whether any VM has a CPU % to show.
fn cpu_column(snapshot: &Snapshot, rates: Rates) -> bool {
    (0..snapshot.vms.len()).any(|i| cpu_shown(&snapshot.vms[i], rates.of(i, Counter::Cpu)) != "-")
}

/// A VM's CPU % for the tables: `-` for a VM without a process (nothing runs) or without a
/// rate (libvirt gave no CPU time, or the process is new).
fn cpu_shown(vm: &Vm, rate: Option<f64>) -> String {
    match rate {
        Some(r) if vm.state.has_process() => format!("{r:.1}"),
        _ => "-".to_string(),
    }
}

/// The human part of the status page, at most `budget` bytes, so that the first screen
/// tells the story at any VM count: problems with Xymon's colour icons (worst first), a
/// summary (counts by state and reason, the host's totals), the VMs that matter now (in
/// trouble, the heaviest by CPU, disk and network), then the full table of VMs (folded away
/// when long) and of pools, the collection's warnings. On a host with thousands of VMs in
/// trouble each part lists what fits, the worst first, and says how many it left out: the
/// problems get at most half, the warnings a quarter of the rest, the table the remainder,
/// listing the VMs with problems first.
pub fn status_text(
    snapshot: &Snapshot,
    findings: &[Finding],
    rates: Rates,
    budget: usize,
) -> String {
    let names: Vec<String> = snapshot.vms.iter().map(|vm| shown_name(&vm.name)).collect();
    let pool_names: Vec<String> = snapshot.pools.iter().map(|p| shown_name(&p.name)).collect();
    let subject = |s: Subject| match s {
        Subject::Vm(i) => names[i].clone(),
        Subject::Pool(i) => format!("pool {}", pool_names[i]),
    };
    let states: Vec<String> = snapshot.vms.iter().map(Vm::state_text).collect();
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
    let listed = top_vms(snapshot, findings, rates);
    let top = top_table(snapshot, &names, &states, &listed, rates);
    // The VM counts are on the first line, which Xymon shows above the text. Xymon shows
    // the text in a <pre> of its own: a <pre> of ours would add an empty line on each side.
    let overview = format!(
        "{}{}{}",
        host_totals(snapshot, rates),
        if top.is_empty() {
            ""
        } else {
            "\nVMs that matter now: not green, then the heaviest by CPU, disk and network\n"
        },
        top
    );
    let table = VmTable::new(snapshot, &names, &states, rates);
    // A <summary> ends its line: the table's header starts the next one.
    let (open, close) = if snapshot.vms.len() > FOLD_ROWS {
        (
            format!(
                "\n<details><summary>All {} VMs</summary>",
                snapshot.vms.len()
            ),
            "</details>\n",
        )
    } else {
        ("\n".to_string(), "")
    };
    let all_well = "&green all VMs as expected\n";
    let mut room = budget.saturating_sub(
        open.len()
            + table.header.len()
            + close.len()
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
    // The overview is a few dozen short lines; it goes only where it fits in a quarter of
    // what is left.
    let overview = if overview.len() <= room / 4 {
        room -= overview.len();
        overview
    } else {
        String::new()
    };

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

    let all: Vec<usize> = (0..snapshot.vms.len()).collect();
    let full_size: usize = all.iter().map(|&i| table.row(i).len()).sum();
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
    out.push_str(&overview);
    out.push_str(&open);
    out.push_str(&table.header);
    let vm_room = room.saturating_sub(pool_table.len().min(room / 4));
    let used = push_within(
        &mut out,
        order.into_iter().map(|i| table.row(i)),
        vm_room,
        |left| {
            format!(
                "({left} more VMs not listed: the table would not fit in one Xymon message; problems are listed first)\n"
            )
        },
    );
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
    out.push_str(close);
    out.push_str(&warnings);
    out.push_str(&filter);
    out.push_str(&version);
    out
}

#[cfg(test)]
mod tests {
    use super::overview::TOP_HEAVY;
    use super::*;
    use crate::model::Reason;

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
        assert!(
            !status_text(&s, &[], Rates::PerVm(&[CounterRates::default()]), 4000)
                .contains("chosen by")
        );
        let s = s.filtered(Some(Filtered {
            rules: "--vm 'web-*' --exclude '<b>'".into(),
            left_out: 4,
        }));
        assert_eq!(
            summary(&s),
            "1 VMs: 1 running, 0 paused, 0 off; 4 more left out by --vm/--exclude"
        );
        let page = status_text(&s, &[], Rates::PerVm(&[CounterRates::default()]), 4000);
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

    /// A running VM's rates: `cpu` % and `disk` bytes/s read.
    fn rates_of(cpu: Option<f64>, disk: f64) -> CounterRates {
        let mut r = [Some(0.0); Counter::ALL.len()];
        r[Counter::Cpu] = cpu;
        r[Counter::RBytes] = Some(disk);
        r
    }

    #[test]
    fn the_summary_counts_states_with_their_reasons() {
        use crate::emit::xymon::test_support::{running_vm, snapshot};
        use crate::model::State;
        let mut vms = vec![running_vm("a"), running_vm("b"), running_vm("c")];
        vms[0].state = State::Paused;
        vms[0].reason.kind = Reason::IoError;
        vms[1].state = State::Paused;
        vms[1].reason.kind = Reason::User;
        vms.push(Vm::new("d", State::Crashed));
        assert_eq!(
            summary(&snapshot(vms)),
            "4 VMs: 1 running, 2 paused (1 I/O error, 1 user), 0 off, 1 crashed"
        );
    }

    #[test]
    fn the_top_table_lists_trouble_then_the_heaviest_with_their_rates() {
        use crate::emit::xymon::colour::PoolLimits;
        use crate::emit::xymon::colour::assess;
        use crate::emit::xymon::guest_fs::FsLimits;
        use crate::emit::xymon::test_support::{running_vm, snapshot};
        use crate::model::State;
        let mut vms: Vec<Vm> = (0..40).map(|i| running_vm(&format!("vm{i:02}"))).collect();
        vms[3].state = State::Crashed;
        vms[3].process = None;
        vms[5].state = State::Shutoff;
        vms[5].autostart = Some(false);
        vms[5].process = None;
        let s = snapshot(vms);
        // vm07 is the busiest CPU, vm09 the busiest disk; the off VM's CPU rate is 0.
        let rates: Vec<CounterRates> = (0..40)
            .map(|i| match i {
                3 | 5 => rates_of(Some(0.0), 0.0),
                7 => rates_of(Some(95.0), 10.0),
                9 => rates_of(Some(1.0), 3.0 * 1024.0 * 1024.0),
                _ => rates_of(Some(0.5), 100.0),
            })
            .collect();
        let (_, findings) = assess(&s, PoolLimits::DEFAULT, FsLimits::default());
        let page = status_text(&s, &findings, Rates::PerVm(&rates), 100_000);
        let top: Vec<&str> = page
            .lines()
            .skip_while(|l| !l.starts_with("WHY"))
            .take_while(|l| !l.is_empty())
            .collect();
        assert!(
            top[0].contains("CPU %") && top[0].contains("DISK READ"),
            "{page}"
        );
        assert!(
            top[1].starts_with("red") && top[1].contains("vm03"),
            "{page}"
        );
        assert!(
            top[2].starts_with("top CPU") && top[2].contains("vm07"),
            "{page}"
        );
        assert!(top[2].contains("95.0"), "{page}");
        let busy_disk = top.iter().find(|l| l.contains("vm09")).unwrap();
        assert!(busy_disk.contains("3.0 MiB/s"), "{busy_disk}");
        // 1 in trouble, 5 by CPU, and by disk only vm09 is new (the rest share 100 B/s).
        assert!(top.len() <= 1 + 1 + 3 * TOP_HEAVY, "{page}");
        // The full table is folded away, and its CPU % says "-" for the VMs without a
        // process, not their 0.
        assert!(
            page.contains("\n<details><summary>All 40 VMs</summary>VM "),
            "{page}"
        );
        let row = |name: &str| {
            page.lines()
                .skip_while(|l| !l.starts_with("<details>"))
                .find(|l| l.starts_with(&format!("{name} ")))
                .unwrap()
                .to_string()
        };
        assert!(row("vm05").ends_with(" -"), "{}", row("vm05"));
        assert!(row("vm07").ends_with(" 95.0"), "{}", row("vm07"));
        assert!(page.contains("CPU 114.0 % of one core"), "{page}");
    }

    #[test]
    fn without_rates_the_page_says_why_instead_of_a_column_of_dashes() {
        use crate::emit::xymon::test_support::{running_vm, snapshot};
        let s = snapshot((0..3).map(|i| running_vm(&format!("vm{i}"))).collect());
        for (rates, why) in [
            (Rates::Raw, "not computed in the rrd-script form"),
            (Rates::NotYet, "none yet (first run"),
            (Rates::Between, "with the next interval's report"),
            (
                Rates::PerVm(&[rates_of(None, 1.0); 3]),
                "CPU unknown (libvirt gave no CPU time for the running VMs)",
            ),
        ] {
            let page = status_text(&s, &[], rates, 100_000);
            assert!(page.contains(why), "{page}");
            assert!(!page.contains("CPU %"), "{page}");
            // A short table is not folded.
            assert!(!page.contains("<details>"), "{page}");
        }
    }
}
