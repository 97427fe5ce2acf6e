//! The one model every backend fills and every emitter reads.
//!
//! Units are fixed here, once, and nowhere else:
//! - sizes and memory: **bytes**;
//! - CPU times (`usertime`, `systime`): **seconds** (float);
//! - disk times (`rtime`, `wtime`, `ftime`): **milliseconds** (float);
//! - `etimes`: whole seconds since the VM's process started;
//! - `pcpu`, `pmem`: percent (100 = one host core / all host memory);
//! - vCPU times (`VcpuTimes`): integer **nanoseconds**, summed over the VM's vCPUs;
//! - guest memory (`GuestMemory`): bytes (libvirt's KiB times 1024), the guest's page
//!   faults as counts, its last update in seconds since the Unix epoch;
//! - counters (bytes, requests, packets, faults, switches): integers since the device or
//!   process started; they reset when the VM restarts.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

mod agent;
mod guest;
mod pool;
mod state;

pub use agent::{Agent, AgentInfo, GuestAddress, GuestFs, GuestInterface};
pub use guest::{GuestMemory, VcpuTimes};
pub use pool::{DiskError, DiskErrorKind, Pool, PoolState};
pub use state::{Reason, State, StateReason};

/// The hypervisor stack a snapshot comes from; `-b` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// libvirt, through the `virt` crate (Linux).
    Libvirt,
    /// CBSD with bhyve, through CBSD's commands (FreeBSD).
    Cbsd,
}

impl Backend {
    /// The Perl tool's defaults: CBSD on FreeBSD, libvirt elsewhere.
    pub fn default_for_this_os() -> Backend {
        if cfg!(target_os = "freebsd") {
            Backend::Cbsd
        } else {
            Backend::Libvirt
        }
    }

    /// The `-b` name, lower-case (`libvirt`, `cbsd`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Libvirt => "libvirt",
            Backend::Cbsd => "cbsd",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;

    /// Case-insensitive, so the Perl tool's `-b Libvirt` and `-b CBSD` keep working.
    fn from_str(s: &str) -> Result<Backend, String> {
        match s.to_ascii_lowercase().as_str() {
            "libvirt" => Ok(Backend::Libvirt),
            "cbsd" => Ok(Backend::Cbsd),
            _ => Err(format!("unknown backend '{s}' (expected libvirt or cbsd)")),
        }
    }
}

/// Everything one collection saw, at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Which backend collected it.
    pub backend: Backend,
    /// When the collection started (the time status pages and rates use).
    pub taken_at: SystemTime,
    /// Sorted by name, so every output is stable from run to run.
    pub vms: Vec<Vm>,
    /// The host's storage pools, sorted by name; empty where the backend reports none.
    pub pools: Vec<Pool>,
    /// Problems that cost some data but not the run (a VM that vanished mid-collection, an
    /// unreadable /proc file): one line each, for stderr and status pages.
    pub warnings: Vec<String>,
    /// Facts about the run that cost nothing a user must act on (guest agents not asked over
    /// a read-only connection): said once, never as a warning or an error.
    pub notes: Vec<String>,
    /// Set when the run was told to report only some VMs (`--vm`, `--exclude`): the totals
    /// and state counts then cover the reported VMs only.
    pub filtered: Option<Filtered>,
}

/// A run that reports only some VMs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filtered {
    /// The patterns as given on the command line (`--vm 'web-*' --exclude 'web-9'`).
    pub rules: String,
    /// How many VMs the host has that the patterns left out.
    pub left_out: usize,
}

impl Snapshot {
    /// A snapshot of `vms` taken now, without warnings; the methods below set the rest. The
    /// one way to build one, for the collectors and for every test.
    pub fn new(backend: Backend, vms: Vec<Vm>) -> Snapshot {
        Snapshot {
            backend,
            taken_at: SystemTime::now(),
            vms,
            pools: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
            filtered: None,
        }
    }

    /// Recording the filter that chose its VMs, if any.
    pub fn filtered(mut self, filtered: Option<Filtered>) -> Snapshot {
        self.filtered = filtered;
        self
    }

    /// Taken at `at` instead of now (tests pin the time their expected output shows).
    pub fn taken_at(mut self, at: SystemTime) -> Snapshot {
        self.taken_at = at;
        self
    }

    /// With one more warning.
    pub fn with_warning(mut self, warning: impl Into<String>) -> Snapshot {
        self.warnings.push(warning.into());
        self
    }

