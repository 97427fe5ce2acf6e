//! The CBSD + bhyve backend: parsers on the hand-written fixtures in tests/fixtures/cbsd (see
//! its README), and whole collections by `hv_monitor -b cbsd` against the fake FreeBSD
//! programs in tests/fake-bin, found through HV_MONITOR_CBSD_PATH.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use hv_monitor::collect::cbsd::parse;
use hv_monitor::model::NetCounters;
use serde_json::Value;
use support::{hv_monitor, repo, stderr};

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/cbsd")
}

fn fixture(name: &str) -> String {
    fs::read_to_string(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn fake_bin() -> PathBuf {
    repo().join("tests/fake-bin")
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

// ---------------------------------------------------------------- parsers on fixtures

#[test]
fn bls_cbsd14_with_colours() {
    let bls = parse::parse_bls(&fixture("host14/bls.txt"));
    assert_eq!(bls.problems, Vec::<String>::new());
    let names: Vec<&str> = bls.rows.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["vm1", "vm10", "vm0", "a.b", "web-01"]);
    let vm1 = &bls.rows[0];
    assert_eq!(vm1.pid, 4242);
    assert_eq!(vm1.ram, 2048 * MIB);
    assert_eq!((vm1.cpus, vm1.pcpu), (2, 12.5));
    assert_eq!(vm1.os_type, "freebsd");
    assert_eq!(vm1.ip, "10.0.0.11", "prefix length dropped");
    assert_eq!(
        (vm1.status.as_str(), vm1.vnc.as_str()),
        ("On", "127.0.0.1:5900")
    );
    let vm0 = &bls.rows[2];
    assert_eq!((vm0.pid, vm0.ip.as_str(), vm0.vnc.as_str()), (0, "", ""));
    assert_eq!(bls.rows[1].ip, "DHCP");
    assert_eq!(bls.rows[3].ip, "10.0.0.20", "first of a list");
    assert_eq!(bls.rows[4].ip, "", "Unk");
}

#[test]
fn bls_cbsd13_without_colours() {
    let bls = parse::parse_bls(&fixture("host13/bls.txt"));
    assert!(bls.problems.is_empty(), "{:?}", bls.problems);
    assert_eq!(bls.rows.len(), 2);
    assert_eq!((bls.rows[0].name.as_str(), bls.rows[0].pid), ("vm1", 1717));
    assert_eq!(bls.rows[1].status, "Off");
}

#[test]
fn bls_hostile_lines_cost_only_themselves() {
    let bls = parse::parse_bls(&fixture("hostile/bls.txt"));
    let names: Vec<&str> = bls.rows.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["vm0", "odd.name-1", "vm9"]);
    let vm0 = &bls.rows[0];
    assert_eq!((vm0.pid, vm0.ram, vm0.cpus), (0, 0, 0), "'-' cells are 0");
    assert_eq!((vm0.os_type.as_str(), vm0.vnc.as_str()), ("", ""));
    let odd = &bls.rows[1];
    assert_eq!(odd.status, "Maintenance:backup in progress");
    assert_eq!(odd.vnc, "127.0.0.1:5902");
    assert_eq!(odd.pid, 0, "bad jid");
    assert_eq!(bls.rows[2].status, "Unknown");
    assert_eq!(bls.rows[2].vnc, "", "no VNC column");
    let problems = bls.problems.join("\n");
    assert!(
        problems.contains("VM 'odd.name-1': jid 'x12'"),
        "{problems}"
    );
    assert!(problems.contains("VM 'vm9': vm_ram '1,024'"), "{problems}");
    assert!(problems.contains("bls line 5: 3 fields"), "{problems}");
    assert!(problems.contains("bls line 6:"), "{problems}");
    assert_eq!(bls.problems.len(), 4, "{problems}");
}

#[test]
fn disk_nic_and_snapshot_lists() {
    let disks = parse::parse_disk_list(&fixture("host14/bhyve-dsk-list.txt"));
    assert!(disks.problems.is_empty(), "{:?}", disks.problems);
    let sizes: Vec<(&str, &str, u64)> = disks
        .rows
        .iter()
        .map(|d| (d.vm.as_str(), d.path.as_str(), d.size))
        .collect();
    assert_eq!(
        sizes,
        [
            ("vm1", "dsk1.vhd", 20 * GIB),
            ("vm1", "dsk2.vhd", 10 * GIB),
            ("vm10", "dsk1.vhd", 40 * GIB),
            ("vm0", "dsk1.vhd", 10 * GIB),
            ("a.b", "dsk1.vhd", 8 * GIB),
        ]
    );

    let nics = parse::parse_nic_list(&fixture("host14/bhyve-nic-list.txt"));
    assert!(nics.problems.is_empty(), "{:?}", nics.problems);
    assert_eq!(nics.rows.len(), 6);
    assert_eq!(nics.rows[2].parent, "auto");
    assert_eq!(nics.rows[3].mac, "", "'0' MAC");
    assert_eq!(
        (nics.rows[5].parent.as_str(), nics.rows[5].mac.as_str()),
        ("", ""),
        "'\\-' cells"
    );

    let snaps = parse::parse_snapshots(&fixture("host14/jsnapshot.txt"));
    assert!(snaps.problems.is_empty(), "{:?}", snaps.problems);
    let sums: Vec<(&str, u64, u64)> = snaps
        .rows
        .iter()
        .map(|(vm, s)| (vm.as_str(), s.count, s.bytes))
        .collect();
    assert_eq!(
        sums,
        [
            ("vm1", 2, 3 * GIB / 2 + 512 * MIB),
            ("vm0", 1, 96 * 1024),
            ("jail1", 1, 1288490189),
        ]
    );

    let hostile = parse::parse_snapshots(&fixture("hostile/jsnapshot.txt"));
    assert_eq!(hostile.rows.len(), 1);
    assert_eq!((hostile.rows[0].1.count, hostile.rows[0].1.bytes), (2, 0));
    assert_eq!(hostile.problems.len(), 2, "{:?}", hostile.problems);
}

#[test]
fn zfs_volumes_and_kstats() {
    let zvols = parse::parse_zfs_volumes(&fixture("host14/zfs-list.txt"));
    assert!(zvols.problems.is_empty(), "{:?}", zvols.problems);
    assert_eq!(zvols.rows.len(), 5);
    assert_eq!(zvols.rows[0].name, "zroot/vm/vm1/dsk1.vhd");
    assert_eq!(zvols.rows[0].volsize, 20 * GIB);
    assert_eq!(zvols.rows[0].referenced, 8 * GIB);
    assert_eq!(zvols.rows[3].pool(), "tank");

    let hostile = parse::parse_zfs_volumes(&fixture("hostile/zfs-list.txt"));
    assert_eq!(hostile.rows.len(), 1, "a name with a space is fine");
    assert_eq!(hostile.rows[0].name, "zroot/vm/vm 1/dsk1.vhd");
    assert_eq!(hostile.problems.len(), 2, "{:?}", hostile.problems);

    let kstats = parse::parse_kstat_datasets(&fixture("host14/sysctl-kstat.txt"));
    assert_eq!(kstats.len(), 6);
    let vm1 = &kstats["zroot/vm/vm1/dsk1.vhd"];
    assert_eq!((vm1.rreqs, vm1.rbytes), (163840, 5 * GIB));
    assert_eq!((vm1.wreqs, vm1.wbytes), (65536, 2 * GIB));

    let hostile = parse::parse_kstat_datasets(&fixture("hostile/sysctl-kstat.txt"));
    assert_eq!(hostile.len(), 1, "an objset without a name is left out");
    let io = &hostile["my.pool/vm/vm1/dsk1.vhd"];
    assert_eq!((io.rreqs, io.rbytes, io.wreqs, io.wbytes), (12, 4096, 3, 0));
}

#[test]
fn ifconfig_descriptions() {
    let taps = parse::parse_ifconfig_descriptions(&fixture("host14/ifconfig.txt"));
    assert_eq!(
        taps,
        [
            ("bridge0".to_string(), "uplink bridge".to_string()),
            ("tap0".into(), "vm1-nic0".into()),
            ("tap1".into(), "vm10-nic0".into()),
            ("tap3".into(), "vm1-nic1".into()),
            ("tap9".into(), "gone-nic0".into()),
        ]
    );
    let hostile = parse::parse_ifconfig_descriptions(&fixture("hostile/ifconfig.txt"));
    assert_eq!(
        hostile,
        [
            ("tap0".to_string(), "quoted-vm-nic0".to_string()),
            ("tap0".into(), "later-ignored-nic5".into()),
        ],
        "empty descriptions and lines outside an interface are skipped"
    );
}

#[test]
fn netstat_link_lines_only() {
    let stats = parse::parse_netstat(&fixture("host14/netstat.txt"));
    assert!(stats.problems.is_empty(), "{:?}", stats.problems);
    let names: Vec<&str> = stats.rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "em0", "lo0", "bridge0", "tap0", "tap1", "tap3", "tap9", "pflog0"
        ]
    );
    let tap3 = &stats.rows[5].1;
    assert_eq!(
        *tap3,
        NetCounters {
            ipkts: 1000,
            ibytes: 100000,
            opkts: 2000,
            obytes: 250000,
            odrop: 1,
            ..Default::default()
        },
        "the fe80:: address line is not added"
    );
    assert_eq!(stats.rows[7].1, NetCounters::default(), "empty Address");

    let v13 = parse::parse_netstat(&fixture("host13/netstat.txt"));
    assert!(v13.problems.is_empty(), "{:?}", v13.problems);
    assert_eq!(v13.rows.len(), 2);
    assert_eq!(v13.rows[1].1.obytes, 9000000);

    let hostile = parse::parse_netstat(&fixture("hostile/netstat.txt"));
    assert_eq!(hostile.rows.len(), 1);
    assert_eq!(hostile.rows[0].0, "tap0");
    assert_eq!(hostile.problems.len(), 2, "{:?}", hostile.problems);
    assert!(parse::parse_netstat("").problems[0].contains("no header"));
}

