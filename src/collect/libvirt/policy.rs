//! How the bulk stats are asked for: the deadline, retries and fallbacks of one connection.
//!
//! A VM whose QEMU stopped answering its monitor (a stopped or hung QEMU process) would hang
//! the bulk call: NOWAIT only skips domains whose job lock is already held, and the first
//! query takes the free lock and then waits for the monitor without a timeout. With a
//! deadline, each bulk call gets half the time left. One that has not answered by then is
//! left waiting on its own thread (it ends when QEMU answers or the process exits) and the
//! collection starts again on a new connection: libvirt's client does not reliably serve
//! further calls on a connection beside a call that never ends (9.0 was seen to leave one of
//! them waiting for good). The stuck domain's lock is held now, so NOWAIT skips its monitor
//! and the new call returns its state without disk I/O: its disk stats are unknown
//! ([`crate::model::Vm::disk_stats_unknown`]). Each further stuck domain costs one more
//! attempt. A call given up on may only have been slow (libvirtd waiting on a domain that is
//! being started, on a loaded host): whichever attempt answers first is used. With several
//! connections ([`super::LibvirtCollector`]), a stuck domain costs only its own group's
//! connection that attempt.
//!
//! This is the one place the deadline, retry and stuck-QEMU story is told; the README and the
//! other modules link here.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use super::answers::is_vanished;
use super::bulk::{self, DomainStats};
use super::parse::stats;
use crate::error::CollectError;

const NOWAIT: u32 = sys::VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;

/// How often, and how far apart, domains that were busy under NOWAIT are asked again. Another
/// poller's query holds the job lock for milliseconds; a stuck domain stays busy and is
/// reported with its disk stats unknown.
const BUSY_RETRIES: u32 = 3;
const BUSY_RETRY_PAUSE: Duration = Duration::from_millis(40);

/// A bulk call given less than this could not tell a slow libvirtd from a stuck QEMU; it is
/// then simply waited for, and the run's deadline decides.
const MIN_STATS_ATTEMPT: Duration = Duration::from_millis(100);

/// Turns a failed libvirt call into [`CollectError::Libvirt`], named by `call`'s C name.
pub fn libvirt_err(call: &'static str) -> impl FnOnce(virt::error::Error) -> CollectError {
    move |e| CollectError::Libvirt {
        call,
        reason: e.message().to_string(),
    }
}

/// A read-only connection to `uri` (`None`: libvirt's default), with no deadline.
pub fn connect(uri: Option<&str>) -> Result<Connect, CollectError> {
    Connect::open_read_only(uri).map_err(|e| CollectError::Connect {
        uri: uri.unwrap_or("(libvirt default)").to_string(),
        reason: e.message().to_string(),
    })
}

/// [`connect`] for an extra connection, given at most half the time left before `deadline`:
/// libvirt's open has no timeout of its own (a libvirtd that accepts but does not answer, a
/// test-driver node file that blocks), so it runs on its own thread, left behind if it hangs.
pub fn connect_within(
    uri: Option<&str>,
    deadline: Option<Instant>,
) -> Result<Connect, CollectError> {
    open_within(uri, deadline, connect)
}

/// A read-write connection, bounded like [`connect_within`]: only for guest agent calls,
/// which libvirt refuses on a read-only one (`agent`).
pub fn connect_read_write_within(
    uri: Option<&str>,
    deadline: Option<Instant>,
) -> Result<Connect, CollectError> {
    open_within(uri, deadline, |uri| {
        Connect::open(uri).map_err(|e| CollectError::Connect {
            uri: uri.unwrap_or("(libvirt default)").to_string(),
            reason: e.message().to_string(),
        })
    })
}