    /// With these warnings after any already there.
    pub fn with_warnings(mut self, warnings: impl IntoIterator<Item = String>) -> Snapshot {
        self.warnings.extend(warnings);
        self
    }

    /// With these notes after any already there.
    pub fn with_notes(mut self, notes: impl IntoIterator<Item = String>) -> Snapshot {
        self.notes.extend(notes);
        self
    }
}

/// One virtual machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Vm {
    /// The name exactly as the hypervisor knows it (emitters make it safe for their format).
    pub name: String,
    /// The state, mapped from the backend's own.
    pub state: State,
    /// Memory given to the VM, bytes.
    pub mem_alloc: u64,
    /// vCPU count.
    pub cpus: u64,
    /// Guest OS as the hypervisor knows it (`hvm`, a libosinfo id, `freebsd`, ...).
    pub os_type: String,
    /// Primary IP, `DHCP`, or empty.
    pub ip: String,
    /// `vnc`, `spice` or empty.
    pub console_type: String,
    /// Console address and port, or empty.
    pub console: String,
    /// Set to start with the host (libvirt autostart); `None` where the backend cannot tell.
    pub autostart: Option<bool>,
    /// Why the VM is in its state (paused by a person or on a disk I/O error, shut off by
    /// the guest or destroyed, ...).
    pub reason: StateReason,
    /// Number of VM snapshots (libvirt domain snapshots, CBSD jsnapshots).
    pub vm_snapshots: u64,
    /// Bytes held by VM snapshots; 0 where unknown.
    pub vm_snapshots_size: u64,
    /// The hypervisor process; `None` when the VM has none or it could not be read.
    pub process: Option<Process>,
    /// In the order the hypervisor lists them.
    pub disks: Vec<Disk>,
    /// Disk stats (I/O counters and sizes) could not be read this run: the VM was busy (a
    /// migration, a stuck QEMU monitor) and libvirt answers without them. Emitters report
    /// them as unknown, never as 0, which would read as a counter reset or an empty disk.
    pub disk_stats_unknown: bool,
    /// The disk errors libvirt keeps for the VM (asked only of VMs paused on an I/O error).
    pub disk_errors: Vec<DiskError>,
    /// In device order: `nic0`, `nic1`, ...
    pub nics: Vec<Nic>,
    /// Memory as the guest reports it; unknown figures `None`.
    pub guest_memory: GuestMemory,
    /// vCPU run, wait and delay (steal) times; unknown ones `None`.
    pub vcpu_times: VcpuTimes,
    /// What the guest agent said from inside the guest, if it was asked.
    pub agent: Agent,
}

impl Vm {
    /// A VM with nothing known but its name and state; backends fill in the rest.
    pub fn new(name: impl Into<String>, state: State) -> Vm {
        Vm {
            name: name.into(),
            state,
            mem_alloc: 0,
            cpus: 0,
            os_type: String::new(),
            ip: String::new(),
            console_type: String::new(),
            console: String::new(),
            autostart: None,
            reason: StateReason::NONE,
            vm_snapshots: 0,
            vm_snapshots_size: 0,
            process: None,
            disks: Vec::new(),
            disk_stats_unknown: false,
            disk_errors: Vec::new(),
            nics: Vec::new(),
            guest_memory: GuestMemory::default(),
            vcpu_times: VcpuTimes::default(),
            agent: Agent::Absent,
        }
    }

    /// The state for humans, with its reason where one is known: `paused (I/O error)`.
    pub fn state_text(&self) -> String {
        match self.reason.kind {
            Reason::Unknown => self.state.name().to_string(),
            kind => format!("{} ({})", self.state.name(), kind.text()),
        }
    }

    /// Disk counters summed over every disk; sizes leave out read-only images (ISOs), as a
    /// VM's storage footprint should.
    pub fn disk_sum(&self) -> DiskSum {
        let mut sum = DiskSum::default();
        for disk in &self.disks {
            sum.io.add(&disk.io);
            if !disk.is_image {
                sum.capacity = sum.capacity.saturating_add(disk.capacity);
                sum.allocated = sum.allocated.saturating_add(disk.allocated);
                sum.physical = sum.physical.saturating_add(disk.physical);
            }
        }
        sum
    }

    /// Interface counters summed over every NIC.
    pub fn net_sum(&self) -> NetCounters {
        let mut sum = NetCounters::default();
        for nic in &self.nics {
            sum.add(&nic.counters);
        }
        sum
    }
}

