//! Builds one [`Vm`] from what libvirt answered about it ([`RawDomain`]): pure, so it is
//! tested on answers recorded from the lab's real guests (tests/fixtures/libvirt/).

use std::collections::HashMap;

use super::domain_xml::{self, DomainXml};
use super::raw::{CallError, RawDomain};
use super::stats;
use crate::model::{Disk, DiskIo, NetCounters, Nic, State, StateReason, Vm};

/// The VM, or why it is left out: it vanished, or its state could not be had. Every other
/// failed call costs that piece of data and a warning.
pub fn vm(raw: &RawDomain, warnings: &mut Vec<String>) -> Result<Vm, CallError> {
    let name = raw.name.as_str();
    let mut vm = Vm::new(name, State::NoState);
    let params = stats::Params::new(&raw.stats);
    let groups = stats::apply(&mut vm, &params);
    if params.disk_stats_unknown() {
        vm.disk_stats_unknown = true;
        warnings.push(format!(
            "VM '{name}' is busy (job lock held): disk stats unknown this run"
        ));
    }
    if let Some(answer) = &raw.state {
        let state = answer.clone()?;
        vm.state = stats::state_from_libvirt(state.state);
        vm.reason = state.reason.map_or(StateReason::NONE, |code| {
            stats::reason_from_libvirt(vm.state, code)
        });
    }
    let xml = match &raw.xml {
        Ok(text) => domain_xml::parse(text).unwrap_or_else(|e| {
            warnings.push(format!("VM '{name}': {e}"));
            DomainXml::default()
        }),
        Err(e) if e.vanished => return Err(e.clone()),
        Err(e) => {
            warnings.push(format!("VM '{name}': domain XML: {}", e.message));
            DomainXml::default()
        }
    };
    let mut warn =
        |what: &str, e: &CallError| warnings.push(format!("VM '{name}': {what}: {}", e.message));

    vm.os_type = xml.os_type.clone();
    if let Some(g) = &xml.graphics {
        vm.console_type = g.kind.clone();
        vm.console = g.address.clone();
    }
    if !groups.balloon {
        vm.mem_alloc = xml.memory;
    }
    if !groups.vcpu {
        vm.cpus = xml.vcpus;
    }
    if !groups.block {
        vm.disks = xml
            .disks
            .iter()
            .map(|d| disk_from_calls(raw, d, &mut warn))
            .collect();
    }
    for disk in &mut vm.disks {
        let device = xml.disks.iter().find(|d| d.target == disk.name);
        disk.is_image = is_image(
            device.map(|d| d.device.as_str()),
            params.disk_path(&disk.name),
        );
    }
    vm.nics = nics(raw, &xml, groups.net.then_some(&vm.nics), &mut warn);
    for (nic, iface) in vm.nics.iter_mut().zip(&xml.interfaces) {
        if nic.parent.is_empty()
            && let Some(network) = &iface.network
            && let Some((_, bridge)) = raw.bridges.iter().find(|(n, _)| n == network)
        {
            nic.parent = bridge.clone();
        }
    }
    match &raw.snapshots {
        Ok(n) => vm.snaps = u64::from(*n),
        Err(e) => warn("snapshot count", e),
    }
    match &raw.autostart {
        Ok(a) => vm.autostart = Some(*a),
        Err(e) => warn("autostart", e),
    }
    match &raw.process {
        Some(Ok(p)) => vm.process = Some(p.clone()),
        Some(Err(e)) => warnings.push(format!("VM '{name}': QEMU process stats: {e}")),
        None => {}
    }
    Ok(vm)
}

/// Whether a disk is an image: CD/DVD media the VM reads, not storage it owns, so the model
/// leaves it out of size sums. The domain XML says so by `device='cdrom'` (`xml_device`); the
/// bulk stats, which carry no device kind, by a `block.N.path` ending in `.iso`, any case
/// (`bulk_path`; the Perl tool's rule, and all there is when the XML could not be read).
pub fn is_image(xml_device: Option<&str>, bulk_path: Option<&str>) -> bool {
    xml_device == Some("cdrom")
        || bulk_path.is_some_and(|p| p.to_ascii_lowercase().ends_with(".iso"))
}

