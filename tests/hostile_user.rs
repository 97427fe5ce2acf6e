//! A second, unprivileged local user (created here with useradd, removed at the end) plants
//! FIFOs, symlinks, `/dev/zero` links and forged files at every path hv_monitor uses in a
//! world-writable sticky directory standing in for /var/tmp: the Xymon state file (found
//! through `$XYMONTMP`, as xymonlaunch runs us), its lock, the temporary names of both
//! writers, the xymon-rrd message file and the `-w` cache files. Every run must end in time
//! (no hang on a FIFO), create nothing through a link, read no device, report no rate from a
//! forged state file, and say which file it refused and why. Runs as root (CI does).

mod support;

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use support::install::Installed;
use support::xymon::{self, Server};
use support::{read_rate, require, text};

/// Our private xymond (this binary's port range is 19870-19879).
const XYMON_PORT: u16 = 19870;
/// A host the test server lists, in Xymon's comma form for the state file name.
const HOST: &str = "hv-split.example.com";
const STATE_NAME: &str = "hv_monitor.hv-split,example,com.hvmon.state.json";
/// Far longer than any of these runs takes; a run still going then is hung.
const HANG: Duration = Duration::from_secs(20);

/// useradd and userdel lock /etc/passwd: one at a time.
static ACCOUNTS: Mutex<()> = Mutex::new(());

/// The other local user; removed (with its group) when dropped, even when the test fails.
struct Hostile {
    name: String,
    uid: u32,
    gid: u32,
}

impl Hostile {
    /// `None` (after `require`) when not root: only root can add a user.
    fn create(tag: &str) -> Option<Hostile> {
        if !require(
            "root, to create a second local user",
            hv_monitor::safe_file::euid() == 0,
        ) {
            return None;
        }
        let name = format!("hvmh{}{tag}", std::process::id());
        let _guard = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let out = Command::new("useradd")
            .args(["--system", "--user-group", "--no-create-home"])
            .args(["--shell", "/usr/sbin/nologin", &name])
            .output()
            .expect("run useradd");
        assert!(
            out.status.success(),
            "useradd {name}: {}",
            text(&out.stderr)
        );
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, &name]).output().unwrap();
            text(&out.stdout).trim().parse().expect("a numeric id")
        };
        Some(Hostile {
            uid: id("-u"),
            gid: id("-g"),
            name,
        })
    }

    /// Runs `program args` as this user; it must succeed.
    fn does(&self, program: &str, args: &[&Path]) {
        let out = Command::new(program)
            .args(args)
            .uid(self.uid)
            .gid(self.gid)
            .output()
            .expect("run a command as the other user");
        assert!(
            out.status.success(),
            "{} {program} {args:?}: {}",
            self.name,
            text(&out.stderr)
        );
    }

    fn plant(&self, plant: &Plant, at: &Path) {
        match plant {
            Plant::Fifo => self.does("mkfifo", &[at]),
            Plant::Link(to) => self.does("ln", &[Path::new("-s"), to, at]),
            Plant::File(from) => self.does("cp", &[from, at]),
        }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _guard = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// What the other user puts at a path.
#[derive(Debug, Clone)]
enum Plant {
    Fifo,
    /// A symlink to this path.
    Link(PathBuf),
    /// A copy of this file, owned by the other user.
    File(PathBuf),
}

/// A world-writable sticky directory (like /var/tmp) and, apart from it, the path a link
/// points at that must never be created (like /etc/nologin). Removed when dropped.
struct Scene {
    sticky: tempfile::TempDir,
    guarded: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let sticky = tempfile::Builder::new()
            .prefix("hvmon-sticky-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(sticky.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        Scene {
            sticky,
            guarded: readable_tempdir(),
        }
    }

    fn at(&self, name: &str) -> PathBuf {
        self.sticky.path().join(name)
    }

    fn victim(&self) -> PathBuf {
        self.guarded.path().join("nologin")
    }

    /// The plants every case is tried with; a forged file is a copy of `forged`.
    fn plants(&self, forged: &Path) -> Vec<(&'static str, Plant, String)> {
        vec![
            ("fifo", Plant::Fifo, "a FIFO, not a regular file".into()),
            (
                "link",
                Plant::Link(self.victim()),
                "a symbolic link (not followed)".into(),
            ),
            (
                "dev-zero",
                Plant::Link("/dev/zero".into()),
                "a symbolic link (not followed)".into(),
            ),
            ("forged", Plant::File(forged.into()), "owned by uid".into()),
        ]
    }
}

