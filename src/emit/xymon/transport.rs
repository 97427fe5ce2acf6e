//! Getting messages to a Xymon server: its own TCP protocol, or an HTTP(S) POST to
//! xymoncgimsg.cgi where only a web server is reachable.
//!
//! TCP (port 1984 by default): connect, write the message, half-close, read the answer to
//! EOF. xymond handles a message only once the client has closed its side, and says nothing
//! for a status or data message, so success means "xymond read it". HTTP: the raw message
//! as an `application/octet-stream` body (a form-encoded body is silently lost).

use std::fmt;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Once;
use std::time::Duration;

use crate::error::SendError;

pub const DEFAULT_PORT: u16 = 1984;
/// More than any answer we ask for (a `hostinfo` line); a server that sends more is cut off.
const MAX_ANSWER: u64 = 1 << 20;

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp { host: String, port: u16 },
    Http { url: String },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "{host}:{port}"),
            Target::Http { url } => f.write_str(url),
        }
    }
}

impl Target {
    /// `HOST`, `HOST:PORT`, `[V6ADDR]:PORT`, or an `http://` / `https://` URL.
    pub fn parse(spec: &str, default_port: u16) -> Result<Target, SendError> {
        let bad = |why: &str| SendError::BadServer {
            spec: spec.to_string(),
            reason: why.to_string(),
        };
        let lower = spec.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return reqwest::Url::parse(spec)
                .map(|_| Target::Http {
                    url: spec.to_string(),
                })
                .map_err(|e| bad(&e.to_string()));
        }
        let port = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(&format!("port '{p}' is not 1..65535")))
        };
        let (host, port) = if let Some(rest) = spec.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("unclosed '[' in an IPv6 address"))?;
            match after.strip_prefix(':') {
                Some(p) => (host, port(p)?),
                None if after.is_empty() => (host, default_port),
                None => return Err(bad("expected ':PORT' after ']'")),
            }
        } else {
            match spec.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => (spec, default_port), // bare IPv6
                Some((h, p)) => (h, port(p)?),
                None => (spec, default_port),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(bad("no usable host name"));
        }
        Ok(Target::Tcp {
            host: host.to_string(),
            port,
        })
    }
}

/// Sends payloads to targets; one HTTP client for the whole run.
pub struct Sender {
    timeout: Duration,
    http: Option<reqwest::blocking::Client>,
}

impl Sender {
    pub fn new(timeout: Duration) -> Sender {
        Sender {
            timeout,
            http: None,
        }
    }

    /// Sends one payload (a message or an extcombo) and returns the server's answer.
    pub fn send(&mut self, target: &Target, payload: &[u8]) -> Result<Vec<u8>, SendError> {
        match target {
            Target::Tcp { host, port } => self.send_tcp(target, host, *port, payload),
            Target::Http { url } => self.send_http(url, payload),
        }
    }

    /// Whether the server lists `host` (dotted) in its hosts.cfg. xymond drops messages of
    /// unknown hosts without a word, so this is the only way to tell a sender it is not heard.
    /// xymond answers `hostinfo` with `HOST|IP|TAGS` lines, or nothing for an unknown host;
    /// anything else means the port is not a Xymon server (or the URL not xymoncgimsg.cgi).
    pub fn host_known(&mut self, target: &Target, host: &str) -> Result<bool, SendError> {
        let answer = self.send(target, format!("hostinfo host={host}").as_bytes())?;
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
        let first: String = lines.next().unwrap_or_default().chars().take(80).collect();
        Err(SendError::NotXymon {
            target: target.to_string(),
            answer: first.escape_debug().to_string(),
        })
    }

