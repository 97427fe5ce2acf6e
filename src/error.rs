//! Errors, one enum per boundary, and the one place that maps them to exit codes and to the
//! LibreNMS `error` numbers.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

/// A backend could not produce a snapshot at all.
#[derive(Debug, Error)]
pub enum CollectError {
    #[error("backend '{0}' is not built into this binary (or not available on this OS)")]
    Unsupported(&'static str),
    #[error("cannot connect to libvirt at '{uri}': {reason}")]
    Connect { uri: String, reason: String },
    #[error("libvirt call {call} failed: {reason}")]
    Libvirt { call: &'static str, reason: String },
    #[error("command '{command}' failed: {reason}")]
    Command { command: String, reason: String },
}

/// Writing the cache files failed.
#[derive(Debug, Error)]
#[error("cannot write '{}': {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// A file in a directory other users may write failed a check, or could not be opened.
#[derive(Debug, Error)]
pub enum SafeFileError {
    #[error("'{}' refused: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },
    #[error("'{}': {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SafeFileError {
    /// Nothing at the path: for a state file, a first run.
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

/// Why one run of the LibreNMS job failed.
#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("the {backend} backend gave no answer within the deadline of {}", humanize(*deadline))]
    Deadline {
        backend: &'static str,
        deadline: Duration,
    },
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

/// Sending to a Xymon server failed, or the server would drop what we send.
#[derive(Debug, Error)]
pub enum SendError {
    #[error("bad Xymon server '{spec}': {reason}")]
    BadServer { spec: String, reason: String },
    #[error(
        "no Xymon server to send to: give --server, or run from xymonlaunch (XYMSRV, XYMSERVERS)"
    )]
    NoServer,
    #[error("Xymon server {target}: {reason}")]
    Tcp { target: String, reason: String },
    #[error("HTTP POST to {url}: {reason}")]
    Http { url: String, reason: String },
    #[error(
        "Xymon server {target} does not know host '{host}': add it to the server's hosts.cfg \
         (xymond drops messages of unknown hosts silently), or give --host as listed there"
    )]
    UnknownHost { target: String, host: String },
    #[error("{target} is not a Xymon server: it answered '{answer}' to a hostinfo request")]
    NotXymon { target: String, answer: String },
}

impl SendError {
    pub fn exit_code(&self) -> i32 {
        match self {
            SendError::BadServer { .. } | SendError::NoServer => exit::USAGE,
            SendError::Tcp { .. }
            | SendError::Http { .. }
            | SendError::UnknownHost { .. }
            | SendError::NotXymon { .. } => exit::SEND_FAILED,
        }
    }
}

/// The `xymon-rrd` extra-script handler could not use what xymond_rrd gave it.
#[derive(Debug, Error)]
pub enum RrdScriptError {
    #[error("{0}")]
    Usage(String),
    #[error("message file '{}' refused: {reason}", path.display())]
    Message { path: PathBuf, reason: String },
}

impl RrdScriptError {
    pub fn exit_code(&self) -> i32 {
        match self {
            RrdScriptError::Usage(_) => exit::USAGE,
            RrdScriptError::Message { .. } => exit::BAD_INPUT,
        }
    }
}

/// Process exit codes; documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    /// Bad command line (clap's own code).
    pub const USAGE: i32 = 2;
    /// The backend is not available: not built in, cannot connect, no such URI.
    pub const BACKEND_UNAVAILABLE: i32 = 3;
    /// Connected, but listing or reading the VMs failed.
    pub const COLLECTION_FAILED: i32 = 4;
    /// The deadline passed before the backend answered.
    pub const DEADLINE: i32 = 5;
    /// The output files could not be written.
    pub const WRITE_FAILED: i32 = 6;
    /// Sending to a monitoring server failed.
    pub const SEND_FAILED: i32 = 7;
    /// Input (a message file, a state file) was unusable.
    pub const BAD_INPUT: i32 = 8;
}

impl RunError {
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Collect(CollectError::Unsupported(_) | CollectError::Connect { .. }) => {
                exit::BACKEND_UNAVAILABLE
            }
            RunError::Collect(_) => exit::COLLECTION_FAILED,
            RunError::Deadline { .. } => exit::DEADLINE,
            RunError::Write(_) => exit::WRITE_FAILED,
        }
    }

    /// The LibreNMS envelope's `error`: 1 backend unusable and 2 collection failed keep the Perl
    /// tool's meaning; 3 and 4 are ours.
    pub fn librenms_code(&self) -> i64 {
        match self {
            RunError::Collect(CollectError::Unsupported(_) | CollectError::Connect { .. }) => 1,
            RunError::Collect(_) => 2,
            RunError::Deadline { .. } => 3,
            RunError::Write(_) => 4,
        }
    }
}
