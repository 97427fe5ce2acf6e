//! `--server` values (and `$XYMSRV`, `$XYMSERVERS`): where messages go. Each way of getting
//! one wrong has its own message, since a typo here means nothing reaches the server.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::SendError;

/// Xymon's own port, where a `--server` gives none.
pub const DEFAULT_PORT: u16 = 1984;

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Xymon's own protocol over TCP.
    Tcp {
        /// Host name or IP address, IPv6 without brackets.
        host: String,
        /// TCP port; `DEFAULT_PORT` where the spec gives none.
        port: u16,
    },
    /// An HTTP(S) POST to a CGI that relays to xymond (`xymoncgimsg.cgi`).
    Http {
        /// The full `http://` or `https://` URL as given.
        url: String,
    },
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

const FORMS: &str = "HOST, HOST:PORT, [IPV6]:PORT or an http(s):// URL";

impl Target {
    /// `HOST`, `HOST:PORT`, `IPV6`, `[IPV6]:PORT`, or an `http://` / `https://` URL.
    pub fn parse(spec: &str, default_port: u16) -> Result<Target, SendError> {
        parse(spec, default_port).map_err(|reason| SendError::BadServer {
            spec: spec.to_string(),
            reason,
        })
    }
}

fn parse(spec: &str, default_port: u16) -> Result<Target, String> {
    if spec.is_empty() {
        return Err(format!("empty; give {FORMS}"));
    }
    if let Some(c) = spec.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("contains {}", describe(c)));
    }
    if let Some((scheme, _)) = spec.split_once("://") {
        return parse_url(spec, scheme);
    }
    if let Some(rest) = spec.strip_prefix('[') {
        return parse_bracketed(rest, default_port);
    }
    match spec.matches(':').count() {
        0 => Ok(Target::Tcp {
            host: host_name(spec)?,
            port: default_port,
        }),
        1 => {
            let (host, port) = spec.split_once(':').unwrap_or_default();
            if host.is_empty() {
                return Err(format!("no host before ':{port}'"));
            }
            let port = parse_port(port)?;
            Ok(Target::Tcp {
                host: host_name(host)?,
                port,
            })
        }
        _ => ipv6(spec)
            .map(|host| Target::Tcp {
                host,
                port: default_port,
            })
            .ok_or_else(|| {
                "has several ':' but is not an IPv6 address (an IPv6 address with a port is \
                 written [ADDR]:PORT)"
                    .to_string()
            }),
    }
}

