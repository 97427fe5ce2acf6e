//! The libvirt backend: one `virConnectListAllDomains` and one `virConnectGetAllDomainStats`
//! for every VM, the domain XML for what stats do not carry, per-domain calls only for stats
//! groups a driver does not return in bulk (the test driver returns only `state`), and /proc
//! for the QEMU process. No child processes.
//!
//! A VM whose QEMU stopped answering its monitor (a stopped or hung QEMU process) would hang
//! the bulk call: NOWAIT only skips domains whose job lock is already held, and the first
//! query takes the free lock and then waits for the monitor without a timeout. See
//! [`LibvirtCollector::domains_and_stats`] for how a deadline gets around that.

pub mod bulk;
pub mod domain_xml;
pub mod stats;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use super::{Collector, procfs};
use crate::error::CollectError;
use crate::model::{Disk, DiskIo, Hypervisor, NetCounters, Nic, Snapshot, State, Vm};
use domain_xml::DomainXml;

/// libvirt's VIR_ERR_NO_DOMAIN: the domain went away between two calls.
const VIR_ERR_NO_DOMAIN: u32 = 42;

pub struct LibvirtCollector {
    conn: Connect,
    /// As given: a stats call that never answers costs its connection, and the collection
    /// goes on over a new one.
    uri: Option<String>,
    /// Where QEMU's PID files live for this connection; `None` for drivers without processes
    /// on this host (test driver, remote URIs).
    pid_dir: Option<PathBuf>,
    /// When the whole collection must be done; `None`: wait as long as libvirt takes.
    deadline: Option<Instant>,
}

impl LibvirtCollector {
    /// Opens a read-only connection; `uri` `None` lets libvirt pick (LIBVIRT_DEFAULT_URI, its
    /// config, then probing). With a `deadline`, a stats call that does not answer in time is
    /// made again rather than waited for (see [`LibvirtCollector::domains_and_stats`]).
    pub fn open(
        uri: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<LibvirtCollector, CollectError> {
        // libvirt's default handler prints every error to stderr; we report them ourselves.
        virt::error::clear_error_callback();
        let conn = connect(uri)?;
        let pid_dir = conn.uri().ok().and_then(|u| qemu_pid_dir(&u));
        Ok(LibvirtCollector {
            conn,
            uri: uri.map(str::to_string),
            pid_dir,
            deadline,
        })
    }
}

fn connect(uri: Option<&str>) -> Result<Connect, CollectError> {
    Connect::open_read_only(uri).map_err(|e| CollectError::Connect {
        uri: uri.unwrap_or("(libvirt default)").to_string(),
        reason: e.message().to_string(),
    })
}

/// QEMU keeps `NAME.pid` files here for a local connection.
fn qemu_pid_dir(uri: &str) -> Option<PathBuf> {
    match uri.trim_end_matches('/') {
        "qemu:///system" | "qemu+unix:///system" => Some(PathBuf::from("/run/libvirt/qemu")),
        "qemu:///session" | "qemu+unix:///session" => {
            let runtime = std::env::var_os("XDG_RUNTIME_DIR")?;
            Some(Path::new(&runtime).join("libvirt/qemu/run"))
        }
        _ => None,
    }
}

/// The domain went away between two calls (undefined, or a transient domain stopped).
fn is_vanished(e: &virt::error::Error) -> bool {
    e.code().to_raw() == VIR_ERR_NO_DOMAIN
}

fn libvirt_err(call: &'static str) -> impl FnOnce(virt::error::Error) -> CollectError {
    move |e| CollectError::Libvirt {
        call,
        reason: e.message().to_string(),
    }
}

impl Collector for LibvirtCollector {
    fn collect(&mut self) -> Result<Snapshot, CollectError> {
        let mut warnings = Vec::new();
        let (domains, all_stats) = self.domains_and_stats(&mut warnings)?;
        let mut stats_by_name: HashMap<String, bulk::DomainStats> =
            all_stats.into_iter().map(|s| (s.name.clone(), s)).collect();
        self.ask_busy_domains_again(&domains, &mut stats_by_name);

        let host = match &self.pid_dir {
            Some(_) => procfs::Host::read()
                .map_err(|e| warnings.push(format!("cannot read host /proc figures: {e}")))
                .ok(),
            None => None,
        };
        let mut bridges = BridgeCache::default();
        let mut vms = Vec::with_capacity(domains.len());
        for dom in &domains {
            let Ok(name) = dom.name() else { continue };
            let Some(stats) = stats_by_name.remove(&name) else {
                warnings.push(format!("VM '{name}' vanished during collection; left out"));
                continue;
            };
            match self.vm(dom, &stats, host.as_ref(), &mut bridges, &mut warnings) {
                Ok(vm) => vms.push(vm),
                Err(e) if is_vanished(&e) => {
                    warnings.push(format!("VM '{name}' vanished during collection; left out"));
                }
                // One broken VM must not blank the others.
                Err(e) => warnings.push(format!("VM '{name}' left out: {}", e.message())),
            }
        }
        vms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Snapshot {
            hypervisor: Hypervisor::Libvirt,
            taken_at: SystemTime::now(),
            vms,
            warnings,
        })
    }
}

