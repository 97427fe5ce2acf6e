//! `--vm` / `--exclude` against the test driver and the lab's real QEMU guests, and the
//! domain XML cache (`--domain-cache`) against a real guest of this test's own whose disks
//! change between runs, and against hostile cache files.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::Value;
use support::librenms::librenms_decode;
use support::node_xml::{self, TestDomain};
use support::{qemu_uri, require, run, scratch, stderr, stdout, virsh};

fn decoded(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "hv_monitor {args:?}: {}",
        stderr(&out)
    );
    librenms_decode(stdout(&out).trim_end()).expect("LibreNMS decodes the output")
}

fn vm_names(doc: &Value) -> Vec<String> {
    doc["data"]["VMs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// 12 test-driver domains: web-00..web-05 running, db-0..db-3 paused, two shut off.
fn test_host(dir: &Path) -> (String, Vec<TestDomain>) {
    let mut domains: Vec<TestDomain> = (0..6)
        .map(|i| TestDomain::new(&format!("web-{i:02}"), 1))
        .collect();
    domains.extend((0..4).map(|i| TestDomain::new(&format!("db-{i}"), 3)));
    domains.push(TestDomain::new("old-web", 5));
    domains.push(TestDomain::new("old-db", 5));
    (node_xml::write(&domains, &dir.join("node.xml")), domains)
}

#[test]
fn only_the_chosen_vms_are_reported_and_totals_cover_them() {
    let dir = scratch("select");
    let (uri, domains) = test_host(&dir);
    let doc = decoded(&[
        "--uri",
        &uri,
        "--vm",
        "web-*",
        "--vm",
        "old-*",
        "--exclude",
        "web-0[45]",
    ]);
    assert_eq!(
        vm_names(&doc),
        ["old-db", "old-web", "web-00", "web-01", "web-02", "web-03"]
    );
    let data = &doc["data"];
    assert_eq!(data["vm_filter"], 1);
    assert_eq!(data["vms_filtered_out"], domains.len() - 6);
    assert_eq!(data["totals"]["on"], 4, "the four web VMs reported");
    assert_eq!(data["totals"]["paused"], 0, "the db VMs are left out");
    assert_eq!(data["totals"]["off_hard"], 2, "shut off: off_hard");

    // Without a filter: every VM, and no filter keys at all.
    let all = decoded(&["--uri", &uri]);
    assert_eq!(vm_names(&all).len(), domains.len());
    assert!(all["data"].get("vm_filter").is_none());
    assert!(all["data"].get("vms_filtered_out").is_none());

    // A filter that matches nothing is no error: an empty report that says so.
    let none = decoded(&["--uri", &uri, "-c", "--vm", "nothing-*"]);
    assert!(vm_names(&none).is_empty());
    assert_eq!(none["data"]["vms_filtered_out"], domains.len());
}

#[test]
fn the_xymon_status_says_which_vms_it_covers() {
    let dir = scratch("select-xymon");
    let (uri, _) = test_host(&dir);
    let out = run(&[
        "--uri",
        &uri,
        "xymon",
        "--print",
        "--host",
        "h",
        "--exclude",
        "db-*",
        "--exclude",
        "old-*",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(
        page.contains("6 VMs: 6 running, 0 paused, 0 off; 6 more left out by --vm/--exclude"),
        "{page}"
    );
    assert!(
        page.contains(
            "VMs reported: only those chosen by --exclude 'db-*' --exclude 'old-*' (6 left out)"
        ),
        "{page}"
    );
    assert!(!page.contains("db-1"), "{page}");
}

#[test]
fn a_bad_pattern_is_a_usage_error() {
    let out = run(&["--uri", "test:///default", "--vm", "web-["]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("'web-['"), "{}", stderr(&out));
}

/// A paused real guest of this test's own, destroyed when dropped.
struct Guest {
    uri: String,
    name: String,
    _dir: support::Scratch,
    spare_disk: String,
}

impl Guest {
    fn create(uri: &str, name: &str) -> Guest {
        let dir = scratch(name);
        let disk = dir.join("a.raw");
        let spare = dir.join("b.raw");
        for f in [&disk, &spare] {
            std::fs::File::create(f).unwrap().set_len(1 << 20).unwrap();
        }
        let xml = format!(
            "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
             <emulator>/usr/bin/qemu-system-x86_64</emulator>\
             <disk type='file' device='disk'><driver name='qemu' type='raw'/>\
             <source file='{}'/><target dev='vda' bus='virtio'/></disk>\
             <memballoon model='none'/></devices></domain>",
            disk.display()
        );
        let xml_path = dir.join("guest.xml");
        std::fs::write(&xml_path, xml).unwrap();
        let _ = virsh(uri, &["destroy", name]); // a leftover of an interrupted run
        let out = virsh(uri, &["create", "--paused", xml_path.to_str().unwrap()]);
        assert!(out.status.success(), "virsh create: {}", stderr(&out));
        Guest {
            uri: uri.to_string(),
            name: name.to_string(),
            spare_disk: spare.display().to_string(),
            _dir: dir,
        }
    }

    fn virsh_ok(&self, args: &[&str]) {
        let out = virsh(&self.uri, args);
        assert!(out.status.success(), "virsh {args:?}: {}", stderr(&out));
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = virsh(&self.uri, &["destroy", &self.name]);
    }
}

fn disks_of(doc: &Value, vm: &str) -> Vec<String> {
    doc["data"]["VMs"][vm]["disks"]
        .as_object()
        .unwrap_or_else(|| panic!("{vm} reported with disks: {doc}"))
        .keys()
        .cloned()
        .collect()
}

fn mtime_ns(path: &Path) -> i128 {
    let m = std::fs::metadata(path).unwrap();
    i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
}

#[test]
fn real_guests_a_changed_domain_shows_in_the_next_run_and_an_unchanged_one_is_not_fetched() {
    let Some(uri) = qemu_uri() else {
        require("libvirtd with QEMU guests (tests/lab/libvirt-up.sh)", false);
        return;
    };
    let guest = Guest::create(&uri, "hvselect-cache");
    let dir = scratch("domain-cache");
    let cache = dir.join("domains.json");
    let cache_arg = cache.to_str().unwrap();
    let args = [
        "--uri",
        &uri,
        "-t",
        "30",
        "--vm",
        "hvselect-*",
        "--domain-cache",
        cache_arg,
    ];

    let first = decoded(&args);
    assert_eq!(
        vm_names(&first),
        ["hvselect-cache"],
        "only the chosen guest"
    );
    assert_eq!(disks_of(&first, "hvselect-cache"), ["vda"]);
    let text = std::fs::read_to_string(&cache).expect("the cache was written");
    assert!(text.contains("hvselect-cache"), "{text}");
    assert_eq!(
        std::fs::metadata(&cache).unwrap().mode() & 0o777,
        0o600,
        "private"
    );

    // Nothing changed: the XML is not fetched again, so nothing new to write.
    let written = mtime_ns(&cache);
    let second = decoded(&args);
    assert_eq!(disks_of(&second, "hvselect-cache"), ["vda"]);
    assert_eq!(mtime_ns(&cache), written, "the cache was used as it was");

    // A disk hot-plugged (USB: the paused guest's PCI bus takes none) is seen at once.
    guest.virsh_ok(&[
        "attach-disk",
        &guest.name,
        &guest.spare_disk,
        "sdb",
        "--targetbus",
        "usb",
        "--live",
    ]);
    let third = decoded(&args);
    assert_eq!(disks_of(&third, "hvselect-cache"), ["sdb", "vda"]);
    assert_ne!(mtime_ns(&cache), written, "fetched and kept anew");

    guest.virsh_ok(&["detach-disk", &guest.name, "sdb", "--live"]);
    // libvirt finishes an unplug when QEMU says so: wait for the bulk stats to show it.
    for _ in 0..50 {
        let stats = stdout(&virsh(&uri, &["domstats", "--block", &guest.name]));
        if !stats.contains("sdb") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let fourth = decoded(&args);
    assert_eq!(disks_of(&fourth, "hvselect-cache"), ["vda"]);

    // Excluding every lab guest but ours asks nothing of them: the run still reports ours.
    let lab_out = decoded(&["--uri", &uri, "-t", "30", "--exclude", "hvmon-*"]);
    assert!(vm_names(&lab_out).iter().all(|n| !n.starts_with("hvmon-")));
    assert!(lab_out["data"]["vms_filtered_out"].as_u64().unwrap() >= 3);
}

#[test]
fn real_guests_a_hostile_cache_file_is_refused_and_left_alone() {
    let Some(uri) = qemu_uri() else {
        require("libvirtd with QEMU guests (tests/lab/libvirt-up.sh)", false);
        return;
    };
    let dir = scratch("hostile-cache");
    let target = dir.join("elsewhere");
    std::fs::write(&target, "precious").unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "{\"version\":1,\"domains\":{\"x\":[[[").unwrap();
    let huge = dir.join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let fifo = dir.join("fifo.json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );

    for (path, says) in [
        (&link, "symbolic link"),
        (&fifo, "FIFO"),
        (&huge, "more than"),
        (&garbage, "ignoring domain XML cache"),
    ] {
        let out = run(&[
            "--uri",
            &uri,
            "-t",
            "30",
            "-w",
            "-q",
            "-o",
            dir.join("out.json").to_str().unwrap(),
            "--vm",
            "hvmon-running",
            "--domain-cache",
            path.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
        assert!(
            stderr(&out).contains(says),
            "{}: {}",
            path.display(),
            stderr(&out)
        );
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("out.json")).unwrap()).unwrap();
        assert_eq!(vm_names(&doc), ["hvmon-running"], "the run goes on");
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::metadata(&huge).unwrap().len(),
        64 << 20,
        "not ours to replace"
    );
    let rebuilt = std::fs::read_to_string(&garbage).unwrap();
    assert!(
        rebuilt.contains("hvmon-running"),
        "a damaged file of ours is rebuilt"
    );

    // -w alone keeps the cache beside its output.
    let out_path = dir.join("beside.json");
    let out = run(&[
        "--uri",
        &uri,
        "-t",
        "30",
        "-w",
        "-q",
        "-o",
        out_path.to_str().unwrap(),
        "--vm",
        "hvmon-running",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("beside.json.domains").is_file());
}
