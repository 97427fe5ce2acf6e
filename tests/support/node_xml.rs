//! libvirt test-driver node XMLs (`test:///ABSOLUTE/PATH`): the one generator, for the tests,
//! the benches and, through `cargo run --example node_xml` (examples/node_xml.rs), the
//! benchmark scripts.
//!
//! The lab mix ([`write_mixed`]) is what the benchmarks measure: state by i % 10 (0-5
//! running, 6-7 paused, 8-9 shut off), 1-3 disks, 1-2 NICs, 1-4 vCPUs, 512 MiB-4 GiB, two
//! snapshots on every 7th domain.

use std::fmt::Write as _;
use std::path::Path;

/// One domain of a node.
#[derive(Debug, Clone)]
pub struct TestDomain {
    pub name: String,
    /// virDomainState: 1 running, 2 blocked, 3 paused, 5 shut off, 6 crashed.
    pub runstate: u8,
    pub memory_kib: u64,
    pub vcpus: u64,
    /// Target devices of virtio disks.
    pub disks: Vec<String>,
    /// Also attach a CD-ROM image as `hdc`.
    pub cdrom: bool,
    /// MACs of NICs on the `default` network (bridge virbr0).
    pub nics: Vec<String>,
    /// Host-side devices (`<target dev>`) of the first NICs, in order; a NIC without one has
    /// no interface counters.
    pub nic_targets: Vec<String>,
    pub snapshots: usize,
}

impl TestDomain {
    /// 512 MiB, one vCPU, one disk `vda`, no NIC.
    pub fn new(name: &str, runstate: u8) -> TestDomain {
        TestDomain {
            name: name.into(),
            runstate,
            memory_kib: 512 * 1024,
            vcpus: 1,
            disks: vec!["vda".into()],
            cdrom: false,
            nics: vec![],
            nic_targets: vec![],
            snapshots: 0,
        }
    }

    /// Domain `index` of the lab mix, with its own name and state.
    pub fn lab(index: usize, name: &str, runstate: u8) -> TestDomain {
        let nics = 0..1 + index % 2;
        TestDomain {
            memory_kib: (512 << 10) * (1 + index as u64 % 8),
            vcpus: 1 + index as u64 % 4,
            disks: (b'a'..)
                .take(1 + index % 3)
                .map(|d| format!("vd{}", char::from(d)))
                .collect(),
            nics: nics
                .clone()
                .map(|k| {
                    format!(
                        "52:54:00:{:02x}:{:02x}:{k:02x}",
                        (index >> 8) & 0xff,
                        index & 0xff
                    )
                })
                .collect(),
            nic_targets: nics.map(|k| format!("vnet{}", index * 2 + k)).collect(),
            snapshots: if index % 7 == 0 { 2 } else { 0 },
            ..TestDomain::new(name, runstate)
        }
    }
}

/// The lab mix's state of domain `index`.
pub fn lab_state(index: usize) -> u8 {
    match index % 10 {
        0..=5 => 1,
        6 | 7 => 3,
        _ => 5,
    }
}

/// `count` domains `vm0000`... of the lab mix, written to `path`; returns the URI.
pub fn write_mixed(count: usize, path: &Path) -> String {
    let domains: Vec<TestDomain> = (0..count)
        .map(|i| TestDomain::lab(i, &format!("vm{i:04}"), lab_state(i)))
        .collect();
    write(&domains, path)
}

/// Writes a node of `domains` and the `default` network to `path` (absolute), readable by
/// all (snmpd reads it as its own user); returns its `test://` URI.
pub fn write(domains: &[TestDomain], path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, node(domains)).expect("write node XML");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .expect("make the node XML readable");
    format!("test://{}", path.display())
}

/// A node XML of `domains` and the `default` network.
pub fn node(domains: &[TestDomain]) -> String {
    let mut xml = String::from("<node>\n");
    for (i, d) in domains.iter().enumerate() {
        domain(&mut xml, i, d);
    }
    xml += "<network><name>default</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\
            <bridge name='virbr0'/><forward/><ip address='192.168.122.1' netmask='255.255.255.0'/></network>\n</node>\n";
    xml
}

/// Domain `d` as the `i`th of its node (its UUID and image paths).
fn domain(xml: &mut String, i: usize, d: &TestDomain) {
    let name = escape(&d.name);
    let uuid = format!("{i:08x}-0000-4000-8000-{i:012x}");
    let mem = d.memory_kib;
    let _ = write!(
        xml,
        "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n\
         <name>{name}</name><uuid>{uuid}</uuid>\n\
         <memory unit='KiB'>{mem}</memory><currentMemory unit='KiB'>{mem}</currentMemory>\n\
         <vcpu>{}</vcpu><os><type>hvm</type></os>\n<devices>\n",
        d.vcpus
    );
    for dev in &d.disks {
        let dev = escape(dev);
        let _ = writeln!(
            xml,
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
             <source file='/var/lib/libvirt/images/d{i}-{dev}.qcow2'/><target dev='{dev}' bus='virtio'/></disk>"
        );
    }
    if d.cdrom {
        *xml += "<disk type='file' device='cdrom'><source file='/isos/install.iso'/>\
                 <target dev='hdc' bus='ide'/><readonly/></disk>\n";
    }
    for (k, mac) in d.nics.iter().enumerate() {
        let target = d
            .nic_targets
            .get(k)
            .map(|t| format!("<target dev='{}'/>", escape(t)))
            .unwrap_or_default();
        let _ = writeln!(
            xml,
            "<interface type='network'><mac address='{}'/><source network='default'/>{target}\
             <model type='virtio'/></interface>",
            escape(mac)
        );
    }
    let _ = writeln!(
        xml,
        "<memballoon model='virtio'/></devices>\n<test:runstate>{}</test:runstate>",
        d.runstate
    );
    for s in 0..d.snapshots {
        let _ = writeln!(
            xml,
            "<test:domainsnapshot><name>snap{s}</name><state>shutoff</state>\
             <creationTime>{}</creationTime><active>{}</active>\
             <domain type='test'><name>{name}</name><uuid>{uuid}</uuid>\
             <memory unit='KiB'>{mem}</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\
             </test:domainsnapshot>",
            1_700_000_000 + s,
            u8::from(s + 1 == d.snapshots)
        );
    }
    *xml += "</domain>\n";
}

/// `s` as XML character data, in text or in an attribute value quoted either way: markup
/// characters and the white space an attribute value would fold become references, so every
/// name comes back from libvirt as it went in.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}
