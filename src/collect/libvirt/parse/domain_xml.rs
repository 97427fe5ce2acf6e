//! Pure parsing of the parts of a libvirt domain XML the stats calls do not give: MACs, the
//! bridge each NIC sits on, the console, disk kinds and the guest OS.

use serde::{Deserialize, Serialize};

/// What one domain's XML tells us.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainXml {
    /// libosinfo id from `<metadata>` where a tool recorded one, else `<os><type>` (`hvm`).
    pub os_type: String,
    /// `<memory>` in bytes.
    pub memory: u64,
    /// `<vcpu>`'s `current`, else its count; 0 where absent.
    pub vcpus: u64,
    /// `<devices><disk>` with a `<target dev>`, in XML order.
    pub disks: Vec<XmlDisk>,
    /// `<devices><interface>`, in XML order.
    pub interfaces: Vec<XmlInterface>,
    /// The first VNC or SPICE `<graphics>`, where there is one.
    pub graphics: Option<Graphics>,
    /// The guest agent's channel is there and qemu-ga has it open (live XML's
    /// `<target name='org.qemu.guest_agent.0' state='connected'/>`): only then is it asked.
    pub agent_connected: bool,
}

/// The virtio channel name qemu-guest-agent listens on (QEMU's and libvirt's convention).
const AGENT_CHANNEL: &str = "org.qemu.guest_agent.0";

/// One `<disk>` element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XmlDisk {
    /// `<target dev>`: the guest's device name (`vda`), the key the stats calls use.
    pub target: String,
    /// `disk`, `cdrom`, `floppy`, `lun`.
    pub device: String,
}

/// One `<interface>` element.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct XmlInterface {
    /// `<mac address>`, or empty.
    pub mac: String,
    /// Host-side device (`<target dev>`), present while the domain runs.
    pub target: String,
    /// The bridge or lower device, where the XML names it.
    pub parent: String,
    /// A libvirt network whose bridge must be looked up, when `parent` is empty.
    pub network: Option<String>,
}

/// A `<graphics>` console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graphics {
    /// `vnc` or `spice`.
    pub kind: String,
    /// `listen:port`, empty while no port is assigned.
    pub address: String,
}

