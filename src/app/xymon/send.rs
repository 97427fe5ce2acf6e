//! Sending the messages to every server.

use crate::error::SendError;
use crate::transport::combine;
use crate::transport::{CaFile, Sender, Target};

/// Sends `messages` to every target, each within one `timeout`; whether every one took them.
/// A server that fails is reported and the others still get the messages.
pub fn send_all(
    messages: &[String],
    targets: &[Target],
    host: &str,
    timeout: std::time::Duration,
    ca_file: Option<CaFile>,
    host_check: bool,
) -> bool {
    let payloads = combine(messages);
    let mut sender = Sender::new(timeout, ca_file);
    let mut all_sent = true;
    for target in targets {
        if let Err(e) = send_to(&mut sender, target, host, &payloads, host_check) {
            crate::diag!("hv_monitor: {e}");
            all_sent = false;
        }
    }
    all_sent
}

/// One server: the host check, then every payload, all within one `--timeout`.
fn send_to(
    sender: &mut Sender,
    target: &Target,
    host: &str,
    payloads: &[Vec<u8>],
    host_check: bool,
) -> Result<(), SendError> {
    let mut exchange = sender.exchange(target);
    if host_check && !exchange.host_known(host)? {
        return Err(SendError::UnknownHost {
            target: target.to_string(),
            host: host.to_string(),
        });
    }
    for payload in payloads {
        exchange.send(payload)?;
    }
    Ok(())
}