/// A root-owned directory the other user can read (to copy a forged file from) but not write.
fn readable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Runs `cmd`, failing the test if it has not ended within [`HANG`].
fn bounded(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hv_monitor");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hv_monitor hung for {HANG:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// `hv_monitor xymon --print` for the test driver's one VM, host HOST: add the state or form.
fn print_messages() -> Command {
    hv(&[
        "xymon",
        "--print",
        "--uri",
        "test:///default",
        "--host",
        HOST,
    ])
}

fn hv(args: &[&str]) -> Command {
    support::isolated(args)
}

fn xymon_server() -> Option<&'static Server> {
    xymon::required(Server::shared(XYMON_PORT))
}

/// A state file as hv_monitor writes it, with every counter 0 and taken a second ago: if
/// believed, every rate would be the whole counter per second (the 16 PB/s).
fn forged_state(dir: &Path) -> PathBuf {
    let genuine = dir.join("genuine.json");
    let out = print_messages()
        .arg("--state")
        .arg(&genuine)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&genuine).unwrap()).unwrap();
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    state["taken_at_ms"] = (now_ms - 1000).into();
    for vm in state["vms"].as_object_mut().unwrap().values_mut() {
        for counter in vm["counters"].as_array_mut().unwrap() {
            if !counter.is_null() {
                *counter = 0.into();
            }
        }
    }
    let forged = dir.join("forged.json");
    std::fs::write(&forged, state.to_string()).unwrap();
    std::fs::set_permissions(&forged, std::fs::Permissions::from_mode(0o644)).unwrap();
    forged
}

/// The test domain's read rate in a printed splitncv message, when there is one.
fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

#[test]
fn planted_state_and_lock_files_never_hang_follow_or_count() {
    let Some(hostile) = Hostile::create("s") else {
        return;
    };
    let Some(server) = xymon_server() else { return };
    let scratch = readable_tempdir();
    let forged = forged_state(scratch.path());
    for target in ["state", "lock"] {
        for case in 0..4 {
            let scene = Scene::new();
            let (what, plant, reason) = scene.plants(&forged).swap_remove(case);
            let state = scene.at(STATE_NAME);
            let lock = scene.at(&format!("{STATE_NAME}.lock"));
            let planted = if target == "state" { &state } else { &lock };
            hostile.plant(&plant, planted);
            // Names like the state writer's temporary files, too.
            let temp_fifo = scene.at(&format!(".{STATE_NAME}.tmp.Fifo01"));
            let temp_link = scene.at(&format!(".{STATE_NAME}.tmp.Link01"));
            hostile.plant(&Plant::Fifo, &temp_fifo);
            hostile.plant(&Plant::Link(scene.victim()), &temp_link);

            let out = bounded(
                hv(&["xymon", "--uri", "test:///default", "--host", HOST])
                    .args(["--server", &server.addr(), "--timeout", "5"])
                    .env("XYMONTMP", scene.sticky.path()),
            );
            let err = text(&out.stderr);
            let case = format!("{what} at the {target} file");
            assert!(!scene.victim().exists(), "{case}: created through a link");
            let named = format!("'{}' refused: {reason}", planted.display());
            assert!(
                err.contains(&named),
                "{case}: expected \"{named}\" in: {err}"
            );
            if what == "forged" {
                assert!(
                    err.contains(&format!("uid {}", hostile.uid)),
                    "{case}: {err}"
                );
            }
            if target == "state" {
                assert_eq!(out.status.code(), Some(8), "{case}: {err}");
                assert!(err.contains("this run sends no rates"), "{case}: {err}");
                let meta = std::fs::symlink_metadata(&state).unwrap();
                if what == "forged" {
                    // A forged regular file is replaced by one of ours, not written through.
                    assert!(meta.file_type().is_file(), "{case}: state replaced");
                    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o600), "{case}");
                    for temp in [&temp_fifo, &temp_link] {
                        let named = format!("temporary file '{}' refused", temp.display());
                        assert!(err.contains(&named), "{case}: {err}");
                    }
                    // The next run believes the file it wrote itself (and, a sample later,
                    // takes rates from it).
                    support::clock::next_sample_time();
                    let again = bounded(
                        hv(&["xymon", "--uri", "test:///default", "--host", HOST])
                            .args(["--server", &server.addr()])
                            .env("XYMONTMP", scene.sticky.path()),
                    );
                    assert_eq!(
                        again.status.code(),
                        Some(0),
                        "{case}: {}",
                        text(&again.stderr)
                    );
                } else {
                    // Not a regular file: never replaced (it might be a device someone
                    // meant), left as planted; every run says so until it is removed.
                    assert!(!meta.file_type().is_file(), "{case}: left alone");
                    assert_eq!(meta.uid(), hostile.uid, "{case}: still theirs");
                    assert!(err.contains("leaves it alone"), "{case}: {err}");
                }
            } else {
                assert_eq!(out.status.code(), Some(6), "{case}: {err}");
                assert!(!state.exists(), "{case}: no lock, no state written");
            }
            assert!(
                is_fifo(&temp_fifo),
                "{case}: another user's file left alone"
            );
            assert!(std::fs::symlink_metadata(&temp_link).unwrap().is_symlink());
        }
    }
}

