//! A real I/O-error pause, the acceptance test of issue 21: a real Linux guest
//! (tests/lab/linux-guest.sh) whose second disk is a sparse file on a tmpfs smaller than
//! the disk writes past the end of the tmpfs; QEMU stops it and libvirt reports it paused
//! with reason I/O error. hv_monitor must then say so everywhere: red on a real xymond with
//! the VM and "I/O error" named, and in LibreNMS `status_int` 3 (paused) with the reason.
//! The expected reason code comes from the `virt` bindings, never from hv_monitor's code.
//!
//! The guest has a name of its own, so the lab's guests other tests expect are left alone;
//! it is destroyed and undefined, and the tmpfs unmounted, however the test ends.
#![cfg(all(feature = "libvirt", target_os = "linux"))]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::librenms::librenms_decode;
use support::xymon::{self, Server};
use support::{Scratch, qemu_uri, repo, require, run, scratch, stderr, stdout, text};
use virt::connect::Connect;
use virt::domain::{DomainPausedReason, DomainState, DomainStateReason};
use virt::enumutil::{Enum, RawEnum};

const GUEST: &str = "hvmon-ioerror";
const XYMON_PORT: u16 = 19880;
const XYMON_HOST: &str = "hv-ioerror.example.com";
/// The tmpfs the second disk lives on, and the disk: QEMU can write 2 MiB of it at most.
const TMPFS_SIZE: &str = "size=2m";
const DISK2_SIZE: u64 = 32 << 20;
/// What the guest writes onto the second disk: 8 MiB, four times what the tmpfs holds.
const FILL: &str = "dd if=/dev/zero of=/dev/vdb bs=64k count=128 oflag=direct; sync";

fn virsh(uri: &str, args: &[&str]) -> Output {
    Command::new("virsh")
        .args(["-q", "-c", uri])
        .args(args)
        .output()
        .expect("virsh runs")
}

/// The guest with its second disk on a tmpfs of its own; everything undone when dropped.
struct FullDiskGuest {
    uri: String,
    dir: Scratch,
    tmpfs: PathBuf,
}

impl FullDiskGuest {
    fn start(uri: &str) -> FullDiskGuest {
        let dir = scratch("ioerror");
        let tmpfs = dir.join("small");
        std::fs::create_dir(&tmpfs).unwrap();
        let guest = FullDiskGuest {
            uri: uri.to_string(),
            dir,
            tmpfs,
        };
        // A guest of the same name left by a run that was killed before its guard ran.
        guest.stop_guest();
        let mount = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("{TMPFS_SIZE},mode=0755")])
            .arg("hvmon-ioerror")
            .arg(&guest.tmpfs)
            .output()
            .expect("mount runs");
        assert!(mount.status.success(), "mount tmpfs: {}", stderr(&mount));
        let disk2 = guest.tmpfs.join("disk2.raw");
        std::fs::File::create(&disk2)
            .and_then(|f| f.set_len(DISK2_SIZE))
            .unwrap();
        let started = guest
            .lab_script("start")
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

    fn lab_script(&self, action: &str) -> Command {
        let mut cmd = Command::new(repo().join("tests/lab/linux-guest.sh"));
        cmd.arg(action)
            .env("NAME", GUEST)
            .env("GUEST_DIR", &*self.dir)
            .env("HVMON_QEMU_URI", &self.uri);
        cmd
    }

    fn stop_guest(&self) {
        let _ = self.lab_script("stop").output();
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
        // QEMU holds the disk on the tmpfs open: the guest goes first.
        self.stop_guest();
        if mounted(&self.tmpfs) {
            let _ = Command::new("umount").arg(&self.tmpfs).status();
        }
    }
}

fn mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/mounts")
        .is_ok_and(|m| m.contains(&format!(" {} tmpfs ", path.display())))
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
    );
    uri.filter(|_| ok)
}

#[test]
fn a_guest_paused_on_a_full_disk_is_red_in_xymon_and_paused_with_its_reason_in_librenms() {
    let Some(uri) = prerequisites() else { return };
    let guest = FullDiskGuest::start(&uri);
    let server = Server::start(XYMON_PORT, &[XYMON_HOST]).expect("Xymon is installed");

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

    let vm = librenms_vm(&uri);
    assert_eq!(vm["status_int"], 3, "paused: {vm}");
    assert_eq!(
        vm["state_reason"],
        DomainPausedReason::IOError.to_raw(),
        "libvirt's VIR_DOMAIN_PAUSED_IOERROR: {vm}"
    );
    assert_eq!(vm["state_reason_name"], "ioerror");

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
    let tmpfs = guest.tmpfs.clone();
    drop(guest);
    assert!(!mounted(&tmpfs), "the guard unmounts the tmpfs");
    assert!(
        !text(&virsh(&uri, &["list", "--all", "--name"]).stdout).contains(GUEST),
        "the guard removes the guest"
    );
}
