//! Pure decoding of libvirt's storage answers: a pool's `virStoragePoolInfo` and a domain's
//! `virDomainGetDiskErrors` codes, with the bindings' numbers.

use virt::sys;

use crate::model::{DiskError, DiskErrorKind, Pool, PoolState};

/// libvirt's `virStoragePoolState` as the model's; a state newer than this build is `Unknown`.
pub fn pool_state_from_libvirt(code: u32) -> PoolState {
    match code {
        sys::VIR_STORAGE_POOL_INACTIVE => PoolState::Inactive,
        sys::VIR_STORAGE_POOL_BUILDING => PoolState::Building,
        sys::VIR_STORAGE_POOL_RUNNING => PoolState::Running,
        sys::VIR_STORAGE_POOL_DEGRADED => PoolState::Degraded,
        sys::VIR_STORAGE_POOL_INACCESSIBLE => PoolState::Inaccessible,
        _ => PoolState::Unknown,
    }
}

/// A pool from its name and `virStoragePoolGetInfo`'s figures (bytes).
pub fn pool(name: &str, state: u32, capacity: u64, allocation: u64, available: u64) -> Pool {
    Pool {
        name: name.to_string(),
        state: pool_state_from_libvirt(state),
        state_code: Some(state),
        capacity,
        allocation,
        available,
    }
}

/// One `virDomainDiskError` (target device, `virDomainDiskErrorCode`) as the model's; `None`
/// for `VIR_DOMAIN_DISK_ERROR_NONE`, which libvirt lists for a disk whose error was cleared.
pub fn disk_error(disk: &str, code: u32) -> Option<DiskError> {
    let kind = match code {
        sys::VIR_DOMAIN_DISK_ERROR_NONE => return None,
        sys::VIR_DOMAIN_DISK_ERROR_UNSPEC => DiskErrorKind::IoError,
        sys::VIR_DOMAIN_DISK_ERROR_NO_SPACE => DiskErrorKind::NoSpace,
        _ => DiskErrorKind::Unknown,
    };
    Some(DiskError {
        disk: disk.to_string(),
        code,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_error_codes_are_the_bindings() {
        let e = disk_error("vdb", sys::VIR_DOMAIN_DISK_ERROR_NO_SPACE).unwrap();
        assert_eq!((e.disk.as_str(), e.kind), ("vdb", DiskErrorKind::NoSpace));
        assert_eq!(e.kind.text(), "no space");
        assert_eq!(
            disk_error("vda", sys::VIR_DOMAIN_DISK_ERROR_UNSPEC).map(|e| e.kind),
            Some(DiskErrorKind::IoError)
        );
        assert_eq!(disk_error("vda", sys::VIR_DOMAIN_DISK_ERROR_NONE), None);
        assert_eq!(
            disk_error("vda", sys::VIR_DOMAIN_DISK_ERROR_NO_SPACE + 7).map(|e| e.kind),
            Some(DiskErrorKind::Unknown)
        );
    }

    #[test]
    fn pool_states_are_the_bindings() {
        for (code, state) in [
            (sys::VIR_STORAGE_POOL_INACTIVE, PoolState::Inactive),
            (sys::VIR_STORAGE_POOL_BUILDING, PoolState::Building),
            (sys::VIR_STORAGE_POOL_RUNNING, PoolState::Running),
            (sys::VIR_STORAGE_POOL_DEGRADED, PoolState::Degraded),
            (sys::VIR_STORAGE_POOL_INACCESSIBLE, PoolState::Inaccessible),
            (sys::VIR_STORAGE_POOL_INACCESSIBLE + 1, PoolState::Unknown),
        ] {
            assert_eq!(pool_state_from_libvirt(code), state, "{code}");
        }
        let p = pool("images", sys::VIR_STORAGE_POOL_RUNNING, 100, 60, 40);
        assert_eq!(p.state_code, Some(sys::VIR_STORAGE_POOL_RUNNING));
        assert_eq!(p.used_percent(), Some(60.0));
    }
}
