//! A safe, leak-free wrapper over `virDomainListGetStats`.
//!
//! The `virt` crate's `Connect::all_domain_stats` (0.5.0) never frees the records it returns, so
//! this copies each record into owned Rust values and frees the list with
//! `virDomainStatsRecordListFree` before returning.

use std::ffi::CStr;
use std::os::raw::c_char;

use serde::{Deserialize, Serialize};
use virt::domain::Domain;
use virt::sys;

/// One typed parameter's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ParamValue {
    /// `VIR_TYPED_PARAM_INT` and `_LLONG`.
    Int(i64),
    /// `VIR_TYPED_PARAM_UINT` and `_ULLONG`.
    UInt(u64),
    /// `VIR_TYPED_PARAM_DOUBLE`.
    Double(f64),
    /// `VIR_TYPED_PARAM_BOOLEAN`.
    Bool(bool),
    /// `VIR_TYPED_PARAM_STRING`; libvirt's bytes, lossily made UTF-8.
    Str(String),
}

impl ParamValue {
    /// The value as an unsigned counter; negative and non-numeric values read as `None`.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            ParamValue::Int(v) => u64::try_from(v).ok(),
            ParamValue::UInt(v) => Some(v),
            // Not negative, finite: `as` only drops the fraction (and saturates).
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            ParamValue::Double(v) if v >= 0.0 && v.is_finite() => Some(v as u64),
            ParamValue::Bool(v) => Some(u64::from(v)),
            _ => None,
        }
    }

    /// The text of a string value; `None` for every other type.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The stats libvirt returned for one domain, as `virsh domstats` would list them.
#[derive(Debug, Clone)]
pub struct DomainStats {
    /// Domain name as libvirt reports it; any UTF-8.
    pub name: String,
    /// Every parameter in libvirt's order, by its field name (`block.0.rd.bytes`).
    pub params: Vec<(String, ParamValue)>,
}

/// The stats groups the tool reports, and only those: asking for all of them (`stats` 0)
/// also makes libvirtd gather perf, iothread, memory-bandwidth, dirty-rate and KVM counters
/// for every domain, which nothing here reads.
const GROUPS: u32 = sys::VIR_DOMAIN_STATS_STATE
    | sys::VIR_DOMAIN_STATS_CPU_TOTAL
    | sys::VIR_DOMAIN_STATS_BALLOON
    | sys::VIR_DOMAIN_STATS_VCPU
    | sys::VIR_DOMAIN_STATS_INTERFACE
    | sys::VIR_DOMAIN_STATS_BLOCK;

/// The stats ([`GROUPS`]) for the given domains (`virDomainListGetStats`). `flags` are
/// `VIR_CONNECT_GET_ALL_DOMAINS_STATS_*`. Records come back in hash order; they are sorted
/// by name here.
pub fn domain_stats(
    domains: &[&Domain],
    flags: u32,
) -> Result<Vec<DomainStats>, virt::error::Error> {
    // SAFETY: the pointers are only lent to libvirt for this call, while `domains` lives.
    let mut list: Vec<sys::virDomainPtr> = domains.iter().map(|d| unsafe { d.as_ptr() }).collect();
    list.push(std::ptr::null_mut());
    let mut records: *mut sys::virDomainStatsRecordPtr = std::ptr::null_mut();
    // SAFETY: `list` is a NULL-terminated array of live domains of one connection.
    let count =
        unsafe { sys::virDomainListGetStats(list.as_mut_ptr(), GROUPS, &raw mut records, flags) };
    unsafe { take_records(count, records) }
}

/// Copies `count` records into owned values and frees the list.
///
/// # Safety
/// `records` and `count` must be what a libvirt stats call just returned.
unsafe fn take_records(
    count: i32,
    records: *mut sys::virDomainStatsRecordPtr,
) -> Result<Vec<DomainStats>, virt::error::Error> {
    // Negative: the call failed.
    let Ok(count) = usize::try_from(count) else {
        return Err(virt::error::Error::last_error());
    };
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: i < count; each record and its params stay valid until the list is freed.
        let record = unsafe { &**records.add(i) };
        let name = unsafe { c_string(sys::virDomainGetName(record.dom)) };
        let params = (0..usize::try_from(record.nparams).unwrap_or(0))
            .filter_map(|j| unsafe { read_param(&*record.params.add(j)) })
            .collect();
        out.push(DomainStats { name, params });
    }
    // SAFETY: freed exactly once, after the last read.
    unsafe { sys::virDomainStatsRecordListFree(records) };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// # Safety
/// `p` must point to a NUL-terminated string or be NULL.
unsafe fn c_string(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// # Safety
/// `param` must be a typed parameter filled in by libvirt.
pub(super) unsafe fn read_param(param: &sys::virTypedParameter) -> Option<(String, ParamValue)> {
    let field = unsafe { c_string(param.field.as_ptr()) };
    let v = &param.value;
    let value = unsafe {
        match u32::try_from(param.type_).ok()? {
            sys::VIR_TYPED_PARAM_INT => ParamValue::Int(i64::from(v.i)),
            sys::VIR_TYPED_PARAM_UINT => ParamValue::UInt(u64::from(v.ui)),
            sys::VIR_TYPED_PARAM_LLONG => ParamValue::Int(v.l),
            sys::VIR_TYPED_PARAM_ULLONG => ParamValue::UInt(v.ul),
            sys::VIR_TYPED_PARAM_DOUBLE => ParamValue::Double(v.d),
            sys::VIR_TYPED_PARAM_BOOLEAN => ParamValue::Bool(v.b != 0),
            sys::VIR_TYPED_PARAM_STRING => ParamValue::Str(c_string(v.s)),
            _ => return None,
        }
    };
    Some((field, value))
}
