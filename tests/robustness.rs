//! Robustness against a misbehaving host: a stopped or restarted libvirtd, a VM whose QEMU
//! stopped answering, a missing or forbidden socket, a non-root user, and Xymon state files
//! that are missing, damaged, foreign or contended.
//!
//! Every test that stops, restarts or changes the lab (tests/lab/libvirt-up.sh) lives in this
//! one binary, so cargo never runs it beside another test binary, and holds [`lab`] so they
//! never overlap each other. Whatever they stop is continued by a guard's `Drop`, so a failed
//! assertion cannot leave libvirtd or a QEMU stopped. Tests needing the lab fail under CI
//! when it is missing.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::install::Installed;
use support::librenms::librenms_decode;
use support::stuck_guest::StuckGuest;
use support::watch::{PlainGuest, Watcher, wait_until};
use support::{hv_monitor, lab_dir, qemu_uri, read_rate, require, run, stderr, stdout};

static LAB: Mutex<()> = Mutex::new(());

/// Exclusive use of the lab for one test; a test that failed while holding it does not
/// poison the others.
fn lab() -> MutexGuard<'static, ()> {
    LAB.lock().unwrap_or_else(|e| e.into_inner())
}

/// The lab's URI and libvirtd's PID, or `None` after [`require`] said why.
fn lab_or_skip() -> Option<(String, i32)> {
    let pid = std::fs::read_to_string(lab_dir().join("libvirtd.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok());
    match (qemu_uri(), pid) {
        (Some(uri), Some(pid)) if alive(pid) => Some((uri, pid)),
        _ => {
            require(
                "libvirtd and the hvmon-* QEMU guests (tests/lab/libvirt-up.sh)",
                false,
            );
            None
        }
    }
}

fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: kill has no memory effects; a gone process only makes it fail.
    unsafe { libc::kill(pid, sig) };
}

/// The state letter of /proc/PID/stat (R, S, T, Z...); `None` when the process is gone.
fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Running and not a zombie (a zombie's parent may never reap it in a container).
fn alive(pid: i32) -> bool {
    proc_state(pid).is_some_and(|s| s != 'Z')
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < until, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A process stopped with SIGSTOP until this is dropped.
struct Stopped(i32);

impl Stopped {
    fn new(pid: i32) -> Stopped {
        signal(pid, libc::SIGSTOP);
        let stopped = Stopped(pid);
        wait_for("the process to stop", Duration::from_secs(5), || {
            proc_state(pid) == Some('T')
        });
        stopped
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, libc::SIGCONT);
    }
}

fn timed(cmd: &mut Command) -> (Output, Duration) {
    let started = Instant::now();
    let out = cmd.output().expect("hv_monitor runs");
    (out, started.elapsed())
}

fn document(out: &Output) -> Value {
    librenms_decode(stdout(out).trim_end()).expect("LibreNMS decodes the output")
}

// ---------------------------------------------------------------------------------------
// A hung libvirtd

#[test]
fn a_stopped_libvirtd_ends_in_the_error_envelope_before_the_deadline() {
    let _lab = lab();
    let Some((uri, pid)) = lab_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hv.json");
    let snmp = dir.path().join("hv.json.snmp");
    let cache_arg = cache.to_str().unwrap();
    let first = run(&["--uri", &uri, "-w", "-o", cache_arg, "-q"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        (std::fs::read(p).unwrap(), m.modified().unwrap())
    };
    let (json_before, snmp_before) = (before(&cache), before(&snmp));

    let deadline = Duration::from_millis(1500);
    let (out, took) = {
        let _stopped = Stopped::new(pid);
        timed(hv_monitor().args(["--uri", &uri, "-t", "1.5", "-w", "-o", cache_arg]))
    };
    eprintln!("stopped libvirtd: answered in {took:?} (deadline {deadline:?})");
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(took >= deadline, "it waited for the deadline: {took:?}");
    assert!(
        took < deadline + Duration::from_millis(700),
        "answered {took:?} after the start, deadline {deadline:?}"
    );
    let doc = document(&out);
    assert_eq!(doc["error"], 3);
    assert!(
        doc["errorString"].as_str().unwrap().contains("deadline"),
        "{}",
        doc["errorString"]
    );
    assert_eq!(doc["data"], serde_json::json!({}));
    assert_eq!(before(&cache), json_before, "the JSON cache is untouched");
    assert_eq!(before(&snmp), snmp_before, "the .snmp cache is untouched");

    let again = run(&["--uri", &uri, "-c"]);
    assert!(
        again.status.success(),
        "libvirtd serves again once continued"
    );
}

// ---------------------------------------------------------------------------------------
// A VM whose QEMU does not answer its monitor

const STUCK: &str = "hvmon-stuck";

/// Disk I/O keys of a VM and of one of its disks: present, or all left out.
fn has_disk_io(vm: &Value) -> bool {
    let keys = ["rbytes", "rreqs", "rtime", "wbytes", "wreqs", "wtime"];
    let on_vm = keys.iter().filter(|k| vm.get(**k).is_some()).count();
    let on_disk = keys
        .iter()
        .filter(|k| vm["disks"]["vda"].get(**k).is_some())
        .count();
    assert!(
        on_vm == on_disk && (on_vm == 0 || on_vm == keys.len()),
        "all or none: {vm}"
    );
    on_vm > 0
}

#[test]
fn a_vm_whose_qemu_stopped_answering_keeps_its_state_and_loses_only_its_disk_io() {
    let _lab = lab();
    let Some((uri, _)) = lab_or_skip() else {
        return;
    };
    let guest = StuckGuest::start(&uri, STUCK);
    let collect = |deadline: &str| timed(hv_monitor().args(["--uri", &uri, "-t", deadline, "-c"]));
    let (out, _) = collect("5");
    assert!(out.status.success(), "{}", stderr(&out));
    let vm = &document(&out)["data"]["VMs"][STUCK];
    assert!(has_disk_io(vm), "{vm}");
    assert_eq!(vm["stats_incomplete"], 0);

    let stopped = Stopped::new(guest.qemu);
    // The first query takes the VM's free job lock and never hears back from QEMU; the
    // collector gives up on that call at half the time and asks again without waiting.
    // -t 6: on a loaded machine the retry of -t 3 (650 ms) was missed too, and the run with it.
    let (first, took_first) = collect("6");
    eprintln!("stuck VM, first run: {took_first:?}\n{}", stderr(&first));
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(took_first < Duration::from_secs(6), "{took_first:?}");
    // The later runs find the lock held: NOWAIT answers at once.
    let (later, took_later) = collect("6");
    eprintln!("stuck VM, later run: {took_later:?}\n{}", stderr(&later));
    assert!(later.status.success(), "{}", stderr(&later));
    assert!(
        !stderr(&later).contains("gave no answer"),
        "no call had to be given up on: {}",
        stderr(&later)
    );
    // In time; no retry (above) is what shows NOWAIT answered at once, as a bound tighter
    // than the deadline would only measure how loaded the machine is.
    assert!(took_later < Duration::from_secs(6), "{took_later:?}");
    for out in [&first, &later] {
        let doc = document(out);
        let vm = &doc["data"]["VMs"][STUCK];
        assert_eq!(vm["status_int"], 1, "still running: {vm}");
        assert!(!has_disk_io(vm), "unknown, not 0: {vm}");
        assert_eq!(vm["stats_incomplete"], 1, "the per-VM marker: {vm}");
        assert!(
            vm["rss"].as_u64().unwrap() > 0,
            "process figures from /proc"
        );
        assert!(
            stderr(out).contains(&format!("VM '{STUCK}' is busy")),
            "{}",
            stderr(out)
        );
        let healthy = &doc["data"]["VMs"]["hvmon-running"];
        assert!(has_disk_io(healthy), "other VMs keep theirs: {healthy}");
    }

    drop(stopped);
    // Continued, QEMU answers the query that held the lock; the VM's counters come back.
    wait_for(
        "the continued VM's disk I/O",
        Duration::from_secs(10),
        || {
            let (out, _) = collect("5");
            out.status.success() && has_disk_io(&document(&out)["data"]["VMs"][STUCK])
        },
    );
}

// ---------------------------------------------------------------------------------------
// libvirtd going away and coming back

/// libvirtd stopped by SIGTERM (as tests/lab/libvirt-down.sh does). [`LibvirtdDown::start`]
/// starts it again exactly as tests/lab/libvirt-up.sh does and records the new PID where
/// libvirt-down.sh looks for it; dropping this starts it if the test did not, and then waits
/// until it answers promptly again, so the lab is whole for the next test even after a failed
/// assertion.
struct LibvirtdDown {
    uri: String,
    started: bool,
}

impl LibvirtdDown {
    fn stop(pid: i32, uri: &str) -> LibvirtdDown {
        signal(pid, libc::SIGTERM);
        let down = LibvirtdDown {
            uri: uri.to_string(),
            started: false,
        };
        let until = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(pid) {
            signal(pid, libc::SIGKILL);
            wait_for("libvirtd to die", Duration::from_secs(5), || !alive(pid));
        }
        down
    }

    /// Starts libvirtd and returns once its socket accepts connections. It may not answer
    /// yet: it first reconnects to every running QEMU (/work/shared/spec/libvirt.md,
    /// "libvirtd restarting"; 0.1-8 s with the lab's 23 guests).
    fn start(&mut self) {
        self.started = true;
        // The same command line as libvirt-up.sh, started by a shell that exits at once so
        // the daemon outlives this test binary. Descriptors the test runner inherited (a
        // `flock` around `cargo test`) are closed first: the daemon would hold them for good.
        let started = Command::new("sh")
            .arg("-c")
            .arg(
                "for fd in 3 4 5 6 7 8 9; do eval \"exec $fd>&-\"; done; \
                 nohup /usr/sbin/libvirtd -f \"$0/libvirtd.conf\" >> \"$0/logs/libvirtd.out\" 2>&1 & \
                 echo $! > \"$0/libvirtd.pid\"",
            )
            .arg(lab_dir())
            .stdin(Stdio::null())
            // Its own process group: a Ctrl-C meant for the tests must not reach libvirtd.
            .process_group(0)
            .status()
            .expect("sh runs");
        assert!(started.success(), "libvirtd did not start");
        wait_for("libvirtd's socket", Duration::from_secs(10), || {
            std::os::unix::net::UnixStream::connect("/run/libvirt/libvirt-sock-ro").is_ok()
        });
    }
}

impl Drop for LibvirtdDown {
    fn drop(&mut self) {
        if !self.started {
            self.start();
        }
        if let Err(why) = libvirtd_answers_promptly(&self.uri) {
            // A second panic while unwinding would abort the whole test binary.
            if std::thread::panicking() {
                eprintln!("{why}");
            } else {
                panic!("{why}");
            }
        }
    }
}

/// How long libvirtd may take to reconnect to its guests after a restart before the lab
/// counts as broken: several times the 8 s measured on a loaded machine.
const RECONNECT_LIMIT: Duration = Duration::from_secs(60);

/// Waits until libvirtd at `uri` answers the call a run makes that it is slowest to answer
/// while reconnecting (`virsh domstats`, every guest, every group) in under a second, which it
/// only does once it holds every QEMU monitor again; at most [`RECONNECT_LIMIT`]. Each call is
/// bounded too (`timeout`), so a libvirtd that never answers ends the wait at the limit.
fn libvirtd_answers_promptly(uri: &str) -> Result<(), String> {
    let prompt = Duration::from_secs(1);
    let until = Instant::now() + RECONNECT_LIMIT;
    loop {
        let started = Instant::now();
        let out = Command::new("timeout")
            .args(["20", "virsh", "-c", uri, "domstats"])
            .output()
            .expect("run timeout virsh");
        let took = started.elapsed();
        if out.status.success() && took < prompt {
            return Ok(());
        }
        let last = format!(
            "virsh domstats: {} after {took:?}: {}",
            out.status,
            support::text(&out.stderr).trim()
        );
        if Instant::now() >= until {
            return Err(format!(
                "libvirtd at {uri} did not answer within {prompt:?} at any time in the \
                 {RECONNECT_LIMIT:?} after its restart; last: {last}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops libvirtd, checks that a run names the missing socket at once, and returns the guard
/// that starts it again.
fn stop_libvirtd_and_expect_the_missing_socket(pid: i32, uri: &str) -> LibvirtdDown {
    let down = LibvirtdDown::stop(pid, uri);
    let (out, took) = timed(hv_monitor().args(["--uri", uri]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        took < Duration::from_secs(2),
        "no wait for a missing socket"
    );
    let doc = document(&out);
    assert_eq!(doc["error"], 1);
    let error = doc["errorString"].as_str().unwrap();
    assert!(
        error.contains("libvirt-sock-ro") && error.contains("No such file"),
        "{error}"
    );
    down
}

#[test]
fn libvirtd_down_is_a_clear_error_and_the_run_after_its_restart_works() {
    let _lab = lab();
    let Some((uri, pid)) = lab_or_skip() else {
        return;
    };
    let down = stop_libvirtd_and_expect_the_missing_socket(pid, &uri);
    let started = Instant::now();
    // Started, and waited for until it answers: how long it takes is libvirtd's business.
    drop(down);
    eprintln!(
        "libvirtd restarted and answering in {:?}",
        started.elapsed()
    );
    let after = run(&["--uri", &uri]);
    assert!(after.status.success(), "{}", stderr(&after));
    let vms = &document(&after)["data"]["VMs"];
    assert_eq!(
        vms["hvmon-running"]["status_int"], 1,
        "guests outlive libvirtd"
    );
    assert!(has_disk_io(&vms["hvmon-running"]));
    assert_eq!(vms["hvmon-paused"]["status_int"], 3);
}

#[test]
fn a_run_while_libvirtd_reconnects_after_a_restart_answers_by_its_deadline() {
    let _lab = lab();
    let Some((uri, pid)) = lab_or_skip() else {
        return;
    };
    let mut down = stop_libvirtd_and_expect_the_missing_socket(pid, &uri);
    down.start();
    // At once, while libvirtd is likely still reconnecting: whether it answers in time is
    // up to libvirtd, but the run must end by its deadline either way, with a whole document
    // or the deadline's error envelope.
    let deadline = Duration::from_millis(1500);
    let (out, took) = timed(hv_monitor().args(["--uri", &uri, "-t", "1.5"]));
    eprintln!(
        "run while libvirtd reconnects: exit {:?} in {took:?} (deadline {deadline:?})",
        out.status.code()
    );
    assert!(
        took < deadline + Duration::from_millis(1000),
        "answered {took:?} after the start, deadline {deadline:?}: {}",
        stderr(&out)
    );
    let doc = document(&out);
    match out.status.code() {
        Some(0) => {
            let vms = &doc["data"]["VMs"];
            assert_eq!(vms["hvmon-running"]["status_int"], 1, "{doc}");
            assert_eq!(vms["hvmon-paused"]["status_int"], 3, "{doc}");
        }
        Some(5) => {
            assert_eq!(doc["error"], 3, "{doc}");
            assert!(
                doc["errorString"].as_str().unwrap().contains("deadline"),
                "{doc}"
            );
            assert_eq!(doc["data"], serde_json::json!({}));
        }
        other => panic!("exit {other:?}, neither a document nor the deadline: {doc}"),
    }
    drop(down);
    let after = run(&["--uri", &uri]);
    assert!(after.status.success(), "{}", stderr(&after));
}

#[test]
fn a_watcher_reports_a_lost_libvirtd_and_follows_events_again_after_its_restart() {
    let _lab = lab();
    let Some((uri, pid)) = lab_or_skip() else {
        return;
    };
    let dir = support::scratch("watch-restart");
    let guest = PlainGuest::new(&uri, "hvmon-watch-restart");
    guest.define(&dir);
    guest.virsh(&["start"]);
    let watcher = Watcher::printing(&uri, guest.name, "600", &[], &dir);
    let soon = Duration::from_secs(20);
    wait_until("the first status", soon, || {
        watcher.last_colour().as_deref() == Some("green")
    });

    let cpu_before = watcher.cpu_time();
    let outage = Instant::now();
    let down = LibvirtdDown::stop(pid, &uri);
    watcher.wait_for_stderr("libvirt's event connection is lost", soon);
    // Reported at once, as a one-shot run reports it.
    wait_until("the red status of the outage", soon, || {
        watcher.last_colour().as_deref() == Some("red")
            && watcher
                .last_status()
                .is_some_and(|s| s.contains("could not collect VM figures"))
    });
    // Two attempts to connect again have failed, the second pause twice the first: it
    // waits, it does not spin.
    watcher.wait_for_stderr("no libvirt events", soon);
    watcher.wait_for_stderr("next try in 2 s", soon);
    let spent = watcher.cpu_time() - cpu_before;
    let lasted = outage.elapsed();
    assert!(
        spent < lasted / 4,
        "{spent:?} of CPU in {lasted:?} without libvirtd"
    );

    drop(down);
    // The pause between attempts is at most 60 s; libvirtd answers again by now.
    watcher.wait_for_stderr(
        "libvirt's event connection is back",
        Duration::from_secs(90),
    );
    wait_until("green again after the restart", soon, || {
        watcher.last_colour().as_deref() == Some("green")
    });
    // Events come again: the callbacks are registered on the new connection.
    guest.virsh(&["suspend"]);
    wait_until("the pause after the restart", soon, || {
        watcher.last_status().is_some_and(|s| {
            s.lines()
                .any(|l| l.starts_with(guest.name) && l.contains("paused"))
        })
    });
    let mut watcher = watcher;
    assert_eq!(
        watcher.end_with(libc::SIGTERM),
        Some(0),
        "{}",
        watcher.stderr()
    );
}

#[test]
fn a_watcher_notices_a_hung_libvirtd_by_its_keepalive_and_reconnects_when_it_answers() {
    let _lab = lab();
    let Some((uri, pid)) = lab_or_skip() else {
        return;
    };
    let dir = support::scratch("watch-hung");
    let mut watcher = Watcher::printing(&uri, "hvmon-running", "600", &["-t", "2"], &dir);
    let soon = Duration::from_secs(20);
    wait_until("the first status", soon, || {
        watcher.last_colour().as_deref() == Some("green")
    });
    {
        let _stopped = Stopped::new(pid);
        // The socket stays open: only the keepalive (a probe after 5 s of silence, 3 missed)
        // can tell; about 20 s.
        watcher.wait_for_stderr(
            "libvirtd stopped answering keepalives",
            Duration::from_secs(60),
        );
        wait_until("the red status of the hang", soon, || {
            watcher.last_colour().as_deref() == Some("red")
        });
    }
    watcher.wait_for_stderr(
        "libvirt's event connection is back",
        Duration::from_secs(90),
    );
    wait_until("green again", soon, || {
        watcher.last_colour().as_deref() == Some("green")
    });
    assert_eq!(
        watcher.end_with(libc::SIGTERM),
        Some(0),
        "{}",
        watcher.stderr()
    );
}

#[test]
fn a_missing_socket_is_named_in_the_error() {
    let uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock";
    let out = run(&["--uri", uri]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let doc = document(&out);
    assert_eq!(doc["error"], 1);
    let error = doc["errorString"].as_str().unwrap();
    assert!(
        error.contains("'/nonexistent/libvirt-sock'") && error.contains("No such file"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------
// A non-root user

/// `hv_monitor` as user `nobody`, from a copy it may execute wherever the build lives.
struct AsNobody {
    installed: Installed,
    uid: u32,
    gid: u32,
}

impl AsNobody {
    fn new() -> AsNobody {
        // SAFETY: getpwnam returns NULL or a pointer into static storage, read at once.
        let (uid, gid) = unsafe {
            let pw = libc::getpwnam(c"nobody".as_ptr());
            assert!(!pw.is_null(), "user nobody exists");
            ((*pw).pw_uid, (*pw).pw_gid)
        };
        AsNobody {
            installed: Installed::for_user("nobody"),
            uid,
            gid,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.installed
            .command()
            .args(args)
            .uid(self.uid)
            .gid(self.gid)
            .env("HOME", "/nonexistent")
            .output()
            .expect("hv_monitor runs as nobody")
    }
}

#[test]
fn a_socket_the_user_may_not_open_is_a_clear_error() {
    let _lab = lab();
    if lab_or_skip().is_none() {
        return;
    }
    // libvirtd's admin socket is root's alone (0700).
    let socket = "/run/libvirt/libvirt-admin-sock";
    let out = AsNobody::new().run(&["--uri", &format!("qemu+unix:///system?socket={socket}")]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let error = document(&out)["errorString"].as_str().unwrap().to_string();
    assert!(
        error.contains(socket) && error.contains("Permission denied"),
        "{error}"
    );
}

/// Restores a path's mode when dropped.
struct ModeRestored {
    path: PathBuf,
    mode: u32,
}

impl ModeRestored {
    fn set(path: &Path, mode: u32) -> ModeRestored {
        let old = std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
        let restore = ModeRestored {
            path: path.to_path_buf(),
            mode: old,
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        restore
    }
}

impl Drop for ModeRestored {
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(self.mode));
    }
}

#[test]
fn a_non_root_user_on_the_read_only_socket_gets_what_root_gets() {
    let _lab = lab();
    let Some((uri, _)) = lab_or_skip() else {
        return;
    };
    let nobody = AsNobody::new();
    let as_root = run(&["--uri", &uri]);
    let as_nobody = nobody.run(&["--uri", &uri]);
    assert!(as_nobody.status.success(), "{}", stderr(&as_nobody));
    let (root_vms, user_vms) = (
        document(&as_root)["data"]["VMs"].clone(),
        document(&as_nobody)["data"]["VMs"].clone(),
    );
    for name in ["hvmon-running", "hvmon-paused", "hvmon-off"] {
        let keys = |v: &Value| {
            let mut k: Vec<String> = v[name].as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&user_vms), keys(&root_vms), "{name}: the same keys");
        assert_eq!(user_vms[name]["status_int"], root_vms[name]["status_int"]);
    }
    // The QEMU PID files (0644) and /proc/PID/stat and status (0444) are open to all.
    let running = &user_vms["hvmon-running"];
    assert!(running["rss"].as_u64().unwrap() > 0, "{running}");
    assert!(running["usertime"].as_f64().unwrap() > 0.0, "{running}");
    assert!(has_disk_io(running), "stats come from libvirtd: {running}");

    // Where the distribution keeps the PID files private, only the process figures go,
    // with a warning naming the file.
    let private = ModeRestored::set(Path::new("/run/libvirt/qemu"), 0o700);
    let out = nobody.run(&["--uri", &uri]);
    drop(private);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("/run/libvirt/qemu/hvmon-running.pid") && err.contains("Permission denied"),
        "{err}"
    );
    let doc = document(&out);
    let running = &doc["data"]["VMs"]["hvmon-running"];
    assert_eq!(running["status_int"], 1);
    assert!(has_disk_io(running), "{running}");
    assert_eq!(
        running["rss"].as_u64().unwrap_or(0),
        0,
        "no process figures"
    );
}

// ---------------------------------------------------------------------------------------
// The Xymon rate state file (libvirt's embedded test driver: no daemon, and its counters
// grow with the clock, so every run after the first has rates)

fn xymon_print(state: &Path) -> Output {
    run(&[
        "xymon",
        "--print",
        "--uri",
        "test:///default",
        "--host",
        "hv.example.com",
        "--state",
        state.to_str().unwrap(),
    ])
}

/// The test domain's read rate, when the run sent one.
/// The test driver's disk counters grow by 50,000 bytes a second; a rate from a mismatched
/// pair of samples would be far off.
fn assert_plausible(rate: f64) {
    assert!((25_000.0..100_000.0).contains(&rate), "read rate {rate}");
}

/// A state the next run can take rates from, with the version it was written by: 2 since
/// the counters include the guest's vCPU time and steal.
fn assert_state_is_ours(state: &Path) {
    let json: Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    assert_eq!(json["version"], 2, "{json}");
    assert!(json["vms"]["test"].is_object(), "{json}");
}

/// The next sample is at a later millisecond than the last: a time base for its rates.
fn tick() {
    support::clock::next_sample_time();
}

#[test]
fn a_missing_state_file_is_a_first_run_and_the_next_run_has_rates() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    let first = xymon_print(&state);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(read_rate(&first), None);
    assert!(
        stdout(&first).contains("vm_test_vcpus : "),
        "gauges still go"
    );
    assert_state_is_ours(&state);
    tick();
    let second = xymon_print(&state);
    assert_plausible(read_rate(&second).expect("a rate"));
}

#[test]
fn damaged_or_foreign_state_files_give_no_rates_and_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    xymon_print(&state);
    let good = std::fs::read_to_string(&state).unwrap();
    let cut_short = good[..good.len() / 2].to_string();
    // The version before this one: its counters had no vCPU pair.
    let other_version = good.replace("\"version\":2", "\"version\":1");
    let future = {
        let mut v: Value = serde_json::from_str(&good).unwrap();
        v["taken_at_ms"] = Value::from(v["taken_at_ms"].as_u64().unwrap() + 3_600_000);
        v.to_string()
    };
    let cases: [(&str, &[u8], &str); 5] = [
        ("cut short", cut_short.as_bytes(), "ignoring state file"),
        ("another version", other_version.as_bytes(), "version 1"),
        ("not UTF-8", b"\xff\xfe\x00garbage", "(not UTF-8)"),
        ("empty", b"", "ignoring state file"),
        // Well formed but from a clock that went back: no rate over a negative interval.
        ("from the future", future.as_bytes(), ""),
    ];
    for (case, contents, warning) in cases {
        std::fs::write(&state, contents).unwrap();
        tick();
        let out = xymon_print(&state);
        assert!(out.status.success(), "{case}: {}", stderr(&out));
        assert_eq!(read_rate(&out), None, "{case}: no rate");
        assert!(stderr(&out).contains(warning), "{case}: {}", stderr(&out));
        assert_state_is_ours(&state);
        tick();
        let next = xymon_print(&state);
        assert_plausible(read_rate(&next).unwrap_or_else(|| panic!("{case}: rates resume")));
    }
}

#[test]
fn a_run_that_cannot_get_the_state_lock_sends_gauges_without_rates() {
    use std::os::unix::io::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    xymon_print(&state);
    let kept = std::fs::read(&state).unwrap();
    // Another run, as far as the lock can tell.
    let lock = std::fs::File::create(dir.path().join("s.json.lock")).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    tick();
    let (out, took) = timed(hv_monitor().args([
        "xymon",
        "--print",
        "--uri",
        "test:///default",
        "--host",
        "hv.example.com",
        "--state",
        state.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another hv_monitor run is using state file"),
        "{}",
        stderr(&out)
    );
    assert!(
        took < Duration::from_secs(3),
        "a short wait, not forever: {took:?}"
    );
    assert_eq!(read_rate(&out), None);
    assert!(stdout(&out).contains("vm_test_vcpus : "), "gauges still go");
    assert_eq!(
        std::fs::read(&state).unwrap(),
        kept,
        "left to the lock holder"
    );

    drop(lock);
    let free = xymon_print(&state);
    assert_plausible(read_rate(&free).expect("rates once the lock is free"));
}

#[test]
fn runs_at_once_on_one_state_file_never_send_a_wrong_rate() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.json");
    xymon_print(&state);
    tick();
    let runs: Vec<_> = (0..6)
        .map(|_| {
            hv_monitor()
                .args([
                    "xymon",
                    "--print",
                    "--uri",
                    "test:///default",
                    "--host",
                    "hv.example.com",
                    "--state",
                    state.to_str().unwrap(),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut with_rates = 0;
    for child in runs {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        match read_rate(&out) {
            Some(rate) => {
                assert_plausible(rate);
                with_rates += 1;
            }
            None => assert!(
                stderr(&out).contains("another hv_monitor run"),
                "no rate only when the lock was busy: {}",
                stderr(&out)
            ),
        }
    }
    assert!(with_rates > 0);
    assert_state_is_ours(&state);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "s.json" && n != "s.json.lock")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
