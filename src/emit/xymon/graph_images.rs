//! The graph images a status page draws itself, in its text: only the graphs some VM sent
//! lines for (SPLITNCV) or has a known value in (rrd-script, whose lines write `U` for the
//! others), each per-VM graph split into images of at most [`VMS_PER_IMAGE`] VMs.
//! Xymon's svcstatus draws every graph of `GRAPHS_<column>` (the server's, not the host's)
//! and showgraph answers a blank 1x1 image for a graph without files (the test driver's CPU,
//! a remote URI's): a page that draws its own offers what has data and says what has none.
//!
//! The URLs are relative (`showgraph.sh?host=...`): svcstatus.sh and showgraph.sh are in one
//! CGI directory, so no server URL needs configuring (only a statically generated status
//! page, `XYMONLOGSTATUS=static`, lives elsewhere and gets broken images).

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::graph_lines::LinesSent;
use crate::text::{for_status_page, within_bytes};
use crate::xymon_wire::Format;

mod catalogue;

use catalogue::{Graph, NO_RATES_YET, RRD_SCRIPT_VM_GRAPHS, TOTAL_GRAPHS, VM_GRAPHS};

/// VMs drawn in one image of a per-VM graph: twenty legend lines and the graph fit a screen.
pub const VMS_PER_IMAGE: usize = 20;

/// What a URL parameter keeps as it is: RFC 3986's unreserved characters, so host names
/// stay readable (`hv1.example.com`); everything else is %-encoded.
const PARAMETER: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Room kept for the line saying images were left out.
const CUT_LINE_MAX: usize = 200;

/// The lines a report sent, and the form whose names they have.
#[derive(Clone, Copy)]
struct Sent<'a> {
    lines: &'a LinesSent,
    format: Format,
}

impl Sent<'_> {
    /// How many of `g`'s total lines have a known figure.
    fn totals(&self, g: &Graph) -> usize {
        g.line_names(self.format)
            .filter(|l| self.lines.total(l))
            .count()
    }

    /// The most VMs that sent one of `g`'s lines.
    fn most_vms(&self, g: &Graph) -> usize {
        g.line_names(self.format)
            .map(|l| self.lines.vms_with(l))
            .max()
            .unwrap_or(0)
    }
}

/// The `(first, count)` of each image of a graph with `files` files, showgraph's 1-based
/// range in its sorted list of files: as few images as [`VMS_PER_IMAGE`] allows, the files
/// spread evenly over them (21 files make 11 and 10, not 20 and 1).
fn ranges(files: usize) -> Vec<(usize, usize)> {
    if files == 0 {
        return Vec::new();
    }
    let images = files.div_ceil(VMS_PER_IMAGE);
    let step = files.div_ceil(images);
    (0..images)
        .map(|i| {
            let first = 1 + i * step;
            (first, step.min(files + 1 - first))
        })
        .collect()
}

/// One image as Xymon draws it: the hourly graph in a link to its zoom menu. `host` is the
/// host's name with dots; every parameter URL-encoded, then the URL escaped for HTML.
fn image(host: &str, graph: &str, range: Option<(usize, usize)>) -> String {
    let mut query = format!(
        "host={}&service={}",
        utf8_percent_encode(host, PARAMETER),
        utf8_percent_encode(graph, PARAMETER)
    );
    let mut alt = graph.to_string();
    if let Some((first, count)) = range {
        let _ = write!(query, "&first={first}&count={count}");
        let _ = write!(alt, " {first}-{}", first + count - 1);
    }
    // Files not updated for a day (a VM long gone) would shift the ranges: showgraph leaves
    // them out, as svcstatus asks for its own graphs.
    query.push_str("&nostale");
    let menu = for_status_page(&format!("showgraph.sh?{query}&action=menu"), None, None);
    let view = for_status_page(
        &format!("showgraph.sh?{query}&graph=hourly&action=view"),
        None,
        None,
    );
    let alt = for_status_page(&alt, None, None);
    format!("<a href=\"{menu}\"><img src=\"{view}\" alt=\"{alt}\"></a>\n")
}