/// How often, and how far apart, domains that were busy under NOWAIT are asked again. Another
/// poller's query holds the job lock for milliseconds; a stuck domain stays busy and is
/// reported with its I/O counters unknown.
const BUSY_RETRIES: u32 = 3;
const BUSY_RETRY_PAUSE: Duration = Duration::from_millis(40);

/// A bulk call given less than this could not tell a slow libvirtd from a stuck QEMU; it is
/// then simply waited for, and the run's deadline decides.
const MIN_STATS_ATTEMPT: Duration = Duration::from_millis(100);

impl LibvirtCollector {
    /// Every domain, and the stats of all in one bulk call with NOWAIT: a domain whose job
    /// lock is held (migrating, starting, another client's query) gives what it can at once.
    ///
    /// A domain whose QEMU does not answer its monitor is worse: the first query takes its
    /// free job lock and waits for the monitor forever, so NOWAIT alone makes only the runs
    /// after the first one quick. With a deadline, each bulk call gets half the time left.
    /// One that has not answered by then is left waiting on its own thread (it ends when QEMU
    /// answers or the process exits) and the collection starts again on a new connection:
    /// libvirt's client does not reliably serve further calls on a connection beside a call
    /// that never ends (9.0 was seen to leave one of them waiting for good). The stuck
    /// domain's lock is held now, so NOWAIT skips its monitor and the new call returns its
    /// state with the disk I/O missing. Each further stuck domain costs one more attempt.
    fn domains_and_stats(
        &mut self,
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<Domain>, Vec<bulk::DomainStats>), CollectError> {
        loop {
            let domains = self
                .conn
                .list_all_domains(0)
                .map_err(libvirt_err("virConnectListAllDomains"))?;
            if let Some(stats) = self.bulk_stats(&domains, warnings)? {
                return Ok((domains, stats));
            }
            self.conn = connect(self.uri.as_deref())?;
        }
    }

    /// The bulk call; `None` when it did not answer in time. A domain that dies during it
    /// (its QEMU monitor goes away) fails the whole call, so on failure it is made once more,
    /// then domain by domain: only the broken domain is lost. If every domain fails, the
    /// connection is what broke: that is the error.
    fn bulk_stats(
        &self,
        domains: &[Domain],
        warnings: &mut Vec<String>,
    ) -> Result<Option<Vec<bulk::DomainStats>>, CollectError> {
        let flags = sys::VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
        let first_error = match self.bulk_call_in_time(warnings) {
            None => return Ok(None),
            Some(Ok(stats)) => return Ok(Some(stats)),
            Some(Err(e)) => e,
        };
        match self.bulk_call_in_time(warnings) {
            None => return Ok(None),
            Some(Ok(stats)) => return Ok(Some(stats)),
            Some(Err(_)) => {}
        }
        let mut stats = Vec::with_capacity(domains.len());
        let mut failed = 0;
        for dom in domains {
            match bulk::domain_stats(&[dom], flags) {
                Ok(mut one) => stats.append(&mut one),
                Err(e) if is_vanished(&e) => {}
                Err(e) => {
                    failed += 1;
                    let name = dom.name().unwrap_or_default();
                    warnings.push(format!("VM '{name}': stats unavailable: {}", e.message()));
                    // Still reported, with its state from a per-domain call.
                    stats.push(bulk::DomainStats {
                        name,
                        params: Vec::new(),
                    });
                }
            }
        }
        if failed > 0 && failed == domains.len() {
            return Err(libvirt_err("virConnectGetAllDomainStats")(first_error));
        }
        Ok(Some(stats))
    }

