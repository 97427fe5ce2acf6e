//! A VM's keys from its guest agent (`agent`, `guest_os`, `guest_hostname`, `fs`) and each
//! NIC's `ips`. LibreNMS's poller reads none of them into an RRD (it reads fixed keys by
//! name), so nothing it stores today changes; every leaf is still a metric for alert rules.
//! Everything here comes from the guest: strings go through the document's [`Form`] and
//! file system keys are chosen by [`disk_keys`], as disk keys are.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::names::{Form, disk_keys};
use crate::model::{AgentInfo, GuestFs, Nic, Vm};

/// One guest file system: `mountpoint`, `fstype`, `used` and `total` bytes (left out where
/// the agent gives no figure: LibreNMS reads a missing key as U).
struct FsOut<'a> {
    fs: &'a GuestFs,
    form: Form,
}

impl Serialize for FsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("mountpoint", &self.form.text(&self.fs.mountpoint))?;
        m.serialize_entry("fstype", &self.form.text(&self.fs.fstype))?;
        if let Some(used) = self.fs.used {
            m.serialize_entry("used", &used)?;
        }
        if let Some(total) = self.fs.total {
            m.serialize_entry("total", &total)?;
        }
        m.end()
    }
}

/// The VM's agent keys; `fs` filled only when `devices` (like `disks` and `ifs`).
pub(super) fn entries<M: SerializeMap>(
    m: &mut M,
    vm: &Vm,
    form: Form,
    devices: bool,
) -> Result<(), M::Error> {
    let info = vm.agent.info();
    // What the agent did: none, not_asked, answered, no_answer (the per-VM flag).
    m.serialize_entry("agent", vm.agent.name())?;
    m.serialize_entry("guest_os", &form.text(info.map_or("", |i| &i.os)))?;
    m.serialize_entry(
        "guest_hostname",
        &form.text(info.map_or("", |i| &i.hostname)),
    )?;
    let mut fs = BTreeMap::new();
    if devices && let Some(info) = info {
        let names: Vec<&str> = info
            .file_systems
            .iter()
            .map(|f| f.mountpoint.as_str())
            .collect();
        for (key, f) in disk_keys(&names, form).into_iter().zip(&info.file_systems) {
            fs.insert(key, FsOut { fs: f, form });
        }
    }
    m.serialize_entry("fs", &fs)
}

/// A NIC's addresses (`169.254.77.139/16`): what the agent says of the interface with its
/// MAC, else what the host's DHCP server leased to that MAC; empty when neither gives any.
pub(super) fn nic_ips(agent: Option<&AgentInfo>, nic: &Nic) -> Vec<String> {
    let from_agent = agent
        .and_then(|a| a.interface_of(&nic.mac))
        .map(|i| i.addresses.as_slice())
        .filter(|a| !a.is_empty());
    from_agent
        .unwrap_or(&nic.leases)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::names::rrd_safe_name;
    use super::*;
    use crate::model::{Agent, GuestAddress, GuestInterface, State};

    /// The VM's agent keys as the document writes them, and its first NIC's `ips`.
    fn written(vm: &Vm, form: Form) -> (String, serde_json::Value) {
        struct Keys<'a>(&'a Vm, Form);
        impl Serialize for Keys<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                entries(&mut m, self.0, self.1, true)?;
                m.end()
            }
        }
        let text = serde_json::to_string(&Keys(vm, form)).unwrap();
        let ips = serde_json::json!(nic_ips(vm.agent.info(), &vm.nics[0]));
        (text, ips)
    }

    fn hostile_vm() -> Vm {
        let mut vm = Vm::new("g", State::Running);
        vm.nics = vec![Nic {
            mac: "52:54:00:00:00:01".into(),
            ..Nic::default()
        }];
        let fs = |m: &str| GuestFs {
            mountpoint: m.into(),
            fstype: "ext4\"\\\n".into(),
            used: Some(5),
            total: None,
        };
        vm.agent = Agent::Answered(Box::new(AgentInfo {
            os: "Debian \"12\" \\ é\n<b>".into(),
            hostname: "h\u{202e}x".into(),
            file_systems: vec![fs("/"), fs("/srv/été"), fs("/srv/_t_"), fs("/srv/%C3%A9")],
            interfaces: vec![GuestInterface {
                name: "eth0".into(),
                mac: "52:54:00:00:00:01".into(),
                addresses: vec![GuestAddress {
                    ip: "192.0.2.1".parse().unwrap(),
                    prefix: 24,
                }],
            }],
        }));
        vm
    }

    #[test]
    fn guest_strings_travel_in_both_forms_without_escapes_and_fs_keys_are_distinct() {
        for form in [Form::Plain, Form::Compressed] {
            let (text, ips) = written(&hostile_vm(), form);
            assert!(!text.contains('\\'), "{text}");
            if form == Form::Plain {
                assert!(text.is_ascii(), "{text}");
            }
            let keys: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(keys["agent"], "answered");
            assert_eq!(ips, serde_json::json!(["192.0.2.1/24"]));
            let fs = keys["fs"].as_object().unwrap();
            assert_eq!(fs.len(), 4, "{fs:?}");
            let files: std::collections::HashSet<String> =
                fs.keys().map(|k| rrd_safe_name(k)).collect();
            assert_eq!(files.len(), 4, "no two in one RRD file: {files:?}");
            for entry in fs.values() {
                assert_eq!(entry["used"], 5);
                assert!(entry.get("total").is_none(), "unknown, left out");
            }
        }
    }

    #[test]
    fn without_an_answer_the_keys_are_there_and_empty() {
        let mut vm = hostile_vm();
        vm.agent = Agent::NoAnswer;
        let (text, ips) = written(&vm, Form::Plain);
        let keys: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(keys["agent"], "no_answer");
        assert_eq!(keys["guest_os"], "");
        assert_eq!(keys["fs"], serde_json::json!({}));
        assert_eq!(ips, serde_json::json!([]));
    }

    #[test]
    fn a_nic_shows_its_leases_where_the_agent_gives_it_no_address() {
        let lease = GuestAddress {
            ip: "10.213.77.150".parse().unwrap(),
            prefix: 24,
        };
        let mut vm = hostile_vm();
        vm.nics[0].leases = vec![lease];
        assert_eq!(
            written(&vm, Form::Plain).1,
            serde_json::json!(["192.0.2.1/24"])
        );
        vm.agent = Agent::NoAnswer;
        assert_eq!(
            written(&vm, Form::Plain).1,
            serde_json::json!(["10.213.77.150/24"])
        );
    }
}