/// The line naming the graphs without data and why, empty when every graph has some.
fn no_data_line(none: &[&Graph], with_rates: impl Fn(&Graph) -> bool) -> String {
    if none.is_empty() {
        return String::new();
    }
    let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
    for g in none {
        let why = if with_rates(g) {
            NO_RATES_YET
        } else {
            g.why_none
        };
        match reasons.iter_mut().find(|(known, _)| *known == why) {
            Some((_, whats)) => whats.push(g.what),
            None => reasons.push((why, vec![g.what])),
        }
    }
    let reasons: Vec<String> = reasons
        .iter()
        .map(|(why, whats)| format!("{} ({why})", whats.join(", ")))
        .collect();
    format!(
        "No data from any VM, so no graph, for: {}.\n",
        reasons.join("; ")
    )
}

/// The images of `graphs` that have data, at most `budget` bytes with the line naming the
/// ones without: images that do not fit are left out, and a line says how many.
fn draw(
    host: &str,
    column: &str,
    graphs: &[Graph],
    sent: Sent,
    files: impl Fn(&Graph) -> usize,
    split: bool,
    budget: usize,
) -> String {
    let (with, without): (Vec<&Graph>, Vec<&Graph>) = graphs.iter().partition(|g| files(g) > 0);
    // A graph a run with rates would have data for lacks only this run's rates.
    let with_rates = |g: &Graph| {
        g.line_names(sent.format).any(|l| {
            if split {
                sent.lines.vms_with_rates(l)
            } else {
                sent.lines.total_with_rates(l)
            }
        })
    };
    let mut out = within_bytes(&no_data_line(&without, with_rates), budget / 4).to_string();
    let images: Vec<String> = with
        .iter()
        .flat_map(|g| {
            if split {
                ranges(files(g))
                    .into_iter()
                    .map(|r| image(host, &g.name(column), Some(r)))
                    .collect()
            } else {
                vec![image(host, &g.name(column), None)]
            }
        })
        .collect();
    let mut room = budget.saturating_sub(out.len() + CUT_LINE_MAX);
    let total = images.len();
    let mut drawn = 0;
    for img in images {
        if img.len() > room {
            break;
        }
        room -= img.len();
        drawn += 1;
        out.push_str(&img);
    }
    if drawn < total {
        let cut = format!(
            "({} more graph images left out: the status would not fit in one Xymon message)\n",
            total - drawn
        );
        // Room was kept for it, unless the budget is smaller than the line itself.
        if cut.len() <= budget.saturating_sub(out.len()) {
            out.push_str(&cut);
        }
    }
    out
}

/// The per-VM graphs of `column`'s files for the `<column>vm` page of `host` (dots, not
/// commas), within `budget` bytes: each graph some VM sent lines for, in images of at most
/// [`VMS_PER_IMAGE`] VMs.
pub fn vm_graphs(host: &str, column: &str, sent: &LinesSent, budget: usize) -> String {
    let splitncv = Sent {
        lines: sent,
        format: Format::SplitNcv,
    };
    draw(
        host,
        column,
        &VM_GRAPHS,
        splitncv,
        |g| splitncv.most_vms(g),
        true,
        budget,
    )
}

/// The rrd-script form's per-VM graphs of `column`'s files for the `<column>vm` page of
/// `host` (dots), within `budget` bytes: each graph some of the `vms` VMs has a known value
/// for, in images of at most [`VMS_PER_IMAGE`] VMs.
pub fn rrd_script_vm_graphs(
    host: &str,
    column: &str,
    sent: &LinesSent,
    vms: usize,
    budget: usize,
) -> String {
    let rrd_script = Sent {
        lines: sent,
        format: Format::RrdScript,
    };
    draw(
        host,
        column,
        &RRD_SCRIPT_VM_GRAPHS,
        rrd_script,
        |g| {
            if rrd_script.most_vms(g) > 0 { vms } else { 0 }
        },
        true,
        budget,
    )
}

