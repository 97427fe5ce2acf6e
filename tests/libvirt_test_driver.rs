//! The libvirt backend against libvirt's test driver (inside libvirt.so, no daemon), with a
//! generated node XML: many domains, every state the driver can hold, several disks and NICs,
//! snapshots, and names with spaces, dots, quotes, backslashes and non-ASCII.

mod support;

use std::collections::BTreeSet;
use support::librenms::{librenms_decode, vm_keys};
use support::node_xml::{self, TestDomain};
use support::{hv_monitor, run, stderr, stdout};

use serde_json::Value;

/// VM names and their LibreNMS texts, plain and `-c`; [`key`] gives the key of each.
const ODD_NAMES: [(&str, &str, &str); 11] = [
    ("web server 01", "web server 01", "web server 01"),
    ("db.example.com", "db.example.com", "db.example.com"),
    (
        "caf\u{e9}-\u{fc}ber",
        "caf%C3%A9-%C3%BCber",
        "caf\u{e9}-\u{fc}ber",
    ),
    ("quo\"te", "quo%22te", "quo%22te"),
    ("back\\slash", "back%5Cslash", "back%5Cslash"),
    ("50%", "50%25", "50%25"),
    ("line\nbreak", "line%0Abreak", "line%0Abreak"),
    (
        "tab\tand:colon=eq",
        "tab%09and:colon=eq",
        "tab%09and:colon=eq",
    ),
    ("..", "..", ".."),
    ("it's <b>", "it's <b>", "it's <b>"),
    (LONG_NAME, LONG_NAME, LONG_NAME),
];

/// The LibreNMS key of a VM `name` whose text in the form is `text` (librenms/README.md):
/// the text where it is a plain name (here: safe for an RRD file, at most 140 bytes), else
/// the text cut to 114 bytes, `~h` and 96 bits of the name's SHA-256 in hex.
fn key(name: &str, text: &str) -> String {
    use sha2::{Digest, Sha256};
    let safe = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b',' | b'.' | b'_' | b'-'));
    if safe && text.len() <= 140 {
        return text.to_string();
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let mut cut = text.len().min(114);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~h{hex}", &text[..cut])
}

/// libvirt sets no length limit on names.
const LONG_NAME: &str = concat!(
    "a-very-long-vm-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-",
    "and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on",
);

fn domains() -> Vec<TestDomain> {
    let mut out = Vec::new();
    for i in 0..40u64 {
        let state = [1, 1, 1, 3, 5][i as usize % 5];
        let mut d = TestDomain::new(&format!("vm{i:03}"), state);
        d.memory_kib = 1024 * 1024 * (1 + i % 4);
        d.vcpus = 1 + i % 3;
        d.disks = ["vda", "vdb", "vdc"][..1 + (i as usize % 3)]
            .iter()
            .map(|s| s.to_string())
            .collect();
        d.cdrom = i % 4 == 0;
        d.nics = (0..1 + i % 2)
            .map(|k| format!("52:54:00:00:{i:02x}:{k:02x}"))
            .collect();
        d.snapshots = if i % 7 == 0 { 2 } else { 0 };
        out.push(d);
    }
    for (n, (name, _, _)) in ODD_NAMES.iter().enumerate() {
        let mut d = TestDomain::new(name, if n % 2 == 0 { 1 } else { 5 });
        d.nics = vec![format!("52:54:00:ff:00:{n:02x}")];
        out.push(d);
    }
    out
}

struct Lab {
    _dir: tempfile::TempDir,
    uri: String,
    domains: Vec<TestDomain>,
}

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let domains = domains();
    let uri = node_xml::write(&domains, &dir.path().join("node.xml"));
    Lab {
        _dir: dir,
        uri,
        domains,
    }
}

fn collect(uri: &str) -> Value {
    let out = run(&["--uri", uri]);
    assert!(out.status.success(), "hv_monitor failed: {}", stderr(&out));
    librenms_decode(stdout(&out).trim_end()).expect("LibreNMS decodes the output")
}

