//! The graphs a status page can draw: their sections in graphs.d, the metrics whose files
//! they read (named as each form sends them), and what the page says where none has data.

use crate::xymon_wire::{Counter, Format, TotalGauge, VmGauge};

/// A graph of graphs.d and the lines whose RRD files it draws.
pub(super) struct Graph {
    /// Its section in graphs.d (showgraph's `service`) after the column's name: `-cpu` for
    /// `[hvmon-cpu]`, whose FNPATTERN reads the `hvmon,vm_*_cpu.rrd` files of column hvmon.
    pub(super) suffix: &'static str,
    /// What the page calls it where it has no data.
    pub(super) what: &'static str,
    /// The metrics of its files' lines (`vm_<key>_cpu` or `all_cpu` for [`Counter::Cpu`])
    /// or of its datasets (rrd-script).
    pub(super) lines: &'static [Drawn],
    /// Why no VM sends them, when none does (and a run with rates would not either).
    pub(super) why_none: &'static str,
}

/// What a graph's files hold: a metric, named in the lines as the form sends it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Drawn {
    Gauge(VmGauge),
    Total(TotalGauge),
    /// A counter: SPLITNCV sends its rate (the latency for the disk time counters), the
    /// rrd-script form the counter itself.
    Rate(Counter),
}

use Drawn::{Gauge, Rate, Total};

impl Drawn {
    /// Its name in `format`'s lines (SPLITNCV) or datasets (rrd-script).
    pub(super) fn name(self, format: Format) -> &'static str {
        match self {
            Gauge(g) => g.name(),
            Total(g) => g.name(),
            Rate(c) if format == Format::RrdScript => c.name(),
            Rate(c) => c.rate_name(),
        }
    }
}

pub(super) const NO_PROCESS: &str =
    "libvirt gives these VMs no CPU time or resident memory (no QEMU process seen)";
const NO_VCPU: &str = "libvirt gives these VMs no vCPU times";
const NO_DISK: &str = "libvirt gave no disk figures";
const NO_NET: &str = "libvirt gave no network figures";
const NO_GUEST_MEMORY: &str = "no guest reports its memory (a balloon driver with a stats period)";
const NO_AGENT: &str = "no guest agent answered";

/// The per-VM graphs of the `<column>vm` page, in page order, one line (one file per VM) each.
pub(super) const VM_GRAPHS: [Graph; 14] = [
    graph("-cpu", "CPU", &[Rate(Counter::Cpu)], NO_PROCESS),
    graph("-mem", "memory", &[Gauge(VmGauge::Rss)], NO_PROCESS),
    graph("-diskread", "disk reads", &[Rate(Counter::RBytes)], NO_DISK),
    graph(
        "-diskwrite",
        "disk writes",
        &[Rate(Counter::WBytes)],
        NO_DISK,
    ),
    graph("-readops", "read requests", &[Rate(Counter::ROps)], NO_DISK),
    graph(
        "-writeops",
        "write requests",
        &[Rate(Counter::WOps)],
        NO_DISK,
    ),
    graph("-readlat", "read latency", &[Rate(Counter::RTime)], NO_DISK),
    graph(
        "-writelat",
        "write latency",
        &[Rate(Counter::WTime)],
        NO_DISK,
    ),
    graph("-netin", "network in", &[Rate(Counter::NetIn)], NO_NET),
    graph("-netout", "network out", &[Rate(Counter::NetOut)], NO_NET),
    graph(
        "-guestmem",
        "guest memory",
        &[Gauge(VmGauge::GuestMem)],
        NO_GUEST_MEMORY,
    ),
    graph(
        "-guestfs",
        "guest file system",
        &[Gauge(VmGauge::GuestFs)],
        NO_AGENT,
    ),
    graph("-vcpu", "vCPU", &[Rate(Counter::Vcpu)], NO_VCPU),
    graph("-steal", "steal", &[Rate(Counter::Steal)], NO_VCPU),
];

/// The per-VM graphs of the rrd-script form's `<column>vm` page: one file a VM holds all of
/// its figures (`hvmonrrd,vm_<key>.rrd`, the guest's in `hvmonrrd-guest,vm_<key>.rrd`), so
/// every graph has a file per VM; the lines are the datasets it draws.
pub(super) const RRD_SCRIPT_VM_GRAPHS: [Graph; 9] = [
    graph("", "CPU", &[Rate(Counter::Cpu)], NO_PROCESS),
    graph("-mem", "memory", &[Gauge(VmGauge::Rss)], NO_PROCESS),
    graph(
        "-disk",
        "disk bytes",
        &[Rate(Counter::RBytes), Rate(Counter::WBytes)],
        NO_DISK,
    ),
    graph(
        "-diskops",
        "disk requests",
        &[Rate(Counter::ROps), Rate(Counter::WOps)],
        NO_DISK,
    ),
    graph(
        "-disklat",
        "disk latency",
        &[Rate(Counter::RTime), Rate(Counter::WTime)],
        NO_DISK,
    ),
    graph(
        "-net",
        "network",
        &[Rate(Counter::NetIn), Rate(Counter::NetOut)],
        NO_NET,
    ),
    graph(
        "-guest",
        "guest memory",
        &[Gauge(VmGauge::GuestUsed)],
        NO_GUEST_MEMORY,
    ),
    graph(
        "-guestfs",
        "guest file system",
        &[Gauge(VmGauge::GuestFs)],
        NO_AGENT,
    ),
    graph(
        "-vcpu",
        "vCPU",
        &[Rate(Counter::Vcpu), Rate(Counter::Steal)],
        NO_VCPU,
    ),
];

