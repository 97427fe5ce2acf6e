//! Errors, one enum per boundary, and the one place that maps them to exit codes and to the
//! LibreNMS `error` numbers.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::text::for_terminal;

/// Longest piece of outside text (a libvirt or command error) shown in one error.
const REASON_SHOWN: usize = 1000;
/// Longest piece of a server's answer shown in one error.
const ANSWER_SHOWN: usize = 200;

/// A backend could not produce a snapshot at all, or not by the deadline. The reasons are
/// libvirt's and commands' own words, so they are shown escaped.
#[derive(Debug, Error)]
pub enum CollectError {
    /// The backend (its `-b` name) is not compiled in or cannot run on this OS.
    #[error("backend '{0}' is not built into this binary (or not available on this OS)")]
    Unsupported(&'static str),
    /// libvirt refused the connection, or did not answer in time.
    #[error(
        "cannot connect to libvirt at '{}': {}",
        for_terminal(uri, REASON_SHOWN),
        for_terminal(reason, REASON_SHOWN)
    )]
    Connect {
        /// The connection URI asked for, or `(libvirt default)`.
        uri: String,
        /// libvirt's error message, unescaped.
        reason: String,
    },
    /// Connected, but a call that the whole snapshot needs failed.
    #[error("libvirt call {call} failed: {}", for_terminal(reason, REASON_SHOWN))]
    Libvirt {
        /// The libvirt C function name (`virConnectGetAllDomainStats`).
        call: &'static str,
        /// libvirt's error message, unescaped.
        reason: String,
    },
    /// A command (a CBSD tool, or spawning the collector thread) could not start, timed out
    /// or failed.
    #[error(
        "command '{}' failed: {}",
        for_terminal(command, REASON_SHOWN),
        for_terminal(reason, REASON_SHOWN)
    )]
    Command {
        /// The command line as run (or what was being started), for the reader to retry.
        command: String,
        /// What went wrong: the spawn error, the exit status, or its stderr.
        reason: String,
    },
    /// The collection thread did not answer in time; it is left running (see
    /// `collect::collect_within`).
    #[error("the {backend} backend gave no answer within the deadline of {}", humanize(*deadline))]
    Deadline {
        /// The backend's `-b` name.
        backend: &'static str,
        /// The deadline that passed, as given on the command line.
        deadline: Duration,
    },
}

/// Writing the cache files failed.
#[derive(Debug, Error)]
#[error("cannot write '{}': {source}", path.display())]
pub struct WriteError {
    /// The file that could not be written (its final name, not the temporary one).
    pub path: PathBuf,
    /// The I/O error of the create, write, sync or rename that failed.
    #[source]
    pub source: std::io::Error,
}

