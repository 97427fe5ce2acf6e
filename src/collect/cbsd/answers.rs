//! What CBSD and the host-wide commands answered, parsed ([`super::parse`]) and gathered
//! ([`super::gather`]) before anything is built from it ([`super::assemble`]), so the building
//! can be tested on recorded answers (tests/fixtures/cbsd/).

use std::collections::HashMap;

use super::parse::{DiskRow, NicRow, SnapshotSum, Zvol};
use crate::model::{DiskIo, NetCounters, Process};

/// What the host-wide commands gave; `None` where a command failed (already warned about)
/// or was not needed.
#[derive(Debug, Clone, Default)]
pub struct HostAnswers {
    /// Every VM's disks from `cbsd bhyve-dsk-list`.
    pub disks: Option<Vec<DiskRow>>,
    /// Every VM's NICs from `cbsd bhyve-nic-list`, in each VM's NIC order.
    pub nics: Option<Vec<NicRow>>,
    /// Snapshot count and bytes per VM name, from `cbsd jsnapshot`.
    pub snapshots: Option<Vec<(String, SnapshotSum)>>,
    /// Sizes of every zvol, from `zfs list -t volume`.
    pub zvols: Option<Vec<Zvol>>,
    /// Per-dataset I/O counters by dataset name.
    pub kstats: Option<HashMap<String, DiskIo>>,
    /// (interface, description) from `ifconfig`.
    pub taps: Option<Vec<(String, String)>>,
    /// Counters by interface from `netstat`, the host's side (see `super::assemble::guest_side`).
    pub interfaces: Option<Vec<(String, NetCounters)>>,
    /// The bhyve processes from `ps`, with ps's own %CPU.
    pub processes: Option<Vec<Process>>,
}
