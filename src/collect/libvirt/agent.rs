//! The guest agent calls: `virDomainGetGuestInfo` for running VMs whose agent channel is
//! connected ([`Agent::NotAsked`] after assembly), bounded by the run's deadline.
//!
//! libvirt refuses agent calls on a read-only connection, and the collector's are read-only,
//! so one read-write connection is opened for them, only when some VM is to be asked: by a
//! [`Session`] started before the bulk stats when the domain XML cache remembers running VMs
//! with an agent (their calls then overlap the stats), else after assembly. Where
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

use std::collections::{HashMap, HashSet};
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
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

/// What the agent threads tell the collector.
enum Event {
    /// The read-write connection opened and the threads are ready, or why the agents cannot
    /// be asked (a phrase for the note).
    Opened(Result<(), String>),
    /// One domain's answer, by name.
    Answer(String, Result<Vec<(String, ParamValue)>, String>),
}

/// Agent calls under way over one read-write connection, opened on a thread of its own.
///
/// A run starts it before the bulk stats with the VMs the domain XML cache expects to have a
/// connected agent, so their calls overlap the stats (the agent calls take the domain's agent
/// job, the stats its monitor: libvirt runs them side by side); [`ask`] adds the VMs the
/// guess missed and waits for the answers, by the deadline.
pub struct Session {
    /// Names for the agent threads; dropped when the last is sent, which ends them.
    work: Option<mpsc::Sender<String>>,
    events: mpsc::Receiver<Event>,
    /// Set when the run stops waiting: calls not yet started are not started.
    abandon: Arc<AtomicBool>,
    sent: HashSet<String>,
    deadline: Option<Instant>,
    opener: Option<JoinHandle<Vec<JoinHandle<()>>>>,
}

impl Session {
    /// Opens the connection (`open`, bounded like the collector's own) and the agent threads
    /// on a thread, and returns at once; `Err`: why it cannot (a phrase for the note).
    pub fn start(
        open: impl FnOnce() -> Result<Connect, String> + Send + 'static,
        deadline: Option<Instant>,
    ) -> Result<Session, String> {
        if deadline.is_some_and(|d| d.saturating_duration_since(Instant::now()) < MIN_AGENT_TIME) {
            return Err("no time left before the deadline".into());
        }
        let (work, names) = mpsc::channel::<String>();
        let (tell, events) = mpsc::channel();
        let abandon = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&abandon);
        let opener = std::thread::Builder::new()
            .name("libvirt-agent-open".into())
            .spawn(move || {
                let conn = match open() {
                    Ok(conn) => conn,
                    Err(reason) => {
                        let _ = tell.send(Event::Opened(Err(format!(
                            "no read-write libvirt connection ({reason}); agent data needs \
                             root or group libvirt"
                        ))));
                        return Vec::new();
                    }
                };
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                let timeout = timeout_secs(left);
                let names = Arc::new(Mutex::new(names));
                let mut workers = Vec::new();
                for n in 0..MAX_AGENT_THREADS {
                    let (names, tell, conn, flag) = (
                        Arc::clone(&names),
                        tell.clone(),
                        conn.clone(),
                        Arc::clone(&flag),
                    );
                    let worker = move || ask_each(&names, &tell, &conn, &flag, timeout);
                    match std::thread::Builder::new()
                        .name(format!("libvirt-agent-{n}"))
                        .spawn(worker)
                    {
                        Ok(handle) => workers.push(handle),
                        Err(_) => break,
                    }
                }
                let opened = if workers.is_empty() {
                    Err("no thread to ask them on".to_string())
                } else {
                    Ok(())
                };
                let _ = tell.send(Event::Opened(opened));
                workers
            })
            .map_err(|_| "no thread to ask them on".to_string())?;
        Ok(Session {
            work: Some(work),
            events,
            abandon,
            sent: HashSet::new(),
            deadline,
            opener: Some(opener),
        })
    }

    /// Asks `name`'s agent (once per session), as soon as a thread is free.
    pub fn ask(&mut self, name: &str) {
        if let Some(work) = &self.work
            && self.sent.insert(name.to_string())
        {
            let _ = work.send(name.to_string());
        }
    }

    /// Waits for the answers to every call made, by the deadline, and applies those of the
    /// VMs in [`Agent::NotAsked`] (`wanted`, by index); a guessed VM that turned out not to
    /// be asked has its answer dropped.
    fn finish(mut self, vms: &mut [Vm], wanted: &[usize], notes: &mut Vec<String>) {
        drop(self.work.take());
        let index: HashMap<String, usize> =
            wanted.iter().map(|&i| (vms[i].name.clone(), i)).collect();
        let mut opened = false;
        let mut answers = 0;
        while !opened || answers < self.sent.len() {
            let event = match self.deadline {
                Some(d) => self
                    .events
                    .recv_timeout(d.saturating_duration_since(Instant::now())),
                None => self
                    .events
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            match event {
                Ok(Event::Opened(Ok(()))) => opened = true,
                Ok(Event::Opened(Err(reason))) => {
                    if !wanted.is_empty() {
                        notes.push(not_asked(wanted.len(), &reason));
                    }
                    self.join();
                    return;
                }
                Ok(Event::Answer(name, answer)) => {
                    answers += 1;
                    if let Some(&i) = index.get(&name) {
                        apply(&mut vms[i], answer);
                    }
                }
                Err(_) => break,
            }
        }
        if opened && answers == self.sent.len() {
            // All answered: joined, so no teardown overlaps the exit handlers.
            self.join();
            return;
        }
        // Past the deadline nobody waits for the calls still out or not yet started.
        self.abandon.store(true, Ordering::SeqCst);
        for &i in wanted {
            if vms[i].agent == Agent::NotAsked {
                vms[i].agent = Agent::NoAnswer;
            }
        }
        crate::collect::abandoned::note_abandoned_thread();
    }

    fn join(&mut self) {
        let workers = self
            .opener
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        for worker in workers {
            let _ = worker.join();
        }
    }
}

