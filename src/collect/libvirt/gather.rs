//! The per-domain libvirt calls: asks what the bulk stats did not carry and keeps every
//! answer, good or bad, in a [`DomainAnswers`] for [`super::assemble`].

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use virt::connect::Connect;
use virt::domain::{Domain, DomainStateReason, DomainStateReasonEnum};
use virt::enumutil::Enum;
use virt::error::ErrorNumber;

use super::answers::{
    Answer, BlockAnswers, BlockCounters, BlockSizes, CallError, DomainAnswers, InterfaceAnswer,
    InterfaceCounters, StateAnswer, is_vanished,
};
use super::bulk::DomainStats;
use super::parse::domain_xml::{self, DomainXml};
use super::parse::{procfs, stats};
use super::qemu_process;
use super::storage;
use crate::model::{Reason, State};

/// The reason's number as libvirt gave it: the bindings hand it back decoded, and the model
/// decodes it in one place ([`stats::reason_from_libvirt`]).
fn reason_code(reason: DomainStateReasonEnum) -> Option<u32> {
    match reason {
        Enum::Known(known) => Some(match known {
            DomainStateReason::NoState(r) => r.to_raw(),
            DomainStateReason::Running(r) => r.to_raw(),
            DomainStateReason::Blocked(r) => r.to_raw(),
            DomainStateReason::Paused(r) => r.to_raw(),
            DomainStateReason::Shutdown(r) => r.to_raw(),
            DomainStateReason::Shutoff(r) => r.to_raw(),
            DomainStateReason::Crashed(r) => r.to_raw(),
            DomainStateReason::PMSuspended(r) => r.to_raw(),
        }),
        Enum::Unknown(code) => u32::try_from(code).ok(),
    }
}

fn answer<T>(result: Result<T, virt::error::Error>) -> Answer<T> {
    result.map_err(|e| CallError {
        vanished: is_vanished(&e),
        message: e.message().to_string(),
    })
}

/// What one connection's collection shares across its domains.
pub struct Context<'a> {
    /// The connection every call goes through.
    pub conn: &'a Connect,
    /// Names of the domains set to autostart, from one listing; `None` when the listing
    /// failed and each domain is asked.
    pub autostart: Option<&'a HashSet<String>>,
    /// Names of the domains with snapshots, likewise: the others have none to count.
    pub with_vm_snapshots: Option<&'a HashSet<String>>,
    /// Where QEMU's PID files are, and the host figures /proc reads need.
    pub processes: Option<(&'a Path, &'a procfs::Host)>,
    /// When the run must be done: a disk-error call (it waits for the domain's QEMU
    /// monitor) is not started after it.
    pub deadline: Option<Instant>,
    /// Whether paused domains are asked for their disk errors (not on a driver that makes
    /// them up).
    pub asks_disk_errors: bool,
}

