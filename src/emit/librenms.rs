//! The LibreNMS `hv-monitor` extend document (see the README's "LibreNMS output").
//!
//! LibreNMS removes every backslash before it decodes the JSON, so the document must never
//! need a JSON escape. Every string we emit goes through [`safe_text`], which percent-encodes
//! the few characters that would need one, `%` itself, and every non-ASCII byte (net-snmp
//! shows a value with such bytes as a Hex-STRING). The result is printable ASCII, plain or
//! `-c`, and two different VM names can never map to one key.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use crate::model::{Disk, DiskIo, DiskSum, NetCounters, Nic, Process, Snapshot, State, Totals, Vm};

/// The document version LibreNMS checks (`version >= 1`).
pub const VERSION: u32 = 1;

/// What one SNMP reply over UDP carries of an extend's output (net-snmp 5.9, measured).
pub const SNMP_UDP_LIMIT: usize = 65_438;
/// Where net-snmp cuts extend output silently, over any transport.
pub const SNMP_TOTAL_LIMIT: usize = 102_399;

/// `s` with `%`, `"`, `\`, control characters and non-ASCII bytes as `%XX`.
pub fn safe_text(s: &str) -> Cow<'_, str> {
    let needs = |b: u8| b == b'%' || b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b);
    if !s.bytes().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if needs(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    Cow::Owned(out)
}

/// Error text made readable without escapes: quotes become `'`, backslashes `/`, anything
/// unprintable a space.
pub fn safe_message(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => ' ',
        })
        .collect()
}

#[derive(Serialize)]
struct Envelope<D> {
    version: u32,
    error: i64,
    #[serde(rename = "errorString")]
    error_string: String,
    data: D,
}

#[derive(Serialize)]
struct Data {
    hv: &'static str,
    #[serde(rename = "VMs")]
    vms: BTreeMap<String, VmOut>,
    totals: TotalsOut,
}