/// The host's total graphs of `column`'s page in `format` (SPLITNCV's `all_<name>` files,
/// or the rrd-script form's states file, whose datasets they are), one image each, for
/// those with a known total, within `budget` bytes.
pub fn total_graphs(
    host: &str,
    column: &str,
    sent: &LinesSent,
    format: Format,
    budget: usize,
) -> String {
    let sent = Sent {
        lines: sent,
        format,
    };
    draw(
        host,
        column,
        &TOTAL_GRAPHS,
        sent,
        |g| sent.totals(g),
        false,
        budget,
    )
}

#[cfg(test)]
mod tests {
    use super::catalogue::NO_PROCESS;
    use super::*;

    use crate::emit::xymon::graph_lines::{
        lines_of_the_interval, lines_sent, rrd_script_lines_known,
    };
    use crate::emit::xymon::test_support::{running_vm, snapshot};
    use crate::model::{State, Vm};
    use crate::xymon_wire::{Counter, VmGauge, VmSample};

    /// `(service, first, count)` of every image in `html`, from its `src`.
    fn images(html: &str) -> Vec<(String, Option<usize>, Option<usize>)> {
        html.split("<img src=\"")
            .skip(1)
            .map(|rest| {
                let src = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
                let param = |k: &str| {
                    src.split(['?', '&'])
                        .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                        .map(str::to_string)
                };
                (
                    param("service").unwrap(),
                    param("first").map(|v| v.parse().unwrap()),
                    param("count").map(|v| v.parse().unwrap()),
                )
            })
            .collect()
    }

    /// The lines of a run with rates: those of the counters libvirt gave.
    fn sent_for(vms: Vec<Vm>) -> LinesSent {
        let s = snapshot(vms);
        let samples = VmSample::all(&s.vms);
        lines_of_the_interval(&s, &samples)
    }

    #[test]
    fn images_hold_at_most_twenty_vms_spread_evenly_and_cover_every_file() {
        assert_eq!(ranges(0), []);
        assert_eq!(ranges(1), [(1, 1)]);
        assert_eq!(ranges(20), [(1, 20)]);
        assert_eq!(ranges(21), [(1, 11), (12, 10)]);
        assert_eq!(ranges(500).len(), 25);
        for files in 1..=700 {
            let r = ranges(files);
            let mut next = 1;
            for (first, count) in &r {
                assert_eq!(*first, next, "{files}: {r:?}");
                assert!((1..=VMS_PER_IMAGE).contains(count), "{files}: {r:?}");
                next += count;
            }
            assert_eq!(next, files + 1, "{files}: {r:?}");
            assert_eq!(r.len(), files.div_ceil(VMS_PER_IMAGE));
        }
    }

    #[test]
    fn a_hostile_host_name_is_url_encoded_and_html_escaped() {
        let html = image("a\"b<c>&d e/f?g#h.x-y", "hvmon-cpu", Some((21, 20)));
        assert_eq!(
            html,
            "<a href=\"showgraph.sh?host=a%22b%3Cc%3E%26d%20e%2Ff%3Fg%23h.x-y&amp;service=hvmon-cpu\
             &amp;first=21&amp;count=20&amp;nostale&amp;action=menu\"><img src=\"showgraph.sh?\
             host=a%22b%3Cc%3E%26d%20e%2Ff%3Fg%23h.x-y&amp;service=hvmon-cpu&amp;first=21&amp;\
             count=20&amp;nostale&amp;graph=hourly&amp;action=view\" alt=\"hvmon-cpu 21-40\"></a>\n"
        );
    }