#[test]
fn every_domain_is_reported_with_its_state_disks_nics_and_snapshots() {
    let lab = lab();
    let doc = collect(&lab.uri);
    assert_eq!(doc["data"]["hv"], "libvirt");
    let vms = doc["data"]["VMs"].as_object().unwrap();
    assert_eq!(vms.len(), lab.domains.len());
    for d in lab.domains.iter().filter(|d| d.name.starts_with("vm")) {
        let vm = &vms[&d.name];
        assert_eq!(vm["status_int"], d.runstate, "{}", d.name);
        assert_eq!(vm["mem_alloc"], d.memory_kib * 1024, "{}", d.name);
        assert_eq!(vm["cpus"], d.vcpus, "{}", d.name);
        assert_eq!(vm["snaps"], d.snapshots, "{}", d.name);
        let disks: Vec<&String> = vm["disks"].as_object().unwrap().keys().collect();
        let mut expected: Vec<String> = d.disks.clone();
        if d.cdrom {
            expected.push("hdc".into());
        }
        expected.sort();
        assert_eq!(disks, expected.iter().collect::<Vec<_>>(), "{}", d.name);
        let ifs = vm["ifs"].as_object().unwrap();
        assert_eq!(ifs.len(), d.nics.len(), "{}", d.name);
        for (k, mac) in d.nics.iter().enumerate() {
            let nic = &ifs[&format!("nic{k}")];
            assert_eq!(nic["mac"], mac.as_str());
            assert_eq!(nic["parent"], "virbr0", "the default network's bridge");
        }
        let running = d.runstate != 5;
        // The test driver's per-domain calls give clock-derived counters for active domains.
        assert_eq!(
            vm["rbytes"].as_u64().unwrap() > 0,
            running,
            "{} rbytes",
            d.name
        );
        assert_eq!(
            vm["ibytes"].as_u64().unwrap() > 0,
            running,
            "{} ibytes",
            d.name
        );
        // Disk sizes come from the images, so a shut-off domain has them too.
        if !d.disks.is_empty() {
            assert!(
                vm["disk_alloc"].as_u64().unwrap() > 0,
                "{} disk_alloc",
                d.name
            );
        }
        if running && d.cdrom {
            let hdc = vm["disks"]["hdc"]["alloc"].as_u64().unwrap();
            let sum: u64 = d
                .disks
                .iter()
                .map(|t| vm["disks"][t]["alloc"].as_u64().unwrap())
                .sum();
            assert_eq!(
                vm["disk_alloc"].as_u64().unwrap(),
                sum,
                "{}: the ISO is left out",
                d.name
            );
            assert!(hdc > 0);
        }
    }
}

#[test]
fn odd_names_come_out_as_escape_free_keys() {
    let lab = lab();
    let out = run(&["--uri", &lab.uri]);
    let text = stdout(&out);
    assert!(!text.contains('\\'), "no JSON escapes at all");
    assert!(
        text.trim_end().bytes().all(|b| (0x20..0x7f).contains(&b)),
        "printable ASCII only"
    );
    let doc = librenms_decode(text.trim_end()).unwrap();
    for (name, text, _) in ODD_NAMES {
        let key = key(name, text);
        assert!(
            doc["data"]["VMs"][&key].is_object(),
            "{name:?} should appear as {key:?}"
        );
    }
}

#[test]
fn totals_are_the_sums_of_the_vms_counted_once() {
    let lab = lab();
    let doc = collect(&lab.uri);
    let vms = doc["data"]["VMs"].as_object().unwrap();
    let totals = &doc["data"]["totals"];
    for key in [
        "mem_alloc",
        "cpus",
        "snaps",
        "rbytes",
        "wreqs",
        "freqs",
        "disk_alloc",
        "ibytes",
        "opkts",
        "rss",
    ] {
        let sum: u64 = vms.values().map(|v| v[key].as_u64().unwrap()).sum();
        assert_eq!(totals[key].as_u64().unwrap(), sum, "totals.{key}");
    }
    let count = |code: u64| vms.values().filter(|v| v["status_int"] == code).count() as u64;
    assert_eq!(totals["on"], count(1));
    assert_eq!(totals["paused"], count(3));
    assert_eq!(totals["off_hard"], count(5));
    assert_eq!(
        totals["on"].as_u64().unwrap()
            + totals["paused"].as_u64().unwrap()
            + totals["off_hard"].as_u64().unwrap(),
        vms.len() as u64
    );
}