/// A float LibreNMS can store: finite, never `null`.
fn num(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

#[derive(Serialize, Default)]
struct ProcessOut {
    pcpu: f64,
    pmem: f64,
    etimes: u64,
    usertime: f64,
    systime: f64,
    rss: u64,
    vsz: u64,
    minflt: u64,
    majflt: u64,
    nvcsw: u64,
    nivcsw: u64,
    cow: u64,
    nswap: u64,
    inblk: u64,
    oublk: u64,
}

impl From<&Process> for ProcessOut {
    fn from(p: &Process) -> ProcessOut {
        ProcessOut {
            pcpu: num(p.pcpu),
            pmem: num(p.pmem),
            etimes: p.etimes,
            usertime: num(p.usertime),
            systime: num(p.systime),
            rss: p.rss,
            vsz: p.vsz,
            minflt: p.minflt,
            majflt: p.majflt,
            nvcsw: p.nvcsw,
            nivcsw: p.nivcsw,
            cow: p.cow,
            nswap: p.nswap,
            inblk: p.inblk,
            oublk: p.oublk,
        }
    }
}

#[derive(Serialize)]
struct IoOut {
    rbytes: u64,
    rreqs: u64,
    rtime: f64,
    wbytes: u64,
    wreqs: u64,
    wtime: f64,
    freqs: u64,
    ftime: f64,
}

impl From<&DiskIo> for IoOut {
    fn from(io: &DiskIo) -> IoOut {
        IoOut {
            rbytes: io.rbytes,
            rreqs: io.rreqs,
            rtime: num(io.rtime),
            wbytes: io.wbytes,
            wreqs: io.wreqs,
            wtime: num(io.wtime),
            freqs: io.freqs,
            ftime: num(io.ftime),
        }
    }
}

#[derive(Serialize)]
struct NetOut {
    ipkts: u64,
    ibytes: u64,
    ierrs: u64,
    idrop: u64,
    opkts: u64,
    obytes: u64,
    oerrs: u64,
    odrop: u64,
    coll: u64,
}

impl From<&NetCounters> for NetOut {
    fn from(n: &NetCounters) -> NetOut {
        NetOut {
            ipkts: n.ipkts,
            ibytes: n.ibytes,
            ierrs: n.ierrs,
            idrop: n.idrop,
            opkts: n.opkts,
            obytes: n.obytes,
            oerrs: n.oerrs,
            odrop: n.odrop,
            coll: n.coll,
        }
    }
}

#[derive(Serialize)]
struct DiskOut {
    /// Sizes and counters are left out when unknown (a busy VM): LibreNMS stores a missing
    /// key as U, the honest value.
    #[serde(flatten)]
    sizes: Option<DiskSizesOut>,
    #[serde(flatten)]
    io: Option<IoOut>,
}

#[derive(Serialize)]
struct DiskSizesOut {
    alloc: u64,
    in_use: u64,
    on_disk: u64,
}

impl DiskOut {
    fn new(d: &Disk, unknown: bool) -> DiskOut {
        DiskOut {
            sizes: (!unknown).then_some(DiskSizesOut {
                alloc: d.alloc,
                in_use: d.in_use,
                on_disk: d.on_disk,
            }),
            io: (!unknown).then(|| IoOut::from(&d.io)),
        }
    }
}

#[derive(Serialize)]
struct NicOut {
    #[serde(rename = "if")]
    device: String,
    parent: String,
    mac: String,
    #[serde(flatten)]
    counters: NetOut,
}

impl From<&Nic> for NicOut {
    fn from(n: &Nic) -> NicOut {
        NicOut {
            device: safe_text(&n.device).into_owned(),
            parent: safe_text(&n.parent).into_owned(),
            mac: safe_text(&n.mac).into_owned(),
            counters: NetOut::from(&n.counters),
        }
    }
}

/// The keys a VM and the totals share: sizes, process stats, disk and network sums.
#[derive(Serialize)]
struct SumsOut {
    mem_alloc: u64,
    cpus: u64,
    snaps: u64,
    snaps_size: u64,
    #[serde(flatten)]
    process: ProcessOut,
    /// Left out when unknown: LibreNMS stores a missing key as U, the honest value.
    #[serde(flatten)]
    io: Option<IoOut>,
    #[serde(flatten)]
    sizes: Option<DiskSumSizesOut>,
    #[serde(flatten)]
    net: NetOut,
}

#[derive(Serialize)]
struct DiskSumSizesOut {
    disk_alloc: u64,
    disk_in_use: u64,
    disk_on_disk: u64,
}

impl SumsOut {
    fn new(
        mem_alloc: u64,
        cpus: u64,
        snaps: (u64, u64),
        process: ProcessOut,
        disk: &DiskSum,
        disk_unknown: bool,
        net: &NetCounters,
    ) -> SumsOut {
        SumsOut {
            mem_alloc,
            cpus,
            snaps: snaps.0,
            snaps_size: snaps.1,
            process,
            io: (!disk_unknown).then(|| IoOut::from(&disk.io)),
            sizes: (!disk_unknown).then_some(DiskSumSizesOut {
                disk_alloc: disk.alloc,
                disk_in_use: disk.in_use,
                disk_on_disk: disk.on_disk,
            }),
            net: NetOut::from(net),
        }
    }
}

#[derive(Serialize)]
struct VmOut {
    #[serde(flatten)]
    sums: SumsOut,
    os_type: String,
    ip: String,
    status_int: u8,
    /// 1 when some stats could not be read this run (a busy VM); those keys are left out.
    stats_incomplete: u8,
    console_type: String,
    console: String,
    nice: i64,
    pri: i64,
    disks: BTreeMap<String, DiskOut>,
    ifs: BTreeMap<String, NicOut>,
}

impl VmOut {
    fn new(vm: &Vm, detail: Detail) -> VmOut {
        let (disks, ifs) = match detail {
            Detail::Devices => (
                vm.disks
                    .iter()
                    .map(|d| {
                        (
                            safe_text(&d.name).into_owned(),
                            DiskOut::new(d, vm.disk_stats_unknown),
                        )
                    })
                    .collect(),
                vm.nics
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (format!("nic{i}"), NicOut::from(n)))
                    .collect(),
            ),
            Detail::VmsOnly => (BTreeMap::new(), BTreeMap::new()),
        };
        let process = vm.process.as_ref();
        VmOut {
            sums: SumsOut::new(
                vm.mem_alloc,
                vm.cpus,
                (vm.snaps, vm.snaps_size),
                process.map(ProcessOut::from).unwrap_or_default(),
                &vm.disk_sum(),
                vm.disk_stats_unknown,
                &vm.net_sum(),
            ),
            os_type: safe_text(&vm.os_type).into_owned(),
            ip: safe_text(&vm.ip).into_owned(),
            status_int: vm.state.code(),
            stats_incomplete: u8::from(vm.disk_stats_unknown),
            console_type: safe_text(&vm.console_type).into_owned(),
            console: safe_text(&vm.console).into_owned(),
            nice: process.map_or(0, |p| p.nice),
            pri: process.map_or(0, |p| p.pri),
            disks,
            ifs,
        }
    }
}