fn parse_url(spec: &str, scheme: &str) -> Result<Target, String> {
    if scheme.is_empty() {
        return Err("no URL scheme before '://'; use http:// or https://".into());
    }
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return Err(format!(
            "unknown URL scheme '{scheme}': only http:// and https:// (to xymoncgimsg.cgi), \
             or HOST[:PORT] for Xymon's own protocol"
        ));
    }
    // The URL standard skips extra slashes ("https:///x" is host "x"); a user who left out
    // the host means no host.
    let authority = spec[scheme.len() + 3..]
        .split(['/', '\\', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_and_port.is_empty() || host_and_port.starts_with(':') {
        return Err("the URL has no host".into());
    }
    use url::ParseError::*;
    let url = url::Url::parse(spec).map_err(|e| match e {
        EmptyHost => "the URL has no host".to_string(),
        InvalidPort => "the URL's port is not 1..65535".to_string(),
        InvalidIpv6Address => "the URL's [...] host is not an IPv6 address".to_string(),
        InvalidIpv4Address => "the URL's host is not an IPv4 address".to_string(),
        InvalidDomainCharacter | IdnaError => {
            "the URL's host has a character a host name cannot have".into()
        }
        e => format!("not a usable URL: {e}"),
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if url.port() == Some(0) {
        return Err("the URL's port is not 1..65535".into());
    }
    Ok(Target::Http {
        url: spec.to_string(),
    })
}

/// After the `[`: `ADDR]`, `ADDR]:PORT`.
fn parse_bracketed(rest: &str, default_port: u16) -> Result<Target, String> {
    let (inside, after) = rest
        .split_once(']')
        .ok_or("unclosed '[' (an IPv6 address with a port is written [ADDR]:PORT)")?;
    if inside.is_empty() {
        return Err("nothing between '[' and ']'".into());
    }
    let host =
        ipv6(inside).ok_or_else(|| format!("'{inside}' in brackets is not an IPv6 address"))?;
    let port = match after.strip_prefix(':') {
        Some(port) => parse_port(port)?,
        None if after.is_empty() => default_port,
        None => return Err(format!("'{after}' after ']' (expected ':PORT' or nothing)")),
    };
    Ok(Target::Tcp { host, port })
}

/// An IPv6 address, with a `%zone` (`fe80::1%eth0`) when it has one.
fn ipv6(text: &str) -> Option<String> {
    let (addr, zone) = match text.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (text, None),
    };
    addr.parse::<Ipv6Addr>().ok()?;
    match zone {
        Some(z) if z.is_empty() || !z.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            None
        }
        _ => Some(text.to_string()),
    }
}

/// A TCP port, 1..65535; `text` is what followed the ':' (also `$XYMONDPORT`).
pub fn parse_port(text: &str) -> Result<u16, String> {
    if text.is_empty() {
        return Err("missing port after ':'".into());
    }
    if text.contains('/') {
        return Err(format!(
            "'{text}' after ':' is not a port (a URL starts with http:// or https://)"
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port '{text}' is not a number"));
    }
    text.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("port '{text}' is not 1..65535"))
}

/// A host name or IPv4 address as getaddrinfo takes it: letters, digits, `-`, `.`, `_`.
fn host_name(host: &str) -> Result<String, String> {
    if host.parse::<Ipv4Addr>().is_ok() {
        return Ok(host.to_string());
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(match c {
            '/' => format!("host '{host}' has a '/' (a URL starts with http:// or https://)"),
            '[' | ']' => format!("host '{host}' has a stray '{c}' (IPv6 is written [ADDR]:PORT)"),
            c => format!("host '{host}' has {}, which no host name has", describe(c)),
        });
    }
    if host.starts_with(['.', '-']) || host.contains("..") {
        return Err(format!(
            "host '{host}' is not a host name (empty label or leading '-')"
        ));
    }
    Ok(host.to_string())
}

/// A character named so that it reads on a terminal whatever it is.
fn describe(c: char) -> String {
    if c == ' ' {
        "a space".into()
    } else if c.is_whitespace() || c.is_control() {
        format!("the character U+{:04X}", u32::from(c))
    } else {
        format!("'{c}'")
    }
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
    fn good_server_forms() {
        for (spec, want) in [
            ("xymon", tcp("xymon", 1984)),
            ("xymon.example.com:1985", tcp("xymon.example.com", 1985)),
            ("10.0.0.1:1985", tcp("10.0.0.1", 1985)),
            ("xy_mon-1", tcp("xy_mon-1", 1984)),
            ("[::1]:1985", tcp("::1", 1985)),
            ("[::1]", tcp("::1", 1984)),
            ("::1", tcp("::1", 1984)),
            ("fe80::1%eth0", tcp("fe80::1%eth0", 1984)),
            ("[fe80::1%eth0]:7", tcp("fe80::1%eth0", 7)),
            ("xymon:65535", tcp("xymon", 65535)),
        ] {
            assert_eq!(Target::parse(spec, 1984).unwrap(), want, "{spec}");
        }
        for url in [
            "https://x/xymon-cgi/xymoncgimsg.cgi",
            "HTTP://127.0.0.1:8080/cgi-bin/xymoncgimsg.cgi",
            "http://[::1]/x",
        ] {
            assert_eq!(
                Target::parse(url, 1984).unwrap(),
                Target::Http { url: url.into() }
            );
        }
        assert_eq!(tcp("::1", 1985).to_string(), "[::1]:1985");
        assert_eq!(tcp("x", 1985).to_string(), "x:1985");
    }

    /// Every bad form gets its own message, and every message names what was given.
    #[test]
    fn each_bad_server_form_has_its_own_message() {
        for (spec, why) in [
            (
                "",
                "empty; give HOST, HOST:PORT, [IPV6]:PORT or an http(s):// URL",
            ),
            (
                "ftp://host/",
                "unknown URL scheme 'ftp': only http:// and https://",
            ),
            ("://host/", "no URL scheme before '://'"),
            ("http://", "the URL has no host"),
            ("https:///path", "the URL has no host"),
            ("http://:80/x", "the URL has no host"),
            ("http://host:99999/", "the URL's port is not 1..65535"),
            ("http://host:0/", "the URL's port is not 1..65535"),
            (
                "http://[::1/",
                "the URL's [...] host is not an IPv6 address",
            ),
            ("http://ho st/", "contains a space"),
            (
                "http://a<b/",
                "the URL's host has a character a host name cannot have",
            ),
            ("xymon:", "missing port after ':'"),
            (":1984", "no host before ':1984'"),
            ("xymon:abc", "port 'abc' is not a number"),
            ("xymon:-1", "port '-1' is not a number"),
            ("xymon:0", "port '0' is not 1..65535"),
            ("xymon:99999", "port '99999' is not 1..65535"),
            (
                "http:/host",
                "'/host' after ':' is not a port (a URL starts with http://",
            ),
            (
                "xymon:1984:1985",
                "has several ':' but is not an IPv6 address",
            ),
            ("[::1", "unclosed '['"),
            ("[]:1984", "nothing between '[' and ']'"),
            ("[xymon]:1984", "'xymon' in brackets is not an IPv6 address"),
            (
                "[::1]1984",
                "'1984' after ']' (expected ':PORT' or nothing)",
            ),
            ("[::1]:", "missing port after ':'"),
            ("[::1]:70000", "port '70000' is not 1..65535"),
            (
                "[fe80::1%]:1",
                "'fe80::1%' in brackets is not an IPv6 address",
            ),
            ("a b", "contains a space"),
            ("xymon\r\nstatus", "contains the character U+000D"),
            (
                "host/path",
                "host 'host/path' has a '/' (a URL starts with http://",
            ),
            ("xy]mon", "host 'xy]mon' has a stray ']'"),
            (
                "xy#mon:1984",
                "host 'xy#mon' has '#', which no host name has",
            ),
            ("-xymon", "host '-xymon' is not a host name"),
            ("xy..mon", "host 'xy..mon' is not a host name"),
        ] {
            let err = Target::parse(spec, 1984).unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("bad Xymon server '{}': ", spec.escape_debug()))
                    || spec.contains('\r'),
                "{spec:?}: {text}"
            );
            assert!(text.contains(why), "{spec:?}: expected '{why}' in: {text}");
            assert_eq!(err.exit_code(), crate::error::exit::USAGE);
        }
    }

    #[test]
    fn a_bad_server_with_control_characters_is_shown_escaped() {
        let text = Target::parse("xymon\r\nstatus\x1b[2J", 1984)
            .unwrap_err()
            .to_string();
        assert_eq!(
            text,
            "bad Xymon server 'xymon\\r\\nstatus\\u{1b}[2J': contains the character U+000D"
        );
    }

    #[test]
    fn ports_alone() {
        assert_eq!(parse_port("1984"), Ok(1984));
        assert_eq!(parse_port(""), Err("missing port after ':'".into()));
        assert!(parse_port("19 84").is_err());
        assert!(parse_port("+1984").is_err());
    }
}
