//! Building the Xymon messages for one snapshot (or one failed collection).
//!
//! Layout of the first message (a status, unless only data is asked for):
//!
//! ```text
//! status+11 hv1,example,com.hvmon yellow Mon Nov 21 12:30:00 2025 3 VMs: 2 running, 1 off
//! <!-- hvmon v1 splitncv interval 300 -->
//! <!-- ncv_skipstart -->
//! &yellow web: set to autostart but not running
//! Host: ...totals...; VMs that matter now: ...a short table...
//! ...the table of VMs (in <details> past 30)...
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
use super::graph_images::{self, VMS_PER_IMAGE};
use super::graph_lines;
use super::report::Report;
use super::settings::{Settings, lifetime_minutes};
use super::status_page::{Rates, failure_text, status_text, summary};
use crate::text::for_status_page;
use crate::xymon_wire::{
    Counter, CounterRates, END_MARKER, Format, MARKER_PREFIX, Messages, SKIP_END, SKIP_START,
    VmSample,
};

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
    messages: Messages,
}

/// The messages for one run, in sending order, each at most `settings.max_size` bytes,
/// whatever the number of VMs, their states and the length of their names.
/// In SPLITNCV and rrd-script the status of the per-VM graphs' column comes last.
pub fn build(report: &Report, settings: &Settings) -> Vec<String> {
    let mut messages = split(parts(report, settings), settings.max_size);
    messages.extend(vm_graphs_status(report, settings));
    messages
}

/// The `<column>vm` status of the SPLITNCV and rrd-script forms: clear, which VMs, a link
/// back, and the per-VM graphs it draws itself (`graph_images`) from the RRDs the main
/// column's lines write (`hvmon,vm_*`, `hvmonrrd,vm_*`), only those with data (lines sent,
/// known values). Only with a run's graph lines:
/// the page is about them, and `--watch`'s status between intervals leaves it to the next
/// interval (its lifetime covers two).
fn vm_graphs_status(report: &Report, settings: &Settings) -> Option<String> {
    let Report::Collected {
        snapshot, rates, ..
    } = report
    else {
        return None;
    };
    if settings.format == Format::Ncv
        || !settings.graph_lines
        || settings.messages == Messages::Data
    {
        return None;
    }
    let samples: Vec<VmSample> = VmSample::all(&snapshot.vms);
    let vms = snapshot.vms.len();
    let date =
        chrono::DateTime::<chrono::Local>::from(snapshot.taken_at).format("%a %b %e %H:%M:%S %Y");
    let back = link(settings, &settings.column);
    let head = format!(
        "status+{} {}.{} clear {date} per-VM graphs of {vms} VMs\n\
         {MARKER_PREFIX}{} interval {} -->\n{SKIP_START}\
         Graphs of each of the {vms} VMs, at most {VMS_PER_IMAGE} VMs an image, by VM key. \
         The host's totals, problems and the table of VMs: {back}.\n",
        lifetime_minutes(settings.interval),
        settings.host,
        settings.vm_graphs_column(),
        settings.format.name(),
        settings.interval.as_secs(),
    );
    let tail = format!("{SKIP_END}{END_MARKER}\n");
    let budget = settings.max_size.saturating_sub(head.len() + tail.len());
    let images = if settings.format == Format::RrdScript {
        let sent = graph_lines::rrd_script_lines_known(snapshot, &samples);
        graph_images::rrd_script_vm_graphs(&dotted(settings), &settings.column, &sent, vms, budget)
    } else {
        let none = vec![[None; Counter::ALL.len()]; samples.len()];
        let sent = graph_lines::lines_sent(snapshot, &samples, rates.unwrap_or(&none));
        graph_images::vm_graphs(&dotted(settings), &settings.column, &sent, budget)
    };
    Some(head + &images + &tail)
}

/// The host's name as Xymon's CGIs take it: messages write its dots as commas.
fn dotted(settings: &Settings) -> String {
    settings.host.replace(',', ".")
}

