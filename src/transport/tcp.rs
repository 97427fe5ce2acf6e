//! Xymon's own protocol: one TCP connection per message, each step bounded by what is left
//! of the exchange's timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use super::budget::{Budget, MAX_ANSWER};
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