    /// `virConnectGetAllDomainStats` with NOWAIT; `None` when it has not answered within half
    /// the time left (see [`LibvirtCollector::domains_and_stats`]). Without a deadline, or
    /// with too little time left to try again, it is waited for.
    fn bulk_call_in_time(
        &self,
        warnings: &mut Vec<String>,
    ) -> Option<Result<Vec<bulk::DomainStats>, virt::error::Error>> {
        let flags = sys::VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
        let budget = match self.deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()) / 2,
            None => Duration::ZERO,
        };
        if budget < MIN_STATS_ATTEMPT {
            return Some(bulk::all_domain_stats(&self.conn, flags));
        }
        let (tx, rx) = mpsc::channel();
        let conn = self.conn.clone();
        let spawned = std::thread::Builder::new()
            .name("libvirt-stats".into())
            .spawn(move || {
                // Nobody listens any more when this call was given up on.
                let _ = tx.send(bulk::all_domain_stats(&conn, flags));
            });
        let Ok(thread) = spawned else {
            // No thread to spare: ask here, with only the run's deadline as a guard.
            return Some(bulk::all_domain_stats(&self.conn, flags));
        };
        match rx.recv_timeout(budget) {
            Ok(result) => {
                // Joined, so its thread teardown never overlaps the process's exit handlers
                // (see `collect::exit`).
                let _ = thread.join();
                Some(result)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // It holds the connection inside libvirt for as long as QEMU is silent.
                super::note_abandoned_thread();
                warnings.push(format!(
                    "virConnectGetAllDomainStats gave no answer within {} ms (a VM's QEMU \
                     monitor is not answering?); asked again over a new connection without \
                     waiting for busy VMs",
                    budget.as_millis()
                ));
                None
            }
            // The thread sends before it ends, so it panicked: pass the panic on.
            Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => Some(bulk::all_domain_stats(&self.conn, flags)),
            },
        }
    }

    fn ask_busy_domains_again(
        &self,
        domains: &[Domain],
        stats: &mut HashMap<String, bulk::DomainStats>,
    ) {
        for _ in 0..BUSY_RETRIES {
            let busy: Vec<&Domain> = domains
                .iter()
                .filter(|d| {
                    d.name().ok().and_then(|n| stats.get(&n)).is_some_and(|s| {
                        let p = stats::Params::new(&s.params);
                        p.disk_io_missing() && p.state().is_some_and(State::has_process)
                    })
                })
                .collect();
            if busy.is_empty() {
                return;
            }
            std::thread::sleep(BUSY_RETRY_PAUSE);
            let Ok(again) =
                bulk::domain_stats(&busy, sys::VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
            else {
                return;
            };
            for record in again {
                stats.insert(record.name.clone(), record);
            }
        }
    }

    /// One VM. Fails only when the domain vanished or its XML cannot be had; every other
    /// per-domain failure costs that piece of data and a warning.
    fn vm(
        &self,
        dom: &Domain,
        stats: &bulk::DomainStats,
        host: Option<&procfs::Host>,
        bridges: &mut BridgeCache,
        warnings: &mut Vec<String>,
    ) -> Result<Vm, virt::error::Error> {
        let name = stats.name.as_str();
        let mut vm = Vm::new(name, State::NoState);
        let params = stats::Params::new(&stats.params);
        let groups = stats::apply(&mut vm, &params);
        if params.disk_io_missing() && vm.state.has_process() {
            vm.disk_stats_unknown = true;
            warnings.push(format!(
                "VM '{name}' is busy (job lock held): disk stats unknown this run"
            ));
        }
        if params.state().is_none() {
            let (state, reason) = dom.state()?;
            vm.state = State::from_libvirt(i64::from(state.to_raw()));
            vm.paused_on_io_error = matches!(
                reason,
                virt::enumutil::Enum::Known(virt::domain::DomainStateReason::Paused(
                    virt::enumutil::Enum::Known(virt::domain::DomainPausedReason::IOError)
                ))
            );
        }
        let xml = match dom.xml_desc(0) {
            Ok(text) => domain_xml::parse(&text).unwrap_or_else(|e| {
                warnings.push(format!("VM '{name}': {e}"));
                DomainXml::default()
            }),
            Err(e) if is_vanished(&e) => return Err(e),
            Err(e) => {
                warnings.push(format!("VM '{name}': domain XML: {}", e.message()));
                DomainXml::default()
            }
        };
        let mut warn = |what: &str, e: virt::error::Error| {
            warnings.push(format!("VM '{name}': {what}: {}", e.message()))
        };
        let active = vm.state.has_process();

        vm.os_type = xml.os_type.clone();
        if let Some(g) = &xml.graphics {
            vm.console_type = g.kind.clone();
            vm.console = g.address.clone();
        }
        if !groups.balloon {
            vm.mem_alloc = xml.memory;
        }
        if !groups.vcpu {
            vm.cpus = xml.vcpus;
        }
        if !groups.block {
            vm.disks = xml
                .disks
                .iter()
                .map(|d| disk_from_calls(dom, d, active, &mut warn))
                .collect();
        }
        for disk in &mut vm.disks {
            if xml
                .disks
                .iter()
                .any(|d| d.target == disk.name && d.device == "cdrom")
            {
                disk.is_image = true;
            }
        }
        vm.nics = nics(dom, &xml, groups.net.then_some(&vm.nics), active, &mut warn);
        for (nic, iface) in vm.nics.iter_mut().zip(&xml.interfaces) {
            if nic.parent.is_empty() {
                nic.parent = bridges.bridge_of(&self.conn, iface.network.as_deref());
            }
        }
        match dom.num_snapshots(0) {
            Ok(n) => vm.snaps = u64::from(n),
            Err(e) => warn("snapshot count", e),
        }
        match dom.autostart() {
            Ok(a) => vm.autostart = Some(a),
            Err(e) => warn("autostart", e),
        }
        if active && let (Some(dir), Some(host)) = (&self.pid_dir, host) {
            match qemu_process(dir, name, host) {
                Ok(p) => vm.process = Some(p),
                Err(e) => warnings.push(format!("VM '{name}': QEMU process stats: {e}")),
            }
        }
        Ok(vm)
    }
}

