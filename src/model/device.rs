//! A VM's devices: its disks and network interfaces, and their counters.

use super::agent::GuestAddress;

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
    /// I/O counters; zero, and [`Vm::disk_stats_unknown`](super::Vm::disk_stats_unknown) set, when they could not be read.
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
    /// The addresses the hypervisor's DHCP server leased to this MAC (libvirt's networks),
    /// for an active VM; empty elsewhere. The guest agent's view is in [`crate::model::Agent`].
    pub leases: Vec<GuestAddress>,
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
