//! `--watch` (issue 18) against the lab's real libvirtd: a guest of each test's own is
//! defined, started, paused, resumed, destroyed and undefined with `virsh`, and the watcher
//! must show each change long before its interval (600 s) comes round: only libvirt's
//! lifecycle events can explain it. The LibreNMS form is read from its cache file, the Xymon
//! form from a private xymond (`xymon query`, `xymondlog`). How soon, in figures, is the
//! benchmark's (scripts/watch-figures.sh, BENCHMARKS.md); the tests wait for the condition.
//! The libvirtd restart is in tests/robustness.rs, with the other tests that stop libvirtd.
#![cfg(all(feature = "libvirt", target_os = "linux"))]

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::watch::{PlainGuest, Watcher, wait_until};
use support::xymon::{self, Server};
use support::{qemu_uri, require, run, scratch, stderr};

/// Far longer than any event report takes, far shorter than the interval.
const SOON: Duration = Duration::from_secs(20);
const INTERVAL: &str = "600";
const XYMON_PORT: u16 = 19872;
const XYMON_HOST: &str = "hvwatch.example.com";

fn lab_uri() -> Option<String> {
    let uri = qemu_uri();
    let ok = require(
        "root and libvirtd with QEMU (tests/lab/libvirt-up.sh)",
        uri.is_some()
            && support::have("virsh")
            // SAFETY: geteuid has no preconditions.
            && unsafe { libc::geteuid() } == 0,
    );
    uri.filter(|_| ok)
}

/// The VM `name` in the cache file: `None` while the file or the VM is missing.
fn cached_vm(cache: &Path, name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(cache).ok()?;
    let doc: Value = serde_json::from_str(&text).ok()?;
    doc["data"]["VMs"].get(name).cloned()
}

fn status_int(cache: &Path, name: &str) -> Option<u64> {
    cached_vm(cache, name)?["status_int"].as_u64()
}

#[test]
fn the_cache_files_follow_every_lifecycle_change_long_before_the_interval() {
    let Some(uri) = lab_uri() else { return };
    let dir = scratch("watch-cache");
    let guest = PlainGuest::new(&uri, "hvmon-watch-cache");
    let cache = dir.join("cache.json");
    let cache_arg = cache.to_str().unwrap();
    let args = [
        "-w",
        "--watch",
        "--uri",
        &uri,
        "--vm",
        guest.name,
        "-o",
        cache_arg,
        "--interval",
        INTERVAL,
    ];
    let mut watcher = Watcher::start(&args, &dir);
    wait_until("the first report", SOON, || cache.exists());
    assert!(cached_vm(&cache, guest.name).is_none());

    // The expected codes are LibreNMS's (/work/shared/spec/librenms.md): 1 on, 3 paused.
    let not_running = |s: Option<u64>| s.is_some_and(|s| s != 1 && s != 3);
    guest.define(&dir);
    wait_until("defined: listed", SOON, || {
        not_running(status_int(&cache, guest.name))
    });
    guest.virsh(&["start"]);
    wait_until("started: on", SOON, || {
        status_int(&cache, guest.name) == Some(1)
    });
    guest.virsh(&["suspend"]);
    wait_until("suspended: paused", SOON, || {
        status_int(&cache, guest.name) == Some(3)
    });
    guest.virsh(&["resume"]);
    wait_until("resumed: on", SOON, || {
        status_int(&cache, guest.name) == Some(1)
    });
    guest.virsh(&["destroy"]);
    wait_until("destroyed: off", SOON, || {
        not_running(status_int(&cache, guest.name))
    });
    guest.virsh(&["undefine"]);
    wait_until("undefined: gone", SOON, || {
        cache.exists() && cached_vm(&cache, guest.name).is_none()
    });
    // The -c form beside it follows too: it is written with the JSON, always.
    assert!(dir.join("cache.json.snmp").exists());

    // One watcher per set of cache files.
    let second = run(&args);
    assert_eq!(second.status.code(), Some(9), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("already runs") && stderr(&second).contains("cache.json.watch"),
        "{}",
        stderr(&second)
    );

    assert_eq!(
        watcher.end_with(libc::SIGTERM),
        Some(0),
        "{}",
        watcher.stderr()
    );
    let text = std::fs::read_to_string(&cache).unwrap();
    serde_json::from_str::<Value>(&text).expect("the cache file is whole after SIGTERM");
    assert!(
        !watcher.stderr().contains("warning"),
        "{}",
        watcher.stderr()
    );
}

/// The status message xymond holds for HOST.hvmon, as `xymondlog` gives it.
fn status_message(server: &Server) -> String {
    server.xymon(&format!("xymondlog {XYMON_HOST}.hvmon"))
}

