//! Building the Xymon messages for one snapshot (or one failed collection).
//!
//! Layout of the first message (a status, unless only data is asked for):
//!
//! ```text
//! status+11 hv1,example,com.hvmon yellow Mon Nov 21 12:30:00 2025 3 VMs: 2 running, 1 off
//! <!-- hvmon v1 splitncv interval 300 -->
//! <!-- ncv_skipstart -->
//! &yellow web: set to autostart but not running
//! <pre> ...a table of VMs... </pre>
//! <!-- ncv_skipend -->
//! all_vms : 3
//! vm_web_cpu : 12.5
//! <!-- hvmon end -->
//! ```
//!
//! The first line is never parsed by xymond_rrd, free text sits between the NCV skip
//! markers, and the two `hvmon` markers (no `:` or `=`, so NCV ignores them) let the
//! extra-script handler refuse a message that is not ours or that was cut short. Graph lines
//! that do not fit under the size limit go into `data HOST.COLUMN` messages with the same
//! markers: a second status would replace the first. One VM's lines always stay together.

use super::colour::{Colour, assess};
use super::graph_lines;
use super::metrics::{Counter, VmSample};
use super::settings::{Format, Kind, Report, Settings, lifetime_minutes, max_rate_age};
use super::status_page::{escape, failure_text, status_text, summary};
use crate::rates::CounterRates;

pub const END_MARKER: &str = "<!-- hvmon end -->";
pub const MARKER_PREFIX: &str = "<!-- hvmon v1 ";
const SKIP_START: &str = "<!-- ncv_skipstart -->\n";
const SKIP_END: &str = "<!-- ncv_skipend -->\n";

/// What a run's messages are made of, before they are split.
struct Parts {
    /// The first line and marker of the status message.
    status_head: String,
    /// The first line and marker of every data message.
    data_head: String,
    /// The status text, skipped by NCV.
    text_block: String,
    /// Groups of graph lines, each kept whole in one message.
    groups: Vec<String>,
    kind: Kind,
}

/// The messages for one run, in sending order, each at most `settings.max_size` bytes,
/// whatever the number of VMs, their states and the length of their names.
pub fn build(report: &Report, settings: &Settings) -> Vec<String> {
    split(parts(report, settings), settings.max_size)
}

fn parts(report: &Report, settings: &Settings) -> Parts {
    let marker = format!(
        "{MARKER_PREFIX}{} interval {} -->\n",
        settings.format.name(),
        settings.interval.as_secs()
    );
    let (colour, summary, at) = match report {
        Report::Failed { at, .. } => (Colour::Red, "collector failed".to_string(), *at),
        Report::Collected {
            snapshot,
            rates_lost,
            ..
        } => {
            let mut colour = assess(snapshot).0;
            if rates_lost.is_some() {
                colour = colour.max(Colour::Yellow);
            }
            (colour, summary(snapshot), snapshot.taken_at)
        }
    };
    let date = chrono::DateTime::<chrono::Local>::from(at).format("%a %b %e %H:%M:%S %Y");
    let status_head = format!(
        "status+{} {}.{} {} {date} {summary}\n{marker}",
        lifetime_minutes(settings.interval),
        settings.host,
        settings.column,
        colour.name(),
    );
    // Only a status can turn red: a failed run always sends one, whatever was asked for.
    let kind = match report {
        Report::Failed { .. } => Kind::Status,
        Report::Collected { .. } => settings.kind,
    };
    let text_room = settings.max_size.saturating_sub(
        status_head.len() + SKIP_START.len() + SKIP_END.len() + END_MARKER.len() + 1,
    );
    // A status that also carries graph lines keeps half of itself for them.
    let text_budget = if kind == Kind::Status {
        text_room / 2
    } else {
        text_room
    };
    let (text, groups) = match report {
        Report::Failed { error, .. } => (failure_text(error, text_budget), Vec::new()),
        Report::Collected {
            snapshot,
            previous,
            rates_lost,
        } => {
            let samples: Vec<VmSample> = VmSample::all(&snapshot.vms);
            let rates: Vec<CounterRates> = match previous {
                Some(prev) if settings.format.uses_rates() => samples
                    .iter()
                    .map(|s| prev.rates(snapshot.taken_at, s, max_rate_age(settings.interval)))
                    .collect(),
                _ => vec![[None; Counter::ALL.len()]; samples.len()],
            };
            let (_, findings) = assess(snapshot);
            // Both extra lines are counted in the status's budget: the path in the rates line
            // is the admin's and may be as long as paths get.
            let lost_line = rates_lost.map_or_else(String::new, |why| {
                let line = escape(why);
                let mut end = line.len().min(text_budget / 4);
                while !line.is_char_boundary(end) {
                    end -= 1;
                }
                format!("&yellow {}\n", &line[..end])
            });
            // svcstatus splits each per-VM graph into images of the GRAPHS entry's size
            // ("hvmonrrd::20", "ncv::20") when the status says how many RRDs each graph has:
            // one per VM.
            let linecount = if settings.format == Format::Ncv {
                String::new()
            } else {
                format!("<!-- linecount={} -->\n", snapshot.vms.len())
            };
            let room = text_budget.saturating_sub(lost_line.len() + linecount.len());
            let text = lost_line + &status_text(snapshot, &findings, &rates, room) + &linecount;
            (
                text,
                graph_lines::groups(snapshot, &samples, &rates, settings.format),
            )
        }
    };
    Parts {
        status_head,
        data_head: format!("data {}.{}\n{marker}", settings.host, settings.column),
        text_block: format!("{SKIP_START}{text}{SKIP_END}"),
        groups,
        kind,
    }
}

