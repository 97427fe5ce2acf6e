//! The libvirt backend. For each group of domains, on its own connection: one listing, one
//! bulk stats call (`virDomainListGetStats`), the domain XML for what stats do not carry, a
//! snapshot count for domains that have snapshots, per-domain calls only for stats groups a
//! driver does not return in bulk (the test driver returns only `state`), and /proc for the
//! QEMU process. Autostart and "has snapshots" come from two filtered listings for all
//! domains at once. No child processes.
//!
//! Large hosts are collected over several connections at once: libvirtd asks each QEMU
//! monitor in turn within one call, so the run's time is mostly waiting, and K calls over
//! disjoint groups wait side by side. The deadline and retry story is in `policy`.
//!
//! Layers: `bulk` is the FFI, `policy` the call policy, `gather` the per-domain calls
//! into `answers::DomainAnswers`, `assemble` the pure building of the model from it,
//! `agent` the guest agent calls made last, for VMs whose agent is there;
//! [`parse`] holds the pure parsers (domain XML, bulk stats, /proc).

mod agent;
mod answers;
mod assemble;
mod bulk;
mod gather;
pub mod parse;
mod policy;
mod qemu_process;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use super::options::Collector;
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

/// Whether every connection to `uri` loads a host of its own: the test driver reads its node
/// XML anew for each, so more connections only multiply that work; one unless told.
fn loads_host_per_connection(uri: &str) -> bool {
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
    /// Ask guest agents (`agent`); off with `--no-agent`.
    agent: bool,
}

impl LibvirtCollector {
    /// Opens a read-only connection; `uri` `None` lets libvirt pick (LIBVIRT_DEFAULT_URI, its
    /// config, then probing). With a `deadline`, a stats call that does not answer in time is
    /// made again rather than waited for (see [`policy`]).
    pub fn open(
        uri: Option<&str>,
        deadline: Option<Instant>,
        connections: Option<usize>,
    ) -> Result<LibvirtCollector, CollectError> {
        // libvirt's default handler prints every error to stderr; we report them ourselves.
        virt::error::clear_error_callback();
        let conn = policy::connect(uri)?;
        let actual_uri = conn.uri().ok();
        let pid_dir = actual_uri.as_deref().and_then(qemu_process::pid_dir);
        let one_host_per_connection = actual_uri.is_some_and(|u| loads_host_per_connection(&u));
        Ok(LibvirtCollector {
            conn,
            uri: uri.map(str::to_string),
            pid_dir,
            deadline,
            connections: connections.or(one_host_per_connection.then_some(1)),
            agent: true,
        })
    }

    /// The same collector, asking guest agents or not.
    pub fn asking_agents(self, agent: bool) -> LibvirtCollector {
        LibvirtCollector { agent, ..self }
    }

    fn connection(&self, conn: Connect) -> Connection {
        Connection::new(conn, self.uri.as_deref(), self.deadline)
    }
}

/// One group's VMs and warnings.
type Group = (Vec<Vm>, Vec<String>);

impl Collector for LibvirtCollector {
    fn collect(&mut self) -> Result<Snapshot, CollectError> {
        let mut warnings = Vec::new();
        let domains = policy::list(&self.conn, 0)?;
        let autostart = policy::names(&self.conn, sys::VIR_CONNECT_LIST_DOMAINS_AUTOSTART);
        let with_vm_snapshots =
            policy::names(&self.conn, sys::VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT);
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
        };
        let connections = self
            .connections
            .unwrap_or_else(|| default_connections(domains.len()))
            .clamp(1, domains.len().max(1));
        let groups = if connections == 1 {
            vec![collect_group(
                self.connection(self.conn.clone()),
                Some(domains),
                None,
                &shared,
            )]
        } else {
            self.collect_in_parallel(domains, connections, &shared)
        };
        let mut vms = Vec::new();
        for group in groups {
            let (mut group_vms, mut group_warnings) = group?;
            vms.append(&mut group_vms);
            warnings.append(&mut group_warnings);
        }
        vms.sort_by(|a, b| a.name.cmp(&b.name));
        let mut notes = Vec::new();
        if self.agent {
            // The same host the read-only connection reached, not libvirt's default anew.
            let uri = self.conn.uri().ok().or_else(|| self.uri.clone());
            let open = || {
                policy::connect_read_write_within(uri.as_deref(), self.deadline)
                    .map_err(|e| e.to_string())
            };
            agent::ask(&mut vms, open, self.deadline, &mut notes);
        }
        Ok(Snapshot::new(Backend::Libvirt, vms)
            .with_warnings(warnings)
            .with_notes(notes))
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
        let (vms, mut warnings) =
            collect_group(self.connection(self.conn.clone()), None, Some(keep), shared)?;
        warnings.insert(
            0,
            format!(
                "an extra libvirt connection failed ({failure}); its {} VMs were collected over \
                 the first connection",
                keep.len()
            ),
        );
        Ok((vms, warnings))
    }
}

/// What every group shares: answers asked once for all domains.
struct Shared<'a> {
    autostart: Option<&'a HashSet<String>>,
    with_vm_snapshots: Option<&'a HashSet<String>>,
    processes: Option<(&'a std::path::Path, &'a parse::procfs::Host)>,
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
    };
    let mut bridges = gather::BridgeCache::default();
    let mut vms = Vec::with_capacity(domains.len());
    for dom in &domains {
        let Ok(name) = dom.name() else { continue };
        let Some(stats) = stats_by_name.remove(&name) else {
            warnings.push(format!("VM '{name}' vanished during collection; left out"));
            continue;
        };
        let raw = gather::domain(dom, stats, &cx, &mut bridges);
        match assemble::vm(&raw, &mut warnings) {
            Ok(vm) => vms.push(vm),
            Err(e) if e.vanished => {
                warnings.push(format!("VM '{name}' vanished during collection; left out"));
            }
            // One broken VM must not blank the others.
            Err(e) => warnings.push(format!("VM '{name}' left out: {}", e.message)),
        }
    }
    Ok((vms, warnings))
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
    fn only_the_test_driver_loads_a_host_per_connection() {
        assert!(loads_host_per_connection("test:///default"));
        assert!(loads_host_per_connection("test:///tmp/node.xml"));
        assert!(!loads_host_per_connection("qemu:///system"));
        assert!(!loads_host_per_connection("qemu+ssh://host/system"));
    }
}