/// The parts above from one domain's XML; the error says why the XML is not well-formed.
pub fn parse(xml: &str) -> Result<DomainXml, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("invalid domain XML: {e}"))?;
    let root = doc.root_element();
    let os_type = root
        .descendants()
        .find(|n| {
            n.tag_name().name() == "os"
                && n.tag_name()
                    .namespace()
                    .is_some_and(|ns| ns.contains("libosinfo"))
        })
        .and_then(|n| n.attribute("id"))
        .or_else(|| {
            child(root, "os")
                .and_then(|os| child(os, "type"))
                .and_then(|t| t.text())
        })
        .unwrap_or("")
        .trim()
        .to_string();
    let mut out = DomainXml {
        os_type,
        ..DomainXml::default()
    };
    if let Some(mem) = child(root, "memory") {
        out.memory = to_bytes(
            mem.text().unwrap_or("0"),
            mem.attribute("unit").unwrap_or("KiB"),
        );
    }
    if let Some(vcpu) = child(root, "vcpu") {
        out.vcpus = vcpu
            .attribute("current")
            .or(vcpu.text())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
    }
    let Some(devices) = child(root, "devices") else {
        return Ok(out);
    };
    for dev in devices.children().filter(|c| c.is_element()) {
        match dev.tag_name().name() {
            "disk" => {
                if let Some(target) = child(dev, "target").and_then(|t| t.attribute("dev")) {
                    out.disks.push(XmlDisk {
                        target: target.to_string(),
                        device: dev.attribute("device").unwrap_or("disk").to_string(),
                    });
                }
            }
            "interface" => {
                let source = child(dev, "source");
                let src = |a: &str| {
                    source
                        .and_then(|s| s.attribute(a))
                        .unwrap_or("")
                        .to_string()
                };
                let kind = dev.attribute("type").unwrap_or("");
                // A running domain's live XML carries the network's bridge on <source>.
                let parent = match kind {
                    "direct" | "hostdev" => src("dev"),
                    _ => src("bridge"),
                };
                out.interfaces.push(XmlInterface {
                    mac: child(dev, "mac")
                        .and_then(|m| m.attribute("address"))
                        .unwrap_or("")
                        .to_string(),
                    target: child(dev, "target")
                        .and_then(|t| t.attribute("dev"))
                        .unwrap_or("")
                        .to_string(),
                    network: (kind == "network" && parent.is_empty())
                        .then(|| src("network"))
                        .filter(|n| !n.is_empty()),
                    parent,
                });
            }
            "graphics" if out.graphics.is_none() => {
                let kind = dev.attribute("type").unwrap_or("");
                if kind == "vnc" || kind == "spice" {
                    let port = dev
                        .attribute("port")
                        .and_then(|p| p.parse::<i64>().ok())
                        .unwrap_or(-1);
                    let listen = dev
                        .attribute("listen")
                        .or_else(|| child(dev, "listen").and_then(|l| l.attribute("address")))
                        .unwrap_or("127.0.0.1");
                    let address = if port > 0 {
                        format!("{listen}:{port}")
                    } else {
                        String::new()
                    };
                    out.graphics = Some(Graphics {
                        kind: kind.to_string(),
                        address,
                    });
                }
            }
            "channel" => {
                if let Some(target) = child(dev, "target")
                    && target.attribute("name") == Some(AGENT_CHANNEL)
                    && target.attribute("state") == Some("connected")
                {
                    out.agent_connected = true;
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The first child element called `name`.
fn child<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// A libvirt memory amount in the given unit, as bytes.
fn to_bytes(value: &str, unit: &str) -> u64 {
    let n: u64 = value.trim().parse().unwrap_or(0);
    let mult: u64 = match unit {
        "b" | "bytes" => 1,
        "KB" => 1000,
        "k" | "KiB" => 1 << 10,
        "MB" => 1000 * 1000,
        "M" | "MiB" => 1 << 20,
        "GB" => 1000 * 1000 * 1000,
        "G" | "GiB" => 1 << 30,
        "TB" => 1000u64.pow(4),
        "T" | "TiB" => 1 << 40,
        _ => 1 << 10,
    };
    n.saturating_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNNING: &str = r#"<domain type='kvm' id='3'>
  <name>web 01</name>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>2097152</memory>
  <vcpu placement='static' current='2'>4</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/v/web.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><source file='/v/d.iso'/><target dev='sda' bus='sata'/></disk>
    <interface type='network'>
      <mac address='52:54:00:aa:bb:01'/>
      <source network='default' portid='x' bridge='virbr0'/>
      <target dev='vnet7'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:aa:bb:02'/>
      <source network='isolated'/>
    </interface>
    <interface type='bridge'><mac address='52:54:00:aa:bb:03'/><source bridge='br0'/><target dev='vnet8'/></interface>
    <interface type='direct'><mac address='52:54:00:aa:bb:04'/><source dev='eno1' mode='bridge'/><target dev='macvtap0'/></interface>
    <interface type='ethernet'><mac address='52:54:00:aa:bb:05'/><target dev='tap9'/></interface>
    <graphics type='vnc' port='5901' autoport='yes' listen='0.0.0.0'><listen type='address' address='0.0.0.0'/></graphics>
    <graphics type='spice' port='5902'/>
  </devices>
</domain>"#;

    #[test]
    fn a_running_domain() {
        let x = parse(RUNNING).unwrap();
        assert_eq!(x.os_type, "http://debian.org/debian/12");
        assert_eq!(x.memory, 2 << 30);
        assert_eq!(x.vcpus, 2);
        assert_eq!(
            x.disks,
            vec![
                XmlDisk {
                    target: "vda".into(),
                    device: "disk".into()
                },
                XmlDisk {
                    target: "sda".into(),
                    device: "cdrom".into()
                },
            ]
        );
        let parents: Vec<(&str, &str, Option<&str>)> = x
            .interfaces
            .iter()
            .map(|i| (i.target.as_str(), i.parent.as_str(), i.network.as_deref()))
            .collect();
        assert_eq!(
            parents,
            vec![
                ("vnet7", "virbr0", None),
                ("", "", Some("isolated")),
                ("vnet8", "br0", None),
                ("macvtap0", "eno1", None),
                ("tap9", "", None),
            ]
        );
        assert_eq!(x.interfaces[0].mac, "52:54:00:aa:bb:01");
        assert_eq!(
            x.graphics,
            Some(Graphics {
                kind: "vnc".into(),
                address: "0.0.0.0:5901".into()
            })
        );
    }

    #[test]
    fn a_shut_off_domain_has_no_console_port() {
        let xml = "<domain type='qemu'><name>x</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>\
                   <os><type>hvm</type></os><devices><graphics type='spice' autoport='yes'/></devices></domain>";
        let x = parse(xml).unwrap();
        assert_eq!(x.os_type, "hvm");
        assert_eq!(x.memory, 128 << 20);
        assert_eq!(x.vcpus, 1);
        assert_eq!(
            x.graphics,
            Some(Graphics {
                kind: "spice".into(),
                address: String::new()
            })
        );
    }

    #[test]
    fn broken_xml_is_an_error_naming_the_problem() {
        let err = parse("<domain><name>x</name>").unwrap_err();
        assert!(err.starts_with("invalid domain XML"), "{err}");
    }

    #[test]
    fn the_agent_channel_counts_only_when_connected() {
        let with = |target: &str| {
            let xml = format!(
                "<domain><devices><channel type='unix'><source mode='bind'/>{target}</channel>\
                 </devices></domain>"
            );
            parse(&xml).unwrap().agent_connected
        };
        assert!(with(
            "<target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>"
        ));
        assert!(!with(
            "<target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>"
        ));
        assert!(!with(
            "<target type='virtio' name='org.qemu.guest_agent.0'/>"
        ));
        assert!(!with(
            "<target type='virtio' name='com.redhat.spice.0' state='connected'/>"
        ));
    }
}
