//! Sums over a snapshot's VMs.

use super::device::{DiskSum, NetCounters};
use super::guest::GuestMemory;
use super::state::State;
use super::vm::{Process, Vm};

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
    //! Unit tests of [`super`]: sums saturate and count each device once.

    use super::*;
    use crate::model::device::{Disk, DiskIo, Nic};

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
}
