//! Which Xymon servers to send to.

use crate::error::SendError;
use crate::transport::{DEFAULT_PORT, Target, parse_port};

/// `--server` values, else what xymonlaunch exports: `$XYMSRV`, or every `$XYMSERVERS` entry
/// when `$XYMSRV` is `0.0.0.0` (Xymon's "all servers"); the port from `$XYMONDPORT`.
pub fn targets(servers: &[String]) -> Result<Vec<Target>, SendError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let port = match env("XYMONDPORT") {
        Some(p) => parse_port(p.trim()).map_err(|reason| SendError::BadServer {
            spec: format!("XYMONDPORT={p}"),
            reason,
        })?,
        None => DEFAULT_PORT,
    };
    let specs: Vec<String> = if !servers.is_empty() {
        servers.to_vec()
    } else {
        match env("XYMSRV").as_deref().map(str::trim) {
            Some("0.0.0.0" | "0" | "::") | None => env("XYMSERVERS")
                .map(|s| {
                    s.split([' ', ',', '\t'])
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            Some(one) => vec![one.to_string()],
        }
    };
    if specs.is_empty() {
        return Err(SendError::NoServer);
    }
    specs.iter().map(|s| Target::parse(s, port)).collect()
}