/// The host's totals on the main column's page, one image each (no split): SPLITNCV's one
/// file a line, the rrd-script form's datasets of its states file. The VMs by state graph
/// is Xymon's own (`GRAPHS_<column>`): it always has data.
pub(super) const TOTAL_GRAPHS: [Graph; 4] = [
    graph("-totcpu", "host CPU", &[Rate(Counter::Cpu)], NO_PROCESS),
    graph(
        "-totmem",
        "host memory",
        &[Total(TotalGauge::Mem), Total(TotalGauge::Rss)],
        NO_PROCESS,
    ),
    graph(
        "-totdisk",
        "host disk",
        &[Rate(Counter::RBytes), Rate(Counter::WBytes)],
        NO_DISK,
    ),
    graph(
        "-totnet",
        "host network",
        &[Rate(Counter::NetIn), Rate(Counter::NetOut)],
        NO_NET,
    ),
];

const fn graph(
    suffix: &'static str,
    what: &'static str,
    lines: &'static [Drawn],
    why_none: &'static str,
) -> Graph {
    Graph {
        suffix,
        what,
        lines,
        why_none,
    }
}

/// Why a graph of rates has no data on a run without rates.
pub(super) const NO_RATES_YET: &str =
    "no rates yet: a first run, or the previous run's counters were lost; from the next run";

impl Graph {
    /// Its section in graphs.d for the files of `column`.
    pub(super) fn name(&self, column: &str) -> String {
        format!("{column}{}", self.suffix)
    }

    /// The names of its lines (or datasets) in `format`'s messages.
    pub(super) fn line_names(&self, format: Format) -> impl Iterator<Item = &'static str> {
        self.lines.iter().map(move |l| l.name(format))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every graph drawn is defined in the shipped graphs.d, on the files of its lines.
    #[test]
    fn every_graph_drawn_reads_the_files_of_its_lines() {
        let cfg = include_str!("../../../../xymon/graphs.d/hv-monitor.cfg");
        let pattern = |name: &str| -> String {
            let at = cfg
                .find(&format!("[{name}]\n"))
                .unwrap_or_else(|| panic!("[{name}] missing from graphs.d"));
            let body = &cfg[at..];
            let line = body.lines().find(|l| l.contains("FNPATTERN")).unwrap();
            line.trim().trim_start_matches("FNPATTERN ").to_string()
        };
        for g in &VM_GRAPHS {
            let [line] = g.lines else {
                panic!("{}", g.suffix)
            };
            let line = line.name(Format::SplitNcv);
            assert_eq!(
                pattern(&g.name("hvmon")),
                format!("^hvmon,vm_(.+)_{line}\\.rrd$")
            );
        }
        for g in &RRD_SCRIPT_VM_GRAPHS {
            let name = g.name("hvmonrrd");
            let at = cfg.find(&format!("[{name}]\n")).unwrap();
            let body = &cfg[at..][..cfg[at + 1..].find("\n[").unwrap_or(cfg.len() - at)];
            for line in g.line_names(Format::RrdScript) {
                assert!(body.contains(&format!(":{line}:AVERAGE")), "{name}: {line}");
            }
            assert!(pattern(&name).starts_with("^hvmonrrd"), "{name}");
        }
        for g in &TOTAL_GRAPHS {
            let lines: Vec<&str> = g.line_names(Format::SplitNcv).collect();
            assert_eq!(
                pattern(&g.name("hvmon")),
                format!("^hvmon,all_({})\\.rrd$", lines.join("|"))
            );
            // The rrd-script form's: the datasets of its one states file.
            let name = g.name("hvmonrrd");
            let at = cfg
                .find(&format!("[{name}]\n"))
                .unwrap_or_else(|| panic!("[{name}] missing from graphs.d"));
            let body = &cfg[at..][..cfg[at + 1..].find("\n[").unwrap_or(cfg.len() - at)];
            assert!(!body.contains("FNPATTERN"), "{name}");
            for line in g.line_names(Format::RrdScript) {
                assert!(
                    body.contains(&format!("=hvmonrrd-states.rrd:{line}:AVERAGE")),
                    "{name}: {line}"
                );
            }
        }
    }
}