/// A file in a directory other users may write failed a check, or could not be opened.
#[derive(Debug, Error)]
pub enum SafeFileError {
    /// Opened, but not trusted: a symlink, not a regular file, owned by someone else, or
    /// writable by others.
    #[error("'{}' refused: {reason}", path.display())]
    Refused {
        /// The file checked.
        path: PathBuf,
        /// Which check failed, in words.
        reason: String,
    },
    /// The open itself failed (`NotFound` on a first run: see [`SafeFileError::is_missing`]).
    #[error("'{}': {source}", path.display())]
    Open {
        /// The file opened.
        path: PathBuf,
        /// The open's I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl SafeFileError {
    /// Nothing at the path: for the counters file, a first run.
    pub fn is_missing(&self) -> bool {
        matches!(self, SafeFileError::Open { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// Why, without the path (for callers whose own message names the file).
    pub fn reason(&self) -> String {
        match self {
            SafeFileError::Refused { reason, .. } => reason.clone(),
            SafeFileError::Open { source, .. } => source.to_string(),
        }
    }
}

/// Why one run of the LibreNMS job failed: nothing collected, or the cache files not written.
#[derive(Debug, Error)]
pub enum RunError {
    /// Nothing was collected.
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// Collected, but the output files could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

fn humanize(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `3 s`, `2.5 s`, `0.25 s`: the value as given on the command line.
#[allow(clippy::cast_precision_loss)] // a deadline is far below 2^53 ms
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_millis() as f64 / 1000.0)
}

/// Sending to a Xymon server failed, or the server would drop what we send.
#[derive(Debug, Error)]
pub enum SendError {
    /// A `--server` (or XYMSRV/XYMSERVERS) value that is not a server address.
    #[error("bad Xymon server '{}': {reason}", for_terminal(spec, ANSWER_SHOWN))]
    BadServer {
        /// The value as given, unescaped.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Neither `--server` nor xymonlaunch's environment names a server.
    #[error(
        "no Xymon server to send to: give --server, or run from xymonlaunch (XYMSRV, XYMSERVERS)"
    )]
    NoServer,
    /// Connecting, writing or reading on Xymon's TCP protocol failed.
    #[error("Xymon server {target}: {reason}")]
    Tcp {
        /// The server as shown to people (`host:port`).
        target: String,
        /// The I/O error, in words.
        reason: String,
    },
    /// The HTTP(S) request failed before any status came back (DNS, TLS, connection).
    #[error("HTTP POST to {url}: {reason}")]
    Http {
        /// The URL posted to.
        url: String,
        /// The HTTP client's error, with its causes.
        reason: String,
    },
    /// The web server's own words: its error page, escaped.
    #[error(
        "HTTP POST to {url}: HTTP status {status}: {}",
        for_terminal(body.trim(), ANSWER_SHOWN)
    )]
    HttpStatus {
        /// The URL posted to.
        url: String,
        /// Code and reason phrase (`502 Bad Gateway`).
        status: String,
        /// The answer's body as received, unescaped.
        body: String,
    },
    /// A 3xx answer: following it would turn the POST into a GET without the message.
    #[error(
        "HTTP POST to {url}: the server redirects ({status}) to {}: not followed, as a \
         redirected POST loses its message; give the URL it points to as --server",
        location.as_deref().map_or_else(
            || "no Location given".to_string(),
            |l| format!("'{}'", for_terminal(l, ANSWER_SHOWN))
        )
    )]
    HttpRedirect {
        /// The URL posted to.
        url: String,
        /// Code and reason phrase (`302 Found`).
        status: String,
        /// The `Location` header, unescaped; `None` if absent or not text.
        location: Option<String>,
    },
    /// `--ca-file` cannot be used: unreadable, not a regular file, no certificate in it.
    #[error(
        "--ca-file '{}': {}",
        for_terminal(&path.display().to_string(), ANSWER_SHOWN),
        for_terminal(reason, ANSWER_SHOWN)
    )]
    CaFile {
        /// The `--ca-file` path as given.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The whole exchange with one server (every connection, the host check, every message
    /// and answer) took longer than `--timeout`.
    #[error("Xymon server {target}: timed out after {} {during}", seconds(*after))]
    TimedOut {
        /// The server as shown to people (`host:port` or the URL).
        target: String,
        /// The `--timeout` that ran out.
        after: Duration,
        /// What it was doing: "connecting to ...", "waiting for the answer ...".
        during: String,
    },
    /// The server's hostinfo answer does not list our host: xymond would drop our messages.
    #[error(
        "Xymon server {target} does not know host '{host}': add it to the server's hosts.cfg \
         (xymond drops messages of unknown hosts silently), or give --host as listed there"
    )]
    UnknownHost {
        /// The server as shown to people (`host:port` or the URL).
        target: String,
        /// The Xymon host name we send as.
        host: String,
    },
    /// Something answered, but not as xymond answers a hostinfo request.
    #[error(
        "{target} is not a Xymon server: it answered '{}' to a hostinfo request",
        for_terminal(answer, ANSWER_SHOWN)
    )]
    NotXymon {
        /// The server as shown to people (`host:port` or the URL).
        target: String,
        /// Its answer, unescaped.
        answer: String,
    },
}

impl SendError {
    /// The process exit code, from [`exit`]: a bad server spec is a usage error.
    pub fn exit_code(&self) -> i32 {
        match self {
            SendError::BadServer { .. } | SendError::NoServer | SendError::CaFile { .. } => {
                exit::USAGE
            }
            SendError::Tcp { .. }
            | SendError::Http { .. }
            | SendError::HttpStatus { .. }
            | SendError::HttpRedirect { .. }
            | SendError::TimedOut { .. }
            | SendError::UnknownHost { .. }
            | SendError::NotXymon { .. } => exit::SEND_FAILED,
        }
    }
}