/// Fills messages group by group, each split by its own size. A data message always takes
/// its first group: one group fits any message (`the_largest_group_fits_the_smallest_message`).
fn split(parts: Parts, max_size: usize) -> Vec<String> {
    let end_len = END_MARKER.len() + 1;
    let mut messages = Vec::new();
    let finish = |mut message: String, messages: &mut Vec<String>| {
        message.push_str(END_MARKER);
        message.push('\n');
        messages.push(message);
    };
    let status = parts.status_head + &parts.text_block;
    let mut current = match parts.kind {
        Kind::Status => status,
        Kind::Both => {
            finish(status, &mut messages);
            parts.data_head.clone()
        }
        Kind::Data => parts.data_head.clone(),
    };
    // Whether `current` must go out even without graph lines (the status), and whether it
    // has any.
    let mut is_status = parts.kind == Kind::Status;
    let mut has_lines = false;
    for group in parts.groups.iter().filter(|g| !g.is_empty()) {
        if current.len() + group.len() + end_len > max_size && (has_lines || is_status) {
            finish(
                std::mem::replace(&mut current, parts.data_head.clone()),
                &mut messages,
            );
            is_status = false;
        }
        current.push_str(group);
        has_lines = true;
    }
    // A data message with no graph lines says nothing; a status always goes out.
    if is_status || has_lines {
        finish(current, &mut messages);
    }
    messages
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::emit::xymon::metrics::TotalGauge;
    use crate::emit::xymon::names::{ncv_rule, splitncv_rule, vm_key};
    use crate::emit::xymon::settings::{DEFAULT_MAX_SIZE, Format};
    use crate::emit::xymon::test_support::*;
    use crate::model::{Snapshot, State, Vm};
    use crate::rates::RateState;

    const HOSTILE: &[&str] = &[
        "web-01",
        "web_01",
        "evil\nvm_x_cpu : 99",
        "<!-- ncv_skipend -->",
        "@@",
        "a:b=c",
        "&red x",
        "../../etc",
        "名前",
    ];

    #[test]
    fn xymond_reads_exactly_our_graph_lines_and_its_rules_keep_every_name() {
        let s = snapshot(HOSTILE.iter().map(|n| running_vm(n)).collect());
        let report = Report::Collected {
            snapshot: &s,
            previous: None,
            rates_lost: None,
        };
        let messages = build(
            &report,
            &settings(Format::SplitNcv, Kind::Status, DEFAULT_MAX_SIZE),
        );
        assert_eq!(messages.len(), 1);
        let parsed = ncv_parse(&messages[0]);
        let names: Vec<&str> = parsed.iter().map(|(n, _)| n.as_str()).collect();
        // Nothing from the table, the warnings or a VM name leaks into the graphs.
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("all_") || n.starts_with("vm_")),
            "{names:?}"
        );
        for name in &names {
            assert_eq!(splitncv_rule(name), *name, "xymond_rrd would rename {name}");
        }
        for vm in HOSTILE {
            let key = vm_key(vm);
            assert!(
                names.contains(&format!("vm_{key}_vcpus").as_str()),
                "{vm:?}"
            );
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            names.len(),
            "a name seen twice: the first value would win"
        );
        let value = |n: &str| parsed.iter().find(|(k, _)| k == n).unwrap().1;
        assert_eq!(value("all_vms"), 9.0);
        assert_eq!(value("vm_web_01_mem"), (1u64 << 30) as f64);
    }

    #[test]
    fn a_total_no_vm_has_a_rate_for_is_left_out_in_splitncv() {
        // Disk rates but no process, hence no CPU rate: all_cpu must not be a flat 0.
        let mut vm = running_vm("a");
        vm.process = None;
        let s = snapshot(vec![vm]);
        let earlier = RateState::new(
            s.taken_at - Duration::from_secs(300),
            &s.vms.iter().map(VmSample::of).collect::<Vec<_>>(),
        );
        let report = Report::Collected {
            snapshot: &s,
            previous: Some(&earlier),
            rates_lost: None,
        };
        let m = build(
            &report,
            &settings(Format::SplitNcv, Kind::Status, DEFAULT_MAX_SIZE),
        );
        let names: Vec<String> = ncv_parse(&m[0]).into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"all_rbytes".to_string()), "{names:?}");
        assert!(!names.contains(&"all_cpu".to_string()), "{names:?}");
    }

    #[test]
    fn lost_rates_turn_the_column_yellow_with_the_reason() {
        let s = snapshot(vec![running_vm("a")]);
        let report = Report::Collected {
            snapshot: &s,
            previous: None,
            rates_lost: Some("cannot lock <x>; fix: chown"),
        };
        let m = build(
            &report,
            &settings(Format::SplitNcv, Kind::Both, DEFAULT_MAX_SIZE),
        );
        let first = m[0].lines().next().unwrap();
        assert!(first.contains(" yellow "), "{first}");
        assert!(
            m[0].contains("&yellow cannot lock &lt;x&gt;; fix: chown"),
            "{}",
            m[0]
        );
    }

    #[test]
    fn ncv_names_are_short_fixed_and_in_a_fixed_order() {
        let one = snapshot(vec![running_vm("a")]);
        let two = snapshot(vec![running_vm("a"), Vm::new("b", State::Shutoff)]);
        let earlier = RateState::new(
            two.taken_at - Duration::from_secs(300),
            &two.vms.iter().map(VmSample::of).collect::<Vec<_>>(),
        );
        let names_of = |s: &Snapshot, previous: Option<&RateState>| -> Vec<String> {
            let report = Report::Collected {
                snapshot: s,
                previous,
                rates_lost: None,
            };
            let m = build(
                &report,
                &settings(Format::Ncv, Kind::Status, DEFAULT_MAX_SIZE),
            );
            ncv_parse(&m[0]).into_iter().map(|(n, _)| n).collect()
        };
        let names = names_of(&one, Some(&earlier));
        assert_eq!(
            names,
            names_of(&two, Some(&earlier)),
            "NCV needs the same names every time"
        );
        assert_eq!(names.len(), TotalGauge::ALL.len() + Counter::ALL.len());
        for n in &names {
            assert_eq!(&ncv_rule(n), n);
        }
        assert!(
            names_of(&one, None).is_empty(),
            "without rates (first run) no NCV line at all, not a partial set that would fix the RRD's datasets"
        );
    }

    #[test]
    fn big_hosts_split_under_the_limit_with_each_vm_whole() {
        let vms: Vec<Vm> = (0..400).map(|i| running_vm(&format!("vm{i:04}"))).collect();
        let s = snapshot(vms);
        let report = Report::Collected {
            snapshot: &s,
            previous: None,
            rates_lost: None,
        };
        let max = 6_000;
        for format in [Format::SplitNcv, Format::RrdScript] {
            let messages = build(&report, &settings(format, Kind::Status, max));
            assert!(messages.len() > 5, "{}", messages.len());
            assert!(messages[0].starts_with("status+11 hv1,example,com.hvmon green "));
            let mut seen_vms = std::collections::BTreeSet::new();
            for (i, m) in messages.iter().enumerate() {
                assert!(m.len() <= max, "message {i} is {} bytes", m.len());
                if i > 0 {
                    assert!(m.starts_with("data hv1,example,com.hvmon\n<!-- hvmon v1 "));
                }
                assert!(m.ends_with(&format!("{END_MARKER}\n")));
                // Every VM's lines are in exactly one message.
                let here: std::collections::BTreeSet<String> = ncv_parse(m)
                    .into_iter()
                    .filter_map(|(n, _)| n.strip_prefix("vm_").map(|r| r[..6].to_string()))
                    .collect();
                for vm in here {
                    assert!(seen_vms.insert(vm.clone()), "{vm} split across messages");
                }
            }
            assert_eq!(seen_vms.len(), 400);
        }
    }

    #[test]
    fn the_table_is_trimmed_to_fit_with_problems_first() {
        let mut vms: Vec<Vm> = (0..3000)
            .map(|i| running_vm(&format!("vm{i:04}")))
            .collect();
        vms[2999].state = State::Crashed;
        let s = snapshot(vms);
        let report = Report::Collected {
            snapshot: &s,
            previous: None,
            rates_lost: None,
        };
        let messages = build(
            &report,
            &settings(Format::SplitNcv, Kind::Status, DEFAULT_MAX_SIZE),
        );
        let status = &messages[0];
        assert!(status.len() <= DEFAULT_MAX_SIZE);
        assert!(status.starts_with("status+11 hv1,example,com.hvmon red "));
        assert!(status.contains("&red vm2999: crashed"));
        let table = &status[status.find("<pre>").unwrap()..];
        assert!(table.find("vm2999").unwrap() < table.find("vm0000").unwrap());
        assert!(status.contains("more VMs not listed"));
    }

    #[test]
    fn kinds_and_failures() {
        let s = snapshot(vec![running_vm("a")]);
        let report = Report::Collected {
            snapshot: &s,
            previous: None,
            rates_lost: None,
        };
        let data = build(
            &report,
            &settings(Format::SplitNcv, Kind::Data, DEFAULT_MAX_SIZE),
        );
        assert_eq!(data.len(), 1);
        assert!(data[0].starts_with("data hv1,example,com.hvmon\n"));
        assert!(!data[0].contains("<pre>"));
        let both = build(
            &report,
            &settings(Format::SplitNcv, Kind::Both, DEFAULT_MAX_SIZE),
        );
        assert_eq!(both.len(), 2);
        assert!(
            ncv_parse(&both[0]).is_empty(),
            "graph lines only in the data message"
        );
        assert!(both[1].starts_with("data ") && !ncv_parse(&both[1]).is_empty());

        let failed = Report::Failed {
            error: "cannot connect to libvirt at 'qemu:///system': <refused>",
            at: SystemTime::UNIX_EPOCH,
        };
        let m = build(
            &failed,
            &settings(Format::RrdScript, Kind::Data, DEFAULT_MAX_SIZE),
        );
        assert_eq!(
            m.len(),
            1,
            "a failure is always one status, even with --message data"
        );
        assert!(m[0].starts_with("status+11 hv1,example,com.hvmon red "));
        assert!(m[0].contains("&lt;refused&gt;"));
        assert!(ncv_parse(&m[0]).is_empty());
    }
}
