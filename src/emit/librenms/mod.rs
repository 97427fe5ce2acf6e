//! The LibreNMS `hv-monitor` extend document (see the README's "LibreNMS" section).
//!
//! LibreNMS strips every backslash from plain output before it decodes the JSON (and, before
//! 24.4, from decoded `-c` output too), so the document never needs a JSON escape: strings go
//! through their [`Form`]'s percent-encoding, printable ASCII in the plain form, UTF-8 in the
//! `-c` form. VM and disk keys are also chosen so that no two share a LibreNMS RRD file
//! (`names`).

mod names;

mod agent_fields;
mod fields;

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use crate::model::{Backend, Snapshot, Totals};
use crate::text::for_librenms;
pub use fields::Detail;
pub use fields::{GUEST_KEYS, TOTALS_STATE_KEYS, VM_RRD_KEYS};
use fields::{PoolOut, TotalsOut, VmOut};
pub use names::{Form, rrd_safe_name, safe_text, utf8_text};

/// The document version LibreNMS checks (`version >= 1`).
pub(crate) const VERSION: u32 = 1;

/// What one SNMP reply over UDP carries of an extend's output (net-snmp 5.9, measured).
pub(crate) const SNMP_UDP_LIMIT: usize = 65_438;
/// Where net-snmp cuts extend output silently, over any transport.
pub(crate) const SNMP_TOTAL_LIMIT: usize = 102_399;

#[derive(Serialize)]
struct Envelope<D> {
    version: u32,
    error: i64,
    #[serde(rename = "errorString")]
    error_string: String,
    data: D,
}

#[derive(Serialize)]
struct Data<'a> {
    hv: &'static str,
    #[serde(rename = "VMs")]
    vms: BTreeMap<String, VmOut<'a>>,
    totals: TotalsOut<'a>,
    /// The host's storage pools by key (the LibreNMS poller reads only `VMs` and `totals`).
    pools: BTreeMap<String, PoolOut<'a>>,
    /// 1 when `--vm`/`--exclude` chose the VMs (`totals` then covers those reported);
    /// absent otherwise, so a host without a filter sends what it always did.
    #[serde(skip_serializing_if = "Option::is_none")]
    vm_filter: Option<u8>,
    /// How many of the host's VMs the filter left out; with `vm_filter` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    vms_filtered_out: Option<usize>,
}

/// The JSON document for a snapshot in `form`, one line, no trailing newline.
pub fn document(snapshot: &Snapshot, detail: Detail, form: Form) -> String {
    let names: Vec<&str> = snapshot.vms.iter().map(|vm| vm.name.as_str()).collect();
    let pool_names: Vec<&str> = snapshot.pools.iter().map(|p| p.name.as_str()).collect();
    let totals = Totals::of(&snapshot.vms);
    let data = Data {
        hv: match snapshot.backend {
            // The `data.hv` values LibreNMS's app page compares with, as the Perl tool sent them.
            Backend::Libvirt => "libvirt",
            Backend::Cbsd => "CBSD",
        },
        vms: names::vm_keys(&names, form)
            .into_iter()
            .zip(&snapshot.vms)
            .map(|(key, vm)| (key, VmOut { vm, detail, form }))
            .collect(),
        totals: TotalsOut(&totals),
        pools: names::pool_keys(&pool_names, form)
            .into_iter()
            .zip(&snapshot.pools)
            .map(|(key, pool)| (key, PoolOut(pool)))
            .collect(),
        vm_filter: snapshot.filtered.as_ref().map(|_| 1),
        vms_filtered_out: snapshot.filtered.as_ref().map(|f| f.left_out),
    };
    let envelope = Envelope {
        version: VERSION,
        error: 0,
        error_string: String::new(),
        data,
    };
    serde_json::to_string(&envelope).expect("the LibreNMS document serialises")
}

/// What `-c` prints: the [`Form::Compressed`] document, [`compress`]ed.
pub(crate) fn compressed_document(snapshot: &Snapshot, detail: Detail) -> String {
    compress(&document(snapshot, detail, Form::Compressed))
}

/// The error envelope: `error` non-zero, a readable `errorString`, empty `data`.
pub(crate) fn error_document(code: i64, message: &str) -> String {
    let envelope = Envelope {
        version: VERSION,
        error: code,
        error_string: for_librenms(message),
        data: BTreeMap::<String, String>::new(),
    };
    serde_json::to_string(&envelope).expect("the LibreNMS error document serialises")
}