/// A link to the host's `column` page, relative: svcstatus pages are all in one directory.
/// Host and column are checked names ([A-Za-z0-9_.,-]), safe in HTML and a URL.
fn link(settings: &Settings, column: &str) -> String {
    format!(
        "<a href=\"svcstatus.sh?HOST={}&amp;SERVICE={column}\">{column}</a>",
        dotted(settings)
    )
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
            let mut colour = assess(snapshot, settings.pool_limits, settings.fs_limits).0;
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
    let messages = match report {
        Report::Failed { .. } => Messages::Status,
        Report::Collected { .. } => settings.messages,
    };
    let text_room = settings.max_size.saturating_sub(
        status_head.len() + SKIP_START.len() + SKIP_END.len() + END_MARKER.len() + 1,
    );
    // A status that also carries graph lines keeps half of itself for them.
    let text_budget = if messages == Messages::Status && settings.graph_lines {
        text_room / 2
    } else {
        text_room
    };
    let (text, groups) = match report {
        Report::Failed { error, .. } => (failure_text(error, text_budget), Vec::new()),
        Report::Collected {
            snapshot,
            rates,
            rates_lost,
        } => {
            let samples: Vec<VmSample> = VmSample::all(&snapshot.vms);
            let rates_given = *rates;
            let rates: Vec<CounterRates> = match rates {
                Some(rates) => rates.to_vec(),
                None => vec![[None; Counter::ALL.len()]; samples.len()],
            };
            let (_, findings) = assess(snapshot, settings.pool_limits, settings.fs_limits);
            // Both extra lines are counted in the status's budget: the path in the rates line
            // is the admin's and may be as long as paths get.
            let lost_line = rates_lost.map_or_else(String::new, |why| {
                let line = for_status_page(why, None, Some(text_budget / 4));
                format!("&yellow {line}\n")
            });
            // The per-VM graphs have a column of their own (`vm_graphs_status`); SPLITNCV's
            // page draws the host's totals that have data, Xymon both pages' states graph.
            let vm_graphs = format!(
                "Graphs of each VM: {}.\n",
                link(settings, &settings.vm_graphs_column())
            );
            let graphs = if settings.format == Format::SplitNcv {
                // A status between intervals (`--watch`) sends no lines: it shows the graphs
                // of the interval's report.
                let sent = if settings.graph_lines {
                    graph_lines::lines_sent(snapshot, &samples, &rates)
                } else {
                    graph_lines::lines_of_the_interval(snapshot, &samples)
                };
                vm_graphs
                    + &graph_images::total_graphs(
                        &dotted(settings),
                        &settings.column,
                        &sent,
                        Format::SplitNcv,
                        text_budget / 4,
                    )
            } else if settings.format == Format::RrdScript {
                // Known figures only, the same between intervals (no rates in this form).
                let sent = graph_lines::rrd_script_lines_known(snapshot, &samples);
                vm_graphs
                    + &graph_images::total_graphs(
                        &dotted(settings),
                        &settings.column,
                        &sent,
                        Format::RrdScript,
                        text_budget / 4,
                    )
            } else {
                String::new()
            };
            let room = text_budget.saturating_sub(lost_line.len() + graphs.len());
            let known = match (settings.format, rates_given) {
                (Format::RrdScript, _) => Rates::Raw,
                (_, Some(rates)) => Rates::PerVm(rates),
                (_, None) if !settings.graph_lines => Rates::Between,
                (_, None) => Rates::NotYet,
            };
            let text = lost_line + &status_text(snapshot, &findings, known, room) + &graphs;
            let groups = if settings.graph_lines {
                graph_lines::groups(snapshot, &samples, &rates, settings.format)
            } else {
                Vec::new()
            };
            (text, groups)
        }
    };
    Parts {
        status_head,
        data_head: format!("data {}.{}\n{marker}", settings.host, settings.column),
        text_block: format!("{SKIP_START}{text}{SKIP_END}"),
        groups,
        messages,
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
    let mut current = match parts.messages {
        Messages::Status => status,
        Messages::Both => {
            finish(status, &mut messages);
            parts.data_head.clone()
        }
        Messages::Data => parts.data_head.clone(),
    };
    // Whether `current` must go out even without graph lines (the status), and whether it
    // has any.
    let mut is_status = parts.messages == Messages::Status;
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
    use crate::emit::xymon::test_support::*;
    use crate::model::{Snapshot, State, Vm};
    use crate::rates::PreviousCounters;
    use crate::xymon_wire::{
        DEFAULT_MAX_SIZE, END_MARKER, TotalGauge, ncv_rule, splitncv_rule, vm_key,
    };

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
            rates: None,
            rates_lost: None,
        };
        let messages = build(
            &report,
            &settings(Format::SplitNcv, Messages::Status, DEFAULT_MAX_SIZE),
        );
        assert_eq!(
            messages.len(),
            2,
            "the status, then the per-VM graphs' status"
        );
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
        let earlier = PreviousCounters::new(
            s.taken_at - Duration::from_secs(300),
            &s.vms.iter().map(VmSample::of).collect::<Vec<_>>(),
        );
        let report = Report::Collected {
            snapshot: &s,
            rates: Some(&rates_since(&earlier, &s)),
            rates_lost: None,
        };
        let m = build(
            &report,
            &settings(Format::SplitNcv, Messages::Status, DEFAULT_MAX_SIZE),
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
            rates: None,
            rates_lost: Some("cannot lock <x>; fix: chown"),
        };
        let m = build(
            &report,
            &settings(Format::SplitNcv, Messages::Both, DEFAULT_MAX_SIZE),
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
        let earlier = PreviousCounters::new(
            two.taken_at - Duration::from_secs(300),
            &two.vms.iter().map(VmSample::of).collect::<Vec<_>>(),
        );
        let names_of = |s: &Snapshot, previous: Option<&PreviousCounters>| -> Vec<String> {
            let rates = previous.map(|p| rates_since(p, s));
            let report = Report::Collected {
                snapshot: s,
                rates: rates.as_deref(),
                rates_lost: None,
            };
            let m = build(
                &report,
                &settings(Format::Ncv, Messages::Status, DEFAULT_MAX_SIZE),
            );
            ncv_parse(&m[0]).into_iter().map(|(n, _)| n).collect()
        };
        let names = names_of(&one, Some(&earlier));
        assert_eq!(
            names,
            names_of(&two, Some(&earlier)),
            "NCV needs the same names every time"
        );
        assert_eq!(names.len(), TotalGauge::ALL.len() + Counter::HOST.len());
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
            rates: None,
            rates_lost: None,
        };
        let max = 6_000;
        for format in [Format::SplitNcv, Format::RrdScript] {
            let mut messages = build(&report, &settings(format, Messages::Status, max));
            // The per-VM graphs' status comes last: 20 images a graph do not fit 6,000
            // bytes, and it says so.
            let vm_graphs = messages.pop().unwrap();
            assert!(vm_graphs.starts_with("status+11 hv1,example,com.hvmonvm clear "));
            assert!(vm_graphs.len() <= max, "{}", vm_graphs.len());
            assert!(
                vm_graphs.contains("more graph images left out: the status would not fit"),
                "{vm_graphs}"
            );
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
            rates: None,
            rates_lost: None,
        };
        let messages = build(
            &report,
            &settings(Format::SplitNcv, Messages::Status, DEFAULT_MAX_SIZE),
        );
        let status = &messages[0];
        assert!(status.len() <= DEFAULT_MAX_SIZE);
        assert!(status.starts_with("status+11 hv1,example,com.hvmon red "));
        assert!(status.contains("&red vm2999: crashed"));
        let table = &status[status.find("<details><summary>All 3000 VMs").unwrap()..];
        assert!(table.find("vm2999").unwrap() < table.find("vm0000").unwrap());
        assert!(status.contains("more VMs not listed"));
    }

    #[test]
    fn splitncv_pages_draw_only_graphs_with_data_and_name_the_others() {
        // The messages of a second run 300 s after the first (with rates), or of a first.
        let pages = |vms: Vec<Vm>, format, second_run: bool| {
            let s = snapshot(vms);
            let earlier = PreviousCounters::new(
                s.taken_at - Duration::from_secs(300),
                &s.vms.iter().map(VmSample::of).collect::<Vec<_>>(),
            );
            let rates = rates_since(&earlier, &s);
            let report = Report::Collected {
                snapshot: &s,
                rates: second_run.then_some(&rates[..]),
                rates_lost: None,
            };
            build(&report, &settings(format, Messages::Both, DEFAULT_MAX_SIZE))
        };
        let status = |vms, format, second| pages(vms, format, second).remove(0);
        let vm_graphs = |vms, second| pages(vms, Format::SplitNcv, second).pop().unwrap();
        // No process anywhere (a remote URI, the test driver): no CPU or memory lines, and
        // no vCPU times either. Neither page offers an image of those graphs.
        let page = status(vec![Vm::new("a", State::Running)], Format::SplitNcv, true);
        assert!(
            page.contains(
                "No data from any VM, so no graph, for: host CPU (libvirt gives these VMs no \
                 CPU time or resident memory (no QEMU process seen)).\n"
            ),
            "{page}"
        );
        assert!(!page.contains("service=hvmon-totcpu"), "{page}");
        for drawn in ["totmem", "totdisk", "totnet"] {
            assert!(
                page.contains(&format!("service=hvmon-{drawn}&amp;")),
                "{page}"
            );
        }
        let page = vm_graphs(vec![Vm::new("a", State::Running)], true);
        assert!(page.contains("No data from any VM, so no graph, for: CPU, memory ("));
        for absent in ["hvmon-cpu", "hvmon-mem", "hvmon-vcpu", "hvmon-steal"] {
            assert!(!page.contains(&format!("service={absent}&")), "{page}");
        }
        assert!(page.contains("service=hvmon-diskread&amp;first=1&amp;count=1&amp;"));
        // A first run has no rate lines: only the gauges' graphs, and the line says why.
        let page = vm_graphs(vec![Vm::new("a", State::Running)], false);
        assert!(page.contains("; disk reads, disk writes, "), "{page}");
        assert!(page.contains("(no rates yet: "), "{page}");
        assert!(!page.contains("service=hvmon-diskread"), "{page}");
        // The rrd-script form's main page draws its host totals from its states file, those
        // with a known figure; a VM with a process has CPU and memory on both pages.
        let page = status(vec![Vm::new("a", State::Running)], Format::RrdScript, true);
        assert!(
            page.contains("No data from any VM, so no graph, for: host CPU (")
                && page.contains("service=hvmon-totmem&amp;")
                && !page.contains("service=hvmon-totcpu&amp;"),
            "{page}"
        );
        let page = status(vec![running_vm("a")], Format::SplitNcv, true);
        assert!(!page.contains("No data"), "{page}");
        assert!(page.contains("service=hvmon-totcpu&amp;"), "{page}");
        let page = vm_graphs(vec![running_vm("a")], true);
        assert!(page.contains("service=hvmon-cpu&amp;first=1&amp;count=1&amp;"));
        assert!(page.contains("service=hvmon-mem&amp;first=1&amp;count=1&amp;"));
        assert!(page.contains("for: guest memory ("), "{page}");
    }

    /// SPLITNCV's and the rrd-script form's pages link to the per-VM graphs' column, whose
    /// status draws its own images (no linecount: svcstatus draws nothing there) and links
    /// back; a status between intervals (`--watch`) and the NCV form send no such column.
    #[test]
    fn per_vm_graphs_have_a_column_of_their_own() {
        let s = snapshot((0..3).map(|i| running_vm(&format!("vm{i}"))).collect());
        let report = Report::Collected {
            snapshot: &s,
            rates: None,
            rates_lost: None,
        };
        let settings = settings(Format::SplitNcv, Messages::Both, DEFAULT_MAX_SIZE);
        let messages = build(&report, &settings);
        let (status, vm_graphs) = (&messages[0], messages.last().unwrap());
        assert!(!status.contains("linecount"), "{status}");
        assert!(status.contains(
            "Graphs of each VM: <a href=\"svcstatus.sh?HOST=hv1.example.com&amp;SERVICE=hvmonvm\">hvmonvm</a>.\n"
        ));
        assert!(vm_graphs.starts_with("status+11 hv1,example,com.hvmonvm clear "));
        assert!(
            vm_graphs
                .contains(" per-VM graphs of 3 VMs\n<!-- hvmon v1 splitncv interval 300 -->\n")
        );
        assert!(
            vm_graphs.contains(
                "<a href=\"svcstatus.sh?HOST=hv1.example.com&amp;SERVICE=hvmon\">hvmon</a>"
            )
        );
        assert!(!vm_graphs.contains("linecount"), "{vm_graphs}");
        assert!(vm_graphs.ends_with(&format!("</a>\n{SKIP_END}{END_MARKER}\n")));
        assert!(ncv_parse(vm_graphs).is_empty(), "{vm_graphs}");

        let watch = build(&report, &settings.clone().without_graph_lines());
        assert_eq!(watch.len(), 1);
        assert!(watch[0].starts_with("status+11 hv1,example,com.hvmon "));
        for m in build(
            &report,
            &self::settings(Format::Ncv, Messages::Both, DEFAULT_MAX_SIZE),
        ) {
            assert!(!m.contains("hvmonvm"), "{m}");
        }
        let rrd_script = build(
            &report,
            &self::settings(Format::RrdScript, Messages::Status, DEFAULT_MAX_SIZE),
        );
        let (status, vm_graphs) = (&rrd_script[0], rrd_script.last().unwrap());
        assert!(
            !status.contains("linecount") && status.contains("service=hvmon-totdisk&amp;"),
            "{status}"
        );
        assert!(
            status.contains("&amp;SERVICE=hvmonvm\">hvmonvm</a>.\n"),
            "{status}"
        );
        assert!(
            vm_graphs.starts_with("status+11 hv1,example,com.hvmonvm clear "),
            "{vm_graphs}"
        );
        assert!(vm_graphs.contains("service=hvmon&amp;first=1&amp;count=3&amp;"));
        assert!(vm_graphs.contains("service=hvmon-disk&amp;first=1&amp;count=3&amp;"));
        assert!(
            ncv_parse(vm_graphs).is_empty()
                && !vm_graphs.contains("vm_vm0_")
                && vm_graphs.contains("<!-- hvmon v1 rrd-script interval 300 -->\n"),
            "{vm_graphs}"
        );
    }

    /// The per-VM graphs' status at 500 VMs and past the most VMs one message of graph
    /// lines holds (679), every graph with data: all images fit the default size; with the
    /// longest host name they are capped, and the status says so.
    #[test]
    fn per_vm_images_fit_the_status_at_500_vms_and_past_the_largest_message() {
        for vms in [500usize, 700] {
            let s = snapshot(
                (0..vms)
                    .map(|i| maximal_vm(&format!("vm{i:04}"), State::Running))
                    .collect(),
            );
            let rates = rates_since(&zero_counters_just_before(&s), &s);
            let report = Report::Collected {
                snapshot: &s,
                rates: Some(&rates),
                rates_lost: None,
            };
            // No guest agent: every graph but the guest's file system has data.
            for (format, graphs) in [(Format::SplitNcv, 13), (Format::RrdScript, 8)] {
                let page = build(&report, &settings(format, Messages::Both, DEFAULT_MAX_SIZE))
                    .pop()
                    .unwrap();
                assert!(page.contains("vm clear "), "{}", &page[..100]);
                assert!(
                    page.len() <= DEFAULT_MAX_SIZE,
                    "{vms}: {} bytes",
                    page.len()
                );
                assert!(!page.contains("left out"), "{vms} {format:?}");
                assert_eq!(
                    page.matches("<img ").count(),
                    graphs * vms.div_ceil(20),
                    "{vms} {format:?}"
                );
                let longest = Settings::longest(format, Messages::Both, DEFAULT_MAX_SIZE);
                let page = build(&report, &longest).pop().unwrap();
                assert!(
                    page.len() <= DEFAULT_MAX_SIZE,
                    "{vms}: {} bytes",
                    page.len()
                );
                let drawn = page.matches("<img ").count();
                let all = graphs * vms.div_ceil(20);
                // About 750 bytes an image with a 253-character host: only the rrd-script
                // form's 200 images at 500 VMs fit.
                if format == Format::RrdScript && vms == 500 {
                    assert_eq!(drawn, all);
                } else {
                    assert!(drawn < all, "{vms} {format:?}");
                    assert!(
                        page.contains(&format!("({} more graph images left out: ", all - drawn)),
                        "{vms} {format:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn kinds_and_failures() {
        let s = snapshot(vec![running_vm("a")]);
        let report = Report::Collected {
            snapshot: &s,
            rates: None,
            rates_lost: None,
        };
        let data = build(
            &report,
            &settings(Format::SplitNcv, Messages::Data, DEFAULT_MAX_SIZE),
        );
        assert_eq!(data.len(), 1);
        assert!(data[0].starts_with("data hv1,example,com.hvmon\n"));
        assert!(!data[0].contains("MEMORY MiB"));
        let both = build(
            &report,
            &settings(Format::SplitNcv, Messages::Both, DEFAULT_MAX_SIZE),
        );
        assert_eq!(both.len(), 3);
        assert!(
            ncv_parse(&both[0]).is_empty(),
            "graph lines only in the data message"
        );
        assert!(both[1].starts_with("data ") && !ncv_parse(&both[1]).is_empty());
        assert!(both[2].starts_with("status+11 hv1,example,com.hvmonvm clear "));

        let failed = Report::Failed {
            error: "cannot connect to libvirt at 'qemu:///system': <refused>",
            at: SystemTime::UNIX_EPOCH,
        };
        let m = build(
            &failed,
            &settings(Format::RrdScript, Messages::Data, DEFAULT_MAX_SIZE),
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

    #[test]
    fn a_status_without_graph_lines_has_the_colour_and_table_and_no_sample() {
        let mut crashed = running_vm("web");
        crashed.state = State::Crashed;
        let s = snapshot(vec![crashed, running_vm("db")]);
        let report = Report::Collected {
            snapshot: &s,
            rates: None,
            rates_lost: None,
        };
        for format in Format::ALL {
            for kind in [Messages::Status, Messages::Both] {
                let m = build(
                    &report,
                    &settings(format, kind, DEFAULT_MAX_SIZE).without_graph_lines(),
                );
                assert_eq!(m.len(), 1, "{format:?} {kind:?}: the status alone");
                assert!(m[0].starts_with("status+11 hv1,example,com.hvmon red "));
                assert!(m[0].contains("&red web: crashed") && m[0].contains("db "));
                assert!(ncv_parse(&m[0]).is_empty(), "{format:?} {kind:?}: {}", m[0]);
                assert!(m[0].ends_with(&format!("{END_MARKER}\n")));
                if format != Format::RrdScript {
                    assert!(m[0].contains("with the next interval's report"), "{}", m[0]);
                }
            }
        }
    }
}

/// The size limit: every message at most `--max-size` bytes and whole (ending with the end
/// marker) for any number of VMs, any mix of states, any name length, in every format and
/// message type.
#[cfg(test)]
mod size_limit_tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::build;
    use crate::emit::xymon::graph_lines;
    use crate::emit::xymon::report::Report;
    use crate::emit::xymon::settings::Settings;
    use crate::emit::xymon::test_support::*;
    use crate::model::{State, Vm};
    use crate::xymon_wire::{
        CounterRates, DEFAULT_MAX_SIZE, END_MARKER, Format, MARKER_PREFIX, MIN_MAX_SIZE, Messages,
        VmSample,
    };

    #[test]
    fn the_largest_group_fits_the_smallest_message() {
        // A name whose key is as long as keys get, and figures as long as numbers get.
        let s = snapshot(vec![maximal_vm(&"a-".repeat(500), State::Running)]);
        let previous = zero_counters_just_before(&s);
        for format in Format::ALL {
            let samples: Vec<VmSample> = s.vms.iter().map(VmSample::of).collect();
            let rates: Vec<CounterRates> = samples
                .iter()
                .map(|x| previous.rates(s.taken_at, x, Duration::from_secs(1)))
                .collect();
            assert!(rates[0].iter().all(Option::is_some));
            let chunks = graph_lines::groups(&s, &samples, &rates, format);
            let longest = chunks.iter().map(String::len).max().unwrap();
            let head = format!(
                "data {}.{}\n{MARKER_PREFIX}rrd-script interval 86400 -->\n",
                "h".repeat(253),
                "c".repeat(60)
            );
            let whole = head.len() + longest + END_MARKER.len() + 1;
            assert!(
                whole <= MIN_MAX_SIZE,
                "{}: a data message with one group is {whole} bytes",
                format.name()
            );
        }
    }

    #[test]
    fn a_mass_failure_with_long_names_stays_under_the_limit_in_every_format_and_kind() {
        let vms: Vec<Vm> = (0..2000)
            .map(|i| maximal_vm(&format!("{i:04}-{}", "<&\n".repeat(330)), State::Crashed))
            .collect();
        let mut s = snapshot(vms);
        s.warnings = (0..2000)
            .map(|i| format!("VM '{i}{}' vanished during collection", "\x07".repeat(990)))
            .collect();
        let previous = zero_counters_just_before(&s);
        // The counters file's path is the admin's: as long as a path gets.
        let lost = format!(
            "hv_monitor keeps no rates: cannot write '/{}'",
            "<&\n".repeat(1400)
        );
        for max_size in [MIN_MAX_SIZE, 8192, DEFAULT_MAX_SIZE] {
            for format in Format::ALL {
                for kind in Messages::ALL {
                    let settings = Settings::longest(format, kind, max_size);
                    let rates = rates_for(Some(&previous), &s, &settings);
                    let report = Report::Collected {
                        snapshot: &s,
                        rates: rates.as_deref(),
                        rates_lost: Some(&lost),
                    };
                    let messages = build(&report, &settings);
                    for (i, m) in messages.iter().enumerate() {
                        assert!(
                            m.len() <= max_size && m.ends_with(&format!("\n{END_MARKER}\n")),
                            "{} {kind:?} {max_size}: message {i} is {} bytes",
                            format.name(),
                            m.len()
                        );
                    }
                    if kind != Messages::Data {
                        let status = &messages[0];
                        assert!(status.contains("keeps no rates"), "{}", &status[..300]);
                        assert!(status.contains(" red "), "{}", &status[..300]);
                        assert!(status.contains("more VMs with problems not listed"));
                    }
                }
            }
        }
    }

    fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof!["[a-z0-9_-]{1,20}", "[\\x00-\\x7f]{0,1000}", "(?s).{0,250}",]
    }

    fn arb_vm() -> impl Strategy<Value = (usize, usize, bool, bool, bool)> {
        (
            0..State::ALL.len(),
            0..3usize,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn every_message_fits_and_ends_with_the_marker(
            names in prop::collection::vec(arb_name(), 1..12),
            shapes in prop::collection::vec(arb_vm(), 1..16),
            count in 0..5000usize,
            warnings in prop::collection::vec("(?s).{0,400}", 0..40),
            max_size in MIN_MAX_SIZE..=DEFAULT_MAX_SIZE,
            with_rates in any::<bool>(),
            long_settings in any::<bool>(),
            rates_lost in prop::option::of("(?s).{0,5000}"),
        ) {
            let vms: Vec<Vm> = (0..count)
                .map(|i| {
                    let (state, figures, autostart, io_error, busy) = shapes[i % shapes.len()];
                    let name = format!("{}{i}", names[i % names.len()]);
                    let mut vm = match figures {
                        0 => Vm::new(name, State::ALL[state]),
                        1 => { let mut vm = running_vm(&name); vm.state = State::ALL[state]; vm }
                        _ => maximal_vm(&name, State::ALL[state]),
                    };
                    vm.autostart = Some(autostart);
                    if io_error {
                        vm.reason.kind = crate::model::Reason::IoError;
                    }
                    vm.disk_stats_unknown = busy;
                    vm
                })
                .collect();
            let mut s = snapshot(vms);
            s.warnings = warnings;
            let previous = zero_counters_just_before(&s);
            for format in Format::ALL {
                for kind in Messages::ALL {
                    let settings = if long_settings {
                        Settings::longest(format, kind, max_size)
                    } else {
                        settings(format, kind, max_size)
                    };
                    let rates = rates_for(with_rates.then_some(&previous), &s, &settings);
                    let report = Report::Collected {
                        snapshot: &s,
                        rates: rates.as_deref(),
                        rates_lost: rates_lost.as_deref(),
                    };
                    for m in build(&report, &settings) {
                        prop_assert!(m.len() <= max_size, "{} bytes over {max_size}", m.len());
                        let end = format!("\n{END_MARKER}\n");
                        prop_assert!(m.ends_with(&end), "no end marker");
                    }
                }
            }
        }
    }
}
