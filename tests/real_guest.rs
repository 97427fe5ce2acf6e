//! A real I/O-error pause, the acceptance test of issue 21: a real Linux guest
//! (tests/lab/linux-guest.sh) whose second disk is a sparse file on a tmpfs smaller than
//! the disk writes past the end of the tmpfs; QEMU stops it and libvirt reports it paused
//! with reason I/O error. hv_monitor must then say so everywhere: red on a real xymond with
//! the VM and "I/O error" named, and in LibreNMS `status_int` 3 (paused) with the reason.
//! libvirt then also keeps the disk error `no space` for the second disk (issue 22): red
//! with the disk named, and in LibreNMS a disk-error count and the disk's error code. The
//! expected codes come from the `virt` bindings and the disk from `virsh domblkerror`, never
//! from hv_monitor's code.
//!
//! The guest has a name of its own, so the lab's guests other tests expect are left alone;
//! it is destroyed and undefined, and the tmpfs unmounted, however the test ends.
#![cfg(all(feature = "libvirt", target_os = "linux"))]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::librenms::{librenms_decode, librenms_snmp_value};
use support::tmpfs::{Tmpfs, mounted};
use support::xymon::{self, Server};
use support::{Scratch, qemu_uri, repo, require, run, scratch, stderr, stdout, text, virsh};
use virt::connect::Connect;
use virt::domain::{DomainPausedReason, DomainState, DomainStateReason};
use virt::enumutil::{Enum, RawEnum};

const GUEST: &str = "hvmon-ioerror";
const XYMON_PORT: u16 = 19880;
const XYMON_HOST: &str = "hv-ioerror.example.com";
const SNMP_PORT: u16 = 16185;
/// The tmpfs the second disk lives on, and the disk: QEMU can write 2 MiB of it at most.
const TMPFS_BYTES: u64 = 2 << 20;
const DISK2_SIZE: u64 = 32 << 20;
/// What the guest writes onto the second disk: 8 MiB, four times what the tmpfs holds.
const FILL: &str = "dd if=/dev/zero of=/dev/vdb bs=64k count=128 oflag=direct; sync";

/// The guest with its second disk on a tmpfs of its own; everything undone when dropped.
struct FullDiskGuest {
    uri: String,
    // Unmounted after the guest that holds the disk open is gone (fields drop after `drop`).
    tmpfs: Tmpfs,
    dir: Scratch,
}

impl FullDiskGuest {
    fn start(uri: &str) -> FullDiskGuest {
        let dir = scratch("ioerror");
        let small = dir.join("small");
        std::fs::create_dir(&small).unwrap();
        // A guest of the same name left by a run that was killed before its guard ran.
        stop_guest(uri, &dir);
        let guest = FullDiskGuest {
            uri: uri.to_string(),
            tmpfs: Tmpfs::mount("hvmon-ioerror", &small, TMPFS_BYTES),
            dir,
        };
        let disk2 = guest.tmpfs.path().join("disk2.raw");
        std::fs::File::create(&disk2)
            .and_then(|f| f.set_len(DISK2_SIZE))
            .unwrap();
        let started = lab_script(uri, &guest.dir, "start")
            .env("DISK2", &disk2)
            .output()
            .expect("run tests/lab/linux-guest.sh");
        assert!(
            started.status.success(),
            "linux-guest.sh start: {}{}",
            text(&started.stdout),
            stderr(&started)
        );
        guest
    }

    /// Makes the guest write past the end of the tmpfs, through its agent.
    fn fill_disk2(&self) {
        let command = serde_json::json!({
            "execute": "guest-exec",
            "arguments": {"path": "/bin/sh", "arg": ["-c", FILL]},
        });
        let out = virsh(
            &self.uri,
            &["qemu-agent-command", GUEST, &command.to_string()],
        );
        assert!(out.status.success(), "guest-exec: {}", stderr(&out));
    }
}

impl Drop for FullDiskGuest {
    fn drop(&mut self) {
        stop_guest(&self.uri, &self.dir);
    }
}

fn lab_script(uri: &str, dir: &Path, action: &str) -> Command {
    let mut cmd = Command::new(repo().join("tests/lab/linux-guest.sh"));
    cmd.arg(action)
        .env("NAME", GUEST)
        .env("GUEST_DIR", dir)
        .env("HVMON_QEMU_URI", uri);
    cmd
}

fn stop_guest(uri: &str, dir: &Path) {
    let _ = lab_script(uri, dir, "stop").output();
}