    #[test]
    fn only_graphs_some_vm_sent_lines_for_are_drawn_each_split_by_its_own_files() {
        // Test-driver VMs: no process, so no CPU or memory for anyone, no vCPU times, no
        // guest memory or agent.
        let vms: Vec<Vm> = (0..45)
            .map(|i| Vm::new(format!("vm{i}"), State::Running))
            .collect();
        let page = vm_graphs("hv1.example.com", "hvmon", &sent_for(vms), 200_000);
        let drawn = images(&page);
        let services: Vec<&str> = drawn.iter().map(|(s, ..)| s.as_str()).collect();
        for absent in [
            "hvmon-cpu",
            "hvmon-mem",
            "hvmon-vcpu",
            "hvmon-steal",
            "hvmon-guestmem",
        ] {
            assert!(!services.contains(&absent), "{absent}: {page}");
        }
        assert!(
            page.starts_with(
                "No data from any VM, so no graph, for: CPU, memory (libvirt gives these VMs no \
                 CPU time or resident memory (no QEMU process seen)); guest memory (no guest \
                 reports its memory (a balloon driver with a stats period)); guest file system \
                 (no guest agent answered); vCPU, steal (libvirt gives these VMs no vCPU times).\n"
            ),
            "{page}"
        );
        let reads: Vec<_> = drawn
            .iter()
            .filter(|(s, ..)| s == "hvmon-diskread")
            .collect();
        assert_eq!(
            reads
                .iter()
                .map(|(_, f, c)| (f.unwrap(), c.unwrap()))
                .collect::<Vec<_>>(),
            [(1, 15), (16, 15), (31, 15)]
        );
        // VMs with a process: CPU and memory for all; guest memory only for the guests that
        // report it, so that graph's images cover its own files, not the VM count.
        let mut vms: Vec<Vm> = (0..25).map(|i| running_vm(&format!("vm{i}"))).collect();
        for vm in &mut vms[..3] {
            vm.guest_memory = crate::model::GuestMemory {
                current: Some(1 << 30),
                available: Some(1 << 30),
                unused: Some(1 << 29),
                ..Default::default()
            };
        }
        let sent = sent_for(vms);
        assert_eq!(sent.vms_with(VmGauge::GuestMem.name()), 3);
        let drawn = images(&vm_graphs("hv1", "hvmon", &sent, 200_000));
        let of = |service: &str| -> Vec<(Option<usize>, Option<usize>)> {
            drawn
                .iter()
                .filter(|(s, ..)| s == service)
                .map(|(_, f, c)| (*f, *c))
                .collect()
        };
        assert_eq!(of("hvmon-cpu"), [(Some(1), Some(13)), (Some(14), Some(12))]);
        assert_eq!(of("hvmon-guestmem"), [(Some(1), Some(3))]);
    }

    #[test]
    fn host_totals_are_one_image_each_and_only_with_a_total_line() {
        let sent = sent_for(vec![Vm::new("a", State::Running)]);
        let page = total_graphs("hv1", "hvmon", &sent, Format::SplitNcv, 10_000);
        let services: Vec<String> = images(&page).into_iter().map(|(s, ..)| s).collect();
        assert_eq!(services, ["hvmon-totmem", "hvmon-totdisk", "hvmon-totnet"]);
        assert!(
            images(&page)
                .iter()
                .all(|(_, f, c)| f.is_none() && c.is_none())
        );
        assert!(page.starts_with("No data from any VM, so no graph, for: host CPU ("));
        let sent = sent_for(vec![running_vm("a")]);
        let page = total_graphs("hv1", "hvmon", &sent, Format::SplitNcv, 10_000);
        assert_eq!(images(&page).len(), 4, "{page}");
        assert!(!page.contains("No data"), "{page}");
        // A run without rates (the first, or the counters lost) has memory only, and says
        // why: no file of the others may exist yet, and a graph without one is blank.
        let s = snapshot(vec![running_vm("a")]);
        let none = vec![[None; Counter::ALL.len()]];
        let sent = lines_sent(&s, &VmSample::all(&s.vms), &none);
        let page = total_graphs("hv1", "hvmon", &sent, Format::SplitNcv, 10_000);
        let services: Vec<String> = images(&page).into_iter().map(|(s, ..)| s).collect();
        assert_eq!(services, ["hvmon-totmem"]);
        assert!(
            page.starts_with(
                "No data from any VM, so no graph, for: host CPU, host disk, host network (no \
                 rates yet: a first run, or the previous run's counters were lost; from the \
                 next run).\n"
            ),
            "{page}"
        );
        // Without a process, no CPU ever: that is the reason given, not the rates.
        let s = snapshot(vec![Vm::new("a", State::Running)]);
        let sent = lines_sent(&s, &VmSample::all(&s.vms), &none);
        let page = total_graphs("hv1", "hvmon", &sent, Format::SplitNcv, 10_000);
        assert!(
            page.starts_with(&format!(
                "No data from any VM, so no graph, for: host CPU ({NO_PROCESS}); host disk, \
                 host network (no rates yet: "
            )),
            "{page}"
        );
    }

