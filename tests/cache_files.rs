//! The `-w` cache pair (`OUTPUT` and `OUTPUT.snmp`) is replaced as a pair: a disk that fills
//! up while the `.snmp` file is written (a small tmpfs mounted here) and a SIGKILL in the
//! write window (delivered by strace's fault injection at a chosen system call, so the moment
//! is exact) leave both old files, and the next run removes what the killed one left. `-w -q`
//! still prints warnings on stderr (cron mails them). Mounting needs root (CI runs as root).

mod support;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::librenms::librenms_decode;
use support::{have, hv_monitor, node_xml, require, stderr};

/// The old files: a host with 3 VMs. The new ones: a host with `BIG` VMs, whose `.snmp`
/// file alone takes several pages.
const SMALL: usize = 3;
const BIG: usize = 250;
/// A deadline no busy CI machine reaches: these tests are about files, not time.
const DEADLINE: &str = "120";

struct Hosts {
    _dir: tempfile::TempDir,
    small: String,
    big: String,
}

fn hosts() -> Hosts {
    let dir = tempfile::tempdir().unwrap();
    let small = node_xml::write_mixed(SMALL, &dir.path().join("small.xml"));
    let big = node_xml::write_mixed(BIG, &dir.path().join("big.xml"));
    Hosts {
        _dir: dir,
        small,
        big,
    }
}

fn write_cache(uri: &str, output: &Path) -> std::process::Output {
    hv_monitor()
        .args(["--uri", uri, "-t", DEADLINE, "-w", "-q", "-o"])
        .arg(output)
        .output()
        .unwrap()
}

fn snmp(output: &Path) -> PathBuf {
    PathBuf::from(format!("{}.snmp", output.display()))
}

/// Both files, read.
fn pair(output: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(output).unwrap(),
        std::fs::read(snmp(output)).unwrap(),
    )
}

/// How many VMs each file of the pair holds, as LibreNMS decodes it.
fn vm_counts(output: &Path) -> (usize, usize) {
    let (json, snmp) = pair(output);
    let count = |bytes: &[u8]| {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        librenms_decode(text.trim_end()).unwrap()["data"]["VMs"]
            .as_object()
            .unwrap()
            .len()
    };
    (count(&json), count(&snmp))
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn is_root() -> bool {
    require(
        "root (to mount a tmpfs)",
        hv_monitor::safe_file::euid() == 0,
    )
}

/// A tmpfs of `size` mounted on a fresh directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "mount: {}", stderr(&out));
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Free blocks and their size.
    fn free(&self) -> (u64, u64) {
        let c = std::ffi::CString::new(self.path().to_str().unwrap()).unwrap();
        // SAFETY: a valid path and a zeroed struct statvfs fills.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
        (s.f_bavail as u64, s.f_bsize as u64)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_while_writing_the_snmp_file_keeps_both_old_files() {
    if !is_root() {
        return;
    }
    let hosts = hosts();
    // The sizes of the new pair, written where there is room.
    let roomy = tempfile::tempdir().unwrap();
    let probe = roomy.path().join("hv.json");
    assert!(write_cache(&hosts.big, &probe).status.success());
    let (json_len, snmp_len) = (
        std::fs::metadata(&probe).unwrap().len(),
        std::fs::metadata(snmp(&probe)).unwrap().len(),
    );

    let fs = Tmpfs::mount("4m");
    let output = fs.path().join("hv_monitor.json");
    let out = write_cache(&hosts.small, &output);
    assert!(out.status.success(), "{}", stderr(&out));
    let old = pair(&output);

    // Room for the new JSON file (and a page to spare), not for the .snmp file as well.
    let (free, block) = fs.free();
    let pages = |bytes: u64| bytes.div_ceil(block);
    assert!(pages(snmp_len) >= 3, "the .snmp file needs several pages");
    let keep_free = pages(json_len) + 1;
    let filler = fs.path().join("filler");
    std::fs::write(&filler, vec![1u8; ((free - keep_free) * block) as usize]).unwrap();

    let out = write_cache(&hosts.big, &output);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains(&format!("cannot write '{}'", snmp(&output).display()))
            && err.contains("No space left on device"),
        "names the target: {err}"
    );
    assert!(!err.contains(".tmp."), "never the temporary file: {err}");
    assert!(pair(&output) == old, "both old files kept");
    assert_eq!(
        names(fs.path()),
        ["filler", "hv_monitor.json", "hv_monitor.json.snmp"]
    );

    std::fs::remove_file(&filler).unwrap();
    let out = write_cache(&hosts.big, &output);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        vm_counts(&output),
        (BIG, BIG),
        "both new once there is room"
    );
}