/// A disk's sizes and counters from per-domain calls, for drivers without bulk block stats.
/// A shut-off domain's disk that libvirt cannot probe keeps size 0, unwarned.
fn disk_from_calls(
    raw: &RawDomain,
    xml: &domain_xml::XmlDisk,
    warn: &mut impl FnMut(&str, &CallError),
) -> Disk {
    let mut disk = Disk {
        name: xml.target.clone(),
        ..Disk::default()
    };
    let Some(answers) = raw.blocks.iter().find(|b| b.target == xml.target) else {
        return disk;
    };
    match &answers.info {
        Ok(info) => {
            disk.capacity = info.capacity;
            disk.allocated = info.allocation;
            disk.physical = info.physical;
        }
        Err(e) if answers.stats.is_some() => warn(&format!("block info of {}", xml.target), e),
        Err(_) => {}
    }
    match &answers.stats {
        Some(Ok(s)) => {
            disk.io = DiskIo {
                rbytes: counter(s.rd_bytes),
                rreqs: counter(s.rd_req),
                wbytes: counter(s.wr_bytes),
                wreqs: counter(s.wr_req),
                ..DiskIo::default()
            };
        }
        Some(Err(e)) => warn(&format!("block stats of {}", xml.target), e),
        None => {}
    }
    disk
}

/// NICs in device order: bulk counters where the driver gave them (matched to the XML by
/// host device), else per-interface answers; MAC and parent always from the XML.
fn nics(
    raw: &RawDomain,
    xml: &DomainXml,
    bulk: Option<&Vec<Nic>>,
    warn: &mut impl FnMut(&str, &CallError),
) -> Vec<Nic> {
    let from_xml = |i: &domain_xml::XmlInterface, counters: NetCounters| Nic {
        device: i.target.clone(),
        parent: i.parent.clone(),
        mac: i.mac.clone(),
        counters,
    };
    if let Some(bulk) = bulk {
        // Bulk lists only NICs with a host device; the XML order is the device order.
        let mut by_device: HashMap<&str, &Nic> =
            bulk.iter().map(|n| (n.device.as_str(), n)).collect();
        let mut out: Vec<Nic> = xml
            .interfaces
            .iter()
            .map(|i| {
                let counters = by_device
                    .remove(i.target.as_str())
                    .map(|n| n.counters.clone())
                    .unwrap_or_default();
                from_xml(i, counters)
            })
            .collect();
        out.extend(
            bulk.iter()
                .filter(|n| by_device.contains_key(n.device.as_str()))
                .cloned(),
        );
        return out;
    }
    xml.interfaces
        .iter()
        .map(|i| {
            let answer = raw.interfaces.iter().find(|a| a.target == i.target);
            let counters = match answer.map(|a| &a.counters) {
                Some(Ok(c)) => NetCounters {
                    ipkts: counter(c.rx_packets),
                    ibytes: counter(c.rx_bytes),
                    ierrs: counter(c.rx_errs),
                    idrop: counter(c.rx_drop),
                    opkts: counter(c.tx_packets),
                    obytes: counter(c.tx_bytes),
                    oerrs: counter(c.tx_errs),
                    odrop: counter(c.tx_drop),
                    coll: 0,
                },
                Some(Err(e)) => {
                    warn(&format!("interface stats of {}", i.target), e);
                    NetCounters::default()
                }
                None => NetCounters::default(),
            };
            from_xml(i, counters)
        })
        .collect()
}

/// A per-domain call's counter; libvirt gives -1 for one the driver does not keep.
fn counter(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
#[path = "assemble_tests.rs"]
mod tests;