fn open_within(
    uri: Option<&str>,
    deadline: Option<Instant>,
    open: fn(Option<&str>) -> Result<Connect, CollectError>,
) -> Result<Connect, CollectError> {
    let Some(deadline) = deadline else {
        return open(uri);
    };
    let budget = deadline.saturating_duration_since(Instant::now()) / 2;
    let (tx, rx) = mpsc::channel();
    let owned = uri.map(str::to_string);
    let spawned = std::thread::Builder::new()
        .name("libvirt-connect".into())
        .spawn(move || {
            // Nobody listens any more when it answered too late.
            let _ = tx.send(open(owned.as_deref()));
        });
    let Ok(thread) = spawned else {
        return open(uri);
    };
    match rx.recv_timeout(budget) {
        Ok(result) => {
            // Joined, so its teardown never overlaps the exit handlers (see `app::end_process`).
            let _ = thread.join();
            result
        }
        Err(_) => {
            crate::collect::abandoned::note_abandoned_thread();
            Err(CollectError::Connect {
                uri: uri.unwrap_or("(libvirt default)").to_string(),
                reason: format!("no answer within {} ms", budget.as_millis()),
            })
        }
    }
}

/// Every domain of the connection (`flags` 0), or those a `VIR_CONNECT_LIST_DOMAINS_*`
/// filter picks.
pub fn list(conn: &Connect, flags: u32) -> Result<Vec<Domain>, CollectError> {
    conn.list_all_domains(flags)
        .map_err(libvirt_err("virConnectListAllDomains"))
}

/// The names of the domains a listing filter picks: one call answers for every domain what
/// would otherwise take a call each. `None` when the driver cannot filter so.
pub fn names(conn: &Connect, flags: u32) -> Option<HashSet<String>> {
    let domains = conn.list_all_domains(flags).ok()?;
    Some(domains.iter().filter_map(|d| d.name().ok()).collect())
}

/// A bulk call's answer, or the panic of the thread that made it, with the number of the
/// attempt that made it.
type StatsAnswer = (
    usize,
    std::thread::Result<Result<Vec<DomainStats>, virt::error::Error>>,
);

/// One connection and the run's deadline.
pub struct Connection {
    /// The current connection; replaced when a stats call on it never answers.
    pub conn: Connect,
    /// As given: a stats call that never answers costs its connection, and the collection
    /// goes on over a new one.
    uri: Option<String>,
    /// When the whole collection must be done; `None`: wait as long as libvirt takes.
    deadline: Option<Instant>,
    /// Every bulk call made on its own thread answers here, also one given up on.
    answers: (mpsc::Sender<StatsAnswer>, mpsc::Receiver<StatsAnswer>),
    /// The threads of those calls, by attempt; one that answered is joined.
    attempts: Vec<Option<std::thread::JoinHandle<()>>>,
}

impl Connection {
    /// Wraps `conn`, opened to `uri`, for calls bounded by `deadline`.
    pub fn new(conn: Connect, uri: Option<&str>, deadline: Option<Instant>) -> Connection {
        Connection {
            conn,
            uri: uri.map(str::to_string),
            deadline,
            answers: mpsc::channel(),
            attempts: Vec::new(),
        }
    }

    /// The domains (`listed`, else listed now; only those in `keep` when given) and their
    /// stats by name, asked with NOWAIT: a domain whose job lock is held (migrating,
    /// starting, another client's query) gives what it can at once. Busy domains are asked
    /// again a few times.
    pub fn domains_and_stats(
        &mut self,
        mut listed: Option<Vec<Domain>>,
        keep: Option<&HashSet<String>>,
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<Domain>, HashMap<String, DomainStats>), CollectError> {
        loop {
            let mut domains = match listed.take() {
                Some(domains) => domains,
                None => list(&self.conn, 0)?,
            };
            if let Some(keep) = keep {
                domains.retain(|d| d.name().is_ok_and(|n| keep.contains(&n)));
            }
            if let Some(stats) = self.bulk_stats(&domains, warnings)? {
                let mut by_name = stats.into_iter().map(|s| (s.name.clone(), s)).collect();
                ask_busy_domains_again(&domains, &mut by_name);
                return Ok((domains, by_name));
            }
            self.conn = connect(self.uri.as_deref())?;
        }
    }

