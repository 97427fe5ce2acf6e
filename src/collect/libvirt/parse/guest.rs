//! The guest's own figures in a bulk stats record: its memory (`balloon.*`) and its vCPU
//! times (`vcpu.N.*`). Field names come from the bindings; a field libvirt leaves out is
//! unknown (`None`), never 0.

use std::ffi::CStr;

use virt::sys;

use super::stats::Params;
use crate::model::{GuestMemory, VcpuTimes};

/// A field name of the bindings as text (they are ASCII).
fn name(field: &CStr) -> &str {
    field.to_str().unwrap_or_default()
}

/// `balloon.*` as [`GuestMemory`]. Sizes come in KiB. Without a balloon driver in the guest
/// (or without a stats period) libvirt gives only `current`, `maximum` and `rss`, and
/// `last-update` 0, "never": both read as unknown.
pub fn memory(p: &Params) -> GuestMemory {
    let kib = |field: &CStr| p.u64(name(field)).map(|v| v.saturating_mul(1024));
    let count = |field: &CStr| p.u64(name(field));
    GuestMemory {
        current: kib(sys::VIR_DOMAIN_STATS_BALLOON_CURRENT),
        maximum: kib(sys::VIR_DOMAIN_STATS_BALLOON_MAXIMUM),
        unused: kib(sys::VIR_DOMAIN_STATS_BALLOON_UNUSED),
        available: kib(sys::VIR_DOMAIN_STATS_BALLOON_AVAILABLE),
        usable: kib(sys::VIR_DOMAIN_STATS_BALLOON_USABLE),
        swap_in: kib(sys::VIR_DOMAIN_STATS_BALLOON_SWAP_IN),
        swap_out: kib(sys::VIR_DOMAIN_STATS_BALLOON_SWAP_OUT),
        major_fault: count(sys::VIR_DOMAIN_STATS_BALLOON_MAJOR_FAULT),
        minor_fault: count(sys::VIR_DOMAIN_STATS_BALLOON_MINOR_FAULT),
        disk_caches: kib(sys::VIR_DOMAIN_STATS_BALLOON_DISK_CACHES),
        last_update: count(sys::VIR_DOMAIN_STATS_BALLOON_LAST_UPDATE).filter(|&t| t > 0),
    }
}

/// `vcpu.N.time`, `.wait` and `.delay` (ns) summed over the vCPUs that have them. The
/// numbers run to `vcpu.maximum`; an offline vCPU has no entries. A shut-off VM has none
/// at all: unknown.
pub fn vcpu_times(p: &Params) -> VcpuTimes {
    let prefix = name(sys::VIR_DOMAIN_STATS_VCPU_PREFIX);
    let vcpus = p
        .u64(name(sys::VIR_DOMAIN_STATS_VCPU_MAXIMUM))
        .or_else(|| p.u64(name(sys::VIR_DOMAIN_STATS_VCPU_CURRENT)))
        .unwrap_or(0);
    let sum = |suffix: &CStr| {
        let suffix = name(suffix);
        (0..vcpus)
            .filter_map(|i| p.u64(&format!("{prefix}{i}{suffix}")))
            .fold(None, |sum: Option<u64>, v| {
                Some(sum.unwrap_or(0).saturating_add(v))
            })
    };
    VcpuTimes {
        time: sum(sys::VIR_DOMAIN_STATS_VCPU_SUFFIX_TIME),
        wait: sum(sys::VIR_DOMAIN_STATS_VCPU_SUFFIX_WAIT),
        delay: sum(sys::VIR_DOMAIN_STATS_VCPU_SUFFIX_DELAY),
    }
}

#[cfg(test)]
mod tests {
    //! On records as `virsh domstats --balloon --vcpu` printed them for the lab's guests
    //! (field names typed from that output, so a wrong name in the bindings would show).

    use super::*;
    use crate::collect::libvirt::bulk::ParamValue;

    fn record(text: &str) -> Vec<(String, ParamValue)> {
        text.split_whitespace()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), ParamValue::UInt(v.parse().unwrap()))
            })
            .collect()
    }

    /// hvmon-linux: Debian's kernel with virtio_balloon, `<stats period='2'/>`.
    const LINUX_GUEST: &str = "balloon.current=262144 balloon.maximum=262144
        balloon.swap_in=0 balloon.swap_out=0 balloon.major_fault=0 balloon.minor_fault=12284
        balloon.unused=168072 balloon.available=210860 balloon.usable=172252
        balloon.last-update=1796233474 balloon.disk_caches=11380 balloon.hugetlb_pgalloc=0
        balloon.hugetlb_pgfail=0 balloon.rss=256856 vcpu.current=1 vcpu.maximum=1
        vcpu.0.state=1 vcpu.0.time=33400000000 vcpu.0.wait=0 vcpu.0.delay=15709641442";

    #[test]
    fn a_guest_with_a_balloon_driver_reports_its_memory_in_bytes() {
        let raw = record(LINUX_GUEST);
        let m = memory(&Params::new(&raw));
        assert_eq!(m.current, Some(262_144 * 1024));
        assert_eq!(m.maximum, Some(256 << 20));
        assert_eq!(m.unused, Some(168_072 * 1024));
        assert_eq!(m.available, Some(210_860 * 1024));
        assert_eq!(m.usable, Some(172_252 * 1024));
        assert_eq!((m.swap_in, m.swap_out), (Some(0), Some(0)));
        assert_eq!((m.major_fault, m.minor_fault), (Some(0), Some(12_284)));
        assert_eq!(m.disk_caches, Some(11_380 * 1024));
        assert_eq!(m.last_update, Some(1_796_233_474));
        assert_eq!(m.used(), Some((210_860 - 168_072) * 1024));
        let v = vcpu_times(&Params::new(&raw));
        assert_eq!(v.time, Some(33_400_000_000));
        assert_eq!(v.wait, Some(0));
        assert_eq!(v.delay, Some(15_709_641_442));
    }

    #[test]
    fn a_guest_without_a_driver_and_a_vm_that_is_off_leave_them_unknown() {
        // hvmon-running: iPXE, no OS, so no driver behind its stats period.
        let raw = record(
            "balloon.current=131072 balloon.maximum=131072 balloon.last-update=0
             balloon.rss=48088 vcpu.current=1 vcpu.maximum=1 vcpu.0.state=1
             vcpu.0.time=13800000000 vcpu.0.wait=0 vcpu.0.delay=6012578938",
        );
        let m = memory(&Params::new(&raw));
        assert_eq!(m.current, Some(128 << 20));
        assert_eq!((m.unused, m.available, m.usable), (None, None, None));
        assert_eq!((m.minor_fault, m.disk_caches), (None, None));
        assert_eq!(m.last_update, None, "0 means never");
        assert_eq!(m.used(), None);
        // hvmon-off
        let off =
            record("balloon.current=131072 balloon.maximum=131072 vcpu.current=1 vcpu.maximum=1");
        assert_eq!(vcpu_times(&Params::new(&off)), VcpuTimes::default());
        // The test driver's record has neither group.
        assert_eq!(memory(&Params::new(&[])), GuestMemory::default());
    }

    #[test]
    fn vcpu_times_sum_the_online_vcpus() {
        let raw = record(
            "vcpu.current=2 vcpu.maximum=4 vcpu.0.time=10 vcpu.0.delay=1 vcpu.2.time=30
             vcpu.2.delay=3 vcpu.2.wait=5",
        );
        let v = vcpu_times(&Params::new(&raw));
        assert_eq!(
            v,
            VcpuTimes {
                time: Some(40),
                wait: Some(5),
                delay: Some(4)
            }
        );
    }
}
