//! What a VM's guest agent says from inside the guest (libvirt's virDomainGetGuestInfo):
//! OS, hostname, file systems, interfaces with their addresses. All of it comes from whoever
//! owns the guest: the collector caps and checks it (`collect::libvirt::parse::guest_info`),
//! and emitters make every string safe as they make VM names safe. (What the guest reports
//! without an agent, its balloon memory and vCPU times, is in `guest.rs`.)

use std::net::IpAddr;

/// Whether a VM's guest agent was asked, and what it answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Agent {
    /// No connected agent channel (no qemu-ga in the guest, or the VM is not running), or a
    /// backend without agents: nothing asked.
    #[default]
    Absent,
    /// The agent's channel is connected but it was not asked: `--no-agent`, no read-write
    /// connection, or no time left (the snapshot's notes say which).
    NotAsked,
    /// It answered.
    Answered(Box<AgentInfo>),
    /// It was asked and did not answer in time (or answered with an error): its guest data
    /// is missing this run, the rest of the VM's data is there.
    NoAnswer,
}

impl Agent {
    /// The agent's answer, where there is one.
    pub fn info(&self) -> Option<&AgentInfo> {
        match self {
            Agent::Answered(info) => Some(info),
            _ => None,
        }
    }

    /// The word the LibreNMS document and the Xymon table use for it.
    pub fn name(&self) -> &'static str {
        match self {
            Agent::Absent => "none",
            Agent::NotAsked => "not_asked",
            Agent::Answered(_) => "answered",
            Agent::NoAnswer => "no_answer",
        }
    }
}

/// One agent's answer, capped (see the parser for the limits).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentInfo {
    /// The OS for humans: `os.pretty-name`, else `os.name` and `os.version`, else the kernel
    /// release; empty where the agent gives none.
    pub os: String,
    /// The guest's host name as it reports it (`(none)` on a Linux that never set one).
    pub hostname: String,
    /// Mounted file systems, in the agent's order.
    pub file_systems: Vec<GuestFs>,
    /// Network interfaces, in the agent's order, loopback included.
    pub interfaces: Vec<GuestInterface>,
}

/// A mounted file system inside the guest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuestFs {
    /// Where it is mounted (`/`, `/mnt`).
    pub mountpoint: String,
    /// `ext4`, `xfs`, `vfat`, ...
    pub fstype: String,
    /// Bytes in use; `None` where the agent gives no figure (some FS types).
    pub used: Option<u64>,
    /// Size in bytes; `None` likewise.
    pub total: Option<u64>,
}

impl GuestFs {
    /// Percent in use (0 to 100), where both figures are known and the size is not 0.
    pub fn percent_used(&self) -> Option<f64> {
        match (self.used, self.total) {
            #[allow(clippy::cast_precision_loss)]
            (Some(used), Some(total)) if total > 0 => {
                Some((used.min(total) as f64) * 100.0 / total as f64)
            }
            _ => None,
        }
    }
}

/// A network interface inside the guest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuestInterface {
    /// The guest's name for it (`eth0`).
    pub name: String,
    /// Its MAC, lower-case (`52:54:00:77:00:8b`), or empty.
    pub mac: String,
    /// Its addresses, in the agent's order.
    pub addresses: Vec<GuestAddress>,
}

/// An address with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestAddress {
    /// The address.
    pub ip: IpAddr,
    /// Prefix length, at most 32 (IPv4) or 128 (IPv6).
    pub prefix: u8,
}

impl std::fmt::Display for GuestAddress {
    /// `169.254.77.139/16`, as `virsh domifaddr` shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

impl GuestAddress {
    /// `addr` with `prefix` where the address parses and the prefix fits it (at most 32 for
    /// IPv4, 128 for IPv6); `None` for anything else.
    pub fn checked(addr: &str, prefix: u64) -> Option<GuestAddress> {
        let ip: IpAddr = addr.parse().ok()?;
        let most = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = u8::try_from(prefix).ok().filter(|&p| p <= most)?;
        Some(GuestAddress { ip, prefix })
    }
}

/// How good an address is as "the VM's address": lower is better, `None` never.
fn rank(ip: IpAddr) -> Option<u8> {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() || v4.is_unspecified() || v4.is_multicast() => None,
        IpAddr::V4(v4) if v4.is_broadcast() => None,
        IpAddr::V4(v4) if v4.is_link_local() => Some(2),
        IpAddr::V4(_) => Some(0),
        IpAddr::V6(v6) if v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() => None,
        IpAddr::V6(v6) if v6.is_unicast_link_local() => None,
        // An IPv4-mapped address is the guest's IPv4 seen through v6: ranked as v6 anyway.
        IpAddr::V6(_) => Some(1),
    }
}

