//! HTTP(S) POST to xymoncgimsg.cgi, each request bounded by what is left of the exchange's
//! timeout: reqwest's per-request timeout runs from connecting to the end of the body.

use std::io::Read;
use std::sync::Once;
use std::time::Duration;

use reqwest::blocking::Client;

use super::{Budget, MAX_ANSWER};
use crate::error::SendError;

/// The run's client, built at first use.
pub(super) fn client(
    slot: &mut Option<Client>,
    timeout: Duration,
    url: &str,
) -> Result<Client, SendError> {
    if let Some(client) = slot {
        // A clone shares the connection pool.
        return Ok(client.clone());
    }
    install_tls_provider();
    let client = Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("hv_monitor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SendError::Http {
            url: url.to_string(),
            reason: format!("cannot set up the HTTP client: {}", error_chain(&e)),
        })?;
    *slot = Some(client.clone());
    Ok(client)
}

pub(super) fn send(
    client: &Client,
    budget: &Budget,
    url: &str,
    payload: &[u8],
) -> Result<Vec<u8>, SendError> {
    let waiting = "waiting for the HTTP answer";
    let left = budget.remaining(|| waiting.into())?;
    let response = client
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
            } else {
                budget.failed(error_chain(&e))
            }
        })?;
    let status = response.status();
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

/// reqwest is built without a default crypto provider (ring builds for every target we
/// cross-check, aws-lc does not); rustls needs one installed before the first client.
fn install_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only means another provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
