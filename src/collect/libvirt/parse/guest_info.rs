//! Pure reading of a `virDomainGetGuestInfo` answer (typed parameters, the names
//! `virsh guestinfo` prints) into [`AgentInfo`]. Everything in it comes from inside the guest, so
//! nothing is trusted: indices are read from the field names, never from the `*.count`
//! fields, and only the first [`MAX_FILE_SYSTEMS`], [`MAX_INTERFACES`] and
//! [`MAX_ADDRESSES`] are kept; every string is cut to [`MAX_TEXT`] characters; addresses are
//! kept only when they parse as addresses with a prefix that fits them, MACs only when they
//! are MACs. A guest answering 10,000 file systems or 1 MB names changes only its own entry.

use std::collections::BTreeMap;
use std::ffi::CStr;

use virt::sys;

use crate::collect::libvirt::bulk::ParamValue;
use crate::model::{AgentInfo, GuestAddress, GuestFs, GuestInterface};

/// File systems kept per guest.
pub const MAX_FILE_SYSTEMS: usize = 64;
/// Interfaces kept per guest.
pub const MAX_INTERFACES: usize = 32;
/// Addresses kept per interface.
pub const MAX_ADDRESSES: usize = 16;
/// Characters kept of any string (mount point, FS type, interface name, OS, hostname).
pub const MAX_TEXT: usize = 128;

/// A field name from the bindings, without its NUL.
fn name(c: &'static CStr) -> &'static str {
    c.to_str().unwrap_or("")
}

/// `s`, at most [`MAX_TEXT`] characters.
fn capped(s: &str) -> String {
    s.chars().take(MAX_TEXT).collect()
}

/// `fs.3.mountpoint` read as (3, "mountpoint") for `prefix` `fs.`: the index when it is a
/// plain number below `max`.
fn indexed<'a>(field: &'a str, prefix: &str, max: usize) -> Option<(usize, &'a str)> {
    let rest = field.strip_prefix(prefix)?;
    let (index, suffix) = rest.split_once('.')?;
    if index.is_empty() || index.len() > 6 || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index: usize = index.parse().ok()?;
    (index < max).then_some((index, suffix))
}

/// A MAC as six hex pairs joined by `:`, lower-cased; `None` for anything else.
pub(crate) fn mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| s.to_ascii_lowercase())
}

/// One address as the parameters give it, before it is checked.
#[derive(Default)]
struct RawAddress {
    addr: Option<String>,
    prefix: Option<u64>,
}

impl RawAddress {
    fn checked(&self) -> Option<GuestAddress> {
        GuestAddress::checked(self.addr.as_deref()?, self.prefix?)
    }
}

#[derive(Default)]
struct RawInterface {
    name: String,
    mac: String,
    addresses: BTreeMap<usize, RawAddress>,
}

