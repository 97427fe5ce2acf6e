//! VM names through LibreNMS's own decoding, file naming and metric naming: the `-c` form
//! carries them as libvirt gives them (UTF-8) for LibreNMS 24.4 and later and for older
//! versions alike, and no two VMs, and no two disks or NICs of one VM, ever share a LibreNMS
//! RRD file (even on a file system that ignores case) or a metric name, in either form; a
//! key is its name's alone. Domains come from libvirt's test driver (a node XML); LibreNMS's
//! side is `json_app_get`, `Rrd::safeName` and the hv-monitor poller's file names,
//! reproduced in tests/support/librenms.rs, and `data_flatten`, reproduced here.

mod support;

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use support::librenms::{
    JsonAppGet, librenms_decode_as, librenms_rrd_files, librenms_safe_name, vm_keys,
};
use support::node_xml::{self, TestDomain};
use support::{run, stderr, stdout};

/// Names as libvirt holds them and the `-c` text of each. None is a safe RRD file name, so
/// each key is that text, `~h` and the name's hash ([`hashed`]).
const AWKWARD: [(&str, &str); 12] = [
    ("\u{e9}lan-vm", "\u{e9}lan-vm"),
    ("web 01", "web 01"),
    ("\u{65e5}\u{672c}\u{8a9e}", "\u{65e5}\u{672c}\u{8a9e}"),
    ("\u{1f680} rocket", "\u{1f680} rocket"),
    ("it's <b>&", "it's <b>&"),
    ("caf\u{e9}:port=80", "caf\u{e9}:port=80"),
    ("quo\"te", "quo%22te"),
    ("back\\slash", "back%5Cslash"),
    ("50%", "50%25"),
    ("line\nbreak", "line%0Abreak"),
    ("tab\there", "tab%09here"),
    ("c1\u{85}control", "c1%C2%85control"),
];

/// Names that land in one LibreNMS RRD file in one form or both, and case twins.
const COLLIDING: [&str; 13] = [
    "dup name",
    "dup_name",
    "dup-name",
    "dup:name",
    "\u{e9}lan-vm",
    "\u{f6}lan-vm",
    "__lan-vm",
    "Web",
    "web",
    "WEB 01",
    "web 01",
    "50%",
    "50_25",
];

/// What the README promises for a name that is not a safe RRD file name: its text, `~h`
/// and the first 96 bits of the SHA-256 of the name's UTF-8 bytes in lowercase hex.
fn hashed(text: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{text}~h{hex}")
}

struct Node {
    _dir: tempfile::TempDir,
    uri: String,
}

/// A test-driver node of running domains with two disks, a CD-ROM and two NICs each.
fn node(names: &[&str]) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let domains: Vec<TestDomain> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut d = TestDomain::new(name, 1);
            d.disks = vec!["vda".into(), "vdb".into()];
            d.cdrom = true;
            d.nics = (0..2)
                .map(|k| format!("52:54:00:13:{i:02x}:{k:02x}"))
                .collect();
            d
        })
        .collect();
    let uri = node_xml::write(&domains, &dir.path().join("node.xml"));
    Node { _dir: dir, uri }
}

fn output(node: &Node, args: &[&str]) -> String {
    let mut all = vec!["--uri", &node.uri];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(out.status.success(), "hv_monitor failed: {}", stderr(&out));
    stdout(&out).trim_end().to_string()
}

fn decode(output: &str, version: JsonAppGet) -> Value {
    librenms_decode_as(output, version)
        .unwrap_or_else(|code| panic!("LibreNMS ({version:?}) error {code} on {output:.200}"))
}

/// Every RRD file LibreNMS writes for `doc` is its own: no VM, disk or NIC shares one.
fn assert_own_rrd_files(doc: &Value, what: &str) {
    let files = librenms_rrd_files(doc, 7);
    let distinct: HashSet<&String> = files.iter().collect();
    assert_eq!(
        distinct.len(),
        files.len(),
        "{what}: shared RRD files in {files:#?}"
    );
}

