//! The CBSD + bhyve backend (FreeBSD): CBSD's inventory plus FreeBSD's own tools.
//!
//! Commands, each run once per collection whatever the number of VMs or interfaces (see
//! `gather` for how: argv only, a timeout each, the whole process group killed on timeout):
//!
//! 1. `cbsd bls ...`: the VMs (name, bhyve PID, RAM, vCPUs, CPU %, OS, IP, status, VNC).
//!    It failing fails the collection; everything else costs only its own data and a warning.
//! 2. Started together once bls has answered:
//!    - `cbsd bhyve-dsk-list`: every VM's disks and sizes;
//!    - `cbsd bhyve-nic-list`: every VM's NICs (parent bridge, MAC) in NIC order;
//!    - `cbsd jsnapshot mode=list`: every VM's snapshots (count, `refer` size);
//!    - `zfs list -t volume`: zvol sizes; then `sysctl -i kstat.zfs.POOL.dataset` for the
//!      pools holding VM zvols: per-zvol read/write requests and bytes;
//!    - when a VM runs: `ifconfig` (tap descriptions `VM-nicN`), `netstat -ibdWn` (every
//!      interface's counters) and `ps -o ... -p PID,PID,...` (the bhyve processes).
//!
//! NIC counters are the **guest's point of view**, like the libvirt backend: they come from
//! the host's tap, whose input is what the guest sent, so they are swapped (`ipkts` = the
//! tap's Opkts = packets the guest received; `idrop` = the tap's output drops). The Perl
//! tool copied them unswapped.
//!
//! Disk I/O counters are per zvol from ZFS kstats (since the pool was imported, not since
//! the VM started); disks that are plain files have sizes only. There are no disk times or
//! flush counts on this platform: those stay 0.

mod answers;
mod assemble;
mod gather;
pub mod parse;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::time::{Duration, Instant};

use super::options::Collector;
use super::select::Selection;
use crate::error::CollectError;
use crate::model::{Backend, Snapshot};
pub use answers::HostAnswers;
pub use assemble::assemble;
use gather::{CommandFailure, Runner, Running};
use parse::{Parsed, Zvol};

/// Environment variable naming the PATH to find `cbsd`, `zfs`, `ps`... in, instead of the
/// inherited PATH plus the FreeBSD system directories.
pub(crate) const PATH_ENV: &str = "HV_MONITOR_CBSD_PATH";

/// Longest one command may run when the caller set no deadline of its own.
pub(crate) const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

const BLS_ARGS: [&str; 5] = [
    "bls",
    "header=0",
    "node=",
    "display=jname,jid,vm_ram,vm_curmem,vm_cpus,pcpu,vm_os_type,ip4_addr,status,vnc",
    "alljails=0",
];
const DISK_LIST_ARGS: [&str; 3] = [
    "bhyve-dsk-list",
    "header=0",
    "display=jname,dsk_path,dsk_size",
];
/// Without `jname=`, one call lists the NICs of every VM.
const NIC_LIST_ARGS: [&str; 3] = [
    "bhyve-nic-list",
    "header=0",
    "display=jname,nic_parent,nic_hwaddr",
];
/// Without `jname=`, one call lists the snapshots of every VM.
const SNAPSHOT_ARGS: [&str; 4] = [
    "jsnapshot",
    "mode=list",
    "header=0",
    "display=jname,snapname,creation,refer",
];
const NETSTAT_ARGS: [&str; 1] = ["-ibdWn"];

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Collects every CBSD bhyve VM of this host into a snapshot, through CBSD's commands.
pub(crate) struct CbsdCollector {
    runner: Runner,
    /// Which VMs to report; the others' bhyve processes are not asked about.
    select: Selection,
}

impl CbsdCollector {
    /// Runs commands found in `path`; each may take `command_timeout`, and none runs past
    /// `deadline`.
    pub fn new(path: OsString, command_timeout: Duration, deadline: Option<Instant>) -> Self {
        CbsdCollector {
            runner: Runner::new(path, command_timeout, deadline),
            select: Selection::default(),
        }
    }

    /// Reporting only the VMs `select` admits.
    pub fn selecting(mut self, select: Selection) -> Self {
        self.select = select;
        self
    }

    /// PATH from [`PATH_ENV`] when set, else the inherited PATH plus the system directories.
    pub fn from_env(deadline: Option<Instant>) -> Self {
        let path = gather::search_path(
            std::env::var_os(PATH_ENV).as_deref(),
            std::env::var_os("PATH").as_deref(),
        );
        CbsdCollector::new(path, DEFAULT_COMMAND_TIMEOUT, deadline)
    }