/// The guest's answer, capped and checked (see the module's doc).
pub fn parse(params: &[(String, ParamValue)]) -> AgentInfo {
    let fs_prefix = name(sys::VIR_DOMAIN_GUEST_INFO_FS_PREFIX);
    let if_prefix = name(sys::VIR_DOMAIN_GUEST_INFO_IF_PREFIX);
    let addr_prefix = name(sys::VIR_DOMAIN_GUEST_INFO_IF_SUFFIX_ADDR_PREFIX)
        .strip_prefix('.')
        .unwrap_or("addr.");
    let suffix = |c: &'static CStr| name(c).strip_prefix('.').unwrap_or("");
    let mut text_of = BTreeMap::new();
    let mut file_systems: BTreeMap<usize, GuestFs> = BTreeMap::new();
    let mut interfaces: BTreeMap<usize, RawInterface> = BTreeMap::new();
    for (field, value) in params {
        if let Some((i, key)) = indexed(field, fs_prefix, MAX_FILE_SYSTEMS) {
            let fs = file_systems.entry(i).or_default();
            if key == suffix(sys::VIR_DOMAIN_GUEST_INFO_FS_SUFFIX_MOUNTPOINT) {
                fs.mountpoint = value.as_str().map(capped).unwrap_or_default();
            } else if key == suffix(sys::VIR_DOMAIN_GUEST_INFO_FS_SUFFIX_FSTYPE) {
                fs.fstype = value.as_str().map(capped).unwrap_or_default();
            } else if key == suffix(sys::VIR_DOMAIN_GUEST_INFO_FS_SUFFIX_TOTAL_BYTES) {
                fs.total = value.as_u64();
            } else if key == suffix(sys::VIR_DOMAIN_GUEST_INFO_FS_SUFFIX_USED_BYTES) {
                fs.used = value.as_u64();
            }
        } else if let Some((i, key)) = indexed(field, if_prefix, MAX_INTERFACES) {
            let iface = interfaces.entry(i).or_default();
            if key == suffix(sys::VIR_DOMAIN_GUEST_INFO_IF_SUFFIX_NAME) {
                iface.name = value.as_str().map(capped).unwrap_or_default();
            } else if key == suffix(sys::VIR_DOMAIN_GUEST_INFO_IF_SUFFIX_HWADDR) {
                iface.mac = value.as_str().and_then(mac).unwrap_or_default();
            } else if let Some((j, key)) = indexed(key, addr_prefix, MAX_ADDRESSES) {
                let addr = iface.addresses.entry(j).or_default();
                if key == suffix(sys::VIR_DOMAIN_GUEST_INFO_IF_SUFFIX_ADDR_SUFFIX_ADDR) {
                    // An address is short: a longer string is not one, and is not copied.
                    addr.addr = value.as_str().filter(|s| s.len() <= 64).map(str::to_string);
                } else if key == suffix(sys::VIR_DOMAIN_GUEST_INFO_IF_SUFFIX_ADDR_SUFFIX_PREFIX) {
                    addr.prefix = value.as_u64();
                }
            }
        } else if let Some(text) = value.as_str() {
            text_of.insert(field.as_str(), text);
        }
    }
    let text = |c: &'static CStr| text_of.get(name(c)).map_or("", |t| t.trim());
    let os = [
        text(sys::VIR_DOMAIN_GUEST_INFO_OS_PRETTY_NAME).to_string(),
        format!(
            "{} {}",
            text(sys::VIR_DOMAIN_GUEST_INFO_OS_NAME),
            text(sys::VIR_DOMAIN_GUEST_INFO_OS_VERSION)
        )
        .trim()
        .to_string(),
        text(sys::VIR_DOMAIN_GUEST_INFO_OS_KERNEL_RELEASE).to_string(),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or_default();
    AgentInfo {
        os: capped(&os),
        hostname: capped(text(sys::VIR_DOMAIN_GUEST_INFO_HOSTNAME_HOSTNAME)),
        file_systems: file_systems
            .into_values()
            .filter(|fs| !fs.mountpoint.is_empty())
            .collect(),
        interfaces: interfaces
            .into_values()
            .filter(|i| !i.name.is_empty() || !i.mac.is_empty())
            .map(|i| GuestInterface {
                name: i.name,
                mac: i.mac,
                addresses: i
                    .addresses
                    .values()
                    .filter_map(RawAddress::checked)
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(field: &str, v: &str) -> (String, ParamValue) {
        (field.to_string(), ParamValue::Str(v.to_string()))
    }
    fn n(field: &str, v: u64) -> (String, ParamValue) {
        (field.to_string(), ParamValue::UInt(v))
    }

    /// What `virsh guestinfo hvmon-linux` printed in the lab (the typed parameters behind it).
    fn lab_answer() -> Vec<(String, ParamValue)> {
        vec![
            n("user.count", 0),
            s("os.machine", "x86_64"),
            s("os.kernel-release", "6.1.0-57-amd64"),
            s("timezone.name", "UTC"),
            s("hostname", "(none)"),
            n("fs.count", 1),
            s("fs.0.name", "vda"),
            s("fs.0.mountpoint", "/mnt"),
            s("fs.0.fstype", "ext2"),
            n("fs.0.total-bytes", 61_629_440),
            n("fs.0.used-bytes", 2_119_680),
            n("if.count", 2),
            s("if.0.name", "lo"),
            s("if.0.hwaddr", "00:00:00:00:00:00"),
            n("if.0.addr.count", 2),
            s("if.0.addr.0.type", "ipv4"),
            s("if.0.addr.0.addr", "127.0.0.1"),
            n("if.0.addr.0.prefix", 8),
            s("if.0.addr.1.type", "ipv6"),
            s("if.0.addr.1.addr", "::1"),
            n("if.0.addr.1.prefix", 128),
            s("if.1.name", "eth0"),
            s("if.1.hwaddr", "52:54:00:77:00:8B"),
            n("if.1.addr.count", 2),
            s("if.1.addr.0.type", "ipv4"),
            s("if.1.addr.0.addr", "169.254.77.139"),
            n("if.1.addr.0.prefix", 16),
            s("if.1.addr.1.type", "ipv6"),
            s("if.1.addr.1.addr", "fe80::5054:ff:fe77:8b"),
            n("if.1.addr.1.prefix", 64),
        ]
    }

    #[test]
    fn the_lab_guests_answer() {
        let g = parse(&lab_answer());
        assert_eq!(g.os, "6.1.0-57-amd64");
        assert_eq!(g.hostname, "(none)");
        assert_eq!(
            g.file_systems,
            [GuestFs {
                mountpoint: "/mnt".into(),
                fstype: "ext2".into(),
                used: Some(2_119_680),
                total: Some(61_629_440),
            }]
        );
        assert_eq!(g.interfaces.len(), 2);
        let eth0 = &g.interfaces[1];
        assert_eq!(
            (eth0.name.as_str(), eth0.mac.as_str()),
            ("eth0", "52:54:00:77:00:8b")
        );
        let shown: Vec<String> = eth0.addresses.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["169.254.77.139/16", "fe80::5054:ff:fe77:8b/64"]);
    }

    #[test]
    fn the_os_is_the_pretty_name_else_name_and_version_else_the_kernel() {
        let mut p = vec![
            s("os.kernel-release", "6.1"),
            s("os.name", "Debian GNU/Linux"),
        ];
        assert_eq!(parse(&p).os, "Debian GNU/Linux");
        p.push(s("os.version", "12 (bookworm)"));
        assert_eq!(parse(&p).os, "Debian GNU/Linux 12 (bookworm)");
        p.push(s("os.pretty-name", "Debian 12"));
        assert_eq!(parse(&p).os, "Debian 12");
        assert_eq!(parse(&[]), AgentInfo::default());
    }

    #[test]
    fn counts_are_capped_whatever_the_guest_claims() {
        let mut p = vec![n("fs.count", 10_000)];
        for i in 0..10_000 {
            p.push(s(&format!("fs.{i}.mountpoint"), &format!("/m{i}")));
        }
        for i in 0..1000 {
            p.push(s(&format!("if.{i}.name"), "eth"));
            for j in 0..100 {
                p.push(s(&format!("if.{i}.addr.{j}.addr"), "10.0.0.1"));
                p.push(n(&format!("if.{i}.addr.{j}.prefix"), 8));
            }
        }
        let g = parse(&p);
        assert_eq!(g.file_systems.len(), MAX_FILE_SYSTEMS);
        assert_eq!(g.file_systems[0].mountpoint, "/m0");
        assert_eq!(g.interfaces.len(), MAX_INTERFACES);
        assert!(
            g.interfaces
                .iter()
                .all(|i| i.addresses.len() == MAX_ADDRESSES)
        );
    }

    #[test]
    fn hostile_strings_and_indices_are_cut_or_dropped() {
        let huge = "x".repeat(1 << 20);
        let p = vec![
            s("hostname", &huge),
            s("os.pretty-name", &format!("<script>{huge}")),
            s("fs.0.mountpoint", &huge),
            s("fs.0.fstype", "ext4\n<b>"),
            s("fs.0.used-bytes", "lots"),
            s("fs.99999999999999999999.mountpoint", "/overflow"),
            s("fs.-1.mountpoint", "/negative"),
            s("fs.+1.mountpoint", "/plus"),
            s("fs.1.mountpoint", ""),
            s("if.0.name", "eth0"),
            s("if.0.hwaddr", "52:54:00:77:00:8b; rm -rf /"),
            s("if.0.addr.0.addr", "10.0.0.1<img>"),
            n("if.0.addr.0.prefix", 8),
            s("if.0.addr.1.addr", "10.0.0.2"),
            n("if.0.addr.1.prefix", 33),
            s("if.0.addr.2.addr", "10.0.0.3"),
            s("if.0.addr.3.addr", &huge),
            n("if.0.addr.3.prefix", 8),
            s("if.0.addr.4.addr", "2001:db8::1"),
            n("if.0.addr.4.prefix", 64),
            s("if.1.addr.0.addr", "10.9.9.9"),
            n("if.1.addr.0.prefix", 8),
        ];
        let g = parse(&p);
        assert_eq!(g.hostname.chars().count(), MAX_TEXT);
        assert_eq!(g.os.chars().count(), MAX_TEXT);
        assert_eq!(g.file_systems.len(), 1, "{:?}", g.file_systems);
        let fs = &g.file_systems[0];
        assert_eq!(fs.mountpoint.len(), MAX_TEXT);
        assert_eq!(fs.fstype, "ext4\n<b>", "kept, made safe by each emitter");
        assert_eq!(fs.used, None);
        assert_eq!(g.interfaces.len(), 1, "a nameless interface without a MAC");
        assert_eq!(g.interfaces[0].mac, "");
        let shown: Vec<String> = g.interfaces[0]
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["2001:db8::1/64"]);
    }
}
