//! The libvirt backend. For each group of domains, on its own connection: one listing, one
//! bulk stats call (`virDomainListGetStats`) of only the groups reported, the domain XML for
//! what stats do not carry (only when the domain changed, with a cache file: `xml_cache`), a
//! snapshot count for domains that have snapshots, per-domain calls only for stats groups a
//! driver does not return in bulk (the test driver returns only `state`), and /proc for the
//! QEMU process. Autostart and "has snapshots" come from two filtered listings for all
//! domains at once; paused domains are asked for their disk errors, and the host's storage
//! pools are listed once, on the first connection. No child processes. Domains that
//! `--vm`/`--exclude` leave out are dropped from the listing before any of that.
//!
//! Large hosts are collected over several connections at once: libvirtd asks each QEMU
//! monitor in turn within one call, so the run's time is mostly waiting, and K calls over
//! disjoint groups wait side by side. The deadline and retry story is in `policy`.
//!
//! Layers: `bulk` is the FFI, `policy` the call policy, `gather` the per-domain calls
//! into `answers::DomainAnswers`, `assemble` the pure building of the model from it,
//! `agent` the guest agent calls for VMs whose agent is there (those the XML cache remembers
//! asked while the stats are collected, the others after assembly), then `leases`, the
//! active networks' DHCP leases for VMs the agent gave no address (one call per network);
//! [`parse`] holds the pure parsers (domain XML, bulk stats, DHCP leases, /proc).

mod agent;
mod answers;
mod assemble;
mod bulk;
pub(crate) mod events;
mod gather;
mod leases;
pub mod parse;
mod policy;
mod qemu_process;
mod storage;
mod xml_cache;

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use super::options::{CollectOptions, Collector};
use super::select::Selection;
use crate::error::CollectError;
use crate::model::{Backend, Snapshot, Vm};
use policy::Connection;

/// Most connections the default picks: past this libvirtd's worker threads (5 by default,
/// one kept for itself) are the limit, not the connections.
const MAX_DEFAULT_CONNECTIONS: usize = 4;

/// Fewest VMs worth a connection of their own: opening one costs about as much as asking
/// this many QEMU monitors.
const VMS_PER_CONNECTION: usize = 16;

/// How many connections to collect `vms` domains over when not told: one per
/// `VMS_PER_CONNECTION` VMs, at most `MAX_DEFAULT_CONNECTIONS` and two per core (the
/// workers mostly wait on libvirtd).
pub(crate) fn default_connections(vms: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (vms / VMS_PER_CONNECTION)
        .min(2 * cores)
        .clamp(1, MAX_DEFAULT_CONNECTIONS)
}

/// Whether `uri` is libvirt's test driver, which differs from a real one in three ways
/// that matter here: every connection reads its node XML anew (more connections only multiply
/// that work, so one unless told), it makes up a disk error for every disk of every active
/// domain (its domains are not asked), and it answers inside this process (its XML costs less
/// than reading a cache file, so it keeps none).
fn is_test_driver(uri: &str) -> bool {
    uri.starts_with("test:")
}

/// Collects every domain of one libvirt connection into a snapshot.
pub(crate) struct LibvirtCollector {
    conn: Connect,
    uri: Option<String>,
    /// Where QEMU's PID files live for this connection; `None` for drivers without processes
    /// on this host (test driver, remote URIs).
    pid_dir: Option<PathBuf>,
    /// When the whole collection must be done; `None`: wait as long as libvirt takes.
    deadline: Option<Instant>,
    /// Connections to collect over; `None`: [`default_connections`].
    connections: Option<usize>,
    /// Whether paused domains are asked for their disk errors (not on [`is_test_driver`]).
    asks_disk_errors: bool,
    /// Which domains to report; the others are not asked for stats.
    select: Selection,
    /// The domain XML cache file; `None`: every XML is fetched.
    domain_cache: Option<PathBuf>,
    /// Ask guest agents (`agent`); off with `--no-agent`.
    agent: bool,
}

