//! One virtual machine and the process that runs it.

use super::agent::Agent;
use super::device::{Disk, DiskSum, NetCounters, Nic};
use super::guest::{GuestMemory, VcpuTimes};
use super::pool::DiskError;
use super::state::{Reason, State, StateReason};

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

#[cfg(test)]
mod tests {
    //! Unit tests of [`super`]: state codes and the state text.

    use super::*;

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
}