#[derive(Serialize)]
struct TotalsOut {
    #[serde(flatten)]
    sums: SumsOut,
    on: u64,
    blocked: u64,
    paused: u64,
    off_soft: u64,
    off_hard: u64,
    crashed: u64,
    pmsuspended: u64,
    off: u64,
    nostate: u64,
    unknown: u64,
}

impl From<&Totals> for TotalsOut {
    fn from(t: &Totals) -> TotalsOut {
        TotalsOut {
            sums: SumsOut::new(
                t.mem_alloc,
                t.cpus,
                (t.snaps, t.snaps_size),
                ProcessOut::from(&t.process),
                &t.disk,
                t.disk_stats_unknown,
                &t.net,
            ),
            on: t.in_state(State::Running),
            blocked: t.in_state(State::Blocked),
            paused: t.in_state(State::Paused),
            off_soft: t.in_state(State::Shutdown),
            off_hard: t.in_state(State::Shutoff),
            crashed: t.in_state(State::Crashed),
            pmsuspended: t.in_state(State::PmSuspended),
            off: t.in_state(State::Off),
            nostate: t.in_state(State::NoState),
            unknown: t.in_state(State::Maintenance) + t.in_state(State::Unknown),
        }
    }
}

/// How much per-device detail a document carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// Every VM's `disks` and `ifs` maps filled (LibreNMS's per-disk and per-NIC graphs).
    #[default]
    Devices,
    /// `disks` and `ifs` left empty, VM-level sums kept: about a third of the size, for hosts
    /// whose full document does not fit one SNMP reply.
    VmsOnly,
}

/// The JSON document for a snapshot, one line, no trailing newline.
pub fn document(snapshot: &Snapshot, detail: Detail) -> String {
    let data = Data {
        hv: snapshot.hypervisor.as_str(),
        vms: snapshot
            .vms
            .iter()
            .map(|vm| (safe_text(&vm.name).into_owned(), VmOut::new(vm, detail)))
            .collect(),
        totals: TotalsOut::from(&Totals::of(&snapshot.vms)),
    };
    let envelope = Envelope {
        version: VERSION,
        error: 0,
        error_string: String::new(),
        data,
    };
    serde_json::to_string(&envelope).expect("the LibreNMS document serialises")
}

/// The error envelope: `error` non-zero, a readable `errorString`, empty `data`.
pub fn error_document(code: i64, message: &str) -> String {
    let envelope = Envelope {
        version: VERSION,
        error: code,
        error_string: safe_message(message),
        data: BTreeMap::<String, String>::new(),
    };
    serde_json::to_string(&envelope).expect("the LibreNMS error document serialises")
}