#[test]
fn a_forged_state_file_gives_no_rates() {
    let Some(hostile) = Hostile::create("f") else {
        return;
    };
    let scene = Scene::new();
    let forged = forged_state(scene.guarded.path());
    let print = |state: &Path| bounded(print_messages().arg("--state").arg(state));

    // The same bytes in a file of our own: believed, which shows what a forgery would do.
    let ours = scene.at("ours.json");
    std::fs::copy(&forged, &ours).unwrap();
    let out = print(&ours);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rate = read_rate(&out).expect("a rate from our own file");
    assert!(
        rate > 1e12,
        "the forged counters give an absurd rate: {rate}"
    );

    // Planted by the other user: refused, no rate at all.
    let theirs = scene.at("theirs.json");
    hostile.plant(&Plant::File(forged.clone()), &theirs);
    let out = print(&theirs);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert_eq!(read_rate(&out), None, "no rate from a planted file");
    assert!(
        err.contains(&format!(
            "state file '{}' refused: owned by uid {}",
            theirs.display(),
            hostile.uid
        )),
        "{err}"
    );

    // Ours, but anyone could have rewritten it.
    let open = scene.at("open.json");
    std::fs::copy(&forged, &open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = print(&open);
    assert_eq!(out.status.code(), Some(8));
    assert_eq!(read_rate(&out), None);
    assert!(text(&out.stderr).contains("refused: writable by others (mode 0666)"));
}

#[test]
fn the_xymon_rrd_message_file_is_never_followed_or_waited_on() {
    let Some(hostile) = Hostile::create("m") else {
        return;
    };
    let scene = Scene::new();
    let message = scene.guarded.path().join("message");
    // One data message: what xymond_rrd hands the handler of the default `--message both`.
    let out = print_messages()
        .args(["--format", "rrd-script", "--message", "data"])
        .output()
        .unwrap();
    std::fs::write(&message, &out.stdout).unwrap();
    std::fs::set_permissions(&message, std::fs::Permissions::from_mode(0o644)).unwrap();
    let handler = |file: &Path| bounded(hv(&["xymon-rrd", HOST, "hvmonrrd"]).arg(file));
    assert_eq!(
        handler(&message).status.code(),
        Some(0),
        "the message itself is good"
    );

    let cases = [
        ("fifo", Plant::Fifo, "a FIFO, not a regular file"),
        ("link", Plant::Link(scene.victim()), "a symbolic link"),
        (
            "dev-zero",
            Plant::Link("/dev/zero".into()),
            "a symbolic link",
        ),
        (
            "link-to-good",
            Plant::Link(message.clone()),
            "a symbolic link",
        ),
    ];
    for (what, plant, reason) in cases {
        let file = scene.at(&format!("xymond_rrd.{what}"));
        hostile.plant(&plant, &file);
        let out = handler(&file);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(8), "{what}: {err}");
        assert!(out.stdout.is_empty(), "{what}: nothing for xymond_rrd");
        let named = format!("message file '{}' refused: {reason}", file.display());
        assert!(
            err.contains(&named),
            "{what}: expected \"{named}\" in: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(!scene.victim().exists(), "{what}: created through a link");
    }
}

#[test]
fn planted_cache_and_temporary_names_are_never_followed() {
    let Some(hostile) = Hostile::create("c") else {
        return;
    };
    let scene = Scene::new();
    let forged = scene.guarded.path().join("forged");
    std::fs::write(&forged, "{\"forged\":1}\n").unwrap();
    std::fs::set_permissions(&forged, std::fs::Permissions::from_mode(0o644)).unwrap();
    let json = scene.at("hv_monitor.json");
    let snmp = scene.at("hv_monitor.json.snmp");
    // The targets themselves, and names like both writers' temporary files.
    hostile.plant(&Plant::Link(scene.victim()), &json);
    hostile.plant(&Plant::Fifo, &snmp);
    let temps: Vec<(PathBuf, Plant)> = [
        (".hv_monitor.json.tmp.Fifo01", Plant::Fifo),
        (".hv_monitor.json.tmp.Link01", Plant::Link(scene.victim())),
        (
            ".hv_monitor.json.snmp.tmp.Zero01",
            Plant::Link("/dev/zero".into()),
        ),
        (
            ".hv_monitor.json.snmp.tmp.Forge1",
            Plant::File(forged.clone()),
        ),
    ]
    .into_iter()
    .map(|(name, plant)| (scene.at(name), plant))
    .collect();
    for (path, plant) in &temps {
        hostile.plant(plant, path);
    }

    let write = || bounded(hv(&["--uri", "test:///default", "-w", "-q", "-o"]).arg(&json));
    // Targets that are not regular files are refused and left as planted.
    let out = write();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    let named = format!("cannot write '{}': a symbolic link", json.display());
    assert!(err.contains(&named), "expected \"{named}\" in: {err}");
    assert!(!scene.victim().exists(), "created through a link");
    assert!(std::fs::symlink_metadata(&json).unwrap().is_symlink());
    assert!(is_fifo(&snmp), "left alone");
    // Once they are gone, the pair is written; the temporary names stay refused.
    std::fs::remove_file(&json).unwrap();
    std::fs::remove_file(&snmp).unwrap();
    let out = write();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!scene.victim().exists(), "created through a link");
    for target in [&json, &snmp] {
        let meta = std::fs::symlink_metadata(target).unwrap();
        assert!(meta.file_type().is_file(), "{}", target.display());
        assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o644));
    }
    assert!(std::fs::read_to_string(&json).unwrap().contains("\"VMs\""));
    for (path, _) in &temps {
        let named = format!("temporary file '{}' refused", path.display());
        assert!(err.contains(&named), "expected \"{named}\" in: {err}");
        let meta = std::fs::symlink_metadata(path).unwrap();
        assert_eq!(meta.uid(), hostile.uid, "left alone: {}", path.display());
    }
    assert_eq!(
        std::fs::read(&temps[3].0).unwrap(),
        std::fs::read(&forged).unwrap()
    );
}

