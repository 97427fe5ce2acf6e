//! The guest agent calls: `virDomainGetGuestInfo` for running VMs whose agent channel is
//! connected ([`Agent::NotAsked`] after assembly), bounded by the run's deadline.
//!
//! libvirt refuses agent calls on a read-only connection, and the collector's are read-only,
//! so one read-write connection is opened for them, only when some VM is to be asked. Where
//! it cannot be opened (snmpd's user, not in group libvirt) the agents are not asked and the
//! snapshot says so once, in its notes: no error, nothing per VM.
//!
//! Each domain's agent response timeout is set short first
//! (`virDomainAgentSetResponseTimeout`, at most [`AGENT_TIMEOUT_MAX_SECS`] and within the
//! deadline). libvirt keeps that timeout for the running domain until it stops, so every
//! later agent call on it (`virsh guestinfo` too) waits at most that long instead of
//! libvirt's default 5 s; a healthy agent answers in well under a second. The calls run
//! [`MAX_AGENT_THREADS`] at once; one still out at the deadline is abandoned on its thread
//! (see [`crate::collect::abandoned`]) and its VM marked [`Agent::NoAnswer`], with the rest
//! of its data as collected.

use std::collections::VecDeque;
use std::os::raw::c_int;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use super::bulk::{self, ParamValue};
use super::parse::guest_info;
use crate::model::{Agent, Vm};

/// What is asked: no users, time zone, disks or load, which no output shows.
const INFO_TYPES: u32 = sys::VIR_DOMAIN_GUEST_INFO_OS
    | sys::VIR_DOMAIN_GUEST_INFO_HOSTNAME
    | sys::VIR_DOMAIN_GUEST_INFO_FILESYSTEM
    | sys::VIR_DOMAIN_GUEST_INFO_INTERFACES;

/// Agent calls at once: each mostly waits on its guest.
const MAX_AGENT_THREADS: usize = 8;

/// Less time than this left, and the agents are not asked: opening a connection and one
/// agent round trip take about this long.
const MIN_AGENT_TIME: Duration = Duration::from_millis(200);

/// Longest agent response timeout set on a domain, seconds.
const AGENT_TIMEOUT_MAX_SECS: u64 = 2;

/// `virDomainGetGuestInfo` for `dom`, copied into owned values and freed.
fn guest_info(dom: &Domain) -> Result<Vec<(String, ParamValue)>, virt::error::Error> {
    let mut params: sys::virTypedParameterPtr = std::ptr::null_mut();
    let mut count: c_int = 0;
    // SAFETY: `dom` is a live domain; libvirt allocates `params` for us to free.
    let rc = unsafe {
        sys::virDomainGetGuestInfo(dom.as_ptr(), INFO_TYPES, &raw mut params, &raw mut count, 0)
    };
    if rc < 0 {
        return Err(virt::error::Error::last_error());
    }
    let out = (0..usize::try_from(count).unwrap_or(0))
        // SAFETY: j < count; the array stays valid until freed below.
        .filter_map(|j| unsafe { bulk::read_param(&*params.add(j)) })
        .collect();
    // SAFETY: freed once, after the last read.
    unsafe { sys::virTypedParamsFree(params, count) };
    Ok(out)
}

/// Sets `dom`'s agent response timeout (kept by libvirt while the domain runs).
fn set_agent_timeout(dom: &Domain, secs: u64) -> Result<(), virt::error::Error> {
    let secs = c_int::try_from(secs).unwrap_or(c_int::MAX);
    // SAFETY: `dom` is a live domain.
    if unsafe { sys::virDomainAgentSetResponseTimeout(dom.as_ptr(), secs, 0) } < 0 {
        return Err(virt::error::Error::last_error());
    }
    Ok(())
}

/// The agent timeout for calls that must end by `deadline`: whole seconds left, at least 1
/// (libvirt's 0 means "do not wait" and would fail every call), at most
/// [`AGENT_TIMEOUT_MAX_SECS`].
fn timeout_secs(left: Option<Duration>) -> u64 {
    left.map_or(AGENT_TIMEOUT_MAX_SECS, |d| d.as_secs())
        .clamp(1, AGENT_TIMEOUT_MAX_SECS)
}

/// Applies one agent's answer to its VM: what the agent says, its primary address as `ip`.
fn apply(vm: &mut Vm, answer: Result<Vec<(String, ParamValue)>, String>) {
    let Ok(params) = answer else {
        vm.agent = Agent::NoAnswer;
        return;
    };
    let info = guest_info::parse(&params);
    if let Some(ip) = info.primary_ip(vm.nics.iter().map(|n| n.mac.as_str())) {
        vm.ip = ip.to_string();
    }
    vm.agent = Agent::Answered(Box::new(info));
}

