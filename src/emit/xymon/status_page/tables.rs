//! The status page's full tables: one row per VM (the columns with a figure for some VM)
//! and one per storage pool.

use std::fmt::Write as _;

use super::{Rates, cpu_column, cpu_shown};
use crate::model::{Agent, Snapshot};
use crate::text::for_status_page;
use crate::xymon_wire::Counter;

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

/// The full table of VMs. A column no VM has a figure for (the guest's memory, CPU %, IP,
/// the agent's answer) is left out: at 500 VMs every byte of a row is 500 bytes of page.
pub(super) struct VmTable<'a> {
    snapshot: &'a Snapshot,
    names: &'a [String],
    states: &'a [String],
    rates: Rates<'a>,
    ips: Vec<String>,
    width: usize,
    state_width: usize,
    ip_width: usize,
    guest_mem: bool,
    cpu: bool,
    agent: bool,
    pub(super) header: String,
}

impl<'a> VmTable<'a> {
    pub(super) fn new(
        snapshot: &'a Snapshot,
        names: &'a [String],
        states: &'a [String],
        rates: Rates<'a>,
    ) -> VmTable<'a> {
        let width = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(2)
            .clamp(2, 40);
        let state_width = states.iter().map(String::len).max().unwrap_or(0).max(5);
        let ips: Vec<String> = snapshot
            .vms
            .iter()
            .map(|vm| for_status_page(if vm.ip.is_empty() { "-" } else { &vm.ip }, Some(45), None))
            .collect();
        let ip_width = ips.iter().map(String::len).max().unwrap_or(0).max(2);
        let vms = &snapshot.vms;
        let mut table = VmTable {
            snapshot,
            names,
            states,
            rates,
            width,
            state_width,
            ip_width,
            guest_mem: vms.iter().any(|vm| vm.guest_memory.used().is_some()),
            cpu: cpu_column(snapshot, rates),
            agent: vms.iter().any(|vm| agent_shown(&vm.agent) != "-"),
            ips: Vec::new(),
            header: String::new(),
        };
        let any_ip = snapshot.vms.iter().any(|vm| !vm.ip.is_empty());
        if any_ip {
            table.ips = ips;
        }
        table.header = table.line([
            "VM".into(),
            "STATE".into(),
            "AUTOSTART".into(),
            "VCPUS".into(),
            "MEMORY MiB".into(),
            "GUEST MiB".into(),
            "CPU %".into(),
            "IP".into(),
            "GUEST HOSTNAME, OS".into(),
        ]);
        table
    }

    /// One line of the table from its nine cells, the absent columns left out.
    fn line(&self, cells: [String; 9]) -> String {
        let [name, state, autostart, vcpus, mem, guest, cpu, ip, agent] = cells;
        let (width, state_width, ip_width) = (self.width, self.state_width, self.ip_width);
        let mut out =
            format!("{name:<width$}  {state:<state_width$} {autostart:<9} {vcpus:>5} {mem:>10}");
        if self.guest_mem {
            let _ = write!(out, " {guest:>9}");
        }
        if self.cpu {
            let _ = write!(out, " {cpu:>7}");
        }
        if !self.ips.is_empty() {
            let _ = write!(out, " {ip:<ip_width$}");
        }
        if self.agent {
            let _ = write!(out, " {agent}");
        }
        let mut out = out.trim_end().to_string();
        out.push('\n');
        out
    }

    pub(super) fn row(&self, i: usize) -> String {
        let vm = &self.snapshot.vms[i];
        let autostart = match vm.autostart {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        // In use inside the guest, where its balloon driver says.
        let guest_used = vm
            .guest_memory
            .used()
            .map_or("-".to_string(), |b| (b >> 20).to_string());
        self.line([
            self.names[i].clone(),
            self.states[i].clone(),
            autostart.into(),
            vm.cpus.to_string(),
            (vm.mem_alloc >> 20).to_string(),
            guest_used,
            cpu_shown(vm, self.rates.of(i, Counter::Cpu)),
            self.ips.get(i).cloned().unwrap_or_default(),
            agent_shown(&vm.agent),
        ])
    }
}

/// The storage pools' rows under the VM table, with a header; empty without pools.
pub(super) fn pool_table(snapshot: &Snapshot, names: &[String]) -> String {
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