/// A disk's sizes and counters from per-domain calls, for drivers without bulk block stats.
fn disk_from_calls(
    dom: &Domain,
    xml: &domain_xml::XmlDisk,
    active: bool,
    warn: &mut impl FnMut(&str, virt::error::Error),
) -> Disk {
    let mut disk = Disk {
        name: xml.target.clone(),
        is_image: xml.device == "cdrom",
        ..Disk::default()
    };
    // libvirt reads the sizes of a shut-off domain's disks from their images; only the I/O
    // counters need a running domain. A disk it cannot probe while off keeps 0, unwarned.
    match dom.block_info(&xml.target, 0) {
        Ok(info) => {
            disk.alloc = info.capacity;
            disk.in_use = info.allocation;
            disk.on_disk = info.physical;
        }
        Err(e) if active => warn(&format!("block info of {}", xml.target), e),
        Err(_) => {}
    }
    if !active {
        return disk;
    }
    match dom.block_stats(&xml.target) {
        Ok(s) => {
            disk.io = DiskIo {
                rbytes: counter(s.rd_bytes),
                rreqs: counter(s.rd_req),
                wbytes: counter(s.wr_bytes),
                wreqs: counter(s.wr_req),
                ..DiskIo::default()
            };
        }
        Err(e) => warn(&format!("block stats of {}", xml.target), e),
    }
    disk
}

