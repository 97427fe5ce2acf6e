//! libvirt test-driver node XMLs (`test:///ABSOLUTE/PATH`), the same mix as the lab's
//! gen-test-xml.py: state by i % 10 (0-5 running, 6-7 paused, 8-9 shut off), 1-3 disks,
//! 1-2 NICs, 1-4 vCPUs, 512 MiB-4 GiB, two snapshots on every 7th domain.

use std::fmt::Write as _;
use std::path::Path;

const NS: &str = "http://libvirt.org/schemas/domain/test/1.0";

/// A domain with a given name and libvirt state (1 running, 3 paused, 5 shut off, 6 crashed).
pub fn domain(index: usize, name: &str, state: u8) -> String {
    let mut disks = String::new();
    for d in 0..1 + index % 3 {
        let dev = format!("vd{}", (b'a' + d as u8) as char);
        let _ = writeln!(
            disks,
            "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
             <source file='/var/lib/libvirt/images/d{index}-{dev}.qcow2'/>\
             <target dev='{dev}' bus='virtio'/></disk>"
        );
    }
    let mut nics = String::new();
    for k in 0..1 + index % 2 {
        let _ = writeln!(
            nics,
            "    <interface type='network'><mac address='52:54:00:{:02x}:{:02x}:{k:02x}'/>\
             <source network='default'/><target dev='vnet{}'/><model type='virtio'/></interface>",
            (index >> 8) & 0xff,
            index & 0xff,
            index * 2 + k
        );
    }
    let mem_kib = (512u64 << 10) * (1 + index as u64 % 8);
    format!(
        "<domain type='test' xmlns:test='{NS}'>\n  <name>{}</name>\n  \
         <uuid>{:08x}-0000-4000-8000-{:012x}</uuid>\n  <memory unit='KiB'>{mem_kib}</memory>\n  \
         <currentMemory unit='KiB'>{mem_kib}</currentMemory>\n  <vcpu>{}</vcpu>\n  \
         <os><type>hvm</type></os>\n  <devices>\n{disks}{nics}    <memballoon model='virtio'/>\n  \
         </devices>\n  <test:runstate>{state}</test:runstate>\n</domain>\n",
        escape(name),
        index,
        index,
        1 + index % 4
    )
}

/// The lab generator's state mix.
pub fn mixed_state(index: usize) -> u8 {
    match index % 10 {
        0..=5 => 1,
        6 | 7 => 3,
        _ => 5,
    }
}

/// A node with the given `(name, state)` domains and the `default` network.
pub fn node(domains: &[(String, u8)]) -> String {
    let mut xml = String::from("<node>\n");
    for (i, (name, state)) in domains.iter().enumerate() {
        xml.push_str(&domain(i, name, *state));
    }
    xml.push_str(
        "<network><name>default</name><bridge name='virbr0'/><forward/>\
         <ip address='192.168.122.1' netmask='255.255.255.0'/></network>\n</node>\n",
    );
    xml
}

/// `count` domains `vm0000`... in the lab's state mix, written to `path`; returns the URI.
pub fn write_mixed(count: usize, path: &Path) -> String {
    let domains: Vec<(String, u8)> = (0..count)
        .map(|i| (format!("vm{i:04}"), mixed_state(i)))
        .collect();
    write(&domains, path)
}

/// Writes a node with these domains to `path` (absolute); returns its `test://` URI.
pub fn write(domains: &[(String, u8)], path: &Path) -> String {
    std::fs::write(path, node(domains)).expect("write node XML");
    format!("test://{}", path.display())
}

/// XML text for a name (the test driver reads names from XML).
pub fn escape(name: &str) -> String {
    name.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}