#[test]
fn a_vm_that_goes_down_turns_the_xymon_column_yellow_at_once_and_green_again() {
    let Some(uri) = lab_uri() else { return };
    if !require(
        "Xymon (apt-get install xymon rrdtool)",
        xymon::xymon_installed(),
    ) {
        return;
    }
    let server = &Server::start(XYMON_PORT, &[XYMON_HOST]).expect("Xymon is installed");
    let dir = scratch("watch-xymon");
    let guest = PlainGuest::new(&uri, "hvmon-watch-xymon");
    guest.define(&dir);
    // Set to autostart: down, it is yellow (xymon/README.md, Colours).
    guest.virsh(&["autostart"]);
    guest.virsh(&["start"]);
    let state = dir.join("state.json");
    let addr = server.addr();
    let args = [
        "xymon",
        "--watch",
        "--server",
        &addr,
        "--host",
        XYMON_HOST,
        "--uri",
        &uri,
        "--vm",
        guest.name,
        "--interval",
        INTERVAL,
        "--state",
        state.to_str().unwrap(),
        // The graph lines in the status, so the status shows which report carries them.
        "--message",
        "status",
    ];
    let mut watcher = Watcher::start(&args, &dir);
    let column_is = |colour: &str| {
        server
            .xymon(&format!("query {XYMON_HOST}.hvmon"))
            .starts_with(colour)
    };
    wait_until("the first status", SOON, || column_is("green"));
    let interval_status = status_message(server);
    assert!(
        interval_status.contains(" : "),
        "the interval's status carries graph lines: {interval_status}"
    );
    let counters = std::fs::read(&state).expect("the interval's counters are kept");

    guest.virsh(&["destroy"]);
    wait_until("down: yellow", SOON, || column_is("yellow"));
    let event_status = status_message(server);
    assert!(
        event_status.contains("set to autostart but not running"),
        "{event_status}"
    );
    // No sample off the RRD steps, no rates from a short span.
    let after_skip = event_status
        .split("<!-- ncv_skipend -->")
        .nth(1)
        .expect("the status text is skipped by NCV");
    assert!(!after_skip.contains(" : "), "no graph lines: {after_skip}");
    assert_eq!(
        std::fs::read(&state).unwrap(),
        counters,
        "the counters are the interval's"
    );

    guest.virsh(&["start"]);
    wait_until("up again: green", SOON, || column_is("green"));

    let second = run(&args);
    assert_eq!(second.status.code(), Some(9), "{}", stderr(&second));
    assert_eq!(
        watcher.end_with(libc::SIGINT),
        Some(0),
        "{}",
        watcher.stderr()
    );
    let text = std::fs::read_to_string(&state).unwrap();
    serde_json::from_str::<Value>(&text).expect("the counters file is whole after SIGINT");
}

#[test]
fn a_burst_of_events_gives_a_few_statuses_not_one_each() {
    let Some(uri) = lab_uri() else { return };
    let dir = scratch("watch-burst");
    let guest = PlainGuest::new(&uri, "hvmon-watch-burst");
    guest.define(&dir);
    guest.virsh(&["start"]);
    let mut watcher = Watcher::printing(&uri, guest.name, INTERVAL, &[], &dir);
    // The hvmon column's statuses (an interval's report also sends hvmonvm's).
    let statuses = |w: &Watcher| w.stdout().matches(" hv1.hvmon ").count();
    wait_until("the first status", SOON, || statuses(&watcher) == 1);
    // 30 pauses and 30 resumes from one virsh shell, each a lifecycle event, as fast as
    // libvirtd takes them: far less than the 0.3 s settle time apart.
    let pairs = 30;
    let mut shell = std::process::Command::new("virsh")
        .args(["-q", "-c", &uri])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = shell.stdin.as_mut().unwrap();
        for _ in 0..pairs {
            writeln!(stdin, "suspend {0}\nresume {0}", guest.name).unwrap();
        }
    }
    drop(shell.stdin.take());
    assert!(shell.wait().unwrap().success());
    // A report after the burst shows the state it ended in.
    let running = |status: &str| {
        status
            .lines()
            .any(|l| l.starts_with(guest.name) && l.contains("running"))
    };
    wait_until("a status after the burst, the VM running", SOON, || {
        statuses(&watcher) > 1 && watcher.last_status().is_some_and(|s| running(&s))
    });
    assert_eq!(
        watcher.end_with(libc::SIGTERM),
        Some(0),
        "{}",
        watcher.stderr()
    );
    let reports = statuses(&watcher) - 1;
    assert!(
        reports <= pairs / 2,
        "{reports} statuses for {} events: the settle time should merge them",
        2 * pairs
    );
}

#[test]
fn watch_options_are_checked_before_anything_runs() {
    let cases: [(&[&str], &str); 3] = [
        (&["--watch"], "needs -w"),
        (
            &["--watch", "--interval", "60", "xymon", "--print"],
            "give it after the subcommand",
        ),
        (
            &["xymon-rrd", "--watch", "h", "c", "/nonexistent"],
            "--watch is for xymon and -w",
        ),
    ];
    for (args, says) in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    let out = run(&["-w", "--interval", "60"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--interval needs --watch: {}",
        stderr(&out)
    );
}
