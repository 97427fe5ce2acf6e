//! End to end through a real net-snmp snmpd on 127.0.0.1: `extend hv-monitor` serving our
//! output, read back with `snmpget` by numeric OID and decoded the way LibreNMS's
//! `json_app_get` does. snmpd runs as Debian-snmp, as Debian's unit runs it.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hv_monitor::emit::librenms::{TOTALS_STATE_KEYS, VM_RRD_KEYS};
use support::install::{Installed, assert_readable_by, assert_runnable_by};
use support::librenms::{
    JsonAppGet, librenms_decode, librenms_decode_as, librenms_rrd_files, librenms_snmp_value,
};
use support::node_xml::{self, TestDomain};
use support::{have, require, run};

/// The user Debian's unit runs snmpd as (and so its extend commands), when it exists.
const SNMPD_USER: &str = "Debian-snmp";

/// NET-SNMP-EXTEND-MIB::nsExtendOutputFull."NAME" as a numeric OID.
fn extend_output_oid(name: &str) -> String {
    let mut oid = format!(".1.3.6.1.4.1.8072.1.3.2.3.1.2.{}", name.len());
    for b in name.bytes() {
        oid += &format!(".{b}");
    }
    oid
}

struct Snmpd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory every user can reach, holding a copy of the binary and a test-driver node.
struct Stage {
    installed: Installed,
    uri: String,
}

fn stage(domains: &[TestDomain]) -> Stage {
    let installed = Installed::new();
    if user_exists(SNMPD_USER) {
        assert_runnable_by(SNMPD_USER, installed.binary());
    }
    let node = installed.dir().join("node.xml");
    let uri = node_xml::write(domains, &node);
    std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o644)).unwrap();
    if user_exists(SNMPD_USER) {
        assert_readable_by(SNMPD_USER, &node);
    }
    Stage { installed, uri }
}

fn snmp_tools() -> bool {
    require(
        "net-snmp (snmpd, snmpget)",
        Path::new("/usr/sbin/snmpd").exists() && have("snmpget"),
    )
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .is_ok_and(|p| p.lines().any(|l| l.starts_with(&format!("{name}:"))))
}