#[test]
fn ps_rows() {
    let ps = parse::parse_ps(&fixture("host14/ps.txt"));
    assert!(ps.problems.is_empty(), "{:?}", ps.problems);
    let p = &ps.rows[0];
    assert_eq!((p.pid, p.etimes, p.pmem), (4242, 864000, 6.3));
    assert_eq!(
        (p.rss, p.vsz),
        (2101248 * 1024, 2183560 * 1024),
        "KiB to bytes"
    );
    assert!((p.systime - 754.56).abs() < 1e-9);
    assert!((p.usertime - 7425.67).abs() < 1e-9);
    assert_eq!((p.cow, p.majflt, p.minflt), (1234, 12, 543210));
    assert_eq!(
        (p.nvcsw, p.nivcsw, p.inblk, p.oublk),
        (4567890, 98765, 45, 678)
    );
    assert_eq!(ps.rows[1].nice, -5);

    let v13 = parse::parse_ps(&fixture("host13/ps.txt"));
    assert!(v13.problems.is_empty(), "{:?}", v13.problems);
    assert!((v13.rows[0].systime - 3723.45).abs() < 1e-9);
    assert_eq!(v13.rows[0].usertime, 36000.0);

    let hostile = parse::parse_ps(&fixture("hostile/ps.txt"));
    assert_eq!(hostile.rows.len(), 1);
    assert_eq!(hostile.rows[0].usertime, 42.5, "plain seconds");
    assert_eq!(hostile.problems.len(), 3, "{:?}", hostile.problems);
}