#[test]
fn compressed_output_is_one_base64_line_of_the_same_document_with_utf8_names() {
    let lab = lab();
    let plain = stdout(&run(&["--uri", &lab.uri]));
    let out = run(&["--uri", &lab.uri, "-c"]);
    let compressed = stdout(&out);
    assert_eq!(compressed.matches('\n').count(), 1, "one line");
    let a = librenms_decode(plain.trim_end()).unwrap();
    let b = librenms_decode(compressed.trim_end()).unwrap();
    // Counters of the test driver move with the clock; compare the keys and stable values.
    let keys = |doc: &Value| -> BTreeSet<String> { vm_keys(doc).into_iter().collect() };
    let expected = |odd_text: fn(&(&str, &'static str, &'static str)) -> &'static str| {
        lab.domains
            .iter()
            .filter(|d| d.name.starts_with("vm"))
            .map(|d| d.name.clone())
            .chain(ODD_NAMES.iter().map(|n| key(n.0, odd_text(n))))
            .collect::<BTreeSet<String>>()
    };
    assert_eq!(keys(&a), expected(|n| n.1), "plain: percent-encoded ASCII");
    assert_eq!(keys(&b), expected(|n| n.2), "-c: UTF-8 as libvirt gives it");
    assert_eq!(
        a["data"]["totals"]["mem_alloc"],
        b["data"]["totals"]["mem_alloc"]
    );
    assert_eq!(
        a["data"]["VMs"][&key("caf\u{e9}-\u{fc}ber", "caf%C3%A9-%C3%BCber")]["mem_alloc"],
        b["data"]["VMs"][&key("caf\u{e9}-\u{fc}ber", "caf\u{e9}-\u{fc}ber")]["mem_alloc"]
    );
}

#[test]
fn write_mode_replaces_both_files_and_a_failed_run_keeps_them() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hv_monitor.json");
    let p = path.to_str().unwrap();
    let out = run(&["--uri", &lab.uri, "-w", "-q", "-o", p]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "-q prints nothing");
    let json = std::fs::read_to_string(&path).unwrap();
    let snmp = std::fs::read_to_string(format!("{p}.snmp")).unwrap();
    assert!(json.ends_with("}\n") && snmp.ends_with('\n'));
    assert_eq!(
        librenms_decode(json.trim_end()).unwrap()["data"]["VMs"]
            .as_object()
            .unwrap()
            .len(),
        lab.domains.len()
    );
    assert_eq!(
        librenms_decode(snmp.trim_end()).unwrap()["data"]["VMs"]
            .as_object()
            .unwrap()
            .len(),
        lab.domains.len()
    );

    let bad_uri = format!("test://{}/missing.xml", dir.path().display());
    let out = run(&["--uri", &bad_uri, "-w", "-o", p]);
    assert_eq!(out.status.code(), Some(3), "backend unavailable");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        json,
        "previous JSON kept"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{p}.snmp")).unwrap(),
        snmp,
        "previous -c form kept"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
}

