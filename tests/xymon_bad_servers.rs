//! `hv_monitor xymon` against servers that misbehave, each a real TCP listener on 127.0.0.1
//! (ports 19858-19869) written here with std::net: one that trickles its answer a byte a
//! second, one that accepts and never reads, one that never answers nor closes, and the same
//! for HTTP (trickled headers, trickled body, no answer). `--timeout` bounds the whole
//! exchange with each server, so every run ends in time with exit 7 and an error naming the
//! server. The bounds asserted are correctness bounds with a wide margin, not benchmarks
//! (scripts/bad-server-figures.sh prints the figures). Also: what a server says is shown
//! escaped, so it cannot forge lines on the terminal.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{hv_monitor, stderr};

const SEND_FAILED: i32 = 7;
/// How long a misbehaving server keeps a connection at most; far past any timeout here.
const HOLD: Duration = Duration::from_secs(30);

/// A listener on 127.0.0.1:`port` running `behave` on every connection, each on a thread
/// of its own. Bound before this returns, so no run sees a refused connection. Returns the
/// count of connections accepted, proving the run reached the server.
fn serve(port: u16, behave: fn(TcpStream)) -> Arc<AtomicUsize> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || behave(conn));
        }
    });
    accepted
}

/// Writes `bytes` one a second; stops when the client has gone.
fn trickle(conn: &mut TcpStream, bytes: &[u8]) {
    for b in bytes {
        if conn.write_all(std::slice::from_ref(b)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Reads one HTTP request: the headers, then a Content-Length body.
fn read_http_request(conn: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let mut wanted = None;
    while wanted.is_none_or(|w| got.len() < w) {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        let end = got.windows(4).position(|w| w == b"\r\n\r\n");
        if let (None, Some(end)) = (wanted, end) {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            wanted = Some(end + 4 + length);
        }
    }
    got
}

fn tcp_trickles_its_answer(mut conn: TcpStream) {
    trickle(&mut conn, &[b'x'; 60]);
}

fn accepts_and_never_reads(conn: TcpStream) {
    std::thread::sleep(HOLD);
    drop(conn);
}

fn tcp_reads_and_never_closes(mut conn: TcpStream) {
    let mut request = Vec::new();
    // EOF comes with the client's half-close; then silence, the connection open.
    let _ = conn.read_to_end(&mut request);
    std::thread::sleep(HOLD);
}

fn http_trickles_its_headers(mut conn: TcpStream) {
    read_http_request(&mut conn);
    trickle(
        &mut conn,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
    );
}

fn http_trickles_its_body(mut conn: TcpStream) {
    read_http_request(&mut conn);
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n");
    trickle(&mut conn, &[b'x'; 60]);
}

fn http_never_answers(mut conn: TcpStream) {
    read_http_request(&mut conn);
    std::thread::sleep(HOLD);
}

/// `hv_monitor xymon` sending the test driver's snapshot to `servers`: its output and how
/// long it took. The state file goes into a directory of the test's own.
fn run_xymon(servers: &[String], timeout: &str) -> (Output, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hv_monitor();
    cmd.args([
        "xymon",
        "--uri",
        "test:///default",
        "--host",
        "bad.example.com",
    ])
    .args(["--timeout", timeout, "-t", "5", "--state"])
    .arg(dir.path().join("state.json"));
    for server in servers {
        cmd.args(["--server", server]);
    }
    let started = Instant::now();
    let out = cmd.output().expect("hv_monitor runs");
    (out, started.elapsed())
}

/// One misbehaving server with `--timeout 2`: exit 7 well within the bound, the server
/// named, "timed out after 2 s".
fn gives_up_in_time(port: u16, behave: fn(TcpStream), http: bool) {
    let accepted = serve(port, behave);
    let server = if http {
        format!("http://127.0.0.1:{port}/xymon-cgi/xymoncgimsg.cgi")
    } else {
        format!("127.0.0.1:{port}")
    };
    let (out, took) = run_xymon(std::slice::from_ref(&server), "2");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(SEND_FAILED), "{server}: {err}");
    assert!(
        err.contains(&format!("Xymon server {server}: timed out after 2 s")),
        "{server}: {err}"
    );
    // -t 5 bounds the collection (test:///default takes milliseconds); 2 s the server.
    assert!(
        took < Duration::from_secs(6),
        "{server}: took {took:?}: {err}"
    );
    // The kernel completed the connection for the run; the listener's thread may take it
    // from the queue later than the run ended (seen on a loaded machine): wait for it.
    let queued_until = Instant::now() + Duration::from_secs(10);
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < queued_until,
            "the run never reached {server}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn a_tcp_server_trickling_its_answer_is_given_up_on_in_time() {
    gives_up_in_time(19860, tcp_trickles_its_answer, false);
}

#[test]
fn a_tcp_server_that_never_reads_is_given_up_on_in_time() {
    gives_up_in_time(19861, accepts_and_never_reads, false);
}

#[test]
fn a_tcp_server_that_never_closes_is_given_up_on_in_time() {
    gives_up_in_time(19862, tcp_reads_and_never_closes, false);
}

#[test]
fn an_http_server_trickling_its_headers_is_given_up_on_in_time() {
    gives_up_in_time(19863, http_trickles_its_headers, true);
}

#[test]
fn an_http_server_trickling_its_body_is_given_up_on_in_time() {
    gives_up_in_time(19864, http_trickles_its_body, true);
}

#[test]
fn an_http_server_that_never_answers_is_given_up_on_in_time() {
    gives_up_in_time(19865, http_never_answers, true);
}

#[test]
fn an_http_server_that_never_reads_is_given_up_on_in_time() {
    gives_up_in_time(19866, accepts_and_never_reads, true);
}

/// Servers are tried one after another, each with its own timeout: two bad ones cost at
/// most two timeouts, and both are reported.
#[test]
fn each_bad_server_costs_at_most_one_timeout() {
    serve(19867, tcp_trickles_its_answer);
    serve(19868, http_never_answers);
    let servers = [
        "127.0.0.1:19867".to_string(),
        "http://127.0.0.1:19868/xymoncgimsg.cgi".to_string(),
    ];
    let (out, took) = run_xymon(&servers, "1.5");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(SEND_FAILED), "{err}");
    for server in &servers {
        assert!(
            err.contains(&format!("Xymon server {server}: timed out after 1.5 s")),
            "{server}: {err}"
        );
    }
    assert!(took < Duration::from_secs(7), "took {took:?}: {err}");
}

/// Answers a raw Xymon request with terminal escapes, and an HTTP POST with a 500 whose
/// page is full of them.
fn answers_with_escapes(mut conn: TcpStream) {
    const FORGED: &str = "\x1b]0;owned\x07\x1b[2K\rhv_monitor: sent to all servers\x1b[8m\0";
    let mut first = [0u8; 4];
    if conn.read_exact(&mut first).is_err() {
        return;
    }
    if &first == b"POST" {
        read_http_request(&mut conn);
        let _ = write!(
            conn,
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{FORGED}",
            FORGED.len()
        );
    } else {
        let _ = conn.read_to_end(&mut Vec::new());
        let _ = conn.write_all(FORGED.as_bytes());
    }
}

#[test]
fn what_a_server_says_is_shown_escaped() {
    serve(19869, answers_with_escapes);
    for (server, needle) in [
        (
            "http://127.0.0.1:19869/xymoncgimsg.cgi",
            "HTTP status 500 Internal Server Error: ",
        ),
        ("127.0.0.1:19869", "is not a Xymon server: it answered '"),
    ] {
        let (out, _) = run_xymon(&[server.to_string()], "5");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(SEND_FAILED), "{server}: {err}");
        assert!(err.contains(needle), "{server}: {err}");
        assert!(
            err.contains(
                "\\u{1b}]0;owned\\u{7}\\u{1b}[2K\\rhv_monitor: sent to all servers\\u{1b}[8m\\0"
            ),
            "{server}: {err}"
        );
        // One line per error; nothing a terminal would act on.
        assert!(
            !err.chars().any(|c| c.is_control() && c != '\n'),
            "{server}: {err:?}"
        );
        assert_eq!(err.lines().count(), 1, "{server}: {err}");
    }
}