/// The VM's primary address of `addresses`, given NIC by NIC in the hypervisor's order: the
/// first global IPv4, else the first global IPv6, else the first link-local IPv4
/// (169.254/16); never a loopback or an fe80:: address.
pub fn primary_address<'a>(
    addresses: impl IntoIterator<Item = &'a GuestAddress>,
) -> Option<IpAddr> {
    let mut best: Option<(u8, IpAddr)> = None;
    for addr in addresses {
        if let Some(r) = rank(addr.ip)
            && best.is_none_or(|(b, _)| r < b)
        {
            best = Some((r, addr.ip));
        }
    }
    best.map(|(_, ip)| ip)
}

impl AgentInfo {
    /// The file system with the largest share in use, and that percent; `None` where no
    /// file system has both figures.
    pub fn fullest_fs(&self) -> Option<(&GuestFs, f64)> {
        self.file_systems
            .iter()
            .filter_map(|fs| fs.percent_used().map(|p| (fs, p)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The interface whose MAC is `mac` (any case), where the guest has one.
    pub fn interface_of(&self, mac: &str) -> Option<&GuestInterface> {
        if mac.is_empty() {
            return None;
        }
        self.interfaces
            .iter()
            .find(|i| i.mac.eq_ignore_ascii_case(mac))
    }

    /// The VM's primary address ([`primary_address`]) of what the agent says of the NICs the
    /// hypervisor lists (`macs`, in its order). Interfaces the hypervisor does not list (a
    /// guest's own bridges) do not count.
    pub fn primary_ip<'a>(&self, macs: impl IntoIterator<Item = &'a str>) -> Option<IpAddr> {
        primary_address(
            macs.into_iter()
                .filter_map(|mac| self.interface_of(mac))
                .flat_map(|iface| &iface.addresses),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(mac: &str, addrs: &[&str]) -> GuestInterface {
        GuestInterface {
            name: "eth".into(),
            mac: mac.into(),
            addresses: addrs
                .iter()
                .map(|a| GuestAddress {
                    ip: a.parse().unwrap(),
                    prefix: 24,
                })
                .collect(),
        }
    }

    fn info(ifaces: Vec<GuestInterface>) -> AgentInfo {
        AgentInfo {
            interfaces: ifaces,
            ..AgentInfo::default()
        }
    }

    fn primary(g: &AgentInfo, macs: &[&str]) -> Option<String> {
        g.primary_ip(macs.iter().copied()).map(|ip| ip.to_string())
    }

    #[test]
    fn the_lab_guest_gives_its_link_local_ipv4() {
        let g = info(vec![
            iface("00:00:00:00:00:00", &["127.0.0.1", "::1"]),
            iface(
                "52:54:00:77:00:8b",
                &["169.254.77.139", "fe80::5054:ff:fe77:8b"],
            ),
        ]);
        assert_eq!(
            primary(&g, &["52:54:00:77:00:8B"]).as_deref(),
            Some("169.254.77.139")
        );
    }

    #[test]
    fn global_ipv4_beats_ipv6_beats_link_local_across_nics_in_order() {
        let g = info(vec![
            iface("aa:00:00:00:00:01", &["169.254.1.1", "2001:db8::1"]),
            iface("aa:00:00:00:00:02", &["fe80::1", "10.0.0.2", "10.0.0.3"]),
            iface("aa:00:00:00:00:03", &["192.0.2.3"]),
        ]);
        let all = [
            "aa:00:00:00:00:01",
            "aa:00:00:00:00:02",
            "aa:00:00:00:00:03",
        ];
        assert_eq!(primary(&g, &all).as_deref(), Some("10.0.0.2"));
        let reversed = ["aa:00:00:00:00:03", "aa:00:00:00:00:02"];
        assert_eq!(primary(&g, &reversed).as_deref(), Some("192.0.2.3"));
        assert_eq!(
            primary(&g, &["aa:00:00:00:00:01"]).as_deref(),
            Some("2001:db8::1")
        );
    }

    #[test]
    fn loopback_fe80_and_unlisted_interfaces_never_count() {
        let g = info(vec![
            iface("00:00:00:00:00:00", &["127.0.0.1", "::1"]),
            iface("aa:00:00:00:00:01", &["fe80::1", "0.0.0.0", "224.0.0.1"]),
            iface("de:ad:00:00:00:01", &["192.0.2.9"]),
        ]);
        assert_eq!(
            primary(&g, &["00:00:00:00:00:00", "aa:00:00:00:00:01"]),
            None
        );
        assert_eq!(primary(&g, &["", "bb:00:00:00:00:00"]), None);
    }

    #[test]
    fn percent_used_needs_both_figures() {
        let fs = |used, total| GuestFs {
            used,
            total,
            ..GuestFs::default()
        };
        assert_eq!(fs(Some(50), Some(200)).percent_used(), Some(25.0));
        assert_eq!(fs(Some(500), Some(200)).percent_used(), Some(100.0));
        assert_eq!(fs(Some(1), Some(0)).percent_used(), None);
        assert_eq!(fs(None, Some(10)).percent_used(), None);
    }
}