#[test]
fn an_unreachable_uri_gives_the_error_envelope_and_exit_3() {
    let out = run(&["--uri", "test:///nonexistent/node.xml", "-c"]);
    assert_eq!(out.status.code(), Some(3));
    let err = librenms_decode(stdout(&out).trim_end()).expect("the error envelope decodes");
    assert_eq!(err["error"], 1);
    let message = err["errorString"].as_str().unwrap();
    assert!(
        message.contains("test:///nonexistent/node.xml"),
        "{message}"
    );
    assert!(
        stderr(&out).contains("cannot connect to libvirt at 'test:///nonexistent/node.xml'"),
        "{}",
        stderr(&out)
    );

    let out = run(&["--uri", "nosuchdriver:///x"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        librenms_decode(stdout(&out).trim_end()).unwrap()["error"],
        1
    );
}

#[test]
fn a_write_failure_is_reported_and_nothing_is_left_behind() {
    let out = run(&[
        "--uri",
        "test:///default",
        "-w",
        "-o",
        "/nonexistent-dir/hv.json",
    ]);
    assert_eq!(out.status.code(), Some(6));
    assert!(
        stderr(&out).contains("/nonexistent-dir/hv.json"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        librenms_decode(stdout(&out).trim_end()).unwrap()["error"],
        4
    );
}

#[test]
fn perl_flags_still_work() {
    let out = run(&["-b", "Libvirt", "--uri", "test:///default", "-c"]);
    assert!(out.status.success());
    assert!(librenms_decode(stdout(&out).trim_end()).is_ok());
    let v = run(&["-v"]);
    assert!(stdout(&v).starts_with("hv_monitor "), "{}", stdout(&v));
    let bad = run(&["-b", "xen"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("xen"));
    let quiet_alone = run(&["-q"]);
    assert_eq!(quiet_alone.status.code(), Some(2), "-q needs -w");
}

#[test]
fn the_default_uri_comes_from_the_environment() {
    let lab = lab();
    let out = hv_monitor()
        .env("LIBVIRT_DEFAULT_URI", &lab.uri)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = librenms_decode(stdout(&out).trim_end()).unwrap();
    assert_eq!(
        doc["data"]["VMs"].as_object().unwrap().len(),
        lab.domains.len()
    );
}

#[test]
fn no_devices_keeps_every_vm_and_its_sums_but_no_device_maps() {
    let lab = lab();
    let out = run(&["--uri", &lab.uri, "-c", "--no-devices"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = librenms_decode(stdout(&out).trim_end()).unwrap();
    let vms = doc["data"]["VMs"].as_object().unwrap();
    assert_eq!(vms.len(), lab.domains.len());
    for (name, vm) in vms {
        assert_eq!(vm["disks"], serde_json::json!({}), "{name}");
        assert_eq!(vm["ifs"], serde_json::json!({}), "{name}");
        assert!(
            vm["disk_alloc"].is_u64() && vm["stats_incomplete"] == 0,
            "{name}"
        );
    }
    let full = librenms_decode(stdout(&run(&["--uri", &lab.uri, "-c"])).trim_end()).unwrap();
    assert_eq!(
        doc["data"]["totals"]["disk_alloc"],
        full["data"]["totals"]["disk_alloc"]
    );
}

/// What the node file becomes once the first libvirt connection has opened it.
enum Then {
    /// A regular file that is no node XML: the next connection fails.
    Broken,
    /// A FIFO with no writer: the next connection's open never returns.
    Silent,
}

/// A test-driver host whose node XML is a FIFO: the first connection reads `node`; every
/// connection after it (libvirt opens the file anew for each) finds `then`.
fn fifo_host(dir: &std::path::Path, node: String, then: Then) -> String {
    let path = dir.join("node.xml");
    mkfifo(&path);
    let feed = path.clone();
    std::thread::spawn(move || {
        use std::io::Write;
        // Blocks until the first connection opens the node file; it keeps reading this.
        let mut fifo = std::fs::OpenOptions::new().write(true).open(&feed).unwrap();
        std::fs::remove_file(&feed).unwrap();
        match then {
            Then::Broken => std::fs::write(&feed, "<not-a-node").unwrap(),
            Then::Silent => mkfifo(&feed),
        }
        let _ = fifo.write_all(node.as_bytes());
    });
    format!("test://{}", path.display())
}

fn mkfifo(path: &std::path::Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn an_extra_connection_that_fails_or_hangs_costs_only_time() {
    for (case, then) in [("fails", Then::Broken), ("hangs", Then::Silent)] {
        let dir = support::scratch("extra-connection");
        let uri = fifo_host(&dir, node_xml::node(&domains()), then);
        let started = std::time::Instant::now();
        let out = run(&["--uri", &uri, "-j", "2", "-t", "4", "-c"]);
        let took = started.elapsed();
        assert!(out.status.success(), "{case}: {}", stderr(&out));
        assert!(
            took < std::time::Duration::from_secs(5),
            "{case}: took {took:?}"
        );
        let doc = librenms_decode(&stdout(&out)).expect("a document");
        assert_eq!(vm_keys(&doc).len(), domains().len(), "{case}: every VM");
        assert!(
            stderr(&out).contains("an extra libvirt connection failed"),
            "{case}: said so: {}",
            stderr(&out)
        );
    }
}

#[test]
fn connections_are_capped() {
    let out = run(&["--uri", "test:///default", "-j", "9", "-c"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("1..=8"), "{}", stderr(&out));
    let out = run(&["--uri", "test:///default", "-j", "8", "-c"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_test_driver_gives_no_guest_figures_so_they_are_unknown_not_zero() {
    let doc = collect("test:///default");
    let vm = &doc["data"]["VMs"]["test"];
    assert_eq!(vm["status_int"], 1, "{vm}");
    for key in hv_monitor::emit::librenms::GUEST_KEYS {
        assert!(vm[key].is_null(), "{key} = {} for the test driver", vm[key]);
        assert!(doc["data"]["totals"][key].is_null(), "totals {key}");
    }
    assert!(
        vm["mem_alloc"].as_u64().unwrap() > 0,
        "memory given still known"
    );
}