/// Everything about one domain. Stops asking once its state cannot be had or it vanished:
/// it is left out then. `known`: its XML facts from the cache, still valid; its XML is
/// fetched only without them.
pub fn domain(
    dom: &Domain,
    stats: DomainStats,
    cx: &Context,
    bridges: &mut BridgeCache,
    known: Option<&DomainXml>,
) -> DomainAnswers {
    let params = stats::Params::new(&stats.params);
    let mut state = params.state();
    // What the bulk stats lacked, asked before they move into the answer.
    let (has_block_group, has_net_group) = (params.has_block_group(), params.has_net_group());
    let busy = params.disk_stats_unknown();
    let mut reason = params.reason().map(|r| r.kind);
    // The state and its reason, asked when the bulk record lacks them (its stats call failed).
    let state_call = if params.reason().is_none() {
        let call = answer(dom.state()).map(|(state, reason)| StateAnswer {
            state: state.to_raw(),
            reason: reason_code(reason),
        });
        state = call
            .as_ref()
            .ok()
            .map(|s| stats::state_from_libvirt(s.state));
        reason = call.as_ref().ok().and_then(|s| {
            let state = stats::state_from_libvirt(s.state);
            s.reason.map(|r| stats::reason_from_libvirt(state, r).kind)
        });
        Some(call)
    } else {
        None
    };
    // What is known so far; returned as it is when the domain cannot be asked further.
    let mut raw = DomainAnswers {
        name: stats.name,
        stats: stats.params,
        state: state_call,
        xml: Ok(String::new()),
        xml_facts: None,
        blocks: Vec::new(),
        interfaces: Vec::new(),
        bridges: Vec::new(),
        snapshots: Ok(0),
        autostart: Ok(false),
        disk_errors: None,
        process: None,
    };
    if matches!(raw.state, Some(Err(_))) {
        return raw;
    }
    raw.xml_facts = match known {
        Some(facts) => Some(facts.clone()),
        None => {
            raw.xml = answer(dom.xml_desc(0));
            if matches!(&raw.xml, Err(e) if e.vanished) {
                return raw;
            }
            raw.xml
                .as_deref()
                .ok()
                .and_then(|t| domain_xml::parse(t).ok())
        }
    };
    let xml = raw.xml_facts.clone().unwrap_or_default();
    let active = state.is_some_and(State::has_process);

    if !has_block_group {
        raw.blocks = xml
            .disks
            .iter()
            .map(|d| BlockAnswers {
                target: d.target.clone(),
                info: answer(dom.block_info(&d.target, 0)).map(|i| BlockSizes {
                    capacity: i.capacity,
                    allocation: i.allocation,
                    physical: i.physical,
                }),
                stats: active.then(|| {
                    answer(dom.block_stats(&d.target)).map(|s| BlockCounters {
                        rd_bytes: s.rd_bytes,
                        rd_req: s.rd_req,
                        wr_bytes: s.wr_bytes,
                        wr_req: s.wr_req,
                    })
                }),
            })
            .collect();
    }
    if active && !has_net_group {
        raw.interfaces = xml
            .interfaces
            .iter()
            .filter(|i| !i.target.is_empty())
            .map(|i| InterfaceAnswer {
                target: i.target.clone(),
                counters: answer(dom.interface_stats(&i.target)).map(|s| InterfaceCounters {
                    rx_bytes: s.rx_bytes,
                    rx_packets: s.rx_packets,
                    rx_errs: s.rx_errs,
                    rx_drop: s.rx_drop,
                    tx_bytes: s.tx_bytes,
                    tx_packets: s.tx_packets,
                    tx_errs: s.tx_errs,
                    tx_drop: s.tx_drop,
                }),
            })
            .collect();
    }
    for iface in xml.interfaces.iter().filter(|i| i.parent.is_empty()) {
        if let Some(network) = &iface.network {
            let bridge = bridges.bridge_of(cx.conn, network);
            raw.bridges.push((network.clone(), bridge));
        }
    }
    raw.snapshots = match cx.with_vm_snapshots {
        Some(names) if !names.contains(&raw.name) => Ok(0),
        _ => answer(dom.num_snapshots(0)),
    };
    raw.autostart = match cx.autostart {
        Some(names) => Ok(names.contains(&raw.name)),
        None => answer(dom.autostart()),
    };
    // QEMU keeps a disk error only while the VM is stopped on it: paused with reason I/O
    // error (or with a reason this build cannot read). Other pauses have none to give.
    let may_have_disk_errors = state == Some(State::Paused)
        && matches!(reason, Some(Reason::IoError | Reason::Unknown) | None);
    if cx.asks_disk_errors && may_have_disk_errors && !busy {
        raw.disk_errors = Some(disk_errors(dom, cx.deadline));
    }
    if active && let Some((dir, host)) = cx.processes {
        raw.process = Some(qemu_process::read(dir, &raw.name, host).map_err(|e| e.to_string()));
    }
    raw
}

/// A paused domain's disk errors, unless the run's deadline has passed. A driver that keeps
/// none has none to give: no error.
fn disk_errors(dom: &Domain, deadline: Option<Instant>) -> Answer<Vec<(String, u32)>> {
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(CallError {
            vanished: false,
            message: "not asked: the run's deadline has passed".into(),
        });
    }
    match storage::disk_errors(dom) {
        Err(e) if e.code().is(ErrorNumber::NoSupport) => Ok(Vec::new()),
        result => answer(result),
    }
}

/// Bridge names of libvirt networks, looked up once per network per connection.
#[derive(Default)]
pub struct BridgeCache(HashMap<String, String>);

impl BridgeCache {
    fn bridge_of(&mut self, conn: &Connect, network: &str) -> String {
        self.0
            .entry(network.to_string())
            .or_insert_with(|| {
                conn.lookup_network_by_name(network)
                    .and_then(|n| n.bridge_name())
                    .unwrap_or_default()
            })
            .clone()
    }
}