    #[test]
    fn images_that_do_not_fit_the_budget_are_left_out_with_a_line_saying_so() {
        let vms: Vec<Vm> = (0..500).map(|i| running_vm(&format!("vm{i}"))).collect();
        let sent = sent_for(vms);
        let whole = vm_graphs(&"h".repeat(253), "hvmon", &sent, usize::MAX);
        assert!(!whole.contains("left out"), "{whole}");
        for budget in [0, 100, 3_000, whole.len() / 2] {
            let page = vm_graphs(&"h".repeat(253), "hvmon", &sent, budget);
            assert!(page.len() <= budget, "{} over {budget}", page.len());
            if budget >= CUT_LINE_MAX {
                let left = images(&whole).len() - images(&page).len();
                assert!(
                    page.contains(&format!("({left} more graph images left out: ")),
                    "{page}"
                );
            }
        }
    }

    #[test]
    fn the_rrd_script_form_draws_the_graphs_some_vm_has_a_value_for_over_every_vm() {
        let vms: Vec<Vm> = (0..30)
            .map(|i| Vm::new(format!("vm{i}"), State::Running))
            .collect();
        let s = snapshot(vms);
        let sent = rrd_script_lines_known(&s, &VmSample::all(&s.vms));
        let page = rrd_script_vm_graphs("hv1", "hvmonrrd", &sent, 30, 200_000);
        let drawn = images(&page);
        let services: std::collections::BTreeSet<&str> =
            drawn.iter().map(|(s, ..)| s.as_str()).collect();
        assert_eq!(
            services.into_iter().collect::<Vec<_>>(),
            [
                "hvmonrrd-disk",
                "hvmonrrd-disklat",
                "hvmonrrd-diskops",
                "hvmonrrd-net"
            ],
            "{page}"
        );
        let disk: Vec<_> = drawn
            .iter()
            .filter(|(s, ..)| s == "hvmonrrd-disk")
            .map(|(_, f, c)| (f.unwrap(), c.unwrap()))
            .collect();
        assert_eq!(disk, [(1, 15), (16, 15)]);
        assert!(
            page.starts_with("No data from any VM, so no graph, for: CPU, memory ("),
            "{page}"
        );
        let s = snapshot(vec![running_vm("a")]);
        let sent = rrd_script_lines_known(&s, &VmSample::all(&s.vms));
        let page = rrd_script_vm_graphs("hv1", "hvmonrrd", &sent, 1, 200_000);
        assert!(
            page.contains("service=hvmonrrd&amp;first=1&amp;count=1&amp;"),
            "{page}"
        );
        assert!(page.contains("service=hvmonrrd-mem&amp;"), "{page}");
    }

    #[test]
    fn the_rrd_script_forms_totals_are_those_with_a_known_figure() {
        let known = |vms: Vec<Vm>| {
            let s = snapshot(vms);
            rrd_script_lines_known(&s, &VmSample::all(&s.vms))
        };
        let services =
            |page: &str| -> Vec<String> { images(page).into_iter().map(|(s, ..)| s).collect() };
        // No process (the test driver): no CPU time, said so; memory, disk and network are.
        let page = total_graphs(
            "hv1",
            "hvmonrrd",
            &known(vec![Vm::new("a", State::Running)]),
            Format::RrdScript,
            10_000,
        );
        assert_eq!(
            services(&page),
            ["hvmonrrd-totmem", "hvmonrrd-totdisk", "hvmonrrd-totnet"]
        );
        assert!(page.starts_with("No data from any VM, so no graph, for: host CPU ("));
        // With a process, every total, rates or not (RRDtool makes them from the counters).
        let page = total_graphs(
            "hv1",
            "hvmonrrd",
            &known(vec![running_vm("a")]),
            Format::RrdScript,
            10_000,
        );
        assert_eq!(
            services(&page),
            [
                "hvmonrrd-totcpu",
                "hvmonrrd-totmem",
                "hvmonrrd-totdisk",
                "hvmonrrd-totnet"
            ]
        );
        assert!(!page.contains("No data"), "{page}");
    }
}
