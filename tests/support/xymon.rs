//! A private Xymon server (xymond + xymond_rrd from tests/lab/xymon-up.sh) on 127.0.0.1 with
//! its own XYMONHOME, and the `xymon` client, rrdtool and showgraph.cgi to look at it.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{binary, repo, text};

pub const XYMON_BIN: &str = "/usr/lib/xymon/server/bin";

/// Hosts the test server lists in hosts.cfg; every test uses its own, so tests that run in
/// parallel never see each other's RRDs or columns.
pub const HOSTS: &[&str] = &[
    "hv-split.example.com",
    "hv-ncv.example.com",
    "hv-rrd.example.com",
    "hv-colour.example.com",
    "hv-names.example.com",
    "hv-http.example.com",
    "hv-qemu.example.com",
    "hv-split2.example.com",
    "hv-bench.example.com",
];

pub fn xymon_installed() -> bool {
    [
        "xymond",
        "xymond_rrd",
        "xymonlaunch",
        "xymon",
        "showgraph.cgi",
        "xymoncgimsg.cgi",
    ]
    .iter()
    .all(|b| Path::new(XYMON_BIN).join(b).exists())
        && Command::new("rrdtool").arg("--version").output().is_ok()
}

/// `server`, when there is one; else [`super::require`]'s verdict on the missing Xymon.
pub fn required(server: Option<&'static Server>) -> Option<&'static Server> {
    super::require(
        "Xymon server (apt-get install xymon rrdtool)",
        server.is_some(),
    )
    .then_some(())?;
    server
}

/// A running private Xymon server.
pub struct Server {
    pub home: PathBuf,
    pub port: u16,
}

impl Server {
    /// Starts a server on `port` in /tmp/hvmon-xymon-PORT, with `hosts` in its hosts.cfg; it
    /// stops by itself when this test process exits (a watchdog in xymon-up.sh). `None`:
    /// Xymon is not installed (see [`required`]).
    pub fn start<S: Borrow<str>>(port: u16, hosts: &[S]) -> Option<Server> {
        if !xymon_installed() {
            return None;
        }
        let home = PathBuf::from(format!("/tmp/hvmon-xymon-{port}"));
        let out = Command::new(repo().join("tests/lab/xymon-up.sh"))
            .arg(&home)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .env("XYMON_HOSTS", hosts.join(" "))
            .env("HV_MONITOR_BIN", binary())
            .output()
            .expect("run tests/lab/xymon-up.sh");
        assert!(
            out.status.success(),
            "xymon-up.sh failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        Some(Server { home, port })
    }

    /// [`Server::start`] with [`HOSTS`], once per test binary.
    pub fn shared(port: u16) -> Option<&'static Server> {
        static SERVER: OnceLock<Option<Server>> = OnceLock::new();
        SERVER.get_or_init(|| Server::start(port, HOSTS)).as_ref()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn rrd(&self, host: &str, file: &str) -> PathBuf {
        self.home.join("var/rrd").join(host).join(file)
    }

    pub fn rrd_files(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.home.join("var/rrd").join(host))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The `xymon` client's answer to `command`.
    pub fn xymon(&self, command: &str) -> String {
        let out = Command::new(Path::new(XYMON_BIN).join("xymon"))
            .arg(self.addr())
            .arg(command)
            .output()
            .expect("run xymon");
        text(&out.stdout)
    }

    /// The colour of HOST.COLUMN as xymond reports it, waiting for the message to land.
    pub fn colour(&self, host: &str, column: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self.xymon(&format!("query {host}.{column}"));
            if let Some(word) = answer.split_whitespace().next() {
                return word.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "xymond has no status {host}.{column}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `path` exists (xymond_rrd writes ~10 ms after the message arrives).
    pub fn wait_for(&self, path: &Path) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !path.exists() {
            assert!(
                Instant::now() < deadline,
                "{} never appeared; worker logs in {}",
                path.display(),
                self.home.join("logs").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Returns once xymond_rrd's status worker has handled every status message for `host`
    /// sent before the call: it handles them in order, so the RRD of a probe status sent now
    /// (the lab's NCV column `labprobe`) appears only after all of them. For checks that a
    /// message made no RRD, which have no event of their own to wait for.
    pub fn status_worker_caught_up(&self, host: &str) {
        let probe = self.rrd(host, "labprobe.rrd");
        let _ = std::fs::remove_file(&probe);
        self.xymon(&format!("status {host}.labprobe green probe\nprobe : 1"));
        self.wait_for(&probe);
        self.xymon(&format!("drop {host} labprobe"));
        std::fs::remove_file(&probe).unwrap();
    }

    /// The PNG showgraph.cgi renders for `service` (a graphs.cfg section) of `host`.
    pub fn showgraph(&self, host: &str, service: &str) -> Vec<u8> {
        let out = Command::new(Path::new(XYMON_BIN).join("xymoncmd"))
            .arg(format!(
                "--env={}",
                self.home.join("etc/xymonserver.cfg").display()
            ))
            .arg(Path::new(XYMON_BIN).join("showgraph.cgi"))
            .env("REQUEST_METHOD", "GET")
            .env("SCRIPT_NAME", "/xymon-cgi/showgraph.sh")
            .env(
                "QUERY_STRING",
                format!("host={host}&service={service}&graph=hourly&action=view"),
            )
            .output()
            .expect("run showgraph.cgi");
        let body = out.stdout;
        // CGI headers, a blank line, then the image.
        let start = body
            .windows(2)
            .position(|w| w == b"\n\n")
            .map(|i| i + 2)
            .unwrap_or(0);
        assert!(
            text(&body[..start]).contains("image/png"),
            "showgraph.cgi for {service}: {}",
            text(&body)
        );
        body[start..].to_vec()
    }
}

/// `rrdtool info` of one file as KEY -> VALUE (quotes removed).
pub fn rrd_info(path: &Path) -> BTreeMap<String, String> {
    let out = Command::new("rrdtool")
        .arg("info")
        .arg(path)
        .output()
        .expect("run rrdtool");
    assert!(
        out.status.success(),
        "rrdtool info {}: {}",
        path.display(),
        text(&out.stderr)
    );
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}