    fn start(&self, program: &str, args: &[String]) -> Result<Running, CommandFailure> {
        self.runner.start(program, args)
    }
}

/// Waits for a command; its failure becomes a warning and `None`.
fn wait(
    started: Result<Running, CommandFailure>,
    also_ok: &[i32],
    warnings: &mut Vec<String>,
) -> Option<String> {
    match started.and_then(|running| running.output(also_ok)) {
        Ok(text) => Some(text),
        Err(failure) => {
            warnings.push(failure.to_string());
            None
        }
    }
}

/// Rows of a parser, its problems moved into `warnings`.
fn rows<T>(parsed: Parsed<T>, warnings: &mut Vec<String>) -> Vec<T> {
    warnings.extend(parsed.problems);
    parsed.rows
}

impl Collector for CbsdCollector {
    fn collect(&mut self) -> Result<Snapshot, CollectError> {
        let mut warnings = Vec::new();
        let bls_text = self.start("cbsd", &strings(&BLS_ARGS))?.output(&[])?;
        let mut bls = rows(parse::parse_bls(&bls_text), &mut warnings);
        // The host-wide lists below cost one command whatever the VMs; what is per VM (the
        // ps of bhyve PIDs, every join in `assemble`) follows the VMs kept here.
        let listed = bls.len();
        bls.retain(|vm| self.select.admits(&vm.name));
        let filtered = self.select.applied(listed - bls.len());

        let pids: BTreeSet<u32> = bls.iter().map(|vm| vm.pid).filter(|&p| p > 0).collect();
        let pid_list = pids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let any_running = !pids.is_empty();

        let disks = self.start("cbsd", &strings(&DISK_LIST_ARGS));
        let nics = self.start("cbsd", &strings(&NIC_LIST_ARGS));
        let snapshots = self.start("cbsd", &strings(&SNAPSHOT_ARGS));
        let zfs = self.start(
            "zfs",
            &strings(&["list", "-Hp", "-t", "volume", "-o", parse::ZFS_PROPERTIES]),
        );
        // Taps and bhyve processes exist only while a VM runs.
        let ifconfig = any_running.then(|| self.start("ifconfig", &[]));
        let netstat = any_running.then(|| self.start("netstat", &strings(&NETSTAT_ARGS)));
        let ps = any_running.then(|| {
            self.start(
                "ps",
                &strings(&["-o", parse::PS_KEYWORDS, "-p", pid_list.as_str()]),
            )
        });

        let zvols = wait(zfs, &[], &mut warnings)
            .map(|text| rows(parse::parse_zfs_volumes(&text), &mut warnings));
        let vm_names: BTreeSet<&str> = bls.iter().map(|vm| vm.name.as_str()).collect();
        let pools: BTreeSet<&str> = zvols
            .iter()
            .flatten()
            .filter(|z| {
                let mut parts = z.name.rsplit('/').skip(1);
                parts.next().is_some_and(|parent| vm_names.contains(parent))
            })
            .map(Zvol::pool)
            .collect();
        // `-i`: a pool without per-dataset kstats (before OpenZFS 2) is no error.
        let kstats = (!pools.is_empty())
            .then(|| {
                let mut args = vec!["-i".to_string()];
                args.extend(pools.iter().map(|p| format!("kstat.zfs.{p}.dataset")));
                wait(self.start("sysctl", &args), &[], &mut warnings)
            })
            .flatten()
            .map(|text| parse::parse_kstat_datasets(&text));

        let host = HostAnswers {
            disks: wait(disks, &[], &mut warnings)
                .map(|text| rows(parse::parse_disk_list(&text), &mut warnings)),
            nics: wait(nics, &[], &mut warnings)
                .map(|text| rows(parse::parse_nic_list(&text), &mut warnings)),
            snapshots: wait(snapshots, &[], &mut warnings)
                .map(|text| rows(parse::parse_snapshots(&text), &mut warnings)),
            zvols,
            kstats,
            taps: ifconfig
                .and_then(|started| wait(started, &[], &mut warnings))
                .map(|text| parse::parse_ifconfig_descriptions(&text)),
            interfaces: netstat
                .and_then(|started| wait(started, &[], &mut warnings))
                .map(|text| rows(parse::parse_netstat(&text), &mut warnings)),
            // FreeBSD ps exits 1 when none of the PIDs exists any more.
            processes: ps
                .and_then(|started| wait(started, &[1], &mut warnings))
                .map(|text| rows(parse::parse_ps(&text), &mut warnings)),
        };
        let vms = assemble(bls, &host, &mut warnings);
        Ok(Snapshot::new(Backend::Cbsd, vms)
            .with_warnings(warnings)
            .filtered(filtered))
    }
}