#[test]
fn compressed_output_carries_libvirt_names_for_librenms_before_and_after_24_4() {
    let names: Vec<&str> = AWKWARD.iter().map(|(name, _)| *name).collect();
    let node = node(&names);
    let compressed = output(&node, &["-c"]);
    let current = decode(&compressed, JsonAppGet::Current);
    let before = decode(&compressed, JsonAppGet::Before24_4);
    assert_eq!(
        current, before,
        "stripslashes changes nothing: no backslash"
    );
    let vms = current["data"]["VMs"].as_object().unwrap();
    assert_eq!(vms.len(), AWKWARD.len());
    for (name, text) in AWKWARD {
        let key = hashed(text, name);
        assert!(
            vms.contains_key(&key),
            "{name:?} should be {key:?}: {:?}",
            vm_keys(&current)
        );
    }

    // The cache file snmpd serves in the cached mode is the same form.
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hv_monitor.json");
    output(&node, &["-w", "-q", "-o", cache.to_str().unwrap()]);
    let snmp = std::fs::read_to_string(dir.path().join("hv_monitor.json.snmp")).unwrap();
    for version in [JsonAppGet::Current, JsonAppGet::Before24_4] {
        assert_eq!(
            vm_keys(&decode(snmp.trim_end(), version)),
            vm_keys(&current)
        );
    }
}

#[test]
fn the_plain_form_keeps_printable_ascii_keys() {
    let names: Vec<&str> = AWKWARD.iter().map(|(name, _)| *name).collect();
    let node = node(&names);
    let plain = output(&node, &[]);
    assert!(
        plain
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'\\')
    );
    let doc = decode(&plain, JsonAppGet::Current);
    assert_eq!(doc, decode(&plain, JsonAppGet::Before24_4));
    let vms = doc["data"]["VMs"].as_object().unwrap();
    for (name, text) in [
        ("\u{e9}lan-vm", "%C3%A9lan-vm"),
        ("web 01", "web 01"),
        ("\u{65e5}\u{672c}\u{8a9e}", "%E6%97%A5%E6%9C%AC%E8%AA%9E"),
        ("caf\u{e9}:port=80", "caf%C3%A9:port=80"),
        ("quo\"te", "quo%22te"),
        ("50%", "50%25"),
    ] {
        let key = hashed(text, name);
        assert!(vms.contains_key(&key), "{key:?} in {:?}", vm_keys(&doc));
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hv_monitor.json");
    output(&node, &["-w", "-q", "-o", cache.to_str().unwrap()]);
    let json = std::fs::read_to_string(&cache).unwrap();
    assert_eq!(
        vm_keys(&decode(json.trim_end(), JsonAppGet::Current)),
        vm_keys(&doc)
    );
}

/// Every form LibreNMS can read, by name: `-c` and plain output, and both `-w` files.
fn every_form(node: &Node) -> Vec<(&'static str, Value)> {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hv_monitor.json");
    output(node, &["-w", "-q", "-o", cache.to_str().unwrap()]);
    let json = std::fs::read_to_string(&cache).unwrap();
    let snmp = std::fs::read_to_string(dir.path().join("hv_monitor.json.snmp")).unwrap();
    vec![
        ("-c", decode(&output(node, &["-c"]), JsonAppGet::Current)),
        ("plain", decode(&output(node, &[]), JsonAppGet::Current)),
        ("-w json", decode(json.trim_end(), JsonAppGet::Current)),
        ("-w snmp", decode(snmp.trim_end(), JsonAppGet::Current)),
    ]
}

