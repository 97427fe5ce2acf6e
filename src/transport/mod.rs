//! Getting messages to a Xymon server: its own TCP protocol, or an HTTP(S) POST to
//! xymoncgimsg.cgi where only a web server is reachable.
//!
//! TCP (port 1984 by default): connect, write the message, half-close, read the answer to
//! EOF. xymond handles a message only once the client has closed its side, and says nothing
//! for a status or data message, so success means "xymond read it". HTTP: the raw message
//! as an `application/octet-stream` body (a form-encoded body is silently lost).
//!
//! `--timeout` bounds the whole [`Exchange`] with one server, not each socket call: a
//! server that trickles a byte a second, never reads or never closes costs at most that
//! long, so a run ends within `-t` plus one timeout per server.
//!
//! Several messages travel as one `extcombo`, framed by [`combo`].

pub mod combo;
mod http;
mod target;
mod tcp;
mod tls;

use std::time::{Duration, Instant};

pub use target::{Target, parse_port};
pub use tls::CaFile;

use crate::error::SendError;

pub const DEFAULT_PORT: u16 = 1984;
/// More than any answer we ask for (a `hostinfo` line); a server that sends more is cut off.
const MAX_ANSWER: usize = 1 << 20;

/// Sends to servers; one HTTP client (and its connection pool) for the whole run.
pub struct Sender {
    timeout: Duration,
    /// Trusted for https:// besides the system's CAs.
    ca_file: Option<CaFile>,
    http: Option<http::HttpClient>,
}

impl Sender {
    pub fn new(timeout: Duration, ca_file: Option<CaFile>) -> Sender {
        Sender {
            timeout,
            ca_file,
            http: None,
        }
    }

    /// Starts the exchange with one server: everything sent through it, from the first
    /// connection to the last answer, must be done within the timeout from now.
    pub fn exchange<'a>(&'a mut self, target: &'a Target) -> Exchange<'a> {
        Exchange {
            budget: Budget {
                target,
                timeout: self.timeout,
                deadline: Instant::now() + self.timeout,
            },
            sender: self,
        }
    }
}

/// Talking to one server within one `--timeout`.
pub struct Exchange<'a> {
    sender: &'a mut Sender,
    budget: Budget<'a>,
}

impl Exchange<'_> {
    /// Sends one payload (a message or an extcombo) and returns the server's answer.
    pub fn send(&mut self, payload: &[u8]) -> Result<Vec<u8>, SendError> {
        match self.budget.target {
            Target::Tcp { host, port } => tcp::send(&self.budget, host, *port, payload),
            Target::Http { url } => {
                let sender = &mut *self.sender;
                let client = http::client(
                    &mut sender.http,
                    sender.timeout,
                    sender.ca_file.as_ref(),
                    url,
                )?;
                http::send(&client, &self.budget, url, payload)
            }
        }
    }

    /// Whether the server lists `host` (dotted) in its hosts.cfg. xymond drops messages of
    /// unknown hosts without a word, so this is the only way to tell a sender it is not heard.
    /// xymond answers `hostinfo` with `HOST|IP|TAGS` lines, or nothing for an unknown host;
    /// anything else means the port is not a Xymon server (or the URL not xymoncgimsg.cgi).
    pub fn host_known(&mut self, host: &str) -> Result<bool, SendError> {
        let answer = self.send(format!("hostinfo host={host}").as_bytes())?;
        let answer = String::from_utf8_lossy(&answer);
        let mut lines = answer.lines().filter(|l| !l.trim().is_empty()).peekable();
        if lines.peek().is_none() {
            return Ok(false);
        }
        if lines.clone().any(|l| l.split('|').next() == Some(host)) {
            return Ok(true);
        }
        if lines.clone().all(|l| l.contains('|')) {
            return Ok(false);
        }
        Err(SendError::NotXymon {
            target: self.budget.target.to_string(),
            answer: lines.next().unwrap_or_default().to_string(),
        })
    }
}

/// The time left for one exchange, and the errors that name its server.
struct Budget<'a> {
    target: &'a Target,
    timeout: Duration,
    deadline: Instant,
}

impl Budget<'_> {
    /// Time left for the next step; none left is the timeout. Socket timeouts cannot be
    /// zero, so under a millisecond counts as none.
    fn remaining(&self, during: impl FnOnce() -> String) -> Result<Duration, SendError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(1) {
            return Err(self.timed_out(during()));
        }
        Ok(left)
    }

    fn is_over(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn timed_out(&self, during: String) -> SendError {
        SendError::TimedOut {
            target: self.target.to_string(),
            after: self.timeout,
            during,
        }
    }

    fn failed(&self, reason: String) -> SendError {
        match self.target {
            Target::Tcp { .. } => SendError::Tcp {
                target: self.target.to_string(),
                reason,
            },
            Target::Http { url } => SendError::Http {
                url: url.clone(),
                reason,
            },
        }
    }
}
