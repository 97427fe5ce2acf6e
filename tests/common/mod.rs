//! Shared helpers for the integration tests: the binary, required services, test-driver node
//! XML, and LibreNMS's own decoding of an extend's output.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test: this build's, or `HV_MONITOR_BIN` (tests/deb/test-package.sh points
/// it at the installed package's /usr/bin/hv_monitor).
pub fn binary() -> PathBuf {
    std::env::var_os("HV_MONITOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hv_monitor")))
}

pub fn hv_monitor() -> Command {
    Command::new(binary())
}

pub fn run(args: &[&str]) -> Output {
    hv_monitor().args(args).output().expect("hv_monitor runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A service a test needs is missing: under CI that is a failure, elsewhere a loud skip.
/// Returns normally only when the test should be skipped.
pub fn missing_service(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("required service missing under CI: {what}");
    }
    eprintln!("SKIPPED (not CI): {what} is missing; run tests/run.sh to start it");
}

/// The real QEMU connection from tests/lab/libvirt-up.sh: `HVMON_QEMU_URI`, or the env file
/// the harness leaves in its lab directory.
pub fn qemu_uri() -> Option<String> {
    if let Ok(uri) = std::env::var("HVMON_QEMU_URI") {
        return Some(uri);
    }
    let lab = std::env::var("HVMON_LAB").unwrap_or_else(|_| "/tmp/hvmon-lab".into());
    let env = std::fs::read_to_string(Path::new(&lab).join("env")).ok()?;
    env.lines()
        .find_map(|l| l.strip_prefix("HVMON_QEMU_URI="))
        .map(str::to_string)
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// One domain of a test-driver node XML.
#[derive(Debug, Clone)]
pub struct TestDomain {
    pub name: String,
    /// virDomainState: 1 running, 3 paused, 5 shut off.
    pub runstate: u8,
    pub memory_kib: u64,
    pub vcpus: u64,
    /// Target devices of virtio disks.
    pub disks: Vec<String>,
    /// Also attach a CD-ROM image as `hdc`.
    pub cdrom: bool,
    /// MACs of NICs on the `default` network (bridge virbr0).
    pub nics: Vec<String>,
    pub snapshots: usize,
}

impl TestDomain {
    pub fn new(name: &str, runstate: u8) -> TestDomain {
        TestDomain {
            name: name.into(),
            runstate,
            memory_kib: 512 * 1024,
            vcpus: 1,
            disks: vec!["vda".into()],
            cdrom: false,
            nics: vec![],
            snapshots: 0,
        }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// A test-driver node XML (`test:///PATH`) holding `domains` and the `default` network.
pub fn node_xml(domains: &[TestDomain]) -> String {
    let mut xml = String::from("<node>\n");
    for (i, d) in domains.iter().enumerate() {
        let name = xml_escape(&d.name);
        let uuid = format!("6d3f0000-0000-4000-8000-{i:012}");
        xml += &format!(
            "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n\
             <name>{name}</name><uuid>{uuid}</uuid>\n\
             <memory unit='KiB'>{mem}</memory><currentMemory unit='KiB'>{mem}</currentMemory>\n\
             <vcpu>{vcpus}</vcpu><os><type>hvm</type></os>\n<devices>\n",
            mem = d.memory_kib,
            vcpus = d.vcpus
        );
        for dev in &d.disks {
            xml += &format!(
                "<disk type='file' device='disk'><source file='/var/lib/libvirt/images/{i}-{dev}.qcow2'/>\
                 <target dev='{dev}' bus='virtio'/></disk>\n"
            );
        }
        if d.cdrom {
            xml += "<disk type='file' device='cdrom'><source file='/isos/install.iso'/><target dev='hdc' bus='ide'/><readonly/></disk>\n";
        }
        for mac in &d.nics {
            xml += &format!(
                "<interface type='network'><mac address='{mac}'/><source network='default'/><model type='virtio'/></interface>\n"
            );
        }
        xml += &format!(
            "</devices>\n<test:runstate>{}</test:runstate>\n",
            d.runstate
        );
        for s in 0..d.snapshots {
            xml += &format!(
                "<test:domainsnapshot><name>snap{s}</name><state>shutoff</state><creationTime>{t}</creationTime>\
                 <active>{active}</active><domain type='test'><name>{name}</name><uuid>{uuid}</uuid>\
                 <memory unit='KiB'>{mem}</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain></test:domainsnapshot>\n",
                t = 1_700_000_000 + s,
                active = u8::from(s + 1 == d.snapshots),
                mem = d.memory_kib
            );
        }
        xml += "</domain>\n";
    }
    xml += "<network><name>default</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\
            <bridge name='virbr0'/><forward/><ip address='192.168.122.1' netmask='255.255.255.0'/></network>\n</node>\n";
    xml
}

/// Writes `xml` to `dir/node.xml`, readable by all (snmpd reads it as its own user);
/// returns the `test:///` URI.
pub fn write_node(dir: &Path, xml: &str) -> (PathBuf, String) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("node.xml");
    std::fs::write(&path, xml).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let uri = format!("test://{}", path.display());
    (path, uri)
}

/// Which LibreNMS `json_app_get` (includes/polling/functions.inc.php, later
/// includes/functions.php) decodes an extend's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonAppGet {
    /// LibreNMS 24.4 and later (pull request 15953, commit 03e9b5229): `stripslashes` only
    /// on plain output, never on decoded `-c` output.
    Current,
    /// Before 24.4: `json_decode(stripslashes($output), true)` on whatever came out, so a
    /// backslash corrupts `-c` output too.
    Before24_4,
}

/// What LibreNMS's `json_app_get` before 24.4 does with an extend's output (the stricter
/// one): see [`librenms_decode_as`].
pub fn librenms_decode(output: &str) -> Result<serde_json::Value, i32> {
    librenms_decode_as(output, JsonAppGet::Before24_4)
}

/// What `version` of LibreNMS's `json_app_get` does with an extend's output, step by step:
/// its regexes, `base64_decode`, `gzdecode`, `stripslashes` where that version runs it,
/// `json_decode` (which needs valid UTF-8), the four required keys, version >= 1. `Err`
/// carries LibreNMS's error number.
pub fn librenms_decode_as(output: &str, version: JsonAppGet) -> Result<serde_json::Value, i32> {
    use base64::Engine;
    use std::io::Read;
    if output.is_empty() {
        return Err(-2);
    }
    // LibreNMS's own two regexes, verbatim:
    // preg_match('/^[A-Za-z0-9\/\+\n]+\=*\n*$/', $output) && ! preg_match('/^[0-9]+\n/', $output)
    let base64_like = regex::Regex::new(r"^[A-Za-z0-9/+\n]+=*\n*$").unwrap();
    let digits_line = regex::Regex::new(r"^[0-9]+\n").unwrap();
    let compressed = base64_like.is_match(output) && !digits_line.is_match(output);
    let text = if compressed {
        let compact: String = output.chars().filter(|c| *c != '\n').collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| -7)?;
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut bytes)
            .map_err(|_| -8)?;
        String::from_utf8(bytes).map_err(|_| -3)?
    } else {
        output.to_string()
    };
    let text = if compressed && version == JsonAppGet::Current {
        text
    } else {
        php_stripslashes(&text)
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| -3)?;
    if json.as_object().is_none_or(|o| o.is_empty()) {
        return Err(-4);
    }
    for key in ["error", "data", "errorString", "version"] {
        if json[key].is_null() {
            return Err(-5);
        }
    }
    if json["version"].as_i64().is_none_or(|v| v < 1) {
        return Err(-6);
    }
    Ok(json)
}