    /// The bulk call; `None` when it did not answer in time. A domain that dies during it
    /// (its QEMU monitor goes away) fails the whole call, so on failure it is made once more,
    /// then domain by domain: only the broken domain is lost. If every domain fails, the
    /// connection is what broke: that is the error.
    fn bulk_stats(
        &mut self,
        domains: &[Domain],
        warnings: &mut Vec<String>,
    ) -> Result<Option<Vec<DomainStats>>, CollectError> {
        if domains.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let first_error = match self.bulk_call_in_time(domains, warnings) {
            None => return Ok(None),
            Some(Ok(stats)) => return Ok(Some(stats)),
            Some(Err(e)) => e,
        };
        match self.bulk_call_in_time(domains, warnings) {
            None => return Ok(None),
            Some(Ok(stats)) => return Ok(Some(stats)),
            Some(Err(_)) => {}
        }
        let mut stats = Vec::with_capacity(domains.len());
        let mut failed = 0;
        for dom in domains {
            match bulk::domain_stats(&[dom], NOWAIT) {
                Ok(mut one) => stats.append(&mut one),
                Err(e) if is_vanished(&e) => {}
                Err(e) => {
                    failed += 1;
                    let name = dom.name().unwrap_or_default();
                    warnings.push(format!("VM '{name}': stats unavailable: {}", e.message()));
                    // Still reported, with its state from a per-domain call.
                    stats.push(DomainStats {
                        name,
                        params: Vec::new(),
                    });
                }
            }
        }
        if failed > 0 && failed == domains.len() {
            return Err(libvirt_err("virDomainListGetStats")(first_error));
        }
        Ok(Some(stats))
    }

    /// The domains' stats with NOWAIT; `None` when they have not come within half the time
    /// left. Without a deadline, or with too little time left to try again, they are waited
    /// for.
    fn bulk_call_in_time(
        &mut self,
        domains: &[Domain],
        warnings: &mut Vec<String>,
    ) -> Option<Result<Vec<DomainStats>, virt::error::Error>> {
        let all: Vec<&Domain> = domains.iter().collect();
        let budget = match self.deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()) / 2,
            None => Duration::ZERO,
        };
        if budget < MIN_STATS_ATTEMPT {
            return Some(bulk::domain_stats(&all, NOWAIT));
        }
        let tx = self.answers.0.clone();
        let attempt = self.attempts.len();
        // The thread owns its references (each holds its connection too): it may be left
        // waiting after this run has moved on.
        let owned: Vec<Domain> = domains.to_vec();
        let spawned = std::thread::Builder::new()
            .name("libvirt-stats".into())
            .spawn(move || {
                let all: Vec<&Domain> = owned.iter().collect();
                let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    bulk::domain_stats(&all, NOWAIT)
                }));
                // Nobody listens any more when the run is over.
                let _ = tx.send((attempt, answer));
            });
        let Ok(thread) = spawned else {
            // No thread to spare: ask here, with only the run's deadline as a guard.
            return Some(bulk::domain_stats(&all, NOWAIT));
        };
        self.attempts.push(Some(thread));
        match self.answers.1.recv_timeout(budget) {
            Ok((answered, answer)) => {
                // Joined, so its thread teardown never overlaps the process's exit handlers
                // (see `app::end_process`); it has sent its answer and is ending.
                if let Some(thread) = self.attempts[answered].take() {
                    let _ = thread.join();
                }
                Some(answer.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            }
            // This end holds a sender too: never disconnected.
            Err(_) => {
                // It holds its connection inside libvirt for as long as QEMU is silent.
                crate::collect::abandoned::note_abandoned_thread();
                warnings.push(format!(
                    "virDomainListGetStats gave no answer within {} ms (a VM's QEMU \
                     monitor is not answering?); asked again over a new connection without \
                     waiting for busy VMs",
                    budget.as_millis()
                ));
                None
            }
        }
    }
}

fn ask_busy_domains_again(domains: &[Domain], stats: &mut HashMap<String, DomainStats>) {
    for _ in 0..BUSY_RETRIES {
        let busy: Vec<&Domain> = domains
            .iter()
            .filter(|d| {
                d.name()
                    .ok()
                    .and_then(|n| stats.get(&n))
                    .is_some_and(|s| stats::Params::new(&s.params).disk_stats_unknown())
            })
            .collect();
        if busy.is_empty() {
            return;
        }
        std::thread::sleep(BUSY_RETRY_PAUSE);
        let Ok(again) = bulk::domain_stats(&busy, NOWAIT) else {
            return;
        };
        for record in again {
            stats.insert(record.name.clone(), record);
        }
    }
}