/// Every request line the redirecting server got, in order.
static REDIRECTED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Answers `POST /CODE/...` with that 3xx status pointing at /moved, and anything else (the
/// GET a followed redirect would make) with an empty 200, as a web server's landing page
/// would. Keeps the connection for further requests, logging each in [`REDIRECTED`].
fn redirects_to_moved(mut conn: TcpStream) {
    loop {
        let request = read_http_request(&mut conn);
        let Some(line) = String::from_utf8_lossy(&request)
            .lines()
            .next()
            .map(String::from)
        else {
            return;
        };
        REDIRECTED.lock().unwrap().push(line.clone());
        let code = line.split('/').nth(1).unwrap_or_default();
        let answer = match code {
            "301" | "302" | "303" | "307" => format!(
                "HTTP/1.1 {code} Moved\r\nLocation: http://127.0.0.1:19858/moved\r\n\
                 Content-Length: 0\r\n\r\n"
            ),
            _ => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_string(),
        };
        if conn.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A redirect turned the POST into a GET without the message (and 307 re-sent it elsewhere):
/// with --no-host-check the run said 0 with nothing delivered, with the check it blamed
/// hosts.cfg. Now it is an error naming the status and the Location, after one request.
#[test]
fn an_http_redirect_is_an_error_naming_its_location_and_is_not_followed() {
    serve(19858, redirects_to_moved);
    for code in ["301", "302", "303", "307"] {
        for check in [true, false] {
            REDIRECTED.lock().unwrap().clear();
            let dir = tempfile::tempdir().unwrap();
            let url = format!("http://127.0.0.1:19858/{code}/xymoncgimsg.cgi");
            let mut cmd = hv_monitor();
            cmd.args([
                "xymon",
                "--uri",
                "test:///default",
                "--host",
                "bad.example.com",
            ])
            .args(["--timeout", "5", "--server", &url, "--state"])
            .arg(dir.path().join("state.json"));
            if !check {
                cmd.arg("--no-host-check");
            }
            let out = cmd.output().expect("hv_monitor runs");
            let err = stderr(&out);
            let case = format!("{code}, host check {check}");
            assert_eq!(out.status.code(), Some(SEND_FAILED), "{case}: {err}");
            assert!(
                err.contains(&format!(
                    "HTTP POST to {url}: the server redirects ({code} "
                )) && err.contains(") to 'http://127.0.0.1:19858/moved': not followed"),
                "{case}: {err}"
            );
            assert_eq!(
                *REDIRECTED.lock().unwrap(),
                [format!("POST /{code}/xymoncgimsg.cgi HTTP/1.1")],
                "{case}: one request, the POST; {err}"
            );
        }
    }
}
