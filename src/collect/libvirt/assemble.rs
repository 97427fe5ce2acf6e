//! Builds one [`Vm`] from what libvirt answered about it ([`DomainAnswers`]): pure, so it is
//! tested on answers recorded from the lab's real guests (tests/fixtures/libvirt/).

use std::collections::HashMap;

use super::answers::{CallError, DomainAnswers};
use super::parse::domain_xml::{self, DomainXml};
use super::parse::{stats, storage};
use crate::model::{Agent, Disk, DiskIo, NetCounters, Nic, State, StateReason, Vm};

/// The VM, or why it is left out: it vanished, or its state could not be had. Every other
/// failed call costs that piece of data and a warning.
pub fn vm(raw: &DomainAnswers, warnings: &mut Vec<String>) -> Result<Vm, CallError> {
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
    let xml = match (&raw.xml_facts, &raw.xml) {
        (Some(facts), _) => facts.clone(),
        (None, Ok(text)) => domain_xml::parse(text).unwrap_or_else(|e| {
            warnings.push(format!("VM '{name}': {e}"));
            DomainXml::default()
        }),
        (None, Err(e)) if e.vanished => return Err(e.clone()),
        (None, Err(e)) => {
            warnings.push(format!("VM '{name}': domain XML: {}", e.message));
            DomainXml::default()
        }
    };
    let mut warn =
        |what: &str, e: &CallError| warnings.push(format!("VM '{name}': {what}: {}", e.message));

    vm.os_type = xml.os_type.clone();
    if vm.state == State::Running && xml.agent_connected {
        // Asked later, over a connection that may (`agent::ask`).
        vm.agent = Agent::NotAsked;
    }
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
        Ok(n) => vm.vm_snapshots = u64::from(*n),
        Err(e) => warn("snapshot count", e),
    }
    match &raw.autostart {
        Ok(a) => vm.autostart = Some(*a),
        Err(e) => warn("autostart", e),
    }
    match &raw.disk_errors {
        Some(Ok(errors)) => {
            vm.disk_errors = errors
                .iter()
                .filter_map(|(disk, code)| storage::disk_error(disk, *code))
                .collect();
        }
        Some(Err(e)) => warn("disk errors", e),
        None => {}
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
    raw: &DomainAnswers,
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
    raw: &DomainAnswers,
    xml: &DomainXml,
    bulk: Option<&Vec<Nic>>,
    warn: &mut impl FnMut(&str, &CallError),
) -> Vec<Nic> {
    let from_xml = |i: &domain_xml::XmlInterface, counters: NetCounters| Nic {
        device: i.target.clone(),
        parent: i.parent.clone(),
        mac: i.mac.clone(),
        leases: Vec::new(),
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
mod tests {
    //! [`super::vm`] on answers recorded from the lab's real guests and libvirt's test driver
    //! (tests/fixtures/libvirt/, recorded by capture.py there; each file says how and when).

    use super::*;
    use crate::collect::libvirt::answers::{Answer, StateAnswer};
    use crate::model::Reason;
    use virt::sys;

    fn recorded(name: &str) -> DomainAnswers {
        let text = match name {
            "hvmon-running" => include_str!("../../../tests/fixtures/libvirt/hvmon-running.json"),
            "hvmon-paused" => include_str!("../../../tests/fixtures/libvirt/hvmon-paused.json"),
            "hvmon-off" => include_str!("../../../tests/fixtures/libvirt/hvmon-off.json"),
            "test" => include_str!("../../../tests/fixtures/libvirt/test.json"),
            _ => unreachable!("no fixture {name}"),
        };
        let file: serde_json::Value = serde_json::from_str(text).unwrap();
        assert!(file["captured"].as_str().unwrap().starts_with("virsh -c "));
        serde_json::from_value(file["raw"].clone()).unwrap()
    }

    fn stat(raw: &DomainAnswers, key: &str) -> u64 {
        let (_, v) = raw.stats.iter().find(|(k, _)| k == key).unwrap();
        v.as_u64().unwrap()
    }

    fn assembled(raw: &DomainAnswers) -> (Vm, Vec<String>) {
        let mut warnings = Vec::new();
        let vm = vm(raw, &mut warnings).expect("kept");
        (vm, warnings)
    }

    fn failed<T>(vanished: bool) -> Answer<T> {
        Err(CallError {
            vanished,
            message: "recorded failure".into(),
        })
    }

    #[test]
    fn a_running_qemu_guest_takes_everything_from_bulk_stats_and_xml() {
        let raw = recorded("hvmon-running");
        let (vm, warnings) = assembled(&raw);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(vm.state, State::Running);
        assert_eq!(
            vm.reason,
            StateReason {
                code: Some(sys::VIR_DOMAIN_RUNNING_BOOTED),
                kind: Reason::Booted
            }
        );
        assert_eq!(vm.mem_alloc, 128 << 20);
        assert_eq!(vm.cpus, 1);
        assert_eq!(vm.os_type, "hvm");
        assert_eq!(vm.console_type, "vnc");
        assert!(vm.console.starts_with("127.0.0.1:59"), "{}", vm.console);
        assert_eq!((vm.vm_snapshots, vm.autostart), (0, Some(false)));
        assert!(!vm.disk_stats_unknown);
        let names: Vec<(&str, bool)> = vm
            .disks
            .iter()
            .map(|d| (d.name.as_str(), d.is_image))
            .collect();
        assert_eq!(
            names,
            [("vda", false), ("hdc", true)],
            "the CD-ROM is an image"
        );
        assert_eq!(vm.disks[0].capacity, 64 << 20);
        assert_eq!(vm.disks[1].capacity, 1 << 20);
        assert_eq!(vm.disks[0].io.rreqs, stat(&raw, "block.0.rd.reqs"));
        assert_eq!(vm.nics.len(), 1);
        let nic = &vm.nics[0];
        assert_eq!(
            (nic.device.as_str(), nic.mac.as_str()),
            ("hvmtap1", "52:54:00:4d:00:01")
        );
        assert_eq!(nic.counters.opkts, stat(&raw, "net.0.tx.pkts"));
        assert!(nic.counters.opkts > 0, "iPXE's DHCP requests");
        assert!(vm.process.is_none(), "not recorded");
    }

    #[test]
    fn a_paused_guest_is_paused_with_its_own_nic() {
        let (vm, warnings) = assembled(&recorded("hvmon-paused"));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(vm.state, State::Paused);
        assert_eq!(vm.reason.code, Some(sys::VIR_DOMAIN_PAUSED_USER));
        assert_eq!(vm.reason.kind, Reason::User, "virsh suspend");
        assert_eq!(vm.nics[0].device, "hvmtap2");
    }

    #[test]
    fn a_shut_off_guest_has_sizes_snapshots_and_autostart_but_no_console() {
        let (vm, warnings) = assembled(&recorded("hvmon-off"));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(vm.state, State::Shutoff);
        assert_eq!(
            vm.reason.code,
            Some(sys::VIR_DOMAIN_SHUTOFF_UNKNOWN),
            "never started"
        );
        assert_eq!((vm.vm_snapshots, vm.autostart), (1, Some(true)));
        assert_eq!(vm.disks[0].capacity, 64 << 20);
        assert_eq!(vm.console, "", "no port while shut off");
        assert_eq!(vm.nics[0].mac, "52:54:00:4d:00:03");
        assert_eq!(vm.nics[0].counters, NetCounters::default());
    }

    #[test]
    fn the_test_driver_fills_the_rest_from_per_domain_answers() {
        let raw = recorded("test");
        let (vm, warnings) = assembled(&raw);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(vm.state, State::Running);
        assert_eq!((vm.mem_alloc, vm.cpus), (8 << 30, 2), "from the XML");
        let block = &raw.blocks[0];
        let (Ok(sizes), Some(Ok(counters))) = (&block.info, &block.stats) else {
            panic!("recorded answers");
        };
        assert_eq!(vm.disks.len(), 1);
        assert_eq!(vm.disks[0].capacity, sizes.capacity);
        assert_eq!(vm.disks[0].allocated, sizes.allocation);
        assert_eq!(vm.disks[0].io.wreqs, counter(counters.wr_req));
        let Ok(net) = &raw.interfaces[0].counters else {
            panic!("recorded answer");
        };
        assert_eq!(vm.nics[0].device, "testnet0");
        assert_eq!(vm.nics[0].counters.ibytes, counter(net.rx_bytes));
        assert_eq!(vm.nics[0].parent, "virbr0", "the network's bridge");
    }

    #[test]
    fn a_busy_guest_keeps_its_disks_with_their_io_unknown() {
        let mut raw = recorded("hvmon-running");
        raw.stats.retain(|(k, _)| {
            !(k.starts_with("block.") && (k.contains(".rd.") || k.contains(".wr.")))
        });
        let (vm, warnings) = assembled(&raw);
        assert!(vm.disk_stats_unknown);
        assert_eq!(vm.disks.len(), 2);
        assert_eq!(
            warnings,
            ["VM 'hvmon-running' is busy (job lock held): disk stats unknown this run"]
        );
    }

    #[test]
    fn failed_calls_cost_their_piece_and_a_warning_each() {
        let mut raw = recorded("test");
        raw.blocks[0].stats = Some(failed(false));
        raw.interfaces[0].counters = failed(false);
        raw.snapshots = failed(false);
        raw.autostart = failed(false);
        raw.process = Some(Err("no PID file".into()));
        let (vm, warnings) = assembled(&raw);
        assert_eq!(vm.disks[0].io, DiskIo::default());
        assert!(vm.disks[0].capacity > 0, "the block info still counts");
        assert_eq!(vm.autostart, None);
        assert_eq!(
            warnings,
            [
                "VM 'test': block stats of vda: recorded failure",
                "VM 'test': interface stats of testnet0: recorded failure",
                "VM 'test': snapshot count: recorded failure",
                "VM 'test': autostart: recorded failure",
                "VM 'test': QEMU process stats: no PID file",
            ]
        );
    }

    #[test]
    fn an_unreadable_xml_leaves_the_vm_with_its_bulk_stats() {
        let mut raw = recorded("hvmon-running");
        raw.xml = failed(false);
        let (vm, warnings) = assembled(&raw);
        assert_eq!(vm.disks.len(), 2, "from the stats");
        assert_eq!(vm.nics[0].mac, "", "only the XML knows it");
        assert_eq!(
            warnings,
            ["VM 'hvmon-running': domain XML: recorded failure"]
        );
        raw.xml = Ok("<domain".into());
        let (_, warnings) = assembled(&raw);
        assert!(
            warnings[0].starts_with("VM 'hvmon-running': "),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_vanished_or_stateless_domain_is_left_out() {
        let mut raw = recorded("hvmon-off");
        raw.xml = failed(true);
        assert!(vm(&raw, &mut Vec::new()).unwrap_err().vanished);

        let mut raw = recorded("test");
        raw.stats.clear();
        raw.state = Some(failed(false));
        assert!(!vm(&raw, &mut Vec::new()).unwrap_err().vanished);
        raw.state = Some(Ok(StateAnswer {
            state: sys::VIR_DOMAIN_PAUSED,
            reason: Some(sys::VIR_DOMAIN_PAUSED_IOERROR),
        }));
        let (vm, _) = assembled(&raw);
        assert_eq!(vm.state, State::Paused);
        assert_eq!(vm.reason.kind, Reason::IoError);
    }

    #[test]
    fn an_image_is_a_cdrom_or_an_iso_path() {
        assert!(
            is_image(Some("cdrom"), None),
            "per-domain calls: the XML only"
        );
        assert!(is_image(Some("cdrom"), Some("/dev/sr0")));
        assert!(is_image(Some("disk"), Some("/isos/debian.ISO")), "any case");
        assert!(is_image(None, Some("/isos/debian.iso")), "no XML: the path");
        assert!(!is_image(Some("disk"), Some("/var/lib/vm.raw")));
        assert!(!is_image(Some("disk"), None));
        assert!(!is_image(None, None));
    }

    #[test]
    fn without_the_xml_the_iso_path_still_marks_the_image() {
        let mut raw = recorded("hvmon-running");
        raw.xml = failed(false);
        let (vm, _) = assembled(&raw);
        let images: Vec<(&str, bool)> = vm
            .disks
            .iter()
            .map(|d| (d.name.as_str(), d.is_image))
            .collect();
        assert_eq!(images, [("vda", false), ("hdc", true)]);
        assert_eq!(vm.disk_sum().capacity, 64 << 20, "the ISO left out");
    }
}