/// libvirt's own view of the guest, through the bindings: whether it is paused on an I/O
/// error.
fn paused_on_io_error(conn: &Connect) -> bool {
    let Ok(dom) = conn.lookup_domain_by_name(GUEST) else {
        return false;
    };
    matches!(
        dom.state(),
        Ok((
            Enum::Known(DomainState::Paused),
            Enum::Known(DomainStateReason::Paused(Enum::Known(
                DomainPausedReason::IOError
            ))),
        ))
    )
}

fn wait_for_the_pause(uri: &str) {
    let conn = Connect::open_read_only(Some(uri)).expect("connect to libvirtd");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !paused_on_io_error(&conn) {
        assert!(
            Instant::now() < deadline,
            "{GUEST} not paused on an I/O error after 90 s: {}",
            text(&virsh(uri, &["domstate", "--reason", GUEST]).stdout)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// This guest's object in the LibreNMS document.
fn librenms_vm(uri: &str) -> serde_json::Value {
    let out = run(&["--uri", uri]);
    assert!(out.status.success(), "hv_monitor: {}", stderr(&out));
    let doc = librenms_decode(stdout(&out).trim_end()).expect("LibreNMS decodes it");
    doc["data"]["VMs"][GUEST].clone()
}

fn xymon_print(uri: &str) -> String {
    let out = run(&["xymon", "--print", "--uri", uri, "--host", XYMON_HOST]);
    assert!(out.status.success(), "hv_monitor xymon: {}", stderr(&out));
    stdout(&out)
}

/// A net-snmp snmpd on 127.0.0.1 serving `extend hv-monitor` as tests/snmpd.rs runs it (as
/// Debian-snmp, like Debian's unit), stopped when dropped.
struct Snmpd {
    child: Child,
    _dir: Scratch,
}

impl Snmpd {
    /// Serves a copy of the binary under test (the scratch directory of a root test is not
    /// for other users) running `hv_monitor --uri URI -c`.
    fn start(uri: &str) -> Snmpd {
        let dir = scratch("ioerror-snmpd");
        let binary = dir.join("hv_monitor");
        std::fs::copy(support::binary(), &binary).unwrap();
        let (conf, persist) = (dir.join("conf"), dir.join("persist"));
        for d in [&conf, &persist] {
            std::fs::create_dir(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::write(
            conf.join("snmpd.conf"),
            format!(
                "rocommunity public 127.0.0.1\nextend hv-monitor {} --uri {uri} -c\n",
                binary.display()
            ),
        )
        .unwrap();
        std::fs::write(conf.join("snmp.conf"), "mibs :\n").unwrap();
        let child = Command::new("/usr/sbin/snmpd")
            .env("SNMPCONFPATH", &conf)
            .env("SNMP_PERSISTENT_DIR", &persist)
            .args(["-f", "-Lf"])
            .arg(dir.join("snmpd.log"))
            .args(["-u", "Debian-snmp", "-g", "Debian-snmp"])
            .arg(format!("udp:127.0.0.1:{SNMP_PORT}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("snmpd starts");
        let snmpd = Snmpd { child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !snmpget(".1.3.6.1.2.1.1.3.0", "0.5").status.success() {
            assert!(
                Instant::now() < deadline,
                "snmpd on 127.0.0.1:{SNMP_PORT} did not answer within 10 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        snmpd
    }

    /// The extend's output as LibreNMS polls it (nsExtendOutputFull."hv-monitor").
    fn poll(&self) -> String {
        let mut oid = format!(".1.3.6.1.4.1.8072.1.3.2.3.1.2.{}", "hv-monitor".len());
        for b in "hv-monitor".bytes() {
            oid += &format!(".{b}");
        }
        let out = snmpget(&oid, "20");
        assert!(out.status.success(), "snmpget: {}", stderr(&out));
        librenms_snmp_value(&stdout(&out))
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn snmpget(oid: &str, timeout: &str) -> Output {
    Command::new("snmpget")
        .args([
            "-v2c", "-c", "public", "-On", "-Oqv", "-r", "0", "-t", timeout,
        ])
        .arg(format!("127.0.0.1:{SNMP_PORT}"))
        .arg(oid)
        .output()
        .expect("snmpget runs")
}

fn prerequisites() -> Option<String> {
    let uri = qemu_uri();
    let ok = require(
        "libvirtd with QEMU (tests/lab/libvirt-up.sh)",
        uri.is_some() && support::have("virsh"),
    ) && require(
        "root, to mount a tmpfs and start a guest",
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() } == 0,
    ) && require(
        "xymond (apt-get install xymon rrdtool)",
        xymon::xymon_installed(),
    ) && require(
        "net-snmp's snmpd and snmpget, and the Debian-snmp user (apt-get install snmpd snmp)",
        Path::new("/usr/sbin/snmpd").exists()
            && support::have("snmpget")
            && std::fs::read_to_string("/etc/passwd")
                .is_ok_and(|p| p.lines().any(|l| l.starts_with("Debian-snmp:"))),
    );
    uri.filter(|_| ok)
}

#[test]
fn a_guest_paused_on_a_full_disk_is_red_in_xymon_and_paused_with_its_reason_in_librenms() {
    let Some(uri) = prerequisites() else { return };
    let guest = FullDiskGuest::start(&uri);
    let server = Server::start(XYMON_PORT, &[XYMON_HOST]).expect("Xymon is installed");
    let snmpd = Snmpd::start(&uri);

    let before = librenms_vm(&uri);
    assert_eq!(
        before["status_int"], 1,
        "running before the disk fills: {before}"
    );
    let print = xymon_print(&uri);
    assert!(
        !print.contains(&format!("{GUEST}:")),
        "no finding for the running guest:\n{print}"
    );

    guest.fill_disk2();
    wait_for_the_pause(&uri);

    let print = xymon_print(&uri);
    let first = print.lines().next().unwrap();
    assert!(first.contains(" red "), "{first}");
    assert!(
        print.contains(&format!("&red {GUEST}: paused (I/O error)")),
        "{print}"
    );
    // libvirt's own word on the disk error, as `virsh domblkerror` prints it: "vdb: no space".
    let blkerror = text(&virsh(&uri, &["domblkerror", GUEST]).stdout);
    let (disk, error) = blkerror
        .lines()
        .find_map(|l| l.trim().split_once(": "))
        .unwrap_or_else(|| panic!("no disk error from virsh: {blkerror:?}"));
    assert_eq!(error, "no space", "{blkerror}");
    let disk_finding = format!("&red {GUEST}: disk {disk}: no space");
    assert!(print.contains(&disk_finding), "{print}");

    let vm = librenms_vm(&uri);
    assert_eq!(vm["status_int"], 3, "paused: {vm}");
    assert_eq!(
        vm["state_reason"],
        DomainPausedReason::IOError.to_raw(),
        "libvirt's VIR_DOMAIN_PAUSED_IOERROR: {vm}"
    );
    assert_eq!(vm["state_reason_name"], "ioerror");
    let no_space = i64::from(virt::sys::VIR_DOMAIN_DISK_ERROR_NO_SPACE);
    assert_eq!(vm["disk_errors"], 1, "{vm}");
    assert_eq!(vm["disks"][disk]["error"], no_space, "{vm}");

    // The same through snmpd, decoded as LibreNMS's json_app_get does.
    let doc = librenms_decode(&snmpd.poll()).expect("LibreNMS decodes the extend's output");
    let vm = &doc["data"]["VMs"][GUEST];
    assert_eq!(vm["status_int"], 3, "through snmpd: {vm}");
    assert_eq!(vm["state_reason"], DomainPausedReason::IOError.to_raw());
    assert_eq!(vm["state_reason_name"], "ioerror");
    assert_eq!(vm["disk_errors"], 1, "through snmpd: {vm}");
    assert_eq!(vm["disks"][disk]["error"], no_space, "through snmpd: {vm}");
    drop(snmpd);

    let sent = run(&[
        "xymon",
        "--uri",
        &uri,
        "--host",
        XYMON_HOST,
        "--server",
        &server.addr(),
    ]);
    assert!(sent.status.success(), "hv_monitor xymon: {}", stderr(&sent));
    assert_eq!(server.colour(XYMON_HOST, "hvmon"), "red");
    let page = server.xymon(&format!("xymondlog {XYMON_HOST}.hvmon"));
    let line = page
        .lines()
        .find(|l| l.contains(GUEST) && l.starts_with("&red"))
        .unwrap_or_else(|| panic!("no red line for {GUEST}:\n{page}"));
    assert!(line.contains("I/O error"), "{line}");
    assert!(
        page.lines().any(|l| l == disk_finding),
        "no '{disk_finding}' on the page:\n{page}"
    );
    let tmpfs = guest.tmpfs.path().to_path_buf();
    drop(guest);
    assert!(!mounted(&tmpfs), "the guard unmounts the tmpfs");
    assert!(
        !text(&virsh(&uri, &["list", "--all", "--name"]).stdout).contains(GUEST),
        "the guard removes the guest"
    );
}