/// NICs in device order: bulk counters where the driver gave them (matched to the XML by
/// host device), else per-interface calls; MAC and parent always from the XML.
fn nics(
    dom: &Domain,
    xml: &DomainXml,
    bulk: Option<&Vec<Nic>>,
    active: bool,
    warn: &mut impl FnMut(&str, virt::error::Error),
) -> Vec<Nic> {
    if let Some(bulk) = bulk {
        // Bulk lists only NICs with a host device; the XML order is the device order.
        let mut by_device: HashMap<&str, &Nic> =
            bulk.iter().map(|n| (n.device.as_str(), n)).collect();
        let mut out: Vec<Nic> = xml
            .interfaces
            .iter()
            .map(|i| {
                let counters = by_device
                    .remove(i.target.as_str())
                    .map(|n| n.counters.clone())
                    .unwrap_or_default();
                Nic {
                    device: i.target.clone(),
                    parent: i.parent.clone(),
                    mac: i.mac.clone(),
                    counters,
                }
            })
            .collect();
        out.extend(
            bulk.iter()
                .filter(|n| by_device.contains_key(n.device.as_str()))
                .cloned(),
        );
        return out;
    }
    xml.interfaces
        .iter()
        .map(|i| {
            let mut nic = Nic {
                device: i.target.clone(),
                parent: i.parent.clone(),
                mac: i.mac.clone(),
                ..Nic::default()
            };
            if active && !i.target.is_empty() {
                match dom.interface_stats(&i.target) {
                    Ok(s) => {
                        nic.counters = NetCounters {
                            ipkts: counter(s.rx_packets),
                            ibytes: counter(s.rx_bytes),
                            ierrs: counter(s.rx_errs),
                            idrop: counter(s.rx_drop),
                            opkts: counter(s.tx_packets),
                            obytes: counter(s.tx_bytes),
                            oerrs: counter(s.tx_errs),
                            odrop: counter(s.tx_drop),
                            coll: 0,
                        };
                    }
                    Err(e) => warn(&format!("interface stats of {}", i.target), e),
                }
            }
            nic
        })
        .collect()
}

/// A per-domain call's counter; libvirt gives -1 for one the driver does not keep.
fn counter(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Bridge names of libvirt networks, looked up once per network per run.
#[derive(Default)]
struct BridgeCache(HashMap<String, String>);

impl BridgeCache {
    fn bridge_of(&mut self, conn: &Connect, network: Option<&str>) -> String {
        let Some(network) = network else {
            return String::new();
        };
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

/// The QEMU process of a running guest: its PID file, checked against the process's command
/// line so a stale file cannot lend another process's figures.
fn qemu_process(
    pid_dir: &Path,
    name: &str,
    host: &procfs::Host,
) -> std::io::Result<crate::model::Process> {
    use std::io::{Error, ErrorKind};
    // libvirt refuses '/' in names; still, never let a name leave the PID directory.
    if name.contains('/') || name == ".." || name == "." {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "name unusable as a file name",
        ));
    }
    let pid_file = pid_dir.join(format!("{name}.pid"));
    // Name the file: a user who may not read it (a distribution that keeps the directory
    // private) needs to know what to open up.
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .map_err(|e| Error::new(e.kind(), format!("{}: {e}", pid_file.display())))?
        .trim()
        .parse()
        .map_err(|_| {
            Error::new(
                ErrorKind::InvalidData,
                format!("{} holds no PID", pid_file.display()),
            )
        })?;
    let proc_root = Path::new("/proc");
    let cmdline = std::fs::read(proc_root.join(pid.to_string()).join("cmdline"))?;
    if !procfs::cmdline_runs_guest(&cmdline, name) {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("PID {pid} from {} is not this guest", pid_file.display()),
        ));
    }
    procfs::read_process(proc_root, pid, host)
}