/// Stats of the process that runs a VM (QEMU on Linux, bhyve on FreeBSD).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process {
    /// Process id on the host.
    pub pid: u32,
    /// CPU %, lifetime average as `ps` shows it (100 = one core).
    pub pcpu: f64,
    /// % of host memory resident.
    pub pmem: f64,
    /// Seconds since the process started.
    pub etimes: u64,
    /// CPU seconds in user mode.
    pub usertime: f64,
    /// CPU seconds in kernel mode.
    pub systime: f64,
    /// Resident memory, bytes.
    pub rss: u64,
    /// Virtual size, bytes.
    pub vsz: u64,
    /// Minor page faults (no disk read needed).
    pub minflt: u64,
    /// Major page faults (a page read from disk).
    pub majflt: u64,
    /// Voluntary context switches.
    pub nvcsw: u64,
    /// Involuntary context switches.
    pub nivcsw: u64,
    /// Copy-on-write faults (FreeBSD; 0 on Linux).
    pub cow: u64,
    /// Swaps (FreeBSD; 0 on Linux).
    pub nswap: u64,
    /// Blocks read (FreeBSD; 0 on Linux).
    pub inblk: u64,
    /// Blocks written (FreeBSD; 0 on Linux).
    pub oublk: u64,
    /// Nice value, -20 to 19.
    pub nice: i64,
    /// Scheduling priority as `ps -o pri` prints it.
    pub pri: i64,
}

/// One virtual disk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Disk {
    /// Target device (`vda`) on libvirt, the disk file name on CBSD.
    pub name: String,
    /// A read-only image (CD-ROM/ISO), left out of the VM's size sums. Each backend decides
    /// it in one place (libvirt: `collect::libvirt::assemble::is_image`).
    pub is_image: bool,
    /// Size the guest sees, bytes (libvirt's capacity, a zvol's `volsize`).
    pub capacity: u64,
    /// Host storage the image occupies, bytes, like `du` (libvirt's allocation, a zvol's
    /// `referenced`): below `capacity` while a sparse or thin image fills.
    pub allocated: u64,
    /// Size of the image's container on the host, bytes, like `ls` (libvirt's physical, a
    /// zvol's `used`, its snapshots and reservation included).
    pub physical: u64,
    /// I/O counters; zero, and [`Vm::disk_stats_unknown`] set, when they could not be read.
    pub io: DiskIo,
}

/// Disk I/O counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskIo {
    /// Bytes read.
    pub rbytes: u64,
    /// Read requests.
    pub rreqs: u64,
    /// Milliseconds spent reading.
    pub rtime: f64,
    /// Bytes written.
    pub wbytes: u64,
    /// Write requests.
    pub wreqs: u64,
    /// Milliseconds spent writing.
    pub wtime: f64,
    /// Flush requests.
    pub freqs: u64,
    /// Milliseconds spent flushing.
    pub ftime: f64,
}

impl DiskIo {
    /// Saturating, like every counter sum here: counters come from other programs' output,
    /// and a sum past u64::MAX must not wrap to a small, credible value (or panic).
    pub fn add(&mut self, other: &DiskIo) {
        self.rbytes = self.rbytes.saturating_add(other.rbytes);
        self.rreqs = self.rreqs.saturating_add(other.rreqs);
        self.rtime += other.rtime;
        self.wbytes = self.wbytes.saturating_add(other.wbytes);
        self.wreqs = self.wreqs.saturating_add(other.wreqs);
        self.wtime += other.wtime;
        self.freqs = self.freqs.saturating_add(other.freqs);
        self.ftime += other.ftime;
    }
}

/// A VM's disks summed: I/O over every disk, sizes (named as in [`Disk`]) without images.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskSum {
    /// Size the guests see, bytes.
    pub capacity: u64,
    /// Host storage occupied, bytes.
    pub allocated: u64,
    /// Size of the images' containers on the host, bytes.
    pub physical: u64,
    /// I/O counters summed over every disk, images included.
    pub io: DiskIo,
}

/// One network interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Nic {
    /// Host-side device (`vnet0`, `tap0`).
    pub device: String,
    /// Bridge or lower device the host side sits on.
    pub parent: String,
    /// MAC address as the hypervisor gives it (`52:54:00:...`), or empty.
    pub mac: String,
    /// Traffic counters since the device appeared.
    pub counters: NetCounters,
}