impl LibvirtCollector {
    /// Opens a read-only connection; `uri` `None` lets libvirt pick (LIBVIRT_DEFAULT_URI, its
    /// config, then probing). With a `deadline`, a stats call that does not answer in time is
    /// made again rather than waited for (see [`policy`]). The connections, the VMs, the
    /// cache file and whether guest agents are asked come from `options`.
    pub fn open(
        uri: Option<&str>,
        deadline: Option<Instant>,
        options: &CollectOptions,
    ) -> Result<LibvirtCollector, CollectError> {
        // libvirt's default handler prints every error to stderr; we report them ourselves.
        virt::error::clear_error_callback();
        let conn = policy::connect(uri)?;
        let actual_uri = conn.uri().ok();
        let pid_dir = actual_uri.as_deref().and_then(qemu_process::pid_dir);
        let test_driver = actual_uri.as_deref().is_some_and(is_test_driver);
        Ok(LibvirtCollector {
            conn,
            uri: uri.map(str::to_string),
            pid_dir,
            deadline,
            connections: options.connections.or(test_driver.then_some(1)),
            asks_disk_errors: !test_driver,
            select: options.select.clone(),
            domain_cache: options.domain_cache.clone().filter(|_| !test_driver),
            agent: !options.no_agent,
        })
    }

    /// What opens the guest agents' read-write connection: to the host the read-only
    /// connection reached, not to libvirt's default anew.
    fn agent_opener(&self) -> impl FnOnce() -> Result<Connect, String> + Send + Clone + 'static {
        let uri = self.conn.uri().ok().or_else(|| self.uri.clone());
        let deadline = self.deadline;
        move || {
            policy::connect_read_write_within(uri.as_deref(), deadline).map_err(|e| e.to_string())
        }
    }

    fn connection(&self, conn: Connect) -> Connection {
        Connection::new(conn, self.uri.as_deref(), self.deadline)
    }
}

/// One group's VMs, warnings and XML cache entries.
struct Group {
    vms: Vec<Vm>,
    warnings: Vec<String>,
    /// By domain name, with whether the XML was fetched this run.
    entries: Vec<(String, xml_cache::Entry, bool)>,
}

impl Collector for LibvirtCollector {
    fn collect(&mut self) -> Result<Snapshot, CollectError> {
        let mut warnings = Vec::new();
        let mut domains = policy::list(&self.conn, 0)?;
        let listed = domains.len();
        domains.retain(|d| d.name().is_ok_and(|n| self.select.admits(&n)));
        let filtered = self.select.applied(listed - domains.len());
        // A group that lists again (a new connection after a stuck call) keeps to these.
        let selected: Option<HashSet<String>> = filtered
            .is_some()
            .then(|| domains.iter().filter_map(|d| d.name().ok()).collect());
        let cache = self.domain_cache.as_deref().map(xml_cache::open);
        warnings.extend(cache.as_ref().and_then(|c| c.warning.clone()));
        let agents = self.agent.then(|| self.agent_opener());
        // The running VMs whose agent the cache remembers are asked now, while the stats are
        // collected; the rest after assembly.
        let early = match (&agents, &cache) {
            (Some(open), Some(cache)) => {
                let expected: Vec<String> = domains
                    .iter()
                    .filter(|d| d.id().is_some())
                    .filter_map(|d| d.name().ok())
                    .filter(|n| cache.entries.had_agent(n))
                    .collect();
                // A session that cannot start now is started (or said why not) after assembly.
                (!expected.is_empty())
                    .then(|| agent::Session::start(open.clone(), self.deadline).ok())
                    .flatten()
                    .map(|mut session| {
                        expected.iter().for_each(|n| session.ask(n));
                        session
                    })
            }
            _ => None,
        };
        let autostart = policy::names(&self.conn, sys::VIR_CONNECT_LIST_DOMAINS_AUTOSTART);
        let with_vm_snapshots =
            policy::names(&self.conn, sys::VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT);
        // Pools cost one listing and a call each; a host whose pools cannot be listed (a
        // driver without storage) still reports its VMs.
        let pools = storage::pools(&self.conn, &mut warnings)
            .map_err(|e| warnings.push(format!("storage pools not listed: {e}")))
            .unwrap_or_default();
        let host = match &self.pid_dir {
            Some(_) => parse::procfs::Host::read(Path::new(parse::procfs::PROC_ROOT))
                .map_err(|e| warnings.push(format!("cannot read host /proc figures: {e}")))
                .ok(),
            None => None,
        };
        let shared = Shared {
            autostart: autostart.as_ref(),
            with_vm_snapshots: with_vm_snapshots.as_ref(),
            processes: self.pid_dir.as_deref().zip(host.as_ref()),
            deadline: self.deadline,
            asks_disk_errors: self.asks_disk_errors,
            cache: cache.as_ref().map(|c| &c.entries),
            now: SystemTime::now(),
        };
        let connections = self
            .connections
            .unwrap_or_else(|| default_connections(domains.len()))
            .clamp(1, domains.len().max(1));
        let groups = if connections == 1 {
            vec![collect_group(
                self.connection(self.conn.clone()),
                Some(domains),
                selected.as_ref(),
                &shared,
            )]
        } else {
            self.collect_in_parallel(domains, connections, &shared)
        };
        let mut vms = Vec::new();
        let mut entries = BTreeMap::new();
        let mut fetched = false;
        for group in groups {
            let mut group = group?;
            vms.append(&mut group.vms);
            warnings.append(&mut group.warnings);
            for (name, entry, fresh) in group.entries {
                fetched |= fresh;
                entries.insert(name, entry);
            }
        }
        if let Some(lock) = cache.as_ref().and_then(|c| c.lock.as_ref()) {
            // Unchanged entries need no write; gone domains drop out at the next one.
            if fetched
                || cache
                    .as_ref()
                    .is_some_and(|c| c.entries.len() != entries.len())
            {
                warnings.extend(lock.write(entries).err());
            }
        }
        vms.sort_by(|a, b| a.name.cmp(&b.name));
        let mut notes = Vec::new();
        if let Some(open) = agents {
            agent::ask(&mut vms, early, open, self.deadline, &mut notes);
        }
        let wants_lease = |vm: &Vm| {
            vm.ip.is_empty() && vm.state.has_process() && vm.nics.iter().any(|n| !n.mac.is_empty())
        };
        if vms.iter().any(wants_lease) {
            let leases = leases::addresses_by_mac(&self.conn, &mut warnings);
            parse::lease::apply(&mut vms, &leases);
        }
        let mut snapshot = Snapshot::new(Backend::Libvirt, vms)
            .with_warnings(warnings)
            .with_notes(notes)
            .filtered(filtered);
        snapshot.pools = pools;
        Ok(snapshot)
    }
}

