//! What a VM's guest itself reports: its memory through the balloon driver, and how long its
//! vCPUs ran, waited and were kept from running. Every figure is `None` where the guest or
//! the host does not give it (no balloon driver, no stats period, a VM that is off, a
//! backend without them): unknown, never 0.

/// Memory as the guest's balloon driver sees it (libvirt's `balloon.*` stats group), bytes
/// but for the fault counts and the update time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuestMemory {
    /// Memory the guest has now (the balloon's size), bytes.
    pub current: Option<u64>,
    /// Most memory the balloon may give the guest, bytes.
    pub maximum: Option<u64>,
    /// Memory the guest leaves unused (its MemFree), bytes.
    pub unused: Option<u64>,
    /// Memory the guest's OS sees (its MemTotal), bytes.
    pub available: Option<u64>,
    /// Memory the guest could use without swapping (its MemAvailable), bytes.
    pub usable: Option<u64>,
    /// Read from swap inside the guest, bytes.
    pub swap_in: Option<u64>,
    /// Written to swap inside the guest, bytes.
    pub swap_out: Option<u64>,
    /// Major page faults inside the guest (a page read from disk).
    pub major_fault: Option<u64>,
    /// Minor page faults inside the guest.
    pub minor_fault: Option<u64>,
    /// Memory the guest holds as disk caches, bytes.
    pub disk_caches: Option<u64>,
    /// When the guest last sent these figures, seconds since the Unix epoch.
    pub last_update: Option<u64>,
}

impl GuestMemory {
    /// Memory in use inside the guest, bytes: `available - unused`, where both are known.
    pub fn used(&self) -> Option<u64> {
        Some(self.available?.saturating_sub(self.unused?))
    }

    /// Adds `other`'s figures, each summed over the VMs that report it (`None` while none
    /// does); `last_update` keeps the latest. Saturating, like every sum of the model.
    pub fn add(&mut self, other: &GuestMemory) {
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        self.current = sum(self.current, other.current);
        self.maximum = sum(self.maximum, other.maximum);
        self.unused = sum(self.unused, other.unused);
        self.available = sum(self.available, other.available);
        self.usable = sum(self.usable, other.usable);
        self.swap_in = sum(self.swap_in, other.swap_in);
        self.swap_out = sum(self.swap_out, other.swap_out);
        self.major_fault = sum(self.major_fault, other.major_fault);
        self.minor_fault = sum(self.minor_fault, other.minor_fault);
        self.disk_caches = sum(self.disk_caches, other.disk_caches);
        self.last_update = self.last_update.max(other.last_update);
    }
}

/// A VM's vCPU times summed over its vCPUs (libvirt's `vcpu.N.*`), **nanoseconds** since the
/// VM's process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VcpuTimes {
    /// Time the vCPUs ran.
    pub time: Option<u64>,
    /// Time the vCPUs waited (libvirt's `wait`; 0 where the host kernel keeps no such
    /// statistics).
    pub wait: Option<u64>,
    /// Time the vCPUs were ready to run but queued behind other work on the host: the steal
    /// time the guest sees.
    pub delay: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_needs_both_figures() {
        let mut m = GuestMemory {
            available: Some(1000),
            ..GuestMemory::default()
        };
        assert_eq!(m.used(), None);
        m.unused = Some(300);
        assert_eq!(m.used(), Some(700));
    }

    #[test]
    fn sums_count_only_the_vms_that_report() {
        let reporting = GuestMemory {
            current: Some(10),
            unused: Some(4),
            last_update: Some(7),
            ..GuestMemory::default()
        };
        let silent = GuestMemory {
            current: Some(5),
            ..GuestMemory::default()
        };
        let mut sum = GuestMemory::default();
        for m in [reporting, silent, reporting] {
            sum.add(&m);
        }
        assert_eq!(sum.current, Some(25));
        assert_eq!(sum.unused, Some(8));
        assert_eq!(sum.available, None, "nobody reports it: unknown, not 0");
        assert_eq!(sum.last_update, Some(7));
        let mut big = GuestMemory {
            swap_in: Some(u64::MAX),
            ..GuestMemory::default()
        };
        big.add(&big.clone());
        assert_eq!(big.swap_in, Some(u64::MAX));
    }
}