/// The note of a run whose agents were not asked.
fn not_asked(vms: usize, reason: &str) -> String {
    format!("guest agents not asked ({vms} VMs with one): {reason}")
}

/// One agent thread: asks each name it is given until the work ends or the run gives up.
fn ask_each(
    names: &Mutex<mpsc::Receiver<String>>,
    tell: &mpsc::Sender<Event>,
    conn: &Connect,
    abandon: &AtomicBool,
    timeout: u64,
) {
    loop {
        let next = names.lock().map(|names| names.recv());
        let Ok(Ok(name)) = next else { break };
        if abandon.load(Ordering::SeqCst) {
            break;
        }
        let answer = conn
            .lookup_domain_by_name(&name)
            .and_then(|dom| {
                // A domain that refuses a new timeout is still asked, on its own.
                let _ = set_agent_timeout(&dom, timeout);
                guest_info(&dom)
            })
            .map_err(|e| e.message().to_string());
        if tell.send(Event::Answer(name, answer)).is_err() {
            break;
        }
    }
}

/// Asks the agent of every VM in [`Agent::NotAsked`], on `early` (the session started before
/// the stats) or on a session started now with `open`, by `deadline`. Notes go to `notes`.
pub fn ask(
    vms: &mut [Vm],
    early: Option<Session>,
    open: impl FnOnce() -> Result<Connect, String> + Send + 'static,
    deadline: Option<Instant>,
    notes: &mut Vec<String>,
) {
    let wanted: Vec<usize> = (0..vms.len())
        .filter(|&i| vms[i].agent == Agent::NotAsked)
        .collect();
    let mut session = match early {
        Some(session) => session,
        None if wanted.is_empty() => return,
        None => match Session::start(open, deadline) {
            Ok(session) => session,
            Err(reason) => {
                notes.push(not_asked(wanted.len(), &reason));
                return;
            }
        },
    };
    for &i in &wanted {
        session.ask(&vms[i].name);
    }
    session.finish(vms, &wanted, notes);
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

    fn with_agent(name: &str) -> Vm {
        let mut vm = Vm::new(name, State::Running);
        vm.agent = Agent::NotAsked;
        vm
    }

    #[test]
    fn without_a_read_write_connection_the_agents_are_not_asked_and_it_is_said_once() {
        let mut vms = vec![with_agent("a"), with_agent("b")];
        let early = Session::start(|| Err("permission denied".into()), None).unwrap();
        let mut notes = Vec::new();
        ask(&mut vms, Some(early), || unreachable!(), None, &mut notes);
        assert_eq!(
            notes,
            [
                "guest agents not asked (2 VMs with one): no read-write libvirt connection \
              (permission denied); agent data needs root or group libvirt"
            ]
        );
        assert!(vms.iter().all(|vm| vm.agent == Agent::NotAsked));
    }

    #[test]
    fn a_guess_that_no_vm_needs_costs_no_note() {
        let mut vms = vec![Vm::new("off", State::Off)];
        let early = Session::start(|| Err("permission denied".into()), None).unwrap();
        let mut notes = Vec::new();
        ask(&mut vms, Some(early), || unreachable!(), None, &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(vms[0].agent, Agent::Absent);
    }

    #[test]
    fn with_no_time_left_the_agents_are_not_asked() {
        let mut vms = vec![with_agent("a")];
        let mut notes = Vec::new();
        let now = Some(Instant::now());
        ask(&mut vms, None, || unreachable!(), now, &mut notes);
        assert_eq!(
            notes,
            ["guest agents not asked (1 VMs with one): no time left before the deadline"]
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
