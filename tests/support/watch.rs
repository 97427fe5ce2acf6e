//! For the `--watch` tests: a persistent diskless QEMU guest of a test's own whose state the
//! test changes (the lab's guests stay as other tests expect them), and a watcher process
//! whose stderr is kept in a file.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{stderr, virsh};

/// A guest defined (persistent) but not started; destroyed and undefined when dropped.
pub struct PlainGuest {
    pub uri: String,
    pub name: &'static str,
}

impl PlainGuest {
    /// The guest's XML: 64 MiB, no disk (the firmware finds nothing to boot and waits),
    /// nothing for libvirt to clean up but the definition.
    pub fn xml(name: &str) -> String {
        format!(
            "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>"
        )
    }

    /// A handle on guest `name` at `uri`, with whatever a killed run left of it removed; not
    /// defined yet.
    pub fn new(uri: &str, name: &'static str) -> PlainGuest {
        let guest = PlainGuest {
            uri: uri.to_string(),
            name,
        };
        guest.remove();
        guest
    }

    /// Defines it from its XML in `dir`.
    pub fn define(&self, dir: &Path) {
        let xml = dir.join(format!("{}.xml", self.name));
        std::fs::write(&xml, Self::xml(self.name)).unwrap();
        self.virsh(&["define", xml.to_str().unwrap()]);
    }

    /// `virsh ARGS NAME`, which must succeed.
    pub fn virsh(&self, args: &[&str]) {
        let mut all = args.to_vec();
        if !args.iter().any(|a| a.ends_with(".xml")) {
            all.push(self.name);
        }
        let out = virsh(&self.uri, &all);
        assert!(out.status.success(), "virsh {all:?}: {}", stderr(&out));
    }

    /// Its QEMU's PID, while it runs.
    pub fn qemu_pid(&self) -> i32 {
        std::fs::read_to_string(format!("/run/libvirt/qemu/{}.pid", self.name))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn remove(&self) {
        let _ = virsh(&self.uri, &["destroy", self.name]);
        let _ = virsh(&self.uri, &["undefine", self.name]);
    }
}

impl Drop for PlainGuest {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A running `hv_monitor ... --watch`; killed when dropped if it is still running.
pub struct Watcher {
    pub child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Watcher {
    /// Starts hv_monitor with `args` (out of reach of the caller's Xymon variables), its
    /// stdout and stderr in `dir`/watcher.out and watcher.err.
    pub fn start(args: &[&str], dir: &Path) -> Watcher {
        let stdout = dir.join("watcher.out");
        let stderr = dir.join("watcher.err");
        let child = super::isolated(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("hv_monitor starts");
        Watcher {
            child,
            stdout,
            stderr,
        }
    }

    /// `hv_monitor xymon --watch --print` for host hv1 on the VMs matching `vm` at `uri`,
    /// every `interval` seconds, its counters in `dir`/state.json; `extra` options after.
    pub fn printing(uri: &str, vm: &str, interval: &str, extra: &[&str], dir: &Path) -> Watcher {
        let state = dir.join("state.json");
        let mut args = vec![
            "xymon",
            "--watch",
            "--print",
            "--host",
            "hv1",
            "--uri",
            uri,
            "--vm",
            vm,
            "--interval",
            interval,
            "--state",
            state.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        Watcher::start(&args, dir)
    }

    /// The colour word of the last status it printed, if any.
    pub fn last_colour(&self) -> Option<String> {
        let status = self.last_status()?;
        status.split_whitespace().nth(2).map(str::to_string)
    }

    /// What it printed so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// The last status message it printed (`xymon --print`), if any.
    pub fn last_status(&self) -> Option<String> {
        let out = self.stdout();
        // An interval's report ends with the SPLITNCV per-VM graphs' status (column
        // "<column>vm", always clear): the last status that is not one.
        let at = out
            .match_indices("status+")
            .map(|(at, _)| at)
            .filter(|&at| {
                let head = out[at..].lines().next().unwrap_or_default();
                !head
                    .split_whitespace()
                    .nth(1)
                    .is_some_and(|column| column.ends_with("vm"))
            })
            .last()?;
        Some(out[at..].to_string())
    }

    /// What it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// Sends `signal` and waits (at most 10 s) for it to end; its exit code.
    pub fn end_with(&mut self, signal: libc::c_int) -> Option<i32> {
        // SAFETY: kill has no memory effects.
        unsafe { libc::kill(self.pid(), signal) };
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < until,
                "the watcher did not end on signal {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// User plus system CPU time it has used so far, from /proc/PID/stat.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        // utime and stime, fields 14 and 15 of stat(5): 12 and 13 after the name.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_millis(ticks * 1000 / per_second)
    }

    /// Waits until its stderr contains `text` (at most `limit`).
    pub fn wait_for_stderr(&self, text: &str, limit: Duration) {
        let started = Instant::now();
        while !self.stderr().contains(text) {
            assert!(
                started.elapsed() < limit,
                "'{text}' not on the watcher's stderr within {limit:?}; it has:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `done`, polling every 20 ms; panics naming `what` after `limit`. Returns how
/// long it took.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}
