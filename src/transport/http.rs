//! HTTP(S) POST to xymoncgimsg.cgi, each request bounded by what is left of the exchange's
//! timeout: reqwest's per-request timeout runs from connecting to the end of the body.
//!
//! Straight to the server named, as over Xymon's TCP protocol: no redirect is followed (a
//! redirected POST turns into a GET without the message, which was lost silently) and proxy
//! variables (`http_proxy`, `https_proxy`, `ALL_PROXY`) are ignored, so an environment
//! inherited from cron or systemd cannot route the messages elsewhere unseen. The TLS roots
//! are [`tls`]'s.

use std::io::Read;
use std::sync::Once;
use std::time::Duration;

use reqwest::blocking::Client;

use super::budget::{Budget, MAX_ANSWER};
use super::tls::{self, CaFile, Roots};
use crate::error::SendError;

/// The run's client, and what it trusts (said when a server's certificate is refused).
#[derive(Clone)]
pub(super) struct HttpClient {
    client: Client,
    trusted: String,
}

/// The run's client, built at first use.
pub(super) fn client(
    slot: &mut Option<HttpClient>,
    timeout: Duration,
    ca_file: Option<&CaFile>,
    url: &str,
) -> Result<HttpClient, SendError> {
    if let Some(client) = slot {
        // A clone shares the connection pool.
        return Ok(client.clone());
    }
    let client = build(timeout, tls::roots(ca_file)).map_err(|e| SendError::Http {
        url: url.to_string(),
        reason: format!("cannot set up the HTTP client: {}", error_chain(&e)),
    })?;
    *slot = Some(client.clone());
    Ok(client)
}

fn build(timeout: Duration, roots: Roots) -> reqwest::Result<HttpClient> {
    install_tls_provider();
    let client = Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("hv_monitor/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tls_certs_only(roots.certs)
        .build()?;
    Ok(HttpClient {
        client,
        trusted: roots.described,
    })
}

pub(super) fn send(
    http: &HttpClient,
    budget: &Budget,
    url: &str,
    payload: &[u8],
) -> Result<Vec<u8>, SendError> {
    let waiting = "waiting for the HTTP answer";
    let left = budget.remaining(|| waiting.into())?;
    let response = http
        .client
        .post(url)
        .timeout(left)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(payload.to_vec())
        .send()
        .map_err(|e| {
            if e.is_timeout() || budget.is_over() {
                let during = if e.is_connect() {
                    "connecting"
                } else {
                    waiting
                };
                budget.timed_out(during.into())
            } else if certificate_refused(&e) {
                budget.failed(format!(
                    "{}: the server's certificate was refused (trusted: {}; a private CA's \
                     certificate goes in --ca-file)",
                    error_chain(&e),
                    http.trusted
                ))
            } else {
                budget.failed(error_chain(&e))
            }
        })?;
    let status = response.status();
    if status.is_redirection() {
        let location = response.headers().get(reqwest::header::LOCATION);
        return Err(SendError::HttpRedirect {
            url: url.to_string(),
            status: status.to_string(),
            location: location.map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned()),
        });
    }
    let mut body = Vec::new();
    // Each read is bounded by the request's timeout, and the body as a whole too.
    response
        .take(MAX_ANSWER as u64)
        .read_to_end(&mut body)
        .map_err(|e| {
            if budget.is_over() {
                budget.timed_out(format!(
                    "reading the HTTP answer (got {} bytes)",
                    body.len()
                ))
            } else {
                budget.failed(format!("reading the answer: {}", error_chain(&e)))
            }
        })?;
    if !status.is_success() {
        return Err(SendError::HttpStatus {
            url: url.to_string(),
            status: status.to_string(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    Ok(body)
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

/// Whether the TLS handshake failed on the server's certificate. hyper wraps rustls's error
/// in an `io::Error`, whose `source()` skips what it wraps, so that is looked into too.
fn certificate_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(rustls::Error::InvalidCertificate(_)) = err.downcast_ref::<rustls::Error>() {
            return true;
        }
        let wrapped = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if wrapped.is_some_and(|inner| certificate_refused(inner)) {
            return true;
        }
        next = err.source();
    }
    false
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

    #[test]
    fn a_client_builds_without_any_ca_for_plain_http() {
        let none = Roots {
            certs: Vec::new(),
            described: "no system CAs".into(),
        };
        assert!(build(Duration::from_secs(1), none).is_ok());
    }
}