/// Asks the agent of every VM in [`Agent::NotAsked`] over a read-write connection to `uri`
/// (opened by `open`, bounded like the collector's own), by `deadline`. Notes go to `notes`.
pub fn ask(
    vms: &mut [Vm],
    open: impl FnOnce() -> Result<Connect, String>,
    deadline: Option<Instant>,
    notes: &mut Vec<String>,
) {
    let wanted: Vec<usize> = (0..vms.len())
        .filter(|&i| vms[i].agent == Agent::NotAsked)
        .collect();
    if wanted.is_empty() {
        return;
    }
    if deadline.is_some_and(|d| d.saturating_duration_since(Instant::now()) < MIN_AGENT_TIME) {
        notes.push(format!(
            "guest agents not asked ({} VMs with one): no time left before the deadline",
            wanted.len()
        ));
        return;
    }
    let conn = match open() {
        Ok(conn) => conn,
        Err(reason) => {
            notes.push(format!(
                "guest agents not asked ({} VMs with one): no read-write libvirt connection \
                 ({reason}); agent data needs root or group libvirt",
                wanted.len()
            ));
            return;
        }
    };
    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let timeout = timeout_secs(left);
    let queue: Arc<Mutex<VecDeque<(usize, String)>>> = Arc::new(Mutex::new(
        wanted.iter().map(|&i| (i, vms[i].name.clone())).collect(),
    ));
    let (tx, rx) = mpsc::channel();
    let mut workers = Vec::new();
    for n in 0..wanted.len().min(MAX_AGENT_THREADS) {
        let (queue, tx, conn) = (Arc::clone(&queue), tx.clone(), conn.clone());
        let work = move || {
            loop {
                let next = queue.lock().map(|mut q| q.pop_front());
                let Ok(Some((i, name))) = next else { break };
                let answer = conn
                    .lookup_domain_by_name(&name)
                    .and_then(|dom| {
                        // A domain that refuses a new timeout is still asked, on its own.
                        let _ = set_agent_timeout(&dom, timeout);
                        guest_info(&dom)
                    })
                    .map_err(|e| e.message().to_string());
                if tx.send((i, answer)).is_err() {
                    break;
                }
            }
        };
        match std::thread::Builder::new()
            .name(format!("libvirt-agent-{n}"))
            .spawn(work)
        {
            Ok(handle) => workers.push(handle),
            Err(_) if workers.is_empty() => {
                notes.push("guest agents not asked: no thread to ask them on".into());
                return;
            }
            Err(_) => break,
        }
    }
    drop(tx);
    let mut answered = 0;
    while answered < wanted.len() {
        let got = match deadline {
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        let Ok((i, answer)) = got else { break };
        apply(&mut vms[i], answer);
        answered += 1;
    }
    if answered < wanted.len() {
        // Calls not yet started are not started: past the deadline nobody waits for them.
        if let Ok(mut q) = queue.lock() {
            q.clear();
        }
        for &i in &wanted {
            if vms[i].agent == Agent::NotAsked {
                vms[i].agent = Agent::NoAnswer;
            }
        }
        crate::collect::abandoned::note_abandoned_thread();
    } else {
        // All answered: joined, so no teardown overlaps the exit handlers.
        for worker in workers {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Nic, State};

    #[test]
    fn the_timeout_is_short_and_inside_the_deadline() {
        assert_eq!(timeout_secs(None), AGENT_TIMEOUT_MAX_SECS);
        assert_eq!(timeout_secs(Some(Duration::from_millis(300))), 1);
        assert_eq!(
            timeout_secs(Some(Duration::from_secs(60))),
            AGENT_TIMEOUT_MAX_SECS
        );
    }

    #[test]
    fn an_answer_sets_the_guest_and_the_primary_ip_a_failure_the_flag() {
        let mut vm = Vm::new("g", State::Running);
        vm.nics = vec![Nic {
            mac: "52:54:00:77:00:8b".into(),
            ..Nic::default()
        }];
        let s = |f: &str, v: &str| (f.to_string(), ParamValue::Str(v.to_string()));
        apply(
            &mut vm,
            Ok(vec![
                s("if.0.hwaddr", "52:54:00:77:00:8b"),
                s("if.0.addr.0.addr", "192.0.2.7"),
                (String::from("if.0.addr.0.prefix"), ParamValue::UInt(24)),
            ]),
        );
        assert_eq!(vm.ip, "192.0.2.7");
        assert!(vm.agent.info().is_some());
        apply(&mut vm, Err("agent is not responding".into()));
        assert_eq!(vm.agent, Agent::NoAnswer);
    }
}