impl LibvirtCollector {
    /// `domains` dealt by name into `connections` groups, each collected on its own thread
    /// over its own connection (the first over this one, with the listing it already has).
    /// Scoped: every worker has ended before this returns, so none outlives what it borrows.
    fn collect_in_parallel(
        &self,
        domains: Vec<Domain>,
        connections: usize,
        shared: &Shared,
    ) -> Vec<Result<Group, CollectError>> {
        let mut names: Vec<String> = domains.iter().filter_map(|d| d.name().ok()).collect();
        names.sort();
        let mut groups: Vec<HashSet<String>> = vec![HashSet::new(); connections];
        for (i, name) in names.into_iter().enumerate() {
            groups[i % connections].insert(name);
        }
        std::thread::scope(|scope| {
            let mut listed = Some(domains);
            let workers: Vec<_> = groups
                .iter()
                .enumerate()
                .map(|(i, keep)| {
                    let listed = if i == 0 { listed.take() } else { None };
                    let conn = if i == 0 {
                        Some(self.conn.clone())
                    } else {
                        None
                    };
                    let work = move || {
                        let conn = match conn {
                            Some(conn) => conn,
                            None => policy::connect_within(self.uri.as_deref(), self.deadline)?,
                        };
                        collect_group(self.connection(conn), listed, Some(keep), shared)
                    };
                    // Without a thread to spare, the group is collected here, later.
                    std::thread::Builder::new()
                        .name(format!("libvirt-group-{i}"))
                        .spawn_scoped(scope, work.clone())
                        .map_err(|_| work)
                })
                .collect();
            workers
                .into_iter()
                .zip(&groups)
                .enumerate()
                .map(|(i, (worker, keep))| {
                    let result = match worker {
                        Ok(handle) => handle
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                        Err(work) => work(),
                    };
                    match result {
                        Err(e) if i > 0 => self.collect_on_first_connection(keep, shared, &e),
                        result => result,
                    }
                })
                .collect()
        })
    }

