//! What the integration tests (and benches/) share: the binary under test and how to run it,
//! the "fail under CI, skip elsewhere" rule for missing services, scratch directories, the
//! lab's QEMU URI; the binary where other users can run it ([`install`]); waits for the
//! clock to move ([`clock`]); libvirt test-driver nodes ([`node_xml`]), LibreNMS's decoding
//! ([`librenms`]), a private Xymon server ([`xymon`]) and the mass-failure matrix
//! ([`mass_failure`]) and a tmpfs that fills up for real ([`tmpfs`]).
//!
//! A test binary uses `mod support;` (a bench `#[path = "../tests/support/mod.rs"]`).
#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

pub mod clock;
pub mod install;
pub mod librenms;
pub mod mass_failure;
pub mod node_xml;
pub mod stuck_guest;
pub mod tmpfs;
pub mod watch;
pub mod xymon;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

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

/// What xymonlaunch and systemd set that would send a test's run elsewhere: its servers,
/// host name and state directory.
const CALLER_ENV: [&str; 6] = [
    "XYMSRV",
    "XYMSERVERS",
    "XYMONDPORT",
    "MACHINE",
    "XYMONTMP",
    "STATE_DIRECTORY",
];

/// `hv_monitor ARGS` out of reach of the caller's Xymon and systemd variables.
pub fn isolated(args: &[&str]) -> Command {
    isolate(hv_monitor(), args)
}

/// `cmd ARGS` (an hv_monitor, maybe as another user) without [`CALLER_ENV`].
pub fn isolate(mut cmd: Command, args: &[&str]) -> Command {
    cmd.args(args);
    for var in CALLER_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs hv_monitor with `args`, out of reach of the caller's Xymon environment: no Xymon
/// variables, and rates kept in [`state_dir`] when no `--state` is given.
pub fn run(args: &[&str]) -> Output {
    isolated(args)
        .env("STATE_DIRECTORY", state_dir())
        .output()
        .expect("hv_monitor runs")
}

/// `virsh -q -c URI ARGS`, its output.
pub fn virsh(uri: &str, args: &[&str]) -> Output {
    Command::new("virsh")
        .args(["-q", "-c", uri])
        .args(args)
        .output()
        .expect("virsh runs")
}

/// `virsh guestinfo DOMAIN` (what its guest agent says) as field → value.
pub fn guestinfo(uri: &str, domain: &str) -> std::collections::HashMap<String, String> {
    let out = virsh(uri, &["guestinfo", domain]);
    assert!(out.status.success(), "virsh guestinfo: {}", stderr(&out));
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Where runs without `--state` keep their rates: a private directory per test binary under
/// Cargo's scratch directory for tests, emptied on first use in a run, so no test writes the
/// real default (/var/lib/hv-monitor) or leaves anything in /tmp.
pub fn state_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::DirBuilderExt;
        let exe = std::env::current_exe().expect("the test binary's path");
        let name = exe.file_name().expect("a file name").to_string_lossy();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hvmon-state-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .expect("create the state directory");
        dir
    })
}

/// A scratch directory under /tmp for one test, removed with everything in it when the
/// value is dropped (a test's end, pass or fail).
pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

pub fn scratch(name: &str) -> Scratch {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(&format!("hvmon-test-{name}-"))
        .tempdir()
        .expect("create a scratch directory");
    // Readable by the daemons a test starts, as a plain mkdir would be.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Scratch(dir)
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// The test VM's disk read rate in a `hv_monitor xymon --stdout` run's output (the
/// test driver's VM is `test`), if the run sent one.
pub fn read_rate(out: &Output) -> Option<f64> {
    stdout(out)
        .lines()
        .find_map(|l| l.strip_prefix("vm_test_rbytes : "))
        .map(|v| v.parse().unwrap())
}

pub fn stderr(out: &Output) -> String {
    text(&out.stderr)
}

/// Whether something a test needs (`what`, named with how to get it) is `available`: under
/// CI=true a missing one fails the test, elsewhere it is skipped with a loud notice. Returns
/// whether to go on.
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required for this test and missing under CI=true: {what}");
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED: {what} is not available (set CI=true to make this fail) !!!!!!!!\n"
    );
    false
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// The directory of tests/lab/libvirt-up.sh's lab: `HVMON_LAB`, else /tmp/hvmon-lab.
pub fn lab_dir() -> PathBuf {
    PathBuf::from(std::env::var("HVMON_LAB").unwrap_or_else(|_| "/tmp/hvmon-lab".into()))
}

/// The real QEMU connection from tests/lab/libvirt-up.sh: `HVMON_QEMU_URI`, or the env file
/// the harness leaves in its lab directory.
pub fn qemu_uri() -> Option<String> {
    if let Ok(uri) = std::env::var("HVMON_QEMU_URI") {
        return Some(uri);
    }
    let env = std::fs::read_to_string(lab_dir().join("env")).ok()?;
    env.lines()
        .find_map(|l| l.strip_prefix("HVMON_QEMU_URI="))
        .map(str::to_string)
}