#[test]
fn colliding_names_never_share_an_rrd_file_and_safe_names_keep_theirs() {
    let node = node(&COLLIDING);
    for (form, doc) in every_form(&node) {
        assert_own_rrd_files(&doc, form);
        let vms = doc["data"]["VMs"].as_object().unwrap();
        assert_eq!(vms.len(), COLLIDING.len(), "{form}");
        // LibreNMS's safeName leaves these as they are, so they are their own keys. `Web`
        // would share `web`'s files where case is ignored, so it has its hash.
        assert!(vms.contains_key(&hashed("Web", "Web")), "{form}");
        for safe in ["dup_name", "dup-name", "__lan-vm", "web", "50_25"] {
            assert!(
                vms.contains_key(safe),
                "{form}: {safe:?} in {:?}",
                vm_keys(&doc)
            );
        }
        for (vm, info) in vms {
            let disks: Vec<&String> = info["disks"].as_object().unwrap().keys().collect();
            assert_eq!(disks, ["hdc", "vda", "vdb"], "{form} {vm}");
            let nics: Vec<&String> = info["ifs"].as_object().unwrap().keys().collect();
            assert_eq!(nics, ["nic0", "nic1"], "{form} {vm}");
        }
    }
}

#[test]
fn a_key_is_the_names_own_whatever_other_vms_come_go_or_pretend() {
    let node_a = node(&COLLIDING);
    let mut reversed = COLLIDING;
    reversed.reverse();
    let node_b = node(&reversed);
    for args in [&["-c"][..], &[][..]] {
        let keys = |n: &Node| vm_keys(&decode(&output(n, args), JsonAppGet::Current));
        let first = keys(&node_a);
        assert_eq!(first, keys(&node_a), "the same on every run");
        assert_eq!(
            first,
            keys(&node_b),
            "whatever order libvirt lists the VMs in"
        );

        // A VM named like the file of a hashed key does not take it: it is hashed too.
        let key = hashed("dup name", "dup name");
        assert!(first.contains(&key), "{first:?}");
        let trap = librenms_safe_name(&key);
        let mut names: Vec<&str> = COLLIDING.to_vec();
        names.push(&trap);
        let doc = decode(&output(&node(&names), args), JsonAppGet::Current);
        assert_own_rrd_files(&doc, &trap);
        let keys = vm_keys(&doc);
        assert!(keys.contains(&key), "{keys:?}");
        assert!(keys.contains(&hashed(&trap, &trap)), "{keys:?}");
    }
}

#[test]
fn a_newcomer_with_the_old_24_bit_suffix_of_a_vm_does_not_take_its_files() {
    // `vm 16316894` and `vm:16316894` share the file `vm_16316894` and had one suffix,
    // `~24fe65` (FNV-1a, found offline); the newcomer, first in name order, took the other's
    // key and RRD history.
    let before = node(&["vm_16316894", "vm:16316894"]);
    let after = node(&["vm_16316894", "vm:16316894", "vm 16316894"]);
    for args in [&["-c"][..], &[][..]] {
        let old = decode(&output(&before, args), JsonAppGet::Current);
        let new = decode(&output(&after, args), JsonAppGet::Current);
        let victim = hashed("vm:16316894", "vm:16316894");
        assert!(vm_keys(&old).contains(&victim), "{:?}", vm_keys(&old));
        assert!(vm_keys(&new).contains(&victim), "{:?}", vm_keys(&new));
        assert!(vm_keys(&new).contains(&"vm_16316894".to_string()));
        assert_own_rrd_files(&new, "newcomer");
    }
}

/// LibreNMS's `data_flatten` (includes/polling/functions.inc.php, later
/// includes/functions.php), which turns the document into the application's metric names:
///
/// ```php
/// function data_flatten($array, $prefix = '', $joiner = '_')
/// {
///     $return = [];
///     foreach ($array as $key => $value) {
///         if (is_array($value)) {
///             if (strcmp($prefix, '')) {
///                 $key = $prefix . $joiner . $key;
///             }
///             $return = array_merge($return, data_flatten($value, $key, $joiner));
///         } else {
///             if (strcmp($prefix, '')) {
///                 $key = $prefix . $joiner . $key;
///             }
///             $return[$key] = $value;
///         }
///     }
///     return $return;
/// }
/// ```
///
/// The poller (hv-monitor.inc.php) calls it on `data` without `hv`. Every key it makes has
/// a prefix, so `array_merge` never renumbers: a later equal name overwrites the earlier.
/// Returned as the names in order, duplicates kept, so a merge shows as a repeat.
fn data_flatten(value: &Value, prefix: &str, out: &mut Vec<String>) {
    let entries: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => unreachable!("called on arrays only"),
    };
    for (key, value) in entries {
        let key = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}_{key}")
        };
        // json_decode(..., true) makes every object and list a PHP array.
        if value.is_object() || value.is_array() {
            data_flatten(value, &key, out);
        } else {
            out.push(key);
        }
    }
}