/// `hv_monitor xymon` was asked for something that cannot work; found before collecting.
#[derive(Debug, Error)]
pub enum XymonSetupError {
    /// `--host` (or the machine's name) as given, unescaped.
    #[error("host name '{0}' has characters Xymon cannot take (letters, digits, . , - _ only)")]
    BadHost(String),
    /// `--column` as given, unescaped.
    #[error("column '{0}' must be 1-60 of [A-Za-z0-9_-] (it becomes part of RRD file names)")]
    BadColumn(String),
    /// `--pool-warn` and `--pool-panic` do not make a pair of limits; the text says why.
    #[error("{0}")]
    BadPoolLimits(String),
    /// The server settings are unusable (bad `--server`, no server, bad `--ca-file`).
    #[error(transparent)]
    Send(#[from] SendError),
}

impl XymonSetupError {
    /// The process exit code, from [`exit`].
    pub fn exit_code(&self) -> i32 {
        match self {
            XymonSetupError::BadHost(_)
            | XymonSetupError::BadColumn(_)
            | XymonSetupError::BadPoolLimits(_) => exit::USAGE,
            XymonSetupError::Send(e) => e.exit_code(),
        }
    }
}

/// `--watch` could not start. Once running it never stops on an error: a failed
/// collection or send is reported as a one-shot run reports it, and the watch goes on.
#[derive(Debug, Error)]
pub enum WatchError {
    /// Another watcher holds the lock of the same state or cache files.
    #[error(
        "another hv_monitor --watch already runs for these files (it holds '{}')",
        lock.display()
    )]
    Busy {
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot take the watcher's lock '{}': {reason}", lock.display())]
    Lock {
        /// The lock file.
        lock: PathBuf,
        /// Why not.
        reason: String,
    },
    /// SIGTERM and SIGINT could not be caught.
    #[error("cannot catch SIGTERM and SIGINT: {0}")]
    Signals(String),
}

impl WatchError {
    /// The process exit code, from [`exit`].
    pub fn exit_code(&self) -> i32 {
        exit::WATCH_SETUP
    }
}

/// The rrd-script handler (subcommand `xymon-rrd`, run by xymond_rrd as its
/// `--extra-script`) could not use what xymond_rrd gave it.
#[derive(Debug, Error)]
pub enum RrdScriptError {
    /// Arguments not as xymond_rrd passes them; the text says which and how.
    #[error("{0}")]
    Usage(String),
    /// The message file xymond_rrd named could not be read safely or parsed.
    #[error("message file '{}' refused: {reason}", path.display())]
    Message {
        /// The message file path as given.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
}

impl RrdScriptError {
    /// The process exit code, from [`exit`].
    pub fn exit_code(&self) -> i32 {
        match self {
            RrdScriptError::Usage(_) => exit::USAGE,
            RrdScriptError::Message { .. } => exit::BAD_INPUT,
        }
    }
}

/// Process exit codes; documented in the README.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Bad command line (clap's own code).
    pub const USAGE: i32 = 2;
    /// The backend is not available: not built in, cannot connect, no such URI.
    pub const BACKEND_UNAVAILABLE: i32 = 3;
    /// Connected, but listing or reading the VMs failed.
    pub const COLLECTION_FAILED: i32 = 4;
    /// The deadline passed before the backend answered, or stdout's reader took nothing
    /// more by it.
    pub const DEADLINE: i32 = 5;
    /// The output files, or stdout, could not be written (a reader that went away: no
    /// message).
    pub const WRITE_FAILED: i32 = 6;
    /// Sending to a monitoring server failed.
    pub const SEND_FAILED: i32 = 7;
    /// Input (a message file, a state file) was unusable; a state path that is not a regular
    /// file is left as it is.
    pub const BAD_INPUT: i32 = 8;
    /// `--watch` could not start: another watcher holds its lock, or the lock file or the
    /// signal handlers could not be set up.
    pub const WATCH_SETUP: i32 = 9;
}

impl CollectError {
    /// The process exit code, from [`exit`]: unavailable backend, failed collection, or deadline.
    pub fn exit_code(&self) -> i32 {
        match self {
            CollectError::Unsupported(_) | CollectError::Connect { .. } => {
                exit::BACKEND_UNAVAILABLE
            }
            CollectError::Libvirt { .. } | CollectError::Command { .. } => exit::COLLECTION_FAILED,
            CollectError::Deadline { .. } => exit::DEADLINE,
        }
    }
}

