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
    pub disks: Option<Vec<DiskRow>>,
    pub nics: Option<Vec<NicRow>>,
    pub snapshots: Option<Vec<(String, SnapshotSum)>>,
    pub zvols: Option<Vec<Zvol>>,
    /// Per-dataset I/O counters by dataset name.
    pub kstats: Option<HashMap<String, DiskIo>>,
    /// (interface, description) from `ifconfig`.
    pub taps: Option<Vec<(String, String)>>,
    /// Counters by interface from `netstat`, the host's side (see [`super::guest_side`]).
    pub interfaces: Option<Vec<(String, NetCounters)>>,
    /// The bhyve processes from `ps`, with ps's own %CPU.
    pub processes: Option<Vec<Process>>,
}