/// The metric names LibreNMS stores for a document, and the first one it would store twice.
fn first_merged_metric(doc: &Value) -> Option<String> {
    let mut data = doc["data"].clone();
    data.as_object_mut().unwrap().remove("hv");
    let mut names = Vec::new();
    data_flatten(&data, "", &mut names);
    let mut seen = HashSet::new();
    names.into_iter().find(|n| !seen.insert(n.clone()))
}

#[test]
fn data_flatten_gives_every_vm_disk_and_nic_value_its_own_metric() {
    // VM `a`'s flattened names, each cut after a later `_`, name a VM whose own entries
    // would land on `a`'s: `a_disks_vda` + `rbytes` is `a` + disk `vda` + `rbytes`.
    let probe = decode(&output(&node(&["a"]), &[]), JsonAppGet::Current);
    let mut tails = Vec::new();
    data_flatten(&probe["data"]["VMs"]["a"], "", &mut tails);
    let mut names: Vec<String> = vec!["a".into()];
    for tail in &tails {
        for (at, _) in tail.match_indices('_') {
            names.push(format!("a_{}", &tail[..at]));
        }
    }
    names.sort();
    names.dedup();
    assert!(
        names.contains(&"a_disks_vda".to_string()) && names.len() > 20,
        "{names:?}"
    );
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let node = node(&refs);
    for (form, doc) in every_form(&node) {
        assert_eq!(vm_keys(&doc).len(), names.len(), "{form}");
        assert_eq!(
            first_merged_metric(&doc),
            None,
            "{form}: {:?}",
            vm_keys(&doc)
        );
        assert!(vm_keys(&doc).contains(&"a".to_string()), "{form}");
    }
}

