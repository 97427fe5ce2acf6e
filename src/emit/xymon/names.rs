//! Names that survive Xymon unchanged.
//!
//! xymond_rrd rewrites every "NAME : value" name before it becomes an RRD file or dataset
//! ([`splitncv_rule`], [`ncv_rule`] reproduce its two rules). We only ever send names that
//! are fixed points of those rules, so the file a graph definition expects is the file
//! xymond_rrd writes. A VM's part of a name is its [`vm_key`].

use super::settings::{MAX_COLUMN_LEN, MAX_HOST_LEN};
use crate::emit::fnv1a64;

/// Longest VM part of a name we keep readable; the rest is represented by the hash.
const KEY_TEXT_MAX: usize = 48;
/// `_h` + 16 hex digits: the suffix of every key that is not the VM name itself.
const HASH_SUFFIX_LEN: usize = 18;
/// The longest key [`vm_key`] makes.
pub const MAX_KEY_LEN: usize = KEY_TEXT_MAX + HASH_SUFFIX_LEN;

/// What xymond_rrd's SPLITNCV mode makes of a name: every run of characters outside
/// `[A-Za-z0-9]` becomes one `_`, a trailing `_` goes, at most 200 characters remain.
pub fn splitncv_rule(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out.truncate(200);
    if out.ends_with('_') {
        out.pop();
    }
    out
}

/// What xymond_rrd's NCV mode makes of a dataset name: only `[A-Za-z0-9]` stay, cut at 19.
pub fn ncv_rule(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(19)
        .collect()
}

/// A VM's part of every graph name and RRD file name: `[A-Za-z0-9]` runs joined by single
/// `_`, never empty, at most 66 characters, the same for the same name on every run and host.
///
/// A name that is already of that form (and not too long) is its own key, so graphs stay
/// readable. Every other name keeps a readable cleaned prefix plus `_h` and the 64-bit
/// FNV-1a hash of its UTF-8 bytes; a name that merely looks like such a hashed key is hashed
/// too, so an untouched name can never equal the key of another name.
pub fn vm_key(name: &str) -> String {
    let cleaned = splitncv_rule(name);
    let cleaned = cleaned.trim_start_matches('_');
    if cleaned == name && !name.is_empty() && name.len() <= KEY_TEXT_MAX && !looks_hashed(name) {
        return name.to_string();
    }
    let mut prefix: String = cleaned.chars().take(KEY_TEXT_MAX).collect();
    while prefix.ends_with('_') {
        prefix.pop();
    }
    let hash = fnv1a64(name.as_bytes());
    if prefix.is_empty() {
        format!("h{hash:016x}")
    } else {
        format!("{prefix}_h{hash:016x}")
    }
}

/// Ends in `h` + 16 lowercase hex digits, at the start or after `_`.
fn looks_hashed(key: &str) -> bool {
    let bytes = key.as_bytes();
    if bytes.len() < HASH_SUFFIX_LEN - 1 {
        return false;
    }
    let tail = &bytes[bytes.len() - 17..];
    let hex_ok = tail[1..]
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    let starts_ok = bytes.len() == 17 || bytes[bytes.len() - 18] == b'_';
    tail[0] == b'h' && hex_ok && starts_ok
}

/// A Xymon column (test) name we accept: it ends up in RRD file names and graph sections,
/// so only `[A-Za-z0-9_-]`, 1 to [`MAX_COLUMN_LEN`] characters.
pub fn valid_column(column: &str) -> bool {
    !column.is_empty()
        && column.len() <= MAX_COLUMN_LEN
        && column
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A host name as Xymon writes it in messages: dots become commas (xymond turns them back).
/// Accepts letters, digits, `.`, `,`, `-`, `_`; anything else is refused by the caller.
pub fn host_for_message(host: &str) -> Option<String> {
    let ok = !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b',' | b'-' | b'_'));
    ok.then(|| host.replace('.', ","))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRANGE: &[&str] = &[
        "web01",
        "web-01",
        "web_01",
        "web.01",
        "web 01",
        "web--01",
        "web__01",
        "Web01",
        "_web01",
        "web01_",
        "../../etc/passwd",
        "a/b",
        "vm:1",
        "vm=1",
        "line\nbreak",
        "@@",
        "<!-- ncv_end -->",
        "",
        " ",
        "ünïcødé",
        "名前",
        "x_h0123456789abcdef",
        "h0123456789abcdef",
        "a_very_long_name_that_goes_on_and_on_and_on_well_past_the_forty_eight_limit",
        "a_very_long_name_that_goes_on_and_on_and_on_well_past_the_forty_eight_limiT",
    ];

    #[test]
    fn every_key_survives_both_xymon_rules_unchanged() {
        for name in STRANGE {
            let key = vm_key(name);
            for metric in ["cpu", "rbytes"] {
                let full = format!("vm_{key}_{metric}");
                assert_eq!(splitncv_rule(&full), full, "name {name:?}");
            }
            assert!(!key.is_empty() && key.len() <= MAX_KEY_LEN);
            assert!(
                key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{key}"
            );
            assert!(!key.starts_with('_') && !key.ends_with('_') && !key.contains("__"));
        }
    }

    #[test]
    fn keys_are_stable_and_never_collide() {
        let keys: Vec<String> = STRANGE.iter().map(|n| vm_key(n)).collect();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "{keys:?}");
        // Stable: the hash is part of the file names users keep for years.
        assert_eq!(vm_key("web-01"), "web_01_h6c059e39e78afe07");
        assert_eq!(vm_key("web_01"), "web_01");
        assert_eq!(vm_key(""), format!("h{:016x}", fnv1a64(b"")));
    }

    #[test]
    fn a_name_that_looks_hashed_is_hashed_again() {
        let fake = vm_key("web-01");
        assert_ne!(vm_key(&fake), fake);
        assert!(looks_hashed("h0123456789abcdef"));
        assert!(!looks_hashed("xh0123456789abcdef"));
        assert!(!looks_hashed("web01"));
    }

    #[test]
    fn the_xymon_rules_match_what_xymond_rrd_was_seen_doing() {
        assert_eq!(ncv_rule("vm-02/disk.read"), "vm02diskread");
        assert_eq!(
            ncv_rule("abcdefghijklmnopqrstuvwxyz"),
            "abcdefghijklmnopqrs"
        );
        assert_eq!(splitncv_rule("vm-02/disk.read"), "vm_02_disk_read");
        assert_eq!(splitncv_rule("a..b.."), "a_b");
        assert_eq!(splitncv_rule(&"x".repeat(300)).len(), 200);
    }

    #[test]
    fn columns_and_hosts() {
        assert!(valid_column("hvmon"));
        assert!(valid_column("hv-mon_2"));
        assert!(!valid_column("hv/mon"));
        assert!(!valid_column("hv.mon"));
        assert!(!valid_column(""));
        assert_eq!(
            host_for_message("hv1.example.com").as_deref(),
            Some("hv1,example,com")
        );
        assert_eq!(
            host_for_message("hv1,example,com").as_deref(),
            Some("hv1,example,com")
        );
        assert_eq!(host_for_message("hv 1"), None);
        assert_eq!(host_for_message("hv1/x"), None);
    }
}