#[test]
fn a_user_without_a_state_directory_is_told_what_to_do() {
    let Some(hostile) = Hostile::create("u") else {
        return;
    };
    let Some(server) = xymon_server() else { return };
    let existed = Path::new("/var/lib/hv-monitor").exists();
    let installed = Installed::for_user(&hostile.name);
    let out = bounded(
        support::isolate(
            installed.command(),
            &["xymon", "--uri", "test:///default", "--host", HOST],
        )
        .args(["--server", &server.addr()])
        .current_dir("/")
        .uid(hostile.uid)
        .gid(hostile.gid),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("state directory '/var/lib/hv-monitor'")
            && err.contains("give --state PATH")
            && err.contains("set XYMONTMP"),
        "{err}"
    );
    assert_eq!(Path::new("/var/lib/hv-monitor").exists(), existed);
}

#[test]
fn another_users_lock_in_a_sticky_directory_says_whose_it_is_on_the_page() {
    let Some(hostile) = Hostile::create("l") else {
        return;
    };
    let scene = Scene::new();
    let state = scene.at(STATE_NAME);
    let lock = scene.at(&format!("{STATE_NAME}.lock"));
    hostile.does("touch", &[&lock]);
    let out = bounded(print_messages().arg("--state").arg(&state));
    let (stdout, err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(6), "{err}");
    let whose = format!(
        "lock file '{}' refused: owned by uid {} ({})",
        lock.display(),
        hostile.uid,
        hostile.name
    );
    assert!(err.contains(&whose), "expected \"{whose}\" in: {err}");
    let status = stdout.lines().next().unwrap_or_default();
    assert!(status.contains(" yellow "), "{status}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("&yellow hv_monitor keeps no rates"))
        .unwrap_or_else(|| panic!("no rates line: {stdout}"));
    assert!(line.contains(&whose) && line.contains("Fix: "), "{line}");
    assert!(!state.exists(), "no state kept behind another user's lock");
}