/// Disks whose names collide cannot come from libvirt ("Invalid harddisk device name": it
/// accepts only names like `vda`), but CBSD names disks after their files. So this builds
/// the document from the model, with awkward VM and disk names drawn from a small alphabet
/// that collides often, and checks every RRD file of both forms.
mod from_the_model {
    use super::*;
    use hv_monitor::emit::librenms::{Detail, Form, document};
    use hv_monitor::model::{Backend, Disk, Nic, Snapshot, State, Vm};
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "a",
                "A",
                "_",
                "-",
                " ",
                ":",
                "%",
                "~",
                "\u{e9}",
                "\u{f6}",
                "\"",
                "\\",
                "\n",
                "\u{1f680}",
                "25",
                "1",
                "_disks_",
                "_in",
                "-__-__-",
                "vda",
                // Six make a name over NAME_MAX.
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            ]),
            1..7,
        )
        .prop_map(|parts| parts.concat())
    }

    fn snapshot(vms: BTreeMap<String, Vec<String>>) -> Snapshot {
        Snapshot::new(
            Backend::Cbsd,
            vms.into_iter()
                .map(|(vm_name, disks)| {
                    let mut vm = Vm::new(vm_name, State::Running);
                    vm.disks = disks
                        .into_iter()
                        .map(|name| Disk {
                            name,
                            ..Disk::default()
                        })
                        .collect();
                    vm.nics = vec![Nic::default(), Nic::default()];
                    vm
                })
                .collect(),
        )
        .taken_at(std::time::SystemTime::UNIX_EPOCH)
    }

    proptest! {
        #[test]
        fn no_two_vms_or_disks_of_a_vm_share_an_rrd_file(
            vms in prop::collection::btree_map(
                name(),
                prop::collection::btree_set(name(), 0..5).prop_map(Vec::from_iter),
                1..8,
            )
        ) {
            let snapshot = snapshot(vms);
            for form in [Form::Plain, Form::Compressed] {
                let text = document(&snapshot, Detail::Devices, form);
                prop_assert!(!text.contains('\\'));
                let doc: Value = serde_json::from_str(&text).unwrap();
                // Every file of the document, distinct even where case is ignored, and each
                // name (with `.rrd`) within NAME_MAX at the largest app_id.
                let files = librenms_rrd_files(&doc, u32::MAX);
                let distinct: HashSet<String> = files.iter().map(|f| f.to_lowercase()).collect();
                prop_assert_eq!(distinct.len(), files.len(), "{:?}", files);
                let disks: usize = snapshot.vms.iter().map(|vm| vm.disks.len()).sum();
                prop_assert_eq!(files.len(), 1 + 3 * snapshot.vms.len() + disks);
                for file in &files {
                    prop_assert!(file.len() + ".rrd".len() <= 255, "{} bytes: {}", file.len(), file);
                }
                prop_assert_eq!(first_merged_metric(&doc), None);
                let keys = vm_keys(&doc);
                for vm in &snapshot.vms {
                    // A safe, lower-case, short name with no later `_in`/`_disks` word is its
                    // own key: today's keys of such names stay.
                    let plain = librenms_safe_name(&vm.name) == vm.name
                        && !vm.name.bytes().any(|b| b.is_ascii_uppercase())
                        && vm.name.len() <= 140
                        && !vm.name.contains("_disks");
                    if plain {
                        prop_assert!(keys.contains(&vm.name), "{} kept", vm.name);
                    }
                    let own = form.text(&vm.name);
                    let start: String = own.chars().take(20).collect();
                    let key = keys.iter().find(|k| {
                        k.as_str() == own || (k.starts_with(&start) && k.contains("~h"))
                    });
                    prop_assert!(key.is_some(), "{:?} has a key starting with its text", vm.name);
                }
            }
        }
    }
}

#[test]
fn a_vm_filter_changes_no_rrd_file_and_adds_only_its_two_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut domains: Vec<TestDomain> = (0..4)
        .map(|i| TestDomain::new(&format!("web-{i}"), 1))
        .collect();
    domains.push(TestDomain::new("db", 3));
    let uri = node_xml::write(&domains, &dir.path().join("node.xml"));
    let doc = |args: &[&str]| {
        let out = run(&[&["--uri", uri.as_str(), "-c"], args].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        decode(stdout(&out).trim_end(), JsonAppGet::Current)
    };
    let all = doc(&[]);
    let some = doc(&["--vm", "web-*", "--exclude", "web-3"]);
    let chosen = ["web-0", "web-1", "web-2"];

    // The poller's files: those of the chosen VMs, named as without the filter.
    let files_of = |d: &Value| librenms_rrd_files(d, 7).into_iter().collect::<HashSet<_>>();
    let expected: HashSet<String> = files_of(&all)
        .into_iter()
        .filter(|f| !f.contains("-vm") || chosen.iter().any(|vm| f.contains(&format!("-{vm}"))))
        .collect();
    assert_eq!(files_of(&some), expected);

    // The metrics: the chosen VMs' and the totals' as before, plus the two filter keys.
    let metrics = |d: &Value| {
        let mut data = d["data"].clone();
        data.as_object_mut().unwrap().remove("hv");
        let mut names = Vec::new();
        data_flatten(&data, "", &mut names);
        names.into_iter().collect::<HashSet<_>>()
    };
    let mut expected: HashSet<String> = metrics(&all)
        .into_iter()
        .filter(|m| {
            !m.starts_with("VMs_") || chosen.iter().any(|vm| m.starts_with(&format!("VMs_{vm}_")))
        })
        .collect();
    expected.insert("vm_filter".into());
    expected.insert("vms_filtered_out".into());
    assert_eq!(metrics(&some), expected);
    assert_eq!(first_merged_metric(&some), None);
}
