//! The DHCP lease source of VM addresses: one listing of the active networks and one
//! `virNetworkGetDHCPLeases` each (the `virt` crate binds neither the call nor its lease
//! struct: a small safe wrapper here that frees what libvirt allocates). It runs on the
//! collector's read-only connection, which libvirt allows, so snmpd's user gets lease
//! addresses where it gets no agent data.

use std::collections::HashMap;
use std::ffi::CStr;
use std::os::raw::c_char;

use virt::connect::Connect;
use virt::error::ErrorNumber;
use virt::network::Network;
use virt::sys;

use super::parse::lease::{self, Lease};
use crate::model::GuestAddress;

/// One lease copied out of libvirt's struct: (MAC, address, prefix).
type OwnedLease = (String, String, u32);

/// `p` as a string; empty for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that lives for the call.
unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the caller's promise.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Every unexpired lease of `net`, copied and freed.
fn network_leases(net: &Network) -> Result<Vec<OwnedLease>, virt::error::Error> {
    let mut leases: *mut sys::virNetworkDHCPLeasePtr = std::ptr::null_mut();
    // SAFETY: `net` is live; NULL asks for every MAC; libvirt allocates the array for us.
    let count =
        unsafe { sys::virNetworkGetDHCPLeases(net.as_ptr(), std::ptr::null(), &raw mut leases, 0) };
    let Ok(count) = usize::try_from(count) else {
        return Err(virt::error::Error::last_error());
    };
    let mut out = Vec::with_capacity(count);
    for j in 0..count {
        // SAFETY: j < count entries, each a lease libvirt allocated, freed once after it is
        // copied; its strings live until then.
        unsafe {
            let l = *leases.add(j);
            if l.is_null() {
                continue;
            }
            out.push((text((*l).mac), text((*l).ipaddr), (*l).prefix));
            sys::virNetworkDHCPLeaseFree(l);
        }
    }
    if !leases.is_null() {
        // SAFETY: the array itself, allocated by libvirt with malloc, freed once.
        unsafe { libc::free(leases.cast()) };
    }
    Ok(out)
}

/// The leased addresses of every active network of `conn`, by lower-case MAC. A driver
/// without networks or leases (the test driver) gives none, quietly; a network whose leases
/// cannot be read is named in `warnings`.
pub fn addresses_by_mac(
    conn: &Connect,
    warnings: &mut Vec<String>,
) -> HashMap<String, Vec<GuestAddress>> {
    let unsupported = |e: &virt::error::Error| e.code().is(ErrorNumber::NoSupport);
    let networks = match conn.list_all_networks(sys::VIR_CONNECT_LIST_NETWORKS_ACTIVE) {
        Ok(n) => n,
        Err(e) if unsupported(&e) => return HashMap::new(),
        Err(e) => {
            warnings.push(format!(
                "networks not listed for DHCP leases: {}",
                e.message()
            ));
            return HashMap::new();
        }
    };
    let mut all = Vec::new();
    for net in &networks {
        match network_leases(net) {
            Ok(mut l) => all.append(&mut l),
            Err(e) if unsupported(&e) => {}
            Err(e) => warnings.push(format!(
                "DHCP leases of network '{}' not read: {}",
                net.name().unwrap_or_default(),
                e.message()
            )),
        }
    }
    lease::by_mac(all.iter().map(|(mac, address, prefix)| Lease {
        mac,
        address,
        prefix: *prefix,
    }))
}