    /// A group whose extra connection failed or hung, collected again over the first one:
    /// that one already listed every VM, so an extra connection costs time, never the run.
    fn collect_on_first_connection(
        &self,
        keep: &HashSet<String>,
        shared: &Shared,
        failure: &CollectError,
    ) -> Result<Group, CollectError> {
        let mut group =
            collect_group(self.connection(self.conn.clone()), None, Some(keep), shared)?;
        group.warnings.insert(
            0,
            format!(
                "an extra libvirt connection failed ({failure}); its {} VMs were collected over \
                 the first connection",
                keep.len()
            ),
        );
        Ok(group)
    }
}

/// What every group shares: answers asked once for all domains.
struct Shared<'a> {
    autostart: Option<&'a HashSet<String>>,
    with_vm_snapshots: Option<&'a HashSet<String>>,
    processes: Option<(&'a std::path::Path, &'a parse::procfs::Host)>,
    deadline: Option<Instant>,
    asks_disk_errors: bool,
    /// The previous run's XML facts; `None`: no cache file, every XML is fetched.
    cache: Option<&'a xml_cache::Entries>,
    /// When this run's XML fetches count from.
    now: SystemTime,
}

/// One group's VMs: its stats by [`policy`], then each domain gathered and assembled.
fn collect_group(
    mut connection: Connection,
    listed: Option<Vec<Domain>>,
    keep: Option<&HashSet<String>>,
    shared: &Shared,
) -> Result<Group, CollectError> {
    let mut warnings = Vec::new();
    let (domains, mut stats_by_name) = connection.domains_and_stats(listed, keep, &mut warnings)?;
    let cx = gather::Context {
        conn: &connection.conn,
        autostart: shared.autostart,
        with_vm_snapshots: shared.with_vm_snapshots,
        processes: shared.processes,
        deadline: shared.deadline,
        asks_disk_errors: shared.asks_disk_errors,
    };
    let mut bridges = gather::BridgeCache::default();
    let mut vms = Vec::with_capacity(domains.len());
    let mut entries = Vec::new();
    for dom in &domains {
        let Ok(name) = dom.name() else { continue };
        let Some(stats) = stats_by_name.remove(&name) else {
            warnings.push(format!("VM '{name}' vanished during collection; left out"));
            continue;
        };
        // UUID and id are kept in the handle: no call.
        let key = shared.cache.map(|_| {
            xml_cache::key(
                &dom.uuid_string().unwrap_or_default(),
                dom.id(),
                &stats.params,
            )
        });
        let valid = key
            .as_ref()
            .zip(shared.cache)
            .and_then(|(key, cache)| cache.valid(&name, key, shared.now));
        let raw = gather::domain(
            dom,
            stats,
            &cx,
            &mut bridges,
            valid.map(xml_cache::Entry::facts),
        );
        match (valid, key, &raw.xml_facts) {
            (Some(entry), _, _) => entries.push((name.clone(), entry.clone(), false)),
            (None, Some(key), Some(facts)) => entries.push((
                name.clone(),
                xml_cache::Entry::fetched(key, facts.clone(), shared.now),
                true,
            )),
            _ => {}
        }
        match assemble::vm(&raw, &mut warnings) {
            Ok(vm) => vms.push(vm),
            Err(e) if e.vanished => {
                warnings.push(format!("VM '{name}' vanished during collection; left out"));
            }
            // One broken VM must not blank the others.
            Err(e) => warnings.push(format!("VM '{name}' left out: {}", e.message)),
        }
    }
    Ok(Group {
        vms,
        warnings,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_grows_with_the_vms_up_to_four_connections() {
        assert_eq!(default_connections(0), 1);
        assert_eq!(default_connections(31), 1);
        let most = MAX_DEFAULT_CONNECTIONS
            .min(2 * std::thread::available_parallelism().map_or(1, usize::from));
        assert_eq!(default_connections(10_000), most);
    }

    #[test]
    fn only_test_uris_are_the_test_driver() {
        assert!(is_test_driver("test:///default"));
        assert!(is_test_driver("test:///tmp/node.xml"));
        assert!(!is_test_driver("qemu:///system"));
        assert!(!is_test_driver("qemu+ssh://host/system"));
    }
}