// ---------------------------------------------------------------- the whole backend

struct Run {
    output: Output,
    elapsed: Duration,
    log: String,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.output.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.output.stdout)
            )
        })
    }

    fn stderr(&self) -> String {
        stderr(&self.output)
    }

    /// Log lines of one program.
    fn calls(&self, program: &str) -> Vec<&str> {
        self.log
            .lines()
            .filter(|l| l.split(' ').next() == Some(program))
            .collect()
    }
}

/// Runs `hv_monitor -b cbsd ARGS` with `path` as HV_MONITOR_CBSD_PATH and the host14
/// fixtures; `env` adds HV_FAKE_HANG / HV_FAKE_FAIL.
fn run_cbsd(path: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("calls.log");
    let mut command = hv_monitor();
    command
        .args(["-b", "cbsd"])
        .args(args)
        .env("HV_MONITOR_CBSD_PATH", path)
        .env("HV_FAKE_FIXTURES", fixtures().join("host14"))
        .env("HV_FAKE_LOG", &log_path)
        .env_remove("HV_FAKE_HANG")
        .env_remove("HV_FAKE_FAIL");
    for (k, v) in env {
        command.env(k, v);
    }
    let begun = Instant::now();
    let output = command.output().unwrap();
    Run {
        elapsed: begun.elapsed(),
        log: fs::read_to_string(&log_path).unwrap_or_default(),
        log_path,
        output,
        _dir: dir,
    }
}