/// The `-c` form: gzip of the document, standard base64 on one line.
pub fn compress(document: &str) -> String {
    let mut gz = GzEncoder::new(Vec::with_capacity(document.len() / 4), Compression::best());
    gz.write_all(document.as_bytes())
        .expect("writing to memory cannot fail");
    let bytes = gz.finish().expect("writing to memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Hypervisor;
    use std::time::SystemTime;

    fn snapshot_of(vms: Vec<Vm>) -> Snapshot {
        Snapshot {
            hypervisor: Hypervisor::Libvirt,
            taken_at: SystemTime::now(),
            vms,
            warnings: vec![],
        }
    }

    fn doc_of(vms: Vec<Vm>) -> String {
        document(&snapshot_of(vms), Detail::Devices)
    }

    fn decode(doc: &str) -> serde_json::Value {
        serde_json::from_str(doc).unwrap()
    }

    #[test]
    fn safe_text_is_injective_and_escape_free() {
        assert_eq!(safe_text("web-01.example"), "web-01.example");
        assert_eq!(safe_text("a\"b\\c"), "a%22b%5Cc");
        assert_eq!(safe_text("50%"), "50%25");
        assert_eq!(safe_text("caf\u{e9}\n"), "caf%C3%A9%0A");
        assert_ne!(safe_text("a%22"), safe_text("a\""));
    }

    #[test]
    fn every_key_is_present_even_for_a_stopped_vm() {
        let doc = decode(&doc_of(vec![Vm::new("off", State::Shutoff)]));
        let vm = &doc["data"]["VMs"]["off"];
        for key in [
            "mem_alloc",
            "cpus",
            "pcpu",
            "pmem",
            "os_type",
            "ip",
            "status_int",
            "console_type",
            "console",
            "snaps",
            "snaps_size",
            "etimes",
            "usertime",
            "systime",
            "rss",
            "vsz",
            "minflt",
            "majflt",
            "nvcsw",
            "nivcsw",
            "cow",
            "nswap",
            "inblk",
            "oublk",
            "nice",
            "pri",
            "rbytes",
            "wbytes",
            "rreqs",
            "wreqs",
            "freqs",
            "rtime",
            "wtime",
            "ftime",
            "disk_alloc",
            "disk_in_use",
            "disk_on_disk",
            "ipkts",
            "ibytes",
            "ierrs",
            "idrop",
            "opkts",
            "obytes",
            "oerrs",
            "odrop",
            "coll",
            "disks",
            "ifs",
        ] {
            assert!(!vm[key].is_null(), "missing {key}");
        }
        assert_eq!(vm["status_int"], 5);
        let totals = &doc["data"]["totals"];
        for key in [
            "on",
            "blocked",
            "paused",
            "off_soft",
            "off_hard",
            "crashed",
            "pmsuspended",
            "off",
            "nostate",
            "unknown",
        ] {
            assert!(totals[key].is_u64(), "missing totals.{key}");
        }
        assert_eq!(totals["off_hard"], 1);
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["error"], 0);
        assert_eq!(doc["errorString"], "");
        assert_eq!(doc["data"]["hv"], "libvirt");
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
            alloc: 10,
            ..Disk::default()
        }];
        busy.disk_stats_unknown = true;
        let mut idle = Vm::new("idle", State::Running);
        idle.disks = vec![Disk {
            name: "vda".into(),
            alloc: 5,
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
            serde_json::json!({}),
            "listed, nothing known"
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
            alloc: 7,
            ..Disk::default()
        }];
        vm.nics = vec![Nic {
            counters: NetCounters {
                ibytes: 3,
                ..NetCounters::default()
            },
            ..Nic::default()
        }];
        let doc = decode(&document(&snapshot_of(vec![vm]), Detail::VmsOnly));
        let vm = &doc["data"]["VMs"]["a"];
        assert_eq!(vm["disks"], serde_json::json!({}));
        assert_eq!(vm["ifs"], serde_json::json!({}));
        assert_eq!(
            (vm["disk_alloc"].as_u64(), vm["ibytes"].as_u64()),
            (Some(7), Some(3))
        );
    }

    #[test]
    fn hostile_names_give_a_document_without_backslashes() {
        let names = [
            "quo\"te",
            "back\\slash",
            "new\nline",
            "caf\u{e9}",
            "50%",
            "a:b=c/../d",
        ];
        let doc = doc_of(names.iter().map(|n| Vm::new(*n, State::Running)).collect());
        assert!(!doc.contains('\\'), "{doc}");
        assert!(doc.bytes().all(|b| (0x20..0x7f).contains(&b)));
        let vms = decode(&doc)["data"]["VMs"].as_object().unwrap().len();
        assert_eq!(vms, names.len());
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
        let doc = doc_of(vec![Vm::new("a", State::Running)]);
        let c = compress(&doc);
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
}
