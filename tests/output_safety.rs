//! Where hv_monitor's output goes when that place is unlucky: stdout on a full disk, a reader
//! that went away or stopped reading, stderr sharing cron's pipe or unwritable, a state path
//! that is a device, a FIFO or a directory, a cache pair whose second file cannot be
//! replaced, a state lock that overlaps a slow send, `TZ` naming a FIFO, a state directory
//! anyone can write. Every run must end in time, say what failed, exit with the documented
//! code, and leave what is not its own as it was.

mod support;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{node_xml, require, scratch, text};

/// Far longer than any of these runs takes; a run still going then is hung.
const HANG: Duration = Duration::from_secs(30);

/// hv_monitor out of reach of the caller's Xymon environment and time zone.
fn hv(args: &[&str]) -> Command {
    let mut cmd = support::isolated(args);
    cmd.env_remove("TZ").stdin(Stdio::null());
    cmd
}

/// Waits for `child` at most `limit`; kills it and fails the test when it is still running.
fn wait_bounded(
    child: &mut Child,
    limit: Duration,
    what: &str,
) -> (std::process::ExitStatus, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` with stdout and stderr read to their ends; fails when it runs past [`HANG`].
fn bounded(cmd: &mut Command) -> Output {
    bounded_to(cmd.stdout(Stdio::piped()))
}

/// Like [`bounded`], with the stdout `cmd` was given (empty in the result unless piped).
fn bounded_to(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hv_monitor");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let (status, _) = wait_bounded(&mut child, HANG, &format!("{cmd:?}"));
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// A private null device (1:3) at `path`; `false` (after `require`) when not root.
fn null_device(path: &Path) -> bool {
    if !require(
        "root, to mknod a device node",
        hv_monitor::safe_file::euid() == 0,
    ) {
        return false;
    }
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; makedev builds the number.
    let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(made, 0, "mknod {}", path.display());
    true
}

fn is_char_device(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

/// A test-driver node of `count` VMs in `dir`: output far larger than a pipe holds.
fn many_vms(dir: &Path, count: usize) -> String {
    node_xml::write_mixed(count, &dir.join("node.xml"))
}

#[test]
fn cron_sees_a_write_error_on_its_one_pipe_for_stdout_and_stderr() {
    let dir = scratch("cron-pipe");
    let output = dir.join("no-such-dir/hv_monitor.json");
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut child = hv(&["--uri", "test:///default", "-w", "-q", "-o"])
        .arg(&output)
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    let (status, _) = wait_bounded(&mut child, HANG, "hv_monitor -w -q");
    drop(child);
    let mut seen = String::new();
    reader.read_to_string(&mut seen).unwrap();
    assert_eq!(status.code(), Some(6), "{seen}");
    assert!(
        seen.contains(&format!("cannot write '{}'", output.display())),
        "the error reaches cron's pipe: {seen:?}"
    );
}

#[test]
fn snmpd_still_gets_only_the_document_on_its_one_pipe() {
    // Without -w the snmpd rule holds: a warning would corrupt the document LibreNMS decodes.
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut child = hv(&["-c", "--uri", "test:///nonexistent"])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    wait_bounded(&mut child, HANG, "hv_monitor -c");
    drop(child);
    let mut seen = String::new();
    reader.read_to_string(&mut seen).unwrap();
    assert_eq!(seen.lines().count(), 1, "{seen:?}");
    assert!(!seen.contains("hv_monitor:"), "{seen:?}");
}

#[test]
fn a_state_path_that_is_a_device_or_fifo_is_refused_and_left_alone() {
    let dir = scratch("state-device");
    let device = dir.join("null");
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let mut cases = vec![(fifo.clone(), "a FIFO, not a regular file")];
    if null_device(&device) {
        cases.push((device.clone(), "a character device, not a regular file"));
    }
    for (state, reason) in cases {
        let out =
            bounded(hv(&["xymon", "--uri", "test:///default", "--print", "--state"]).arg(&state));
        let (stdout, err) = (text(&out.stdout), text(&out.stderr));
        let refused = format!("state file '{}' refused: {reason}", state.display());
        assert_eq!(out.status.code(), Some(8), "{err}");
        assert!(err.contains(&refused), "{err}");
        assert!(err.contains("leaves it alone"), "{err}");
        assert!(stdout.starts_with("status+11 vm.hvmon yellow "), "{stdout}");
        assert!(
            stdout.contains("keeps no rates") && stdout.contains(&refused),
            "{stdout}"
        );
        assert!(!stdout.contains("vm_test_rbytes"), "no rates: {stdout}");
        let mut lock = state.clone().into_os_string();
        lock.push(".lock");
        assert!(
            !Path::new(&lock).exists(),
            "no lock made beside it (/dev/null.lock)"
        );
        let kind = std::fs::symlink_metadata(&state).unwrap().file_type();
        assert!(
            kind.is_fifo() || kind.is_char_device(),
            "{}: replaced",
            state.display()
        );
    }
    if device.exists() {
        assert!(is_char_device(&device), "still a device");
    }
}

/// Makes something at a path; `false` when it cannot here (and the case is skipped).
type MakeAt = fn(&Path) -> bool;

#[test]
fn a_lock_path_that_is_a_device_fifo_or_directory_is_refused_and_left_alone() {
    let dir = scratch("lock-device");
    let state = dir.join("s.json");
    let lock = dir.join("s.json.lock");
    let cases: [(&str, MakeAt); 3] = [
        ("a FIFO", |p| {
            mkfifo(p);
            true
        }),
        ("a character device", null_device),
        ("Is a directory", |p| std::fs::create_dir(p).is_ok()),
    ];
    for (reason, make) in cases {
        if !make(&lock) {
            continue;
        }
        let before = std::fs::symlink_metadata(&lock).unwrap().file_type();
        let out =
            bounded(hv(&["xymon", "--uri", "test:///default", "--print", "--state"]).arg(&state));
        let (stdout, err) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(6), "{reason}: {err}");
        assert!(
            err.contains(&format!("'{}'", lock.display())) && err.contains(reason),
            "{err}"
        );
        assert!(stdout.contains("keeps no rates"), "{reason}: {stdout}");
        assert_eq!(
            std::fs::symlink_metadata(&lock).unwrap().file_type(),
            before
        );
        assert!(!state.exists(), "{reason}: no lock, no state");
        if before.is_dir() {
            std::fs::remove_dir(&lock).unwrap();
        } else {
            std::fs::remove_file(&lock).unwrap();
        }
    }
}

#[test]
fn a_directory_at_the_snmp_path_keeps_both_cache_files_old() {
    let dir = scratch("cache-pair");
    let json = dir.join("hv_monitor.json");
    let snmp = dir.join("hv_monitor.json.snmp");
    std::fs::write(&json, "old json\n").unwrap();
    std::fs::create_dir(&snmp).unwrap();
    let out = bounded(hv(&["--uri", "test:///default", "-w", "-q", "-o"]).arg(&json));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains(&format!("cannot write '{}'", snmp.display())),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "old json\n");
    assert!(snmp.is_dir());
}

/// A Xymon server on 127.0.0.1 that takes each connection, reads what it is sent and never
/// answers or closes: a send to it lasts the sender's whole --timeout. Reports each accept.
fn holding_server() -> (u16, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = tx.send(());
            std::thread::spawn(move || hold(conn));
        }
    });
    (port, rx)
}

fn hold(mut conn: TcpStream) {
    let mut buf = [0u8; 4096];
    // Until the client has sent all and shut down its side; xymond would answer or close now.
    while conn.read(&mut buf).is_ok_and(|n| n > 0) {}
    // Neither: kept open past any run of these tests (the thread ends with the test binary).
    std::thread::sleep(HANG);
    drop(conn);
}

#[test]
fn a_run_overlapping_a_slow_send_still_gets_its_rates() {
    let dir = scratch("slow-send");
    let state = dir.join("s.json");
    let (port, accepted) = holding_server();
    let mut sending = hv(&["xymon", "--uri", "test:///default", "--no-host-check"])
        .args([
            "--server",
            &format!("127.0.0.1:{port}"),
            "--timeout",
            "25",
            "--state",
        ])
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Sending: the state was written before the connection.
    accepted
        .recv_timeout(HANG)
        .expect("the first run connects to the server");
    let out = bounded(hv(&["xymon", "--uri", "test:///default", "--print", "--state"]).arg(&state));
    let _ = sending.kill();
    let _ = sending.wait();
    let (stdout, err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("another hv_monitor run"), "{err}");
    assert!(stdout.contains("\nvm_test_rbytes : "), "rates: {stdout}");
}

#[test]
fn stdout_on_a_full_device_is_an_error() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        &["--uri", "test:///default"][..],
        &["-c", "--uri", "test:///default"],
        &["xymon", "--print", "--uri", "test:///default"],
    ] {
        let out = bounded_to(hv(args).stdout(full()));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{args:?}: {err}");
        assert!(
            err.contains("cannot write to stdout: No space left on device"),
            "{args:?}: {err}"
        );
    }
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct SmallTmpfs {
    dir: tempfile::TempDir,
}

impl SmallTmpfs {
    fn mount(size: &str) -> Option<SmallTmpfs> {
        if !require(
            "root, to mount a small tmpfs",
            hv_monitor::safe_file::euid() == 0,
        ) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("hvmon-full-")
            .tempdir()
            .unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mount a tmpfs on {}",
            dir.path().display()
        );
        Some(SmallTmpfs { dir })
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn stdout_to_a_file_on_a_full_disk_is_an_error_naming_the_bytes_written() {
    let Some(tmpfs) = SmallTmpfs::mount("64k") else {
        return;
    };
    let nodes = scratch("full-disk");
    let uri = many_vms(&nodes, 150);
    let file = tmpfs.dir.path().join("out.json");
    let out = bounded_to(hv(&["--uri", &uri]).stdout(std::fs::File::create(&file).unwrap()));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("cannot write to stdout: No space left on device"),
        "{err}"
    );
    let written = std::fs::metadata(&file).unwrap().len();
    assert!(err.contains(&format!("({written} of ")), "{err}");
}

#[test]
fn a_reader_that_went_away_is_an_exit_code_but_no_message() {
    let nodes = scratch("epipe");
    let uri = many_vms(&nodes, 150);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = bounded_to(hv(&["--uri", &uri]).stdout(writer));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(!err.contains("stdout"), "quiet on EPIPE: {err}");
}

#[test]
fn a_reader_that_stops_reading_does_not_hold_the_run_past_its_deadline() {
    let nodes = scratch("stalled");
    // The Xymon messages of 600 VMs are several times a pipe's 64 KiB.
    let uri = many_vms(&nodes, 600);
    for args in [
        &["--uri", &uri, "-t", "5"][..],
        &[
            "xymon",
            "--print",
            "--uri",
            &uri,
            "-t",
            "5",
            "--message",
            "both",
        ],
    ] {
        let mut child = hv(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Held open and never read: the pipe fills and stays full.
        let unread = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        // 5 s deadline (the collection takes well under 1 s), and room for a loaded machine.
        let (status, took) = wait_bounded(&mut child, Duration::from_secs(15), "stalled stdout");
        let mut err = String::new();
        stderr.read_to_string(&mut err).unwrap();
        drop(unread);
        assert_eq!(status.code(), Some(5), "{args:?}: {err}");
        assert!(
            err.contains("the reader took no more output by the deadline"),
            "{err}"
        );
        assert!(
            took >= Duration::from_secs(4),
            "{args:?}: gave up after {took:?}"
        );
    }
}

#[test]
fn a_tz_naming_a_fifo_is_ignored_with_a_warning() {
    let dir = scratch("tz-fifo");
    let fifo = dir.join("zone");
    mkfifo(&fifo);
    for tz in [fifo.display().to_string(), format!(":{}", fifo.display())] {
        let out = bounded(hv(&["xymon", "--uri", "test:///default", "--print"]).env("TZ", &tz));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{tz}: {err}");
        assert!(
            err.contains(&format!(
                "TZ='{tz}' names '{}', which is not a regular file",
                fifo.display()
            )),
            "{err}"
        );
        assert!(text(&out.stdout).starts_with("status+11 "));
    }
    // A zone name and a POSIX rule are no files of ours to judge: left to chrono.
    for tz in ["UTC", "CET-1CEST,M3.5.0,M10.5.0/3"] {
        let out = bounded(hv(&["xymon", "--uri", "test:///default", "--print"]).env("TZ", tz));
        assert!(
            !text(&out.stderr).contains("TZ="),
            "{tz}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_state_directory_anyone_can_write_is_refused_naming_it() {
    let dir = scratch("open-dir");
    let open = dir.join("xymontmp");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    for variable in ["XYMONTMP", "STATE_DIRECTORY"] {
        let (port, _accepted) = holding_server();
        let out = bounded(
            hv(&[
                "xymon",
                "--uri",
                "test:///default",
                "--no-host-check",
                "--timeout",
                "1",
            ])
            .args(["--server", &format!("127.0.0.1:{port}")])
            .env(variable, &open),
        );
        let err = text(&out.stderr);
        let named = format!(
            "state directory '{}' (from ${variable}) is writable by others (mode 0777) and not sticky",
            open.display()
        );
        assert!(err.contains(&named), "{err}");
        assert!(
            err.contains(&format!("chmod go-w '{}'", open.display())),
            "{err}"
        );
        let files: Vec<PathBuf> = std::fs::read_dir(&open)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(files.is_empty(), "nothing written there: {files:?}");
    }
}

/// Runs `cmd` with stdout read to its end and stderr on `stderr`.
fn with_stderr(cmd: &mut Command, stderr: Stdio) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start hv_monitor");
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    let started = Instant::now();
    while !waiter.is_finished() {
        assert!(
            started.elapsed() < HANG,
            "{cmd:?} (pid {pid}): still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    waiter.join().unwrap().expect("wait for hv_monitor")
}

#[test]
fn a_stderr_that_cannot_be_written_costs_the_diagnostics_only() {
    let full = || {
        Stdio::from(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
    };
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        Stdio::from(writer)
    };
    let gone = "test:///nonexistent/node.xml";
    for (what, stderr) in [("full", full as fn() -> Stdio), ("closed", closed)] {
        // An error: its document still reaches LibreNMS with its exit code.
        let out = with_stderr(&mut hv(&["--uri", gone]), stderr());
        assert_eq!(
            out.status.code(),
            Some(3),
            "{what}: the backend's exit code"
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a document");
        assert_eq!(doc["error"], 1, "{what}: {doc}");
        // Xymon: the red status of the failed collection all the same.
        let out = with_stderr(&mut hv(&["xymon", "--print", "--uri", gone]), stderr());
        assert_eq!(out.status.code(), Some(3), "{what}");
        assert!(
            text(&out.stdout).starts_with("status+") && text(&out.stdout).contains(" red "),
            "{what}: {}",
            text(&out.stdout)
        );
    }
}
