//! One run's sender and its exchanges with each server, over TCP or HTTP(S).

use std::time::{Duration, Instant};

use super::budget::Budget;
use super::target::Target;
use super::tls::CaFile;
use super::{http, tcp};
use crate::error::SendError;

/// Sends to servers; one HTTP client (and its connection pool) for the whole run.
pub struct Sender {
    timeout: Duration,
    /// Trusted for https:// besides the system's CAs.
    ca_file: Option<CaFile>,
    http: Option<http::HttpClient>,
}

impl Sender {
    /// `timeout` bounds the whole exchange with each server; `ca_file` is `--ca-file`.
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

#[cfg(test)]
mod tests {
    //! Exchanges over TCP with a local listener.
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    fn tcp(port: u16) -> Target {
        Target::Tcp {
            host: "127.0.0.1".into(),
            port,
        }
    }

    #[test]
    fn a_closed_port_is_a_clear_error() {
        // Bind then drop: the port is free and nothing listens on it.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let target = tcp(port);
        let err = Sender::new(Duration::from_secs(2), None)
            .exchange(&target)
            .send(b"status x.y green")
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.to_lowercase().contains("refused"), "{err}");
    }

    #[test]
    fn a_message_is_written_whole_then_half_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            // Reaches EOF only because the client half-closes.
            conn.read_to_end(&mut got).unwrap();
            conn.write_all(b"answer").unwrap();
            got
        });
        let target = tcp(port);
        let answer = Sender::new(Duration::from_secs(5), None)
            .exchange(&target)
            .send(b"data h.t\nx : 1\n")
            .unwrap();
        assert_eq!(answer, b"answer");
        assert_eq!(server.join().unwrap(), b"data h.t\nx : 1\n");
    }

    /// The bound is on the exchange: an answer trickling in under each per-call timeout
    /// still ends at the exchange's timeout.
    #[test]
    fn a_trickling_answer_ends_at_the_exchange_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            for _ in 0..100 {
                if conn.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let target = tcp(port);
        let started = Instant::now();
        let err = Sender::new(Duration::from_millis(700), None)
            .exchange(&target)
            .send(b"hostinfo host=x")
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        assert!(
            err.starts_with(&format!(
                "Xymon server 127.0.0.1:{port}: timed out after 0.7 s waiting for the answer (got "
            )),
            "{err}"
        );
    }

    /// A server that accepts and never reads: once the socket buffers are full the write
    /// waits, and gives up at the timeout.
    #[test]
    fn a_server_that_never_reads_stops_a_large_write_at_the_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_secs(10));
            drop(conn);
        });
        let target = tcp(port);
        // Far more than loopback's socket buffers take.
        let payload = vec![b'x'; 64 << 20];
        let started = Instant::now();
        let err = Sender::new(Duration::from_millis(500), None)
            .exchange(&target)
            .send(&payload)
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < Duration::from_secs(4), "{err}");
        let want = format!(
            "Xymon server 127.0.0.1:{port}: timed out after 0.5 s sending (the server took "
        );
        assert!(err.starts_with(&want), "{err}");
        assert!(err.ends_with(&format!(" of {} bytes)", 64 << 20)), "{err}");
    }

    /// Several messages to one server share one timeout.
    #[test]
    fn later_messages_get_only_what_is_left_of_the_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            // Answers each connection after 300 ms, for as long as the test runs.
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut got = Vec::new();
                let _ = conn.read_to_end(&mut got);
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        let target = tcp(port);
        let mut sender = Sender::new(Duration::from_millis(1000), None);
        let mut exchange = sender.exchange(&target);
        let started = Instant::now();
        let mut sent = 0;
        let err = loop {
            match exchange.send(b"data h.t\n") {
                Ok(_) => sent += 1,
                Err(e) => break e.to_string(),
            }
            assert!(sent < 10, "ten messages of 300 ms in a 1 s exchange");
        };
        assert!((2..=3).contains(&sent), "{sent} sent; {err}");
        assert!(started.elapsed() < Duration::from_secs(3), "{err}");
        assert!(err.contains("timed out after 1 s"), "{err}");
    }
}