#[test]
fn whole_collection_as_librenms_json() {
    let run = run_cbsd(&fake_bin(), &[], &[]);
    assert!(run.output.status.success(), "{}", run.stderr());
    assert_eq!(run.stderr(), "", "no warnings for a healthy host");
    let doc = run.json();
    assert_eq!(doc["error"], 0);
    let data = &doc["data"];
    assert_eq!(data["hv"], "CBSD");
    let vms = &data["VMs"];
    let names: Vec<&String> = vms.as_object().unwrap().keys().collect();
    assert_eq!(names, ["a.b", "vm0", "vm1", "vm10", "web-01"]);
    let status = |vm: &str| vms[vm]["status_int"].as_u64().unwrap();
    assert_eq!(
        [status("vm1"), status("vm10"), status("vm0")],
        [1, 1, 8],
        "On=1 Off=8"
    );
    assert_eq!(
        [status("a.b"), status("web-01")],
        [9, 10],
        "Maintenance=9 Slave=10"
    );

    let vm1 = &vms["vm1"];
    assert_eq!(vm1["mem_alloc"], 2048 * MIB);
    assert_eq!(vm1["cpus"], 2);
    assert_eq!(vm1["pcpu"], 12.5, "RACCT figure from bls");
    assert_eq!(vm1["os_type"], "freebsd");
    assert_eq!(vm1["ip"], "10.0.0.11");
    assert_eq!(vm1["console_type"], "vnc");
    assert_eq!(vm1["console"], "127.0.0.1:5900");
    // Process stats from the single ps call.
    assert_eq!(vm1["etimes"], 864000);
    assert_eq!(vm1["pmem"], 6.3);
    assert_eq!(vm1["rss"], 2101248u64 * 1024);
    assert_eq!(
        vm1["vsz"],
        2183560u64 * 1024,
        "vsz is its own column, not rss*1024"
    );
    assert_eq!(vm1["systime"], 754.56);
    assert_eq!(vm1["usertime"], 7425.67);
    assert_eq!(vm1["minflt"], 543210);
    assert_eq!(vm1["majflt"], 12);
    assert_eq!(vm1["nvcsw"], 4567890);
    assert_eq!(vm1["nivcsw"], 98765);
    assert_eq!(vm1["cow"], 1234);
    assert_eq!(vm1["inblk"], 45);
    assert_eq!(vm1["oublk"], 678);
    assert_eq!(vm1["pri"], 20);
    assert_eq!(vms["vm10"]["pcpu"], 0.8, "RACCT off: ps's %CPU");
    assert_eq!(vms["vm10"]["nice"], -5);
    assert_eq!(vms["vm0"]["rss"], 0, "a stopped VM has no process");

    // Disks: the zvol's exact sizes and kstat counters; the file disk has its CBSD size.
    let dsk1 = &vm1["disks"]["dsk1.vhd"];
    assert_eq!(dsk1["alloc"], 20 * GIB);
    assert_eq!(dsk1["in_use"], 8 * GIB);
    assert_eq!(dsk1["on_disk"], 22548578304u64);
    assert_eq!(dsk1["rbytes"], 5 * GIB);
    assert_eq!(dsk1["rreqs"], 163840);
    assert_eq!(dsk1["wbytes"], 2 * GIB);
    assert_eq!(dsk1["wreqs"], 65536);
    let dsk2 = &vm1["disks"]["dsk2.vhd"];
    assert_eq!(
        [&dsk2["alloc"], &dsk2["in_use"], &dsk2["on_disk"]],
        [10 * GIB; 3]
    );
    assert_eq!(dsk2["rbytes"], 0);
    assert_eq!(vm1["disk_alloc"], 30 * GIB);
    assert_eq!(vm1["rbytes"], 5 * GIB);
    assert_eq!(vm1["wbytes"], 2 * GIB, "written bytes, not read bytes");
    assert_eq!(vm1["wreqs"], 65536);
    assert_eq!(
        vms["vm10"]["disks"]["dsk1.vhd"]["wbytes"], 8192000,
        "vm10 is not vm1"
    );
    assert_eq!(
        vms["vm0"]["disks"]["dsk1.vhd"]["rreqs"], 10,
        "vm0 matches too"
    );
    assert_eq!(
        vms["a.b"]["disks"]["dsk1.vhd"]["rbytes"], 7000000,
        "pool tank"
    );

    // NICs: CBSD's order, the tap described VM-nicN, counters from the guest's side.
    let nic0 = &vm1["ifs"]["nic0"];
    assert_eq!(nic0["if"], "tap0");
    assert_eq!(nic0["parent"], "bridge0");
    assert_eq!(nic0["mac"], "58:9c:fc:10:ff:a3");
    assert_eq!(
        nic0["ipkts"], 250000,
        "tap0's Opkts: what the guest received"
    );
    assert_eq!(nic0["ibytes"], 300000000);
    assert_eq!(nic0["idrop"], 7);
    assert_eq!(nic0["opkts"], 120000);
    assert_eq!(nic0["obytes"], 15000000);
    assert_eq!(nic0["odrop"], 3);
    let nic1 = &vm1["ifs"]["nic1"];
    assert_eq!(nic1["if"], "tap3");
    assert_eq!(nic1["ipkts"], 2000, "the address line is not added");
    assert_eq!(vm1["ipkts"], 252000);
    assert_eq!(vm1["obytes"], 15100000);
    assert_eq!(vms["vm10"]["ifs"]["nic0"]["if"], "tap1");
    assert_eq!(vms["vm10"]["ifs"]["nic0"]["oerrs"], 1);
    assert_eq!(vms["vm0"]["ifs"]["nic0"]["if"], "");
    assert_eq!(vms["web-01"]["ifs"]["nic0"]["parent"], "");

    // Snapshots: the jail's are not a VM's; an empty list is 0, not -1.
    assert_eq!(vm1["snaps"], 2);
    assert_eq!(vm1["snaps_size"], 3 * GIB / 2 + 512 * MIB);
    assert_eq!(vms["vm0"]["snaps"], 1);
    assert_eq!(vms["vm10"]["snaps"], 0);
    for vm in vms.as_object().unwrap().values() {
        assert!(vm.get("ftime").is_some(), "every key, ftime too");
    }

    let totals = &data["totals"];
    assert_eq!(totals["on"], 2);
    assert_eq!(totals["off"], 1);
    assert_eq!(totals["unknown"], 2);
    assert_eq!(totals["snaps"], 3, "counted once");
    assert_eq!(totals["snaps_size"], 3 * GIB / 2 + 512 * MIB + 96 * 1024);
    assert_eq!(totals["mem_alloc"], (2048 + 4096 + 1024 + 8192 + 512) * MIB);
    assert_eq!(totals["cpus"], 16);
    assert_eq!(
        totals["disk_alloc"],
        20 * GIB + 10 * GIB + 40 * GIB + 10 * GIB + 8 * GIB
    );
    assert_eq!(totals["rreqs"], 163840 + 1000 + 10 + 700);
    assert_eq!(totals["wbytes"], 2 * GIB + 8192000 + 3000000);
    assert_eq!(totals["ipkts"], 252000 + 80000);
    assert_eq!(totals["rss"], (2101248u64 + 4200000) * 1024);
    assert_eq!(totals["pcpu"], 13.3);

    // Fewest forks, argv not a shell string: every command once, arguments as words.
    assert_eq!(run.log.lines().count(), 9, "{}", run.log);
    assert_eq!(
        run.calls("ps"),
        [
            "ps [-o] [pid,%cpu,etimes,%mem,cow,majflt,minflt,nice,nivcsw,nswap,nvcsw,inblk,oublk,pri,rss,systime,usertime,vsz] [-p] [4242,5151]"
        ]
    );
    assert_eq!(run.calls("ifconfig"), ["ifconfig"]);
    assert_eq!(run.calls("netstat"), ["netstat [-ibdWn]"]);
    assert_eq!(
        run.calls("sysctl"),
        ["sysctl [-i] [kstat.zfs.tank.dataset] [kstat.zfs.zroot.dataset]"]
    );
    assert_eq!(run.calls("cbsd").len(), 4);
    assert!(run.calls("cbsd").contains(
        &"cbsd [bls] [header=0] [node=] [display=jname,jid,vm_ram,vm_curmem,vm_cpus,pcpu,vm_os_type,ip4_addr,status,vnc] [alljails=0]"
    ));
}