/// Interface counters from the guest's point of view: `i*` is what the guest received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetCounters {
    /// Packets received.
    pub ipkts: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Receive errors.
    pub ierrs: u64,
    /// Received packets dropped.
    pub idrop: u64,
    /// Packets sent.
    pub opkts: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Send errors.
    pub oerrs: u64,
    /// Sent packets dropped.
    pub odrop: u64,
    /// Collisions (FreeBSD; 0 on Linux).
    pub coll: u64,
}

impl NetCounters {
    /// Adds `other`, saturating like [`DiskIo::add`].
    pub fn add(&mut self, other: &NetCounters) {
        self.ipkts = self.ipkts.saturating_add(other.ipkts);
        self.ibytes = self.ibytes.saturating_add(other.ibytes);
        self.ierrs = self.ierrs.saturating_add(other.ierrs);
        self.idrop = self.idrop.saturating_add(other.idrop);
        self.opkts = self.opkts.saturating_add(other.opkts);
        self.obytes = self.obytes.saturating_add(other.obytes);
        self.oerrs = self.oerrs.saturating_add(other.oerrs);
        self.odrop = self.odrop.saturating_add(other.odrop);
        self.coll = self.coll.saturating_add(other.coll);
    }
}

/// Sums over every VM (stopped ones too), each counted once, plus VMs per state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Number of VMs.
    pub vms: u64,
    /// Memory given to VMs, bytes.
    pub mem_alloc: u64,
    /// vCPUs.
    pub cpus: u64,
    /// VM snapshots, summed over the VMs.
    pub vm_snapshots: u64,
    /// Bytes held by VM snapshots (0 for VMs where it is unknown).
    pub vm_snapshots_size: u64,
    /// Process stats summed; VMs without a process add nothing.
    pub process: Process,
    /// Disk sums over every VM.
    pub disk: DiskSum,
    /// Some VM's disk stats are unknown, so their sums are too.
    pub disk_stats_unknown: bool,
    /// Interface counters over every NIC of every VM.
    pub net: NetCounters,
    /// VM count per state, indexed like `State::ALL`.
    pub states: [u64; State::ALL.len()],
    /// Guest memory, each figure summed over the VMs that report it.
    pub guest_memory: GuestMemory,
}

impl Totals {
    /// Sums over `vms`, saturating like [`DiskIo::add`].
    pub fn of(vms: &[Vm]) -> Totals {
        let mut t = Totals::default();
        for vm in vms {
            t.vms += 1;
            t.mem_alloc = t.mem_alloc.saturating_add(vm.mem_alloc);
            t.cpus = t.cpus.saturating_add(vm.cpus);
            t.vm_snapshots = t.vm_snapshots.saturating_add(vm.vm_snapshots);
            t.vm_snapshots_size = t.vm_snapshots_size.saturating_add(vm.vm_snapshots_size);
            if let Some(p) = &vm.process {
                let s = &mut t.process;
                s.pcpu += p.pcpu;
                s.pmem += p.pmem;
                s.etimes = s.etimes.saturating_add(p.etimes);
                s.usertime += p.usertime;
                s.systime += p.systime;
                s.rss = s.rss.saturating_add(p.rss);
                s.vsz = s.vsz.saturating_add(p.vsz);
                s.minflt = s.minflt.saturating_add(p.minflt);
                s.majflt = s.majflt.saturating_add(p.majflt);
                s.nvcsw = s.nvcsw.saturating_add(p.nvcsw);
                s.nivcsw = s.nivcsw.saturating_add(p.nivcsw);
                s.cow = s.cow.saturating_add(p.cow);
                s.nswap = s.nswap.saturating_add(p.nswap);
                s.inblk = s.inblk.saturating_add(p.inblk);
                s.oublk = s.oublk.saturating_add(p.oublk);
            }
            let disk = vm.disk_sum();
            t.disk.capacity = t.disk.capacity.saturating_add(disk.capacity);
            t.disk.allocated = t.disk.allocated.saturating_add(disk.allocated);
            t.disk.physical = t.disk.physical.saturating_add(disk.physical);
            t.disk.io.add(&disk.io);
            t.disk_stats_unknown |= vm.disk_stats_unknown;
            t.net.add(&vm.net_sum());
            t.states[vm.state as usize] += 1;
            t.guest_memory.add(&vm.guest_memory);
        }
        t
    }

    /// VMs in `state`.
    pub fn in_state(&self, state: State) -> u64 {
        self.states[state as usize]
    }
}

#[cfg(test)]
mod tests {
    //! Unit tests of [`super`]: state codes and the sums.

    use super::*;