/// Runs the big host's `-w -q` under strace, SIGKILLed on entering the `nth` of `calls`.
fn killed_at(calls: &str, nth: u32, uri: &str, output: &Path) -> std::process::Output {
    Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e"])
        .arg(format!("trace={calls}"))
        .arg("-e")
        .arg(format!("inject={calls}:signal=KILL:when={nth}"))
        .arg(env!("CARGO_BIN_EXE_hv_monitor"))
        .args(["--uri", uri, "-t", DEADLINE, "-w", "-q", "-o"])
        .arg(output)
        .output()
        .unwrap()
}

#[test]
fn a_kill_in_the_write_window_keeps_both_old_files_and_the_next_run_cleans_up() {
    if !require("strace (apt-get install strace)", have("strace")) {
        return;
    }
    let hosts = hosts();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("hv_monitor.json");
    // Each temporary file is fsynced once written in full, then both are renamed: killed at
    // the first fsync the JSON file is written, at the second both are, at the first rename
    // none is in place yet.
    let moments = [
        ("fsync", 1, "the new JSON written"),
        ("fsync", 2, "both new files written"),
        ("rename,renameat,renameat2", 1, "the first rename"),
    ];
    for (calls, nth, moment) in moments {
        let out = write_cache(&hosts.small, &output);
        assert!(out.status.success(), "{}", stderr(&out));
        let old = pair(&output);

        let out = killed_at(calls, nth, &hosts.big, &output);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGKILL),
            "{moment}: killed ({:?}): {}",
            out.status,
            stderr(&out)
        );
        assert!(pair(&output) == old, "{moment}: both old files kept");
        let left = names(dir.path());
        let temps: Vec<&String> = left.iter().filter(|n| n.contains(".tmp.")).collect();
        let expected = if nth == 1 && calls == "fsync" { 1 } else { 2 };
        assert_eq!(
            temps.len(),
            expected,
            "{moment}: the killed run's files: {left:?}"
        );

        let out = write_cache(&hosts.big, &output);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(vm_counts(&output), (BIG, BIG), "{moment}: both new");
        assert_eq!(
            names(dir.path()),
            ["hv_monitor.json", "hv_monitor.json.snmp"],
            "{moment}: the next run removed what the killed one left"
        );
    }
}

#[test]
fn quiet_writes_still_warn_on_stderr_about_the_size() {
    // Over what one UDP reply carries even without the device maps, and over what snmpd
    // passes at all with them (librenms/README.md, Large hosts).
    let dir = tempfile::tempdir().unwrap();
    let uri = node_xml::write_mixed(1600, &dir.path().join("node.xml"));
    let output = dir.path().join("hv_monitor.json");
    let quiet = |extra: &[&str]| {
        hv_monitor()
            .args(["--uri", &uri, "-t", DEADLINE, "-w", "-q", "-o"])
            .arg(&output)
            .args(extra)
            .output()
            .unwrap()
    };

    let out = quiet(&[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(out.stdout.is_empty(), "-q: nothing on stdout");
    assert!(
        err.contains("warning: the -c output for 1600 VMs is")
            && err.contains("LibreNMS cannot read it: try --no-devices"),
        "{err}"
    );

    let out = quiet(&["--no-devices"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: the -c output for 1600 VMs is")
            && err.contains("over UDP one SNMP reply carries"),
        "{err}"
    );
    assert!(!err.contains("--no-devices"), "already given: {err}");

    // One pipe for stdout and stderr: under cron (-w) the warning is mailed on it; under
    // snmpd (the direct mode, no -w) nothing but the document may reach the pipe.
    let one_pipe = |args: &[&str]| {
        Command::new("sh")
            .args(["-c", "exec \"$0\" \"$@\" 2>&1"])
            .arg(env!("CARGO_BIN_EXE_hv_monitor"))
            .args(["--uri", &uri, "-t", DEADLINE])
            .args(args)
            .output()
            .unwrap()
    };
    let out = one_pipe(&["-w", "-q", "-o", output.to_str().unwrap()]);
    assert!(out.status.success());
    let mailed = String::from_utf8_lossy(&out.stdout);
    assert!(
        mailed.contains("warning: the -c output for 1600 VMs is"),
        "{mailed}"
    );
    let out = one_pipe(&["-c"]);
    assert!(out.status.success());
    let served = String::from_utf8_lossy(&out.stdout);
    assert!(
        !served.contains("warning") && served.trim().lines().count() == 1,
        "only the -c line: {served}"
    );
}