#[test]
fn compressed_output_decodes_to_the_same_document() {
    let plain = run_cbsd(&fake_bin(), &[], &[]);
    let packed = run_cbsd(&fake_bin(), &["-c"], &[]);
    assert!(packed.output.status.success(), "{}", packed.stderr());
    let line = String::from_utf8(packed.output.stdout.clone()).unwrap();
    assert!(
        line.trim_end()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    );
    let gz = base64_decode(line.trim_end());
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    // The fixtures are fixed, so both runs see the same host.
    let unpacked: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(unpacked, plain.json());
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[test]
fn a_hanging_zfs_is_killed_and_costs_only_zvol_data() {
    let run = run_cbsd(&fake_bin(), &["-t", "2"], &[("HV_FAKE_HANG", "zfs")]);
    assert!(run.output.status.success(), "{}", run.stderr());
    assert!(
        run.elapsed < Duration::from_secs(4),
        "took {:?}: the timeout did not fire",
        run.elapsed
    );
    let stderr = run.stderr();
    // The time left when zfs starts: 1.8 s unless the commands before it were slow.
    let killed = regex::Regex::new(
        r"command 'zfs list -Hp -t volume -o name,volsize,used,referenced' failed: no answer within 1\.[0-8] s; killed",
    )
    .unwrap();
    assert!(killed.is_match(&stderr), "{stderr}");
    let vm1 = &run.json()["data"]["VMs"]["vm1"];
    assert_eq!(vm1["disks"]["dsk1.vhd"]["alloc"], 20 * GIB, "CBSD's size");
    assert_eq!(vm1["rbytes"], 0, "no zvol, no kstats");
    assert_eq!(vm1["ifs"]["nic0"]["ipkts"], 250000, "the rest is intact");
    assert_eq!(vm1["snaps"], 2);
    assert!(run.calls("sysctl").is_empty(), "sysctl needs the zvol list");
    // The fake's own `sleep` child was killed with it: the whole process group is gone.
    let pgid: i32 = fs::read_to_string(format!("{}.zfs.pgid", run.log_path.display()))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Killed processes linger as zombies until their new parent reaps them: allow for that.
    let gone_by = Instant::now() + Duration::from_secs(5);
    // SAFETY: signal 0 only checks whether the group exists.
    while unsafe { libc::kill(-pgid, 0) } == 0 {
        assert!(Instant::now() < gone_by, "process group {pgid} survived");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_failing_command_is_a_warning_naming_it() {
    let run = run_cbsd(
        &fake_bin(),
        &[],
        &[("HV_FAKE_FAIL", "cbsd-jsnapshot netstat")],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "warning: command 'cbsd jsnapshot mode=list header=0 \
             display=jname,snapname,creation,refer' failed: exit status 1: \
             cbsd-jsnapshot: simulated failure"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: command 'netstat -ibdWn' failed"),
        "{stderr}"
    );
    let vm1 = &run.json()["data"]["VMs"]["vm1"];
    assert_eq!(vm1["snaps"], 0);
    assert_eq!(
        vm1["ifs"]["nic0"]["if"], "tap0",
        "ifconfig still matched it"
    );
    assert_eq!(vm1["ifs"]["nic0"]["ipkts"], 0);
    assert_eq!(vm1["rss"], 2101248u64 * 1024);
}

#[test]
fn bls_failing_fails_the_collection_with_error_2() {
    let run = run_cbsd(&fake_bin(), &[], &[("HV_FAKE_FAIL", "cbsd-bls")]);
    assert_eq!(run.output.status.code(), Some(4), "{}", run.stderr());
    let doc = run.json();
    assert_eq!(doc["error"], 2);
    let message = doc["errorString"].as_str().unwrap();
    assert!(
        message.starts_with("command 'cbsd bls header=0 node= display=jname,jid,")
            && message.ends_with("failed: exit status 1: cbsd-bls: simulated failure"),
        "{message}"
    );
    assert_eq!(run.log.lines().count(), 1, "nothing else runs");
}

#[test]
fn bls_hanging_fails_quickly_naming_it() {
    let run = run_cbsd(&fake_bin(), &["-t", "1.6"], &[("HV_FAKE_HANG", "cbsd-bls")]);
    assert!(run.elapsed < Duration::from_secs(4), "{:?}", run.elapsed);
    assert_eq!(run.output.status.code(), Some(4), "{}", run.stderr());
    let doc = run.json();
    assert_eq!(doc["error"], 2);
    let message = doc["errorString"].as_str().unwrap();
    assert!(message.starts_with("command 'cbsd bls "), "{message}");
    // 1.4 s: the deadline less its margin, unless the process was slow to start bls.
    let killed = regex::Regex::new(r"no answer within 1\.[0-4] s; killed$").unwrap();
    assert!(killed.is_match(message), "{message}");
}

#[test]
fn missing_cbsd_is_reported_by_name() {
    let empty = tempfile::tempdir().unwrap();
    let run = run_cbsd(empty.path(), &[], &[]);
    assert_eq!(run.output.status.code(), Some(4), "{}", run.stderr());
    let message = run.json()["errorString"].as_str().unwrap().to_string();
    assert!(message.contains("'cbsd' not found in PATH"), "{message}");
}

#[test]
fn missing_zfs_on_a_ufs_host_costs_only_zvol_data() {
    let bin = tempfile::tempdir().unwrap();
    for program in ["cbsd", "ps", "netstat", "ifconfig", "sysctl"] {
        std::os::unix::fs::symlink(fake_bin().join(program), bin.path().join(program)).unwrap();
    }
    let run = run_cbsd(bin.path(), &[], &[]);
    assert!(run.output.status.success(), "{}", run.stderr());
    let stderr = run.stderr();
    assert!(
        stderr.contains("failed: 'zfs' not found in PATH"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let vms = &run.json()["data"]["VMs"];
    assert_eq!(vms["vm1"]["disks"]["dsk1.vhd"]["in_use"], 20 * GIB);
    assert_eq!(vms["vm10"]["rss"], 4200000u64 * 1024);
}

#[test]
fn whole_collection_as_xymon_messages_and_through_the_extra_script() {
    use hv_monitor::xymon_wire::vm_key;
    let host = "bhyve1.example.com";
    // The graph lines in the status itself, to read both from one message.
    let run = run_cbsd(
        &fake_bin(),
        &["xymon", "--print", "--host", host, "--message", "status"],
        &[],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    let status = String::from_utf8(run.output.stdout.clone()).unwrap();
    let first = status.lines().next().unwrap();
    assert!(
        first.starts_with("status+11 bhyve1,example,com.hvmon yellow "),
        "{first}"
    );
    assert!(
        status.contains("&yellow web-01: in no known state"),
        "CBSD 'Slave' is an unknown state"
    );
    for line in [
        "all_vms : 5",
        "all_running : 2",
        "all_off : 1",
        "vm_vm1_up : 1",
        "vm_vm1_vcpus : 2",
        "vm_vm10_vcpus : 4",
        "vm_vm0_up : 0",
    ] {
        assert!(status.lines().any(|l| l == line), "missing {line:?}");
    }

    let run = run_cbsd(
        &fake_bin(),
        // One data message: what xymond_rrd hands the handler of the default `--message both`.
        &[
            "xymon",
            "--print",
            "--host",
            host,
            "--format",
            "rrd-script",
            "--message",
            "data",
        ],
        &[],
    );
    assert!(run.output.status.success(), "{}", run.stderr());
    let dir = tempfile::tempdir().unwrap();
    let message = dir.path().join("message.txt");
    fs::write(&message, &run.output.stdout).unwrap();
    let rrd = hv_monitor()
        .args(["xymon-rrd", host, "hvmonrrd"])
        .arg(&message)
        .output()
        .unwrap();
    assert!(rrd.status.success(), "{}", stderr(&rrd));
    let lines: Vec<String> = String::from_utf8(rrd.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let files: Vec<&String> = lines.iter().filter(|l| l.ends_with(".rrd")).collect();
    let vms = ["a.b", "vm0", "vm1", "vm10", "web-01"];
    // Each VM's main file, then (CBSD gives no guest figures: all U) its guest file.
    let mut expected: Vec<String> = ["hvmonrrd", "hvmonrrd-guest"]
        .iter()
        .flat_map(|file| {
            vms.iter()
                .map(move |n| format!("{file},vm_{}.rrd", vm_key(n)))
        })
        .collect();
    expected.insert(0, "hvmonrrd-states.rrd".into());
    assert_eq!(files, expected.iter().collect::<Vec<_>>());
    let vm1 = lines
        .iter()
        .position(|l| *l == format!("hvmonrrd,vm_{}.rrd", vm_key("vm1")))
        .unwrap();
    assert!(
        lines[vm1 + 1].starts_with("1:2:2147483648:"),
        "up, 2 vCPUs, 2 GiB: {}",
        lines[vm1 + 1]
    );
    let guest = lines
        .iter()
        .position(|l| *l == format!("hvmonrrd-guest,vm_{}.rrd", vm_key("vm1")))
        .unwrap();
    // guestused, guestmem, guestfs, vcpu, steal.
    assert_eq!(
        lines[guest + 1],
        "U:U:U:U:U",
        "bhyve gives no guest figures"
    );
}

#[test]
fn vm_and_exclude_choose_the_vms_and_ps_asks_only_for_theirs() {
    let run = run_cbsd(&fake_bin(), &["--vm", "vm*", "--exclude", "vm10"], &[]);
    assert!(run.output.status.success(), "{}", run.stderr());
    let doc = run.json();
    let data = &doc["data"];
    let names: Vec<&String> = data["VMs"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["vm0", "vm1"]);
    assert_eq!(data["vm_filter"], 1);
    assert_eq!(data["vms_filtered_out"], 3, "vm10, a.b and web-01");
    assert_eq!(data["totals"]["on"], 1, "vm10 is running but left out");
    let ps = run.calls("ps");
    assert_eq!(ps.len(), 1, "{:?}", run.log);
    assert!(ps[0].contains("[4242]"), "only vm1's bhyve: {}", ps[0]);
    assert!(!ps[0].contains("5151"), "not vm10's: {}", ps[0]);
}