/// LibreNMS's `Rrd::safeName` (LibreNMS/Data/Store/Rrd.php), verbatim:
/// `preg_replace('/[^a-zA-Z0-9,._\-]/', '_', $name)`. No `u` flag, so PCRE works on bytes:
/// the byte-level regex below does the same.
pub fn librenms_safe_name(name: &str) -> String {
    static UNSAFE_BYTE: std::sync::OnceLock<regex::bytes::Regex> = std::sync::OnceLock::new();
    let unsafe_byte =
        UNSAFE_BYTE.get_or_init(|| regex::bytes::Regex::new(r"(?-u)[^a-zA-Z0-9,._\-]").unwrap());
    let out = unsafe_byte.replace_all(name.as_bytes(), &b"_"[..]);
    String::from_utf8(out.into_owned()).expect("only ASCII is left")
}

/// The RRD files LibreNMS's hv-monitor poller (includes/polling/applications/hv-monitor.inc.php)
/// writes for a document: `rrd_name` arrays joined with `-` through [`librenms_safe_name`],
/// one file per VM (`vm`), per disk of a VM (`vmdisk`) and per NIC of a VM (`vmif`).
pub fn librenms_rrd_files(doc: &serde_json::Value, app_id: u32) -> Vec<String> {
    let mut files = vec![librenms_safe_name(&format!("app-hv-monitor-{app_id}"))];
    for (vm, info) in doc["data"]["VMs"].as_object().expect("a VMs object") {
        files.push(librenms_safe_name(&format!(
            "app-hv-monitor-{app_id}-vm-{vm}"
        )));
        for (kind, map) in [("vmdisk", "disks"), ("vmif", "ifs")] {
            for device in info[map].as_object().expect("a device map").keys() {
                files.push(librenms_safe_name(&format!(
                    "app-hv-monitor-{app_id}-{kind}-{vm}-__-__-{device}"
                )));
            }
        }
    }
    files
}

/// PHP's stripslashes: `\x` becomes `x`, `\\` becomes `\`, a lone trailing `\` goes.
pub fn php_stripslashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(if next == '0' { '\0' } else { next });
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What LibreNMS's snmp_get hands json_app_get for `-Oqv`: the value without its quotes.
pub fn librenms_snmp_value(snmpget_stdout: &str) -> String {
    snmpget_stdout
        .trim_matches(|c| c == '"' || c == ' ' || c == '\n' || c == '\r')
        .to_string()
}
