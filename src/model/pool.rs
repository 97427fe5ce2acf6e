//! A storage pool of the host (libvirt's storage pools, CBSD's ZFS pools), and a VM disk's
//! error: the two findings that say why VMs stop on I/O errors.

/// One storage pool as the hypervisor reports it, with no refresh forced: libvirt refreshes
/// an active pool's figures itself (on start, on volume changes, on `virsh pool-refresh`).
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    /// The name exactly as the hypervisor knows it (emitters make it safe for their format).
    pub name: String,
    /// Its state, decoded.
    pub state: PoolState,
    /// The state's code as libvirt gives it (`virStoragePoolState`); `None` where the
    /// backend is not libvirt.
    pub state_code: Option<u32>,
    /// Size of the pool, bytes.
    pub capacity: u64,
    /// Bytes allocated to volumes (or, for a directory pool, used on its file system).
    pub allocation: u64,
    /// Bytes still free for new data.
    pub available: u64,
}

impl Pool {
    /// How full the pool is, percent: what is no longer available of its capacity (so a
    /// file system's reserved blocks count as full, as they are to a guest's writes).
    /// `None` for a pool with no capacity (inactive, or not readable).
    pub fn used_percent(&self) -> Option<f64> {
        if self.capacity == 0 {
            return None;
        }
        let used = self.capacity.saturating_sub(self.available);
        // Precision lost only past 2^53 bytes, far below what a percent shows.
        #[allow(clippy::cast_precision_loss)]
        Some(used as f64 * 100.0 / self.capacity as f64)
    }
}

/// A pool's state (libvirt's `virStoragePoolState`; a ZFS pool's health mapped onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolState {
    /// Defined but not started.
    Inactive,
    /// Being built.
    Building,
    /// Running and usable.
    Running,
    /// Running, but some of its devices failed (a degraded ZFS pool or RAID).
    Degraded,
    /// Running, but its storage cannot be reached.
    Inaccessible,
    /// A state newer than this build, or one the backend does not name.
    Unknown,
}

impl PoolState {
    /// Lower-case name for humans and LibreNMS.
    pub fn name(self) -> &'static str {
        match self {
            PoolState::Inactive => "inactive",
            PoolState::Building => "building",
            PoolState::Running => "running",
            PoolState::Degraded => "degraded",
            PoolState::Inaccessible => "inaccessible",
            PoolState::Unknown => "unknown",
        }
    }
}

/// A disk error libvirt keeps for a VM (`virDomainGetDiskErrors`): QEMU records one when it
/// stops the VM on a failed write or read, and clears it when the VM is resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskError {
    /// The disk's target device (`vdb`), as in [`crate::model::Disk::name`].
    pub disk: String,
    /// The code as libvirt gives it (`virDomainDiskErrorCode`).
    pub code: u32,
    /// What the code means.
    pub kind: DiskErrorKind,
}

/// What went wrong on a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskErrorKind {
    /// An I/O error with no more said (libvirt's `unspec`).
    IoError,
    /// The storage under the disk is full.
    NoSpace,
    /// A code newer than this build.
    Unknown,
}

impl DiskErrorKind {
    /// For humans: `no space`, `I/O error`.
    pub fn text(self) -> &'static str {
        match self {
            DiskErrorKind::IoError => "I/O error",
            DiskErrorKind::NoSpace => "no space",
            DiskErrorKind::Unknown => "unknown error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(capacity: u64, available: u64) -> Pool {
        Pool {
            name: "p".into(),
            state: PoolState::Running,
            state_code: None,
            capacity,
            allocation: capacity - available,
            available,
        }
    }

    #[test]
    fn full_is_what_is_no_longer_available() {
        assert_eq!(pool(200, 50).used_percent(), Some(75.0));
        assert_eq!(pool(200, 0).used_percent(), Some(100.0));
        assert_eq!(pool(0, 0).used_percent(), None);
        // More available than capacity (a racing refresh): empty, not negative.
        let mut odd = pool(100, 100);
        odd.available = 150;
        assert_eq!(odd.used_percent(), Some(0.0));
    }
}