/// The `-c` form: gzip of the document, standard base64 on one line.
pub(crate) fn compress(document: &str) -> String {
    let mut gz = GzEncoder::new(Vec::with_capacity(document.len() / 4), Compression::best());
    gz.write_all(document.as_bytes())
        .expect("writing to memory cannot fail");
    let bytes = gz.finish().expect("writing to memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    //! The document's keys, numbers and strings in both forms.

    use super::*;
    use crate::model::{Backend, Disk, DiskIo, NetCounters, Nic, Process, State, Vm};
    use std::collections::BTreeSet;
    use std::collections::HashSet;

    fn snapshot_of(vms: Vec<Vm>) -> Snapshot {
        Snapshot::new(Backend::Libvirt, vms)
    }

    fn doc_of(vms: Vec<Vm>) -> String {
        document(&snapshot_of(vms), Detail::Devices, Form::Plain)
    }

    fn decode(doc: &str) -> serde_json::Value {
        serde_json::from_str(doc).unwrap()
    }

    /// A VM's keys LibreNMS does not store in the VM's RRD.
    const VM_OTHER_KEYS: [&str; 16] = [
        "state_reason",
        "state_reason_name",
        "disk_errors",
        "os_type",
        "ip",
        "console_type",
        "console",
        "nice",
        "pri",
        "stats_incomplete",
        "disks",
        "ifs",
        "agent",
        "guest_os",
        "guest_hostname",
        "fs",
    ];

    #[test]
    fn a_filter_adds_its_two_keys_and_nothing_else() {
        let vm = crate::emit::xymon::test_support::running_vm("a");
        let plain = Snapshot::new(Backend::Libvirt, vec![vm.clone()]);
        let doc: serde_json::Value =
            serde_json::from_str(&document(&plain, Detail::Devices, Form::Plain)).unwrap();
        let data_keys = |d: &serde_json::Value| {
            let mut k: Vec<String> = d["data"].as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(data_keys(&doc), ["VMs", "hv", "pools", "totals"]);
        let filtered = plain.filtered(Some(crate::model::Filtered {
            rules: "--vm 'a'".into(),
            left_out: 2,
        }));
        let doc: serde_json::Value =
            serde_json::from_str(&document(&filtered, Detail::Devices, Form::Plain)).unwrap();
        assert_eq!(
            data_keys(&doc),
            [
                "VMs",
                "hv",
                "pools",
                "totals",
                "vm_filter",
                "vms_filtered_out"
            ]
        );
        assert_eq!(doc["data"]["vm_filter"], 1);
        assert_eq!(doc["data"]["vms_filtered_out"], 2);
    }

    #[test]
    fn every_key_is_present_even_for_a_stopped_vm() {
        let doc = decode(&doc_of(vec![Vm::new("off", State::Shutoff)]));
        let vm = &doc["data"]["VMs"]["off"];
        for key in VM_RRD_KEYS.iter().chain(&VM_OTHER_KEYS) {
            assert!(!vm[key].is_null(), "missing {key}");
        }
        assert_eq!(vm["status_int"], 5);
        let totals = &doc["data"]["totals"];
        for key in TOTALS_STATE_KEYS {
            assert!(totals[key].is_u64(), "missing totals.{key}");
        }
        assert_eq!(totals["off_hard"], 1);
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["error"], 0);
        assert_eq!(doc["errorString"], "");
        assert_eq!(doc["data"]["hv"], "libvirt");
    }

    #[test]
    fn the_key_lists_name_every_key_of_the_document() {
        let doc = decode(&doc_of(vec![Vm::new("off", State::Shutoff)]));
        let keys = |v: &serde_json::Value| -> BTreeSet<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        let listed = |lists: &[&[&str]]| -> BTreeSet<String> {
            lists.concat().into_iter().map(String::from).collect()
        };
        assert_eq!(
            keys(&doc["data"]["VMs"]["off"]),
            listed(&[&VM_RRD_KEYS, &VM_OTHER_KEYS])
        );
        let sums: Vec<&str> = VM_RRD_KEYS
            .into_iter()
            .filter(|k| *k != "status_int")
            .collect();
        assert_eq!(
            keys(&doc["data"]["totals"]),
            listed(&[&sums, &TOTALS_STATE_KEYS])
        );
    }

    #[test]
    fn derive_fields_are_integers_and_floats_stay_finite() {
        let mut vm = Vm::new("a", State::Running);
        vm.process = Some(Process {
            pcpu: f64::NAN,
            usertime: 1.25,
            minflt: 7,
            ..Process::default()
        });
        vm.disks = vec![Disk {
            name: "vda".into(),
            io: DiskIo {
                rbytes: 3,
                rtime: 0.5,
                ..DiskIo::default()
            },
            ..Disk::default()
        }];
        vm.nics = vec![Nic {
            device: "vnet0".into(),
            counters: NetCounters {
                ibytes: 9,
                ..NetCounters::default()
            },
            ..Nic::default()
        }];
        let doc = decode(&doc_of(vec![vm]));
        let vm = &doc["data"]["VMs"]["a"];
        assert!(vm["minflt"].is_u64() && vm["rbytes"].is_u64() && vm["ibytes"].is_u64());
        assert_eq!(vm["pcpu"], 0.0);
        assert_eq!(vm["usertime"], 1.25);
        assert_eq!(vm["disks"]["vda"]["rtime"], 0.5);
        assert_eq!(vm["ifs"]["nic0"]["if"], "vnet0");
        assert_eq!(vm["ifs"]["nic0"]["ibytes"], 9);
    }

    #[test]
    fn unknown_disk_stats_are_left_out_not_zero() {
        let mut busy = Vm::new("busy", State::Running);
        busy.disks = vec![Disk {
            name: "vda".into(),
            capacity: 10,
            ..Disk::default()
        }];
        busy.disk_stats_unknown = true;
        let mut idle = Vm::new("idle", State::Running);
        idle.disks = vec![Disk {
            name: "vda".into(),
            capacity: 5,
            ..Disk::default()
        }];
        let doc = decode(&doc_of(vec![busy, idle]));
        let vms = &doc["data"]["VMs"];
        for key in ["rbytes", "ftime", "disk_alloc", "disk_on_disk"] {
            assert!(vms["busy"][key].is_null(), "busy VM {key}");
            assert!(
                doc["data"]["totals"][key].is_null(),
                "a sum with an unknown part is unknown: {key}"
            );
            assert!(vms["idle"][key].is_number(), "idle VM {key}");
        }
        assert_eq!(
            vms["busy"]["disks"]["vda"],
            serde_json::json!({"error": 0}),
            "listed, nothing known but its error code (libvirt's, asked apart)"
        );
        assert_eq!(vms["idle"]["disks"]["vda"]["alloc"], 5);
        assert_eq!(vms["busy"]["stats_incomplete"], 1, "the per-VM marker");
        assert_eq!(vms["idle"]["stats_incomplete"], 0);
        assert_eq!(doc["data"]["totals"]["mem_alloc"], 0, "other sums stay");
    }

    #[test]
    fn vms_only_keeps_sums_and_empties_the_device_maps() {
        let mut vm = Vm::new("a", State::Running);
        vm.disks = vec![Disk {
            name: "vda".into(),
            capacity: 7,
            ..Disk::default()
        }];
        vm.nics = vec![Nic {
            counters: NetCounters {
                ibytes: 3,
                ..NetCounters::default()
            },
            ..Nic::default()
        }];
        let doc = decode(&document(
            &snapshot_of(vec![vm]),
            Detail::VmsOnly,
            Form::Plain,
        ));
        let vm = &doc["data"]["VMs"]["a"];
        assert_eq!(vm["disks"], serde_json::json!({}));
        assert_eq!(vm["ifs"], serde_json::json!({}));
        assert_eq!(
            (vm["disk_alloc"].as_u64(), vm["ibytes"].as_u64()),
            (Some(7), Some(3))
        );
    }

    #[test]
    fn hostile_names_give_documents_without_backslashes_in_both_forms() {
        let names = [
            "quo\"te",
            "back\\slash",
            "new\nline",
            "caf\u{e9}",
            "50%",
            "a:b=c/../d",
        ];
        let snapshot = snapshot_of(names.iter().map(|n| Vm::new(*n, State::Running)).collect());
        let plain = document(&snapshot, Detail::Devices, Form::Plain);
        assert!(!plain.contains('\\'), "{plain}");
        assert!(plain.bytes().all(|b| (0x20..0x7f).contains(&b)));
        let compressed = document(&snapshot, Detail::Devices, Form::Compressed);
        assert!(!compressed.contains('\\'), "{compressed}");
        for doc in [plain, compressed.clone()] {
            let vms = decode(&doc)["data"]["VMs"].as_object().unwrap().len();
            assert_eq!(vms, names.len());
        }
        let vms = decode(&compressed)["data"]["VMs"].clone();
        for key in [
            "quo%22te",
            "back%5Cslash",
            "new%0Aline",
            "caf\u{e9}",
            "50%25",
            "a:b=c/../d",
        ] {
            // Not safe for an RRD file name: the text and the name's hash (names.rs).
            let hashed = format!("{key}~h");
            let keys = vms.as_object().unwrap();
            assert!(
                keys.keys().any(|k| k.starts_with(&hashed)),
                "{key} in {vms}"
            );
        }
    }

    #[test]
    fn every_string_travels_in_its_form() {
        let mut vm = Vm::new("r\u{e9}seau", State::Running);
        vm.os_type = "\u{e9}t\u{e9}".into();
        vm.disks = vec![Disk {
            name: "disque \u{e9}".into(),
            ..Disk::default()
        }];
        vm.nics = vec![Nic {
            parent: "pont-\u{e9}".into(),
            ..Nic::default()
        }];
        let snapshot = snapshot_of(vec![vm]);
        // Keys that are not safe RRD file names carry the name's hash (names.rs).
        let hashed = |map: &serde_json::Value, text: &str| -> serde_json::Value {
            let map = map.as_object().unwrap();
            let key = map.keys().find(|k| k.starts_with(&format!("{text}~h")));
            map[key.unwrap_or_else(|| panic!("{text} in {map:?}"))].clone()
        };
        let c = decode(&document(&snapshot, Detail::Devices, Form::Compressed));
        let vm = &hashed(&c["data"]["VMs"], "r\u{e9}seau");
        assert_eq!(vm["os_type"], "\u{e9}t\u{e9}");
        assert!(hashed(&vm["disks"], "disque \u{e9}").is_object());
        assert_eq!(vm["ifs"]["nic0"]["parent"], "pont-\u{e9}");
        let p = decode(&document(&snapshot, Detail::Devices, Form::Plain));
        let vm = &hashed(&p["data"]["VMs"], "r%C3%A9seau");
        assert_eq!(vm["os_type"], "%C3%A9t%C3%A9");
        assert!(hashed(&vm["disks"], "disque %C3%A9").is_object());
        assert_eq!(vm["ifs"]["nic0"]["parent"], "pont-%C3%A9");
    }

    #[test]
    fn vms_and_disks_sharing_an_rrd_file_get_distinct_keys() {
        let disks = ["dup name", "dup_name", "dup-name"]
            .map(|name| Disk {
                name: name.into(),
                ..Disk::default()
            })
            .to_vec();
        let vms = ["dup name", "dup_name", "\u{e9}lan", "\u{f6}lan"].map(|n| {
            let mut vm = Vm::new(n, State::Running);
            vm.disks = disks.clone();
            vm
        });
        let doc = decode(&document(
            &snapshot_of(vms.to_vec()),
            Detail::Devices,
            Form::Compressed,
        ));
        let vms = doc["data"]["VMs"].as_object().unwrap();
        let files: std::collections::HashSet<String> =
            vms.keys().map(|k| names::rrd_safe_name(k)).collect();
        assert_eq!(files.len(), 4, "{:?}", vms.keys());
        assert!(vms.contains_key("dup_name"));
        for vm in vms.values() {
            let disks = vm["disks"].as_object().unwrap();
            let files: std::collections::HashSet<String> =
                disks.keys().map(|k| names::rrd_safe_name(k)).collect();
            assert_eq!(files.len(), 3, "{:?}", disks.keys());
        }
    }

    #[test]
    fn disk_errors_and_pools_have_keys_of_their_own() {
        use crate::model::{DiskError, DiskErrorKind, Pool, PoolState};
        let mut vm = Vm::new("db", State::Paused);
        vm.disks = ["vda", "vdb"]
            .map(|name| Disk {
                name: name.into(),
                ..Disk::default()
            })
            .to_vec();
        vm.disk_errors = vec![DiskError {
            disk: "vdb".into(),
            code: 2,
            kind: DiskErrorKind::NoSpace,
        }];
        let mut s = snapshot_of(vec![vm]);
        s.pools = vec![Pool {
            name: "bad \"pool\"".into(),
            state: PoolState::Running,
            state_code: Some(2),
            capacity: 100,
            allocation: 60,
            available: 40,
        }];
        let doc = decode(&document(&s, Detail::Devices, Form::Plain));
        let vm = &doc["data"]["VMs"]["db"];
        assert_eq!(vm["disk_errors"], 1);
        assert_eq!(vm["disks"]["vdb"]["error"], 2);
        assert_eq!(vm["disks"]["vda"]["error"], 0);
        let pools = doc["data"]["pools"].as_object().unwrap();
        assert_eq!(pools.len(), 1);
        let (key, pool) = pools.iter().next().unwrap();
        // The VM key rules: an unsafe name is encoded and hashed.
        assert!(key.starts_with("bad %22pool%22~h"), "{key}");
        assert_eq!(
            *pool,
            serde_json::json!({"state": 2, "state_name": "running", "capacity": 100,
                "allocation": 60, "available": 40})
        );
    }

    #[test]
    fn error_documents_need_no_escapes() {
        let doc = error_document(1, "cannot connect to \"qemu:///system\": C:\\path\nnext");
        assert!(!doc.contains('\\'), "{doc}");
        let v = decode(&doc);
        assert_eq!(v["error"], 1);
        assert_eq!(
            v["errorString"],
            "cannot connect to 'qemu:///system': C:/path next"
        );
        assert!(v["data"].is_object());
    }

    #[test]
    fn compressed_form_round_trips() {
        use std::io::Read;
        let snapshot = snapshot_of(vec![Vm::new("\u{e9}lan", State::Running)]);
        let doc = document(&snapshot, Detail::Devices, Form::Compressed);
        let c = compressed_document(&snapshot, Detail::Devices);
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        );
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&c)
            .unwrap();
        let mut out = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, doc);
    }

    #[test]
    fn the_state_reason_goes_out_as_libvirt_gave_it_and_by_name() {
        let mut stuck = Vm::new("stuck", State::Paused);
        stuck.reason = crate::model::StateReason {
            code: Some(5),
            kind: crate::model::Reason::IoError,
        };
        let doc = decode(&doc_of(vec![stuck, Vm::new("cbsd", State::Off)]));
        let vms = &doc["data"]["VMs"];
        assert_eq!(vms["stuck"]["status_int"], 3, "still paused");
        assert_eq!(vms["stuck"]["state_reason"], 5, "the code, untouched");
        assert_eq!(vms["stuck"]["state_reason_name"], "ioerror");
        assert_eq!(vms["cbsd"]["state_reason"], -1, "no reason given");
        assert_eq!(vms["cbsd"]["state_reason_name"], "unknown");
        assert!(
            doc["data"]["totals"]["state_reason"].is_null(),
            "no sum of reasons"
        );
    }

    #[test]
    fn the_entry_heads_are_those_of_the_document() {
        let mut vm = Vm::new("a", State::Running);
        vm.disks = vec![Disk {
            name: "vda".into(),
            ..Disk::default()
        }];
        vm.nics = vec![Nic::default()];
        let snapshot = Snapshot::new(Backend::Libvirt, vec![vm]);
        let doc = document(&snapshot, Detail::Devices, Form::Plain);
        let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
        // An entry's first word matters when more words follow in its flattened name.
        let heads = |object: &serde_json::Value| -> HashSet<String> {
            let object = object.as_object().unwrap();
            object
                .iter()
                .filter(|(k, v)| k.contains('_') || v.is_object())
                .map(|(k, _)| k.split('_').next().unwrap().to_string())
                .collect()
        };
        let vm = &doc["data"]["VMs"]["a"];
        let want: HashSet<String> = names::VM_ENTRY_HEADS
            .iter()
            .map(|h| h.to_string())
            .collect();
        assert_eq!(heads(vm), want);
        let want: HashSet<String> = names::DISK_ENTRY_HEADS
            .iter()
            .map(|h| h.to_string())
            .collect();
        assert_eq!(heads(&vm["disks"]["vda"]), want);
        assert!(
            heads(&vm["ifs"]["nic0"]).is_empty(),
            "NIC keys are ours: nicN"
        );
    }
}