    fn disk(name: &str, is_image: bool, size: u64, rbytes: u64, freqs: u64) -> Disk {
        Disk {
            name: name.into(),
            is_image,
            capacity: size,
            allocated: size / 2,
            physical: size / 2,
            io: DiskIo {
                rbytes,
                freqs,
                ftime: 1.5,
                ..DiskIo::default()
            },
        }
    }

    #[test]
    fn state_codes_follow_the_librenms_table() {
        let codes: Vec<u8> = State::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, (0..=10).collect::<Vec<u8>>());
        for (i, s) in State::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i, "State::ALL is indexed by discriminant");
        }
    }

    #[test]
    fn the_state_text_names_a_known_reason_only() {
        let mut vm = Vm::new("a", State::Paused);
        assert_eq!(vm.state_text(), "paused", "no reason given");
        vm.reason.kind = Reason::IoError;
        assert_eq!(vm.state_text(), "paused (I/O error)");
        vm.state = State::Crashed;
        vm.reason.kind = Reason::Panicked;
        assert_eq!(vm.state_text(), "crashed (guest panic)");
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        let mut vm = Vm::new("a", State::Running);
        vm.disks = vec![disk("vda", false, u64::MAX, u64::MAX, 1); 2];
        vm.nics = vec![
            Nic {
                counters: NetCounters {
                    ibytes: u64::MAX,
                    ..NetCounters::default()
                },
                ..Nic::default()
            };
            2
        ];
        let t = Totals::of(&[vm.clone(), vm]);
        assert_eq!(
            (t.disk.capacity, t.disk.io.rbytes, t.net.ibytes),
            (u64::MAX, u64::MAX, u64::MAX)
        );
        assert_eq!(t.disk.io.freqs, 4);
    }

    #[test]
    fn iso_images_count_for_io_but_not_for_size() {
        let mut vm = Vm::new("a", State::Running);
        vm.disks = vec![
            disk("vda", false, 1000, 10, 1),
            disk("hdc", true, 500, 7, 0),
        ];
        let sum = vm.disk_sum();
        assert_eq!(sum.capacity, 1000);
        assert_eq!(sum.allocated, 500);
        assert_eq!(sum.io.rbytes, 17);
        assert_eq!(sum.io.freqs, 1);
        assert_eq!(sum.io.ftime, 3.0);
    }

    #[test]
    fn totals_count_snapshots_flushes_and_every_nic_once() {
        let mut a = Vm::new("a", State::Running);
        a.vm_snapshots = 2;
        a.disks = vec![disk("vda", false, 100, 1, 3)];
        a.nics = vec![
            Nic {
                counters: NetCounters {
                    ibytes: 10,
                    opkts: 1,
                    ..Default::default()
                },
                ..Default::default()
            },
            Nic {
                counters: NetCounters {
                    ibytes: 5,
                    opkts: 2,
                    ..Default::default()
                },
                ..Default::default()
            },
        ];
        a.process = Some(Process {
            rss: 4096,
            majflt: 3,
            ..Default::default()
        });
        let mut b = Vm::new("b", State::Shutoff);
        b.vm_snapshots = 1;
        b.disks = vec![disk("vda", false, 300, 0, 4)];
        let t = Totals::of(&[a, b]);
        assert_eq!(t.vm_snapshots, 3, "the Perl tool counts snapshots twice");
        assert_eq!(t.disk.io.freqs, 7, "the Perl tool counts flushes twice");
        assert_eq!(t.disk.io.ftime, 3.0);
        assert_eq!(t.net.ibytes, 15, "every NIC, not only the last");
        assert_eq!(t.net.opkts, 3);
        assert_eq!(t.disk.capacity, 400, "stopped VMs count too");
        assert_eq!(t.process.rss, 4096);
        assert_eq!(t.process.majflt, 3);
        assert_eq!(t.in_state(State::Running), 1);
        assert_eq!(t.in_state(State::Shutoff), 1);
        assert_eq!(t.vms, 2);
    }

    #[test]
    fn the_builder_sets_what_it_is_given_and_nothing_else() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let snapshot = Snapshot::new(Backend::Cbsd, vec![Vm::new("a", State::Off)])
            .taken_at(at)
            .with_warning("one")
            .with_warnings(["two".to_string()]);
        assert_eq!(snapshot.backend, Backend::Cbsd);
        assert_eq!(snapshot.taken_at, at);
        assert_eq!(snapshot.vms.len(), 1);
        assert_eq!(snapshot.warnings, ["one", "two"]);
        assert!(Snapshot::new(Backend::Libvirt, vec![]).warnings.is_empty());
    }
}