    fn send_tcp(
        &self,
        target: &Target,
        host: &str,
        port: u16,
        payload: &[u8],
    ) -> Result<Vec<u8>, SendError> {
        let fail = |reason: String| SendError::Tcp {
            target: target.to_string(),
            reason,
        };
        let addrs: Vec<_> = (host, port)
            .to_socket_addrs()
            .map_err(|e| fail(format!("cannot resolve '{host}': {e}")))?
            .collect();
        let mut last = format!("'{host}' resolves to no address");
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("cannot connect to {addr}: {e}"),
            }
        }
        let mut stream = stream.ok_or_else(|| fail(last))?;
        stream
            .set_write_timeout(Some(self.timeout))
            .and_then(|_| stream.set_read_timeout(Some(self.timeout)))
            .map_err(|e| fail(e.to_string()))?;
        stream
            .write_all(payload)
            .map_err(|e| fail(format!("writing {} bytes: {e}", payload.len())))?;
        // The half-close is what tells xymond the message is complete.
        stream
            .shutdown(Shutdown::Write)
            .map_err(|e| fail(format!("closing the sending side: {e}")))?;
        let mut answer = Vec::new();
        stream
            .take(MAX_ANSWER)
            .read_to_end(&mut answer)
            .map_err(|e| fail(format!("reading the answer: {e}")))?;
        Ok(answer)
    }

    fn send_http(&mut self, url: &str, payload: &[u8]) -> Result<Vec<u8>, SendError> {
        let fail = |reason: String| SendError::Http {
            url: url.to_string(),
            reason,
        };
        let client = match &self.http {
            Some(client) => client.clone(),
            None => {
                install_tls_provider();
                let client = reqwest::blocking::Client::builder()
                    .timeout(self.timeout)
                    .user_agent(concat!("hv_monitor/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| fail(format!("cannot set up the HTTP client: {e}")))?;
                // A clone shares the connection pool.
                self.http = Some(client.clone());
                client
            }
        };
        let response = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(payload.to_vec())
            .send()
            .map_err(|e| fail(error_chain(&e)))?;
        let status = response.status();
        let body = response
            .bytes()
            .map_err(|e| fail(format!("reading the answer: {}", error_chain(&e))))?;
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            return Err(fail(format!("HTTP status {status}: {}", text.trim())));
        }
        Ok(body.to_vec())
    }
}

/// reqwest's top-level error says only "error sending request"; the cause is further down.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// reqwest is built without a default crypto provider (ring builds for every target we
/// cross-check, aws-lc does not); rustls needs one installed before the first client.
fn install_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only means another provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Target {
        Target::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn server_specs() {
        assert_eq!(Target::parse("xymon", 1984).unwrap(), tcp("xymon", 1984));
        assert_eq!(
            Target::parse("10.0.0.1:1985", 1984).unwrap(),
            tcp("10.0.0.1", 1985)
        );
        assert_eq!(Target::parse("[::1]:1985", 1984).unwrap(), tcp("::1", 1985));
        assert_eq!(Target::parse("::1", 1984).unwrap(), tcp("::1", 1984));
        assert_eq!(
            Target::parse("https://x/xymon-cgi/xymoncgimsg.cgi", 1984).unwrap(),
            Target::Http {
                url: "https://x/xymon-cgi/xymoncgimsg.cgi".into()
            }
        );
        assert_eq!(tcp("::1", 1985).to_string(), "[::1]:1985");
        for bad in [
            "xymon:0",
            "xymon:99999",
            "xymon:abc",
            "",
            "[::1",
            "a b",
            "http://",
        ] {
            let err = Target::parse(bad, 1984).unwrap_err().to_string();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn a_closed_port_is_a_clear_error() {
        // Bind then drop: the port is free and nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let target = tcp("127.0.0.1", port);
        let err = Sender::new(Duration::from_secs(2))
            .send(&target, b"status x.y green")
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.to_lowercase().contains("refused"), "{err}");
    }

    #[test]
    fn a_message_is_written_whole_then_half_closed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            // Reaches EOF only because the client half-closes.
            conn.read_to_end(&mut got).unwrap();
            conn.write_all(b"answer").unwrap();
            got
        });
        let answer = Sender::new(Duration::from_secs(5))
            .send(&tcp("127.0.0.1", port), b"data h.t\nx : 1\n")
            .unwrap();
        assert_eq!(answer, b"answer");
        assert_eq!(server.join().unwrap(), b"data h.t\nx : 1\n");
    }
}
