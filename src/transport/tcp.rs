//! Xymon's own protocol: one TCP connection per message, each step bounded by what is left
//! of the exchange's timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use super::{Budget, MAX_ANSWER};
use crate::error::SendError;

pub(super) fn send(
    budget: &Budget,
    host: &str,
    port: u16,
    payload: &[u8],
) -> Result<Vec<u8>, SendError> {
    let addrs = resolve(budget, host, port)?;
    let mut stream = connect(budget, host, &addrs)?;
    write_all(budget, &mut stream, payload)?;
    // The half-close is what tells xymond the message is complete.
    stream
        .shutdown(Shutdown::Write)
        .map_err(|e| budget.failed(format!("closing the sending side: {e}")))?;
    read_answer(budget, &mut stream)
}

/// getaddrinfo has no timeout of ours (resolv.conf's retries can add up to half a minute),
/// so a name is looked up on a thread of its own that is left to finish alone if it takes
/// longer than the exchange may. An address needs no lookup.
fn resolve(budget: &Budget, host: &str, port: u16) -> Result<Vec<SocketAddr>, SendError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let during = || format!("resolving '{host}'");
    let left = budget.remaining(during)?;
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    std::thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            // Err: the exchange gave up waiting; nobody needs the answer.
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
        })
        .map_err(|e| budget.failed(format!("cannot start resolving '{host}': {e}")))?;
    match rx.recv_timeout(left) {
        Ok(Ok(addrs)) if addrs.is_empty() => {
            Err(budget.failed(format!("'{host}' resolves to no address")))
        }
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(budget.failed(format!("cannot resolve '{host}': {e}"))),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(budget.timed_out(during())),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(budget.failed(format!(
            "cannot resolve '{host}': the lookup ended without an answer"
        ))),
    }
}

fn connect(budget: &Budget, host: &str, addrs: &[SocketAddr]) -> Result<TcpStream, SendError> {
    let mut last = format!("'{host}' resolves to no address");
    for addr in addrs {
        let during = || format!("connecting to {addr}");
        let left = budget.remaining(during)?;
        match TcpStream::connect_timeout(addr, left) {
            Ok(stream) => return Ok(stream),
            Err(e) if is_timeout(&e) => return Err(budget.timed_out(during())),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(budget.failed(last))
}

fn write_all(budget: &Budget, stream: &mut TcpStream, payload: &[u8]) -> Result<(), SendError> {
    let mut written = 0;
    let during = |written: usize| {
        format!(
            "sending (the server took {written} of {} bytes)",
            payload.len()
        )
    };
    while written < payload.len() {
        let left = budget.remaining(|| during(written))?;
        set_timeout(budget, stream, TcpStream::set_write_timeout, left)?;
        match stream.write(&payload[written..]) {
            Ok(0) => {
                return Err(budget.failed(format!(
                    "the server stopped taking data after {written} of {} bytes",
                    payload.len()
                )));
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return Err(budget.timed_out(during(written))),
            Err(e) => {
                return Err(budget.failed(format!("writing {} bytes: {e}", payload.len())));
            }
        }
    }
    Ok(())
}

/// The answer up to EOF, cut at [`MAX_ANSWER`].
fn read_answer(budget: &Budget, stream: &mut TcpStream) -> Result<Vec<u8>, SendError> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let during = |got: usize| format!("waiting for the answer (got {got} bytes, no end yet)");
    loop {
        let left = budget.remaining(|| during(answer.len()))?;
        set_timeout(budget, stream, TcpStream::set_read_timeout, left)?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(answer),
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.len() >= MAX_ANSWER {
                    answer.truncate(MAX_ANSWER);
                    return Ok(answer);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return Err(budget.timed_out(during(answer.len()))),
            Err(e) => return Err(budget.failed(format!("reading the answer: {e}"))),
        }
    }
}

fn set_timeout(
    budget: &Budget,
    stream: &TcpStream,
    set: fn(&TcpStream, Option<Duration>) -> std::io::Result<()>,
    left: Duration,
) -> Result<(), SendError> {
    set(stream, Some(left)).map_err(|e| budget.failed(format!("cannot set a timeout: {e}")))
}

/// A socket timeout shows as EAGAIN (`WouldBlock`) on Unix, `TimedOut` elsewhere.
fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    use super::super::{Sender, Target};
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
