//! The storage calls: a paused domain's disk errors (`virDomainGetDiskErrors`, which the
//! `virt` crate does not bind: a small safe wrapper here that frees what libvirt allocates)
//! and the host's storage pools (one listing, one info call each).

use std::ffi::CStr;

use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use super::parse::storage;
use crate::model::Pool;

/// The domain's disk errors as libvirt gives them: (target device, `virDomainDiskErrorCode`).
/// One call for the room needed (QEMU answers with the number of disks), then one for the
/// errors if the domain has disks.
pub fn disk_errors(dom: &Domain) -> Result<Vec<(String, u32)>, virt::error::Error> {
    // SAFETY: the domain lives for the call; NULL and 0 ask for the count only.
    let ptr = unsafe { dom.as_ptr() };
    let count = unsafe { sys::virDomainGetDiskErrors(ptr, std::ptr::null_mut(), 0, 0) };
    let Ok(count) = usize::try_from(count) else {
        return Err(virt::error::Error::last_error());
    };
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut errors = vec![
        sys::virDomainDiskError {
            disk: std::ptr::null_mut(),
            error: 0,
        };
        count
    ];
    let room = u32::try_from(count).unwrap_or(u32::MAX);
    // SAFETY: `errors` has room for `room` entries; libvirt fills at most that many.
    let filled = unsafe { sys::virDomainGetDiskErrors(ptr, errors.as_mut_ptr(), room, 0) };
    let Ok(filled) = usize::try_from(filled) else {
        return Err(virt::error::Error::last_error());
    };
    let mut out = Vec::with_capacity(filled);
    for e in errors.iter().take(filled.min(count)) {
        if e.disk.is_null() {
            continue;
        }
        // SAFETY: libvirt set `disk` to a NUL-terminated string it allocated for the caller,
        // freed here exactly once, after it is copied.
        let disk = unsafe { CStr::from_ptr(e.disk) }
            .to_string_lossy()
            .into_owned();
        unsafe { libc::free(e.disk.cast()) };
        out.push((disk, u32::try_from(e.error).unwrap_or(u32::MAX)));
    }
    Ok(out)
}

/// Every storage pool of the host, sorted by name, from one listing and one
/// `virStoragePoolGetInfo` each (no refresh: libvirt keeps active pools' figures current).
/// A pool whose info fails (undefined meanwhile) is left out with a warning.
pub fn pools(conn: &Connect, warnings: &mut Vec<String>) -> Result<Vec<Pool>, String> {
    let listed = conn
        .list_all_storage_pools(0)
        .map_err(|e| e.message().to_string())?;
    let mut out = Vec::with_capacity(listed.len());
    for p in &listed {
        let Ok(name) = p.name() else { continue };
        match p.info() {
            Ok(i) => out.push(storage::pool(
                &name,
                i.state,
                i.capacity,
                i.allocation,
                i.available,
            )),
            Err(e) => warnings.push(format!("storage pool '{name}': {}", e.message())),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