impl RunError {
    /// The process exit code, from [`exit`].
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Collect(e) => e.exit_code(),
            RunError::Write(_) => exit::WRITE_FAILED,
        }
    }

    /// The LibreNMS envelope's `error`: 1 backend unusable and 2 collection failed keep the Perl
    /// tool's meaning; 3 and 4 are ours.
    pub fn librenms_code(&self) -> i64 {
        match self {
            RunError::Collect(CollectError::Unsupported(_) | CollectError::Connect { .. }) => 1,
            RunError::Collect(CollectError::Libvirt { .. } | CollectError::Command { .. }) => 2,
            RunError::Collect(CollectError::Deadline { .. }) => 3,
            RunError::Write(_) => 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libvirt_and_command_error_texts_are_shown_escaped() {
        let forged = "lost\r\nhv_monitor: all VMs OK\x1b[2K\0";
        let shown = "lost\\r\\nhv_monitor: all VMs OK\\u{1b}[2K\\0";
        let connect = CollectError::Connect {
            uri: "qemu:///sys\ntem".into(),
            reason: forged.into(),
        };
        assert_eq!(
            connect.to_string(),
            format!("cannot connect to libvirt at 'qemu:///sys\\ntem': {shown}")
        );
        let call = CollectError::Libvirt {
            call: "virConnectGetAllDomainStats",
            reason: forged.into(),
        };
        assert_eq!(
            RunError::from(call).to_string(),
            format!("libvirt call virConnectGetAllDomainStats failed: {shown}")
        );
        let command = CollectError::Command {
            command: "cbsd\x1b]0;x\x07 bls".into(),
            reason: forged.into(),
        };
        assert_eq!(
            command.to_string(),
            format!("command 'cbsd\\u{{1b}}]0;x\\u{{7}} bls' failed: {shown}")
        );
    }

    #[test]
    fn long_outside_texts_are_cut() {
        let e = CollectError::Libvirt {
            call: "virDomainGetXMLDesc",
            reason: "x".repeat(100_000),
        };
        let text = e.to_string();
        assert!(text.len() < REASON_SHOWN + 100, "{}", text.len());
        assert!(text.ends_with("... (99000 more bytes)"), "{text}");
        let e = SendError::HttpStatus {
            url: "http://x/".into(),
            status: "502 Bad Gateway".into(),
            body: format!("\n  <html>{}", "y".repeat(5000)),
        };
        let text = e.to_string();
        assert!(text.starts_with("HTTP POST to http://x/: HTTP status 502 Bad Gateway: <html>yyy"));
        assert!(text.len() < ANSWER_SHOWN + 100, "{}", text.len());
    }

    #[test]
    fn a_redirect_names_its_location_escaped_and_cut() {
        let e = SendError::HttpRedirect {
            url: "http://x/cgi".into(),
            status: "302 Found".into(),
            location: Some(format!("http://y/\r\nhv_monitor: ok{}", "z".repeat(5000))),
        };
        let text = e.to_string();
        assert!(
            text.starts_with(
                "HTTP POST to http://x/cgi: the server redirects (302 Found) to 'http://y/\\r\\nhv_monitor: ok"
            ),
            "{text}"
        );
        assert!(text.len() < ANSWER_SHOWN + 250, "{}", text.len());
        assert_eq!(e.exit_code(), exit::SEND_FAILED);
    }

    #[test]
    fn timeouts_read_in_the_seconds_given() {
        for (after, shown) in [(3000, "3 s"), (2500, "2.5 s"), (100, "0.1 s")] {
            let e = SendError::TimedOut {
                target: "127.0.0.1:1984".into(),
                after: Duration::from_millis(after),
                during: "connecting to 127.0.0.1:1984".into(),
            };
            assert_eq!(
                e.to_string(),
                format!(
                    "Xymon server 127.0.0.1:1984: timed out after {shown} connecting to 127.0.0.1:1984"
                )
            );
            assert_eq!(e.exit_code(), exit::SEND_FAILED);
        }
    }
}
