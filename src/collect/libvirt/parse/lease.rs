//! Pure reading of libvirt's DHCP leases (`virNetworkGetDHCPLeases`, what `virsh
//! net-dhcp-leases` prints) into addresses by MAC, and their use as a VM's address where its
//! agent gives none. dnsmasq writes a lease from what a guest asked for, so a lease is read
//! like an agent's answer: its MAC and address must parse, and at most
//! [`MAX_LEASES_PER_MAC`] are kept per MAC; the guest's host name and client id are not read.

use std::collections::HashMap;

use super::guest_info::mac;
use crate::model::{GuestAddress, Vm, primary_address};

/// Addresses kept per MAC (an IPv4 and a few IPv6 leases in practice).
pub const MAX_LEASES_PER_MAC: usize = 8;

/// One lease as libvirt gives it.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    /// The client's MAC.
    pub mac: &'a str,
    /// The leased address, as text.
    pub address: &'a str,
    /// Its prefix length.
    pub prefix: u32,
}

/// The leases' addresses by lower-case MAC, in libvirt's order, each once; leases whose MAC
/// or address does not parse are dropped.
pub fn by_mac<'a>(
    leases: impl IntoIterator<Item = Lease<'a>>,
) -> HashMap<String, Vec<GuestAddress>> {
    let mut out: HashMap<String, Vec<GuestAddress>> = HashMap::new();
    for lease in leases {
        let (Some(mac), Some(addr)) = (
            mac(lease.mac),
            GuestAddress::checked(lease.address, u64::from(lease.prefix)),
        ) else {
            continue;
        };
        let kept = out.entry(mac).or_default();
        if kept.len() < MAX_LEASES_PER_MAC && !kept.contains(&addr) {
            kept.push(addr);
        }
    }
    out
}

/// Gives each NIC of a VM with a live process the addresses leased to its MAC, and a VM without an
/// address yet (no agent, or an agent that gave none) its primary one of them. An off VM's
/// lease outlives it (until it expires), so off VMs get none.
pub fn apply(vms: &mut [Vm], leases: &HashMap<String, Vec<GuestAddress>>) {
    for vm in vms.iter_mut().filter(|vm| vm.state.has_process()) {
        for nic in &mut vm.nics {
            if let Some(addrs) = leases.get(&nic.mac.to_ascii_lowercase()) {
                nic.leases.clone_from(addrs);
            }
        }
        if vm.ip.is_empty()
            && let Some(ip) = primary_address(vm.nics.iter().flat_map(|n| &n.leases))
        {
            vm.ip = ip.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Nic, State};

    fn lease<'a>(mac: &'a str, address: &'a str, prefix: u32) -> Lease<'a> {
        Lease {
            mac,
            address,
            prefix,
        }
    }

    fn vm(state: State, macs: &[&str]) -> Vm {
        let mut vm = Vm::new("v", state);
        vm.nics = macs
            .iter()
            .map(|m| Nic {
                mac: (*m).to_string(),
                ..Nic::default()
            })
            .collect();
        vm
    }

    #[test]
    fn leases_are_kept_by_lower_case_mac_once_each_and_bad_ones_dropped() {
        let map = by_mac([
            lease("52:54:00:4D:01:01", "10.213.77.150", 24),
            lease("52:54:00:4d:01:01", "10.213.77.150", 24),
            lease("52:54:00:4d:01:01", "fd00::5", 64),
            lease("52:54:00:4d:01:02", "10.213.77.300", 24),
            lease("52:54:00:4d:01:03", "10.213.77.3", 33),
            lease("not-a-mac", "10.213.77.4", 24),
            lease("52:54:00:4d:01:05", "10.213.77.5; reboot", 24),
        ]);
        let shown: Vec<String> = map["52:54:00:4d:01:01"]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["10.213.77.150/24", "fd00::5/64"]);
        assert_eq!(map.len(), 1, "{map:?}");
    }

    #[test]
    fn a_mac_with_many_leases_keeps_the_first_few() {
        let addrs: Vec<String> = (0..100).map(|i| format!("10.0.0.{i}")).collect();
        let map = by_mac(addrs.iter().map(|a| lease("aa:bb:cc:dd:ee:ff", a, 24)));
        assert_eq!(map["aa:bb:cc:dd:ee:ff"].len(), MAX_LEASES_PER_MAC);
        assert_eq!(map["aa:bb:cc:dd:ee:ff"][0].to_string(), "10.0.0.0/24");
    }

    #[test]
    fn an_active_vm_without_an_address_takes_its_lease_an_agent_address_stays() {
        let map = by_mac([
            lease("52:54:00:00:00:01", "fd00::1", 64),
            lease("52:54:00:00:00:02", "10.0.0.2", 24),
            lease("52:54:00:00:00:03", "10.0.0.3", 24),
        ]);
        let mut vms = vec![
            vm(State::Running, &["52:54:00:00:00:01", "52:54:00:00:00:02"]),
            vm(State::Paused, &["52:54:00:00:00:03"]),
            vm(State::Shutoff, &["52:54:00:00:00:02"]),
        ];
        vms[1].ip = "192.0.2.1".into();
        apply(&mut vms, &map);
        assert_eq!(
            vms[0].ip, "10.0.0.2",
            "a global IPv4 beats the first NIC's IPv6"
        );
        assert_eq!(vms[0].nics[0].leases.len(), 1);
        assert_eq!(vms[1].ip, "192.0.2.1", "the agent's address is kept");
        assert_eq!(vms[1].nics[0].leases[0].to_string(), "10.0.0.3/24");
        assert_eq!(vms[2].ip, "", "an off VM's old lease is not its address");
        assert!(vms[2].nics[0].leases.is_empty());
    }
}