fn start_snmpd(port: u16, extend_command: &str) -> Snmpd {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    let persist = dir.path().join("persist");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(&persist).unwrap();
    std::fs::write(
        conf.join("snmpd.conf"),
        format!("rocommunity public 127.0.0.1\nextend hv-monitor {extend_command}\n"),
    )
    .unwrap();
    // Load no MIBs: the tests use numeric OIDs only.
    std::fs::write(conf.join("snmp.conf"), "mibs :\n").unwrap();
    for p in [dir.path(), conf.as_path(), persist.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let mut cmd = Command::new("/usr/sbin/snmpd");
    cmd.env("SNMPCONFPATH", &conf)
        .env("SNMP_PERSISTENT_DIR", &persist)
        .args(["-f", "-Lf"])
        .arg(dir.path().join("snmpd.log"));
    if user_exists(SNMPD_USER) {
        cmd.args(["-u", SNMPD_USER, "-g", SNMPD_USER]);
    }
    cmd.arg(format!("udp:127.0.0.1:{port},tcp:127.0.0.1:{port}"));
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("snmpd starts");
    let snmpd = Snmpd {
        child,
        port,
        _dir: dir,
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let probe = Command::new("snmpget")
            .args([
                "-v2c",
                "-c",
                "public",
                "-On",
                "-t",
                "0.5",
                "-r",
                "0",
                &format!("127.0.0.1:{port}"),
                ".1.3.6.1.2.1.1.3.0",
            ])
            .output()
            .unwrap();
        if probe.status.success() {
            return snmpd;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("snmpd on 127.0.0.1:{port} did not answer within 10 s");
}

/// `snmpget -Oqv` of the extend's output, as LibreNMS's snmp_get runs it.
fn poll(snmpd: &Snmpd, transport: &str) -> String {
    let out = Command::new("snmpget")
        .args(["-v2c", "-c", "public", "-On", "-Oqv", "-t", "10", "-r", "0"])
        .arg(format!("{transport}127.0.0.1:{}", snmpd.port))
        .arg(extend_output_oid("hv-monitor"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "snmpget failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    librenms_snmp_value(&String::from_utf8(out.stdout).unwrap())
}

/// The odd name among [`domains`], and its key in the plain and in the `-c` form.
const ODD_NAME: &str = "caf\u{e9} \"quoted\" \\ name";
// Not a safe RRD file name: the text, `~h` and 96 bits of the name's SHA-256
// (`printf %s NAME | sha256sum`; librenms/README.md).
const ODD_PLAIN_KEY: &str = "caf%C3%A9 %22quoted%22 %5C name~h148f99407e5dd1648849d8cc";
const ODD_COMPRESSED_KEY: &str = "caf\u{e9} %22quoted%22 %5C name~h148f99407e5dd1648849d8cc";

fn domains() -> Vec<TestDomain> {
    let mut out: Vec<TestDomain> = (0..12)
        .map(|i| TestDomain::new(&format!("vm{i:02}"), [1, 3, 5][i % 3]))
        .collect();
    let mut odd = TestDomain::new(ODD_NAME, 1);
    odd.nics = vec!["52:54:00:12:34:56".into()];
    out.push(odd);
    out
}

/// Every key the LibreNMS hv-monitor poller reads, per VM and in the totals (the emitter's
/// own lists), and the odd VM under `odd_key`.
fn assert_librenms_reads_everything(doc: &serde_json::Value, vms: usize, odd_key: &str) {
    assert_eq!(doc["error"], 0);
    assert_eq!(doc["data"]["hv"], "libvirt");
    let all = doc["data"]["VMs"].as_object().unwrap();
    assert_eq!(all.len(), vms);
    for (name, vm) in all {
        for key in VM_RRD_KEYS {
            assert!(vm[key].is_number(), "VMs.{name}.{key} = {}", vm[key]);
        }
    }
    let sums = VM_RRD_KEYS.into_iter().filter(|k| *k != "status_int");
    for key in TOTALS_STATE_KEYS.into_iter().chain(sums) {
        assert!(doc["data"]["totals"][key].is_number(), "totals.{key}");
    }
    assert!(all.contains_key(odd_key), "{odd_key:?} in {:?}", all.keys());
}

#[test]
fn direct_mode_compressed_over_udp_and_tcp() {
    if !snmp_tools() {
        return;
    }
    let stage = stage(&domains());
    let snmpd = start_snmpd(
        16171,
        &format!(
            "{} --uri {} -c",
            stage.installed.binary().display(),
            stage.uri
        ),
    );
    for transport in ["", "tcp:"] {
        let value = poll(&snmpd, transport);
        let doc = librenms_decode(&value)
            .unwrap_or_else(|code| panic!("LibreNMS error {code} on {value:.200}"));
        assert_librenms_reads_everything(&doc, 13, ODD_COMPRESSED_KEY);
    }
}

#[test]
fn direct_mode_plain_json() {
    if !snmp_tools() {
        return;
    }
    let stage = stage(&domains());
    let snmpd = start_snmpd(
        16172,
        &format!("{} --uri {}", stage.installed.binary().display(), stage.uri),
    );
    let value = poll(&snmpd, "");
    assert!(
        value.starts_with("{\\\"version\\\":1"),
        "net-snmp escapes the quotes: {value:.80}"
    );
    let doc = librenms_decode(&value)
        .unwrap_or_else(|code| panic!("LibreNMS error {code} on {value:.200}"));
    assert_librenms_reads_everything(&doc, 13, ODD_PLAIN_KEY);
}

#[test]
fn cached_mode_serves_the_file_written_by_a_cron_run() {
    if !snmp_tools() {
        return;
    }
    let stage = stage(&domains());
    let cache = stage.installed.dir().join("hv_monitor.json");
    let out = run(&[
        "--uri",
        &stage.uri,
        "-w",
        "-q",
        "-o",
        cache.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let snmpd = start_snmpd(16173, &format!("/bin/cat {}.snmp", cache.display()));
    let doc = librenms_decode(&poll(&snmpd, "")).unwrap();
    assert_librenms_reads_everything(&doc, 13, ODD_COMPRESSED_KEY);
}

#[test]
fn a_backend_error_reaches_librenms_as_an_exception_with_its_message() {
    if !snmp_tools() {
        return;
    }
    let stage = stage(&[]);
    let missing = stage.installed.dir().join("missing.xml");
    let snmpd = start_snmpd(
        16174,
        &format!(
            "{} --uri test://{} -c",
            stage.installed.binary().display(),
            missing.display()
        ),
    );
    let doc = librenms_decode(&poll(&snmpd, "")).expect("the error envelope decodes");
    assert_eq!(doc["error"], 1, "LibreNMS logs: Script returned exception");
    assert!(
        doc["errorString"].as_str().unwrap().contains("missing.xml"),
        "{}",
        doc["errorString"]
    );
}

#[test]
fn utf8_names_reach_librenms_as_libvirt_gives_them_in_the_compressed_form() {
    if !snmp_tools() {
        return;
    }
    let names = [
        "\u{e9}lan-vm",
        "\u{f6}lan-vm",
        "web 01",
        "web-02",
        "\u{65e5}\u{672c}\u{8a9e} \u{1f680}",
        "quo\"te\\",
    ];
    let domains: Vec<TestDomain> = names.iter().map(|n| TestDomain::new(n, 1)).collect();
    let stage = stage(&domains);
    let snmpd = start_snmpd(
        16180,
        &format!(
            "{} --uri {} -c",
            stage.installed.binary().display(),
            stage.uri
        ),
    );
    for transport in ["", "tcp:"] {
        let value = poll(&snmpd, transport);
        let doc = librenms_decode_as(&value, JsonAppGet::Current)
            .unwrap_or_else(|code| panic!("LibreNMS error {code} on {value:.200}"));
        assert_eq!(
            librenms_decode_as(&value, JsonAppGet::Before24_4),
            Ok(doc.clone()),
            "LibreNMS before 24.4 reads the same document"
        );
        let vms = doc["data"]["VMs"].as_object().unwrap();
        assert_eq!(vms.len(), names.len());
        // Hashed but `web-02`, a safe name (librenms/README.md).
        for key in [
            "web 01~ha89c7fb9e3dcf5dae39d8992",
            "web-02",
            "\u{65e5}\u{672c}\u{8a9e} \u{1f680}~h2eda23e777ab3214a7e73546",
            "quo%22te%5C~h84182e84c0af19c7992e7655",
        ] {
            assert!(vms.contains_key(key), "{key:?} in {:?}", vms.keys());
        }
        // `élan-vm` and `ölan-vm` are one RRD file to LibreNMS (`__lan-vm`): each carries
        // its own name and a hash of its own.
        for name in ["\u{e9}lan-vm", "\u{f6}lan-vm"] {
            assert!(
                vms.keys().any(|k| k.starts_with(&format!("{name}~"))),
                "{name:?} in {:?}",
                vms.keys()
            );
        }
        let files = librenms_rrd_files(&doc, 1);
        let distinct: std::collections::HashSet<&String> = files.iter().collect();
        assert_eq!(distinct.len(), files.len(), "{files:#?}");
    }
}
