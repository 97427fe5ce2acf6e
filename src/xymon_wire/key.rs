//! Names that survive Xymon unchanged.
//!
//! xymond_rrd rewrites every "NAME : value" name before it becomes an RRD file or dataset
//! ([`splitncv_rule`], [`ncv_rule`] reproduce its two rules). We only ever send names that
//! are fixed points of those rules, so the file a graph definition expects is the file
//! xymond_rrd writes. A VM's part of a name is its [`vm_key`].

use super::format::{MAX_COLUMN_LEN, MAX_HOST_LEN};
use crate::hash::{NAME_HASH_LEN, distinct_keys, ends_like_a_hash, name_hash};

/// Longest VM part of a name we keep readable; the rest is represented by the hash.
const KEY_TEXT_MAX: usize = 48;
/// `_h` + the hash's hex digits: the suffix of every key that is not the VM name itself.
const HASH_SUFFIX_LEN: usize = 2 + NAME_HASH_LEN;
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

/// A VM's part of every graph name and RRD file name, from its name alone: `[A-Za-z0-9]`
/// runs joined by single `_`, never empty, at most [`MAX_KEY_LEN`] characters, the same
/// for the same name on every run and host.
///
/// A name that is already of that form (and not too long) is its own key, so graphs stay
/// readable. Every other name keeps a readable cleaned prefix plus `_h` and 96 bits of the
/// SHA-256 of its UTF-8 bytes (`name_hash`); a name that merely looks like such a hashed
/// key (in either case) is hashed too, so an untouched name can never equal the key of
/// another name. [`vm_keys`] gives a whole host's keys, which also differ in lower case.
pub fn vm_key(name: &str) -> String {
    own_key(name).unwrap_or_else(|| hashed_key(name, 0))
}

/// The keys of a host's VMs, in their order: [`vm_key`], but distinct even on a file
/// system that ignores case, whatever else the names hold (`distinct_keys`): of `Web`
/// and `web`, `web` keeps its key and `Web` takes its hashed one while both are there.
pub fn vm_keys(names: &[&str]) -> Vec<String> {
    distinct_keys(names, own_key, hashed_key, |key| key.to_string())
}

/// The name itself, where it may be its own key.
fn own_key(name: &str) -> Option<String> {
    let cleaned = splitncv_rule(name);
    let own = cleaned == name
        && !name.starts_with('_')
        && !name.is_empty()
        && name.len() <= KEY_TEXT_MAX
        && !ends_like_a_hash(name, b'_');
    own.then(|| name.to_string())
}

/// The cleaned, cut name, `_h` and the name's hash (a further hash for `attempt` > 0).
fn hashed_key(name: &str, attempt: u32) -> String {
    let cleaned = splitncv_rule(name);
    let mut prefix: String = cleaned
        .trim_start_matches('_')
        .chars()
        .take(KEY_TEXT_MAX)
        .collect();
    while prefix.ends_with('_') {
        prefix.pop();
    }
    let hash = name_hash(name, attempt);
    if prefix.is_empty() {
        format!("h{hash}")
    } else {
        format!("{prefix}_h{hash}")
    }
}

/// A Xymon column name we accept: it ends up in RRD file names and graph sections,
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
    use std::collections::{HashMap, HashSet};

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
        // Stable: the hash is part of the file names users keep for years. Expected values
        // from `printf %s NAME | sha256sum | cut -c1-24`.
        assert_eq!(vm_key("web-01"), "web_01_h0b9d9f06cc8cf44765a12c0a");
        assert_eq!(vm_key("web_01"), "web_01");
        assert_eq!(
            vm_key("Web01"),
            "Web01",
            "a capitalised name keeps its key alone"
        );
        assert_eq!(vm_key(""), "he3b0c44298fc1c149afbf4c8");
    }

    #[test]
    fn a_name_that_looks_hashed_is_hashed_again() {
        let fake = vm_key("web-01");
        assert_ne!(vm_key(&fake), fake);
        // The FNV-1a keys of earlier versions too: a plain name must not take over the
        // files of the VM that had that key.
        let old = "web_01_h6c059e39e78afe07";
        assert_eq!(vm_key(old), format!("{old}_h49e357a50de13534771ef63c"));
        assert_ne!(
            vm_key("x_H0B9D9F06CC8CF44765A12C0A"),
            "x_H0B9D9F06CC8CF44765A12C0A"
        );
        assert_eq!(vm_key("xh0123456789abcdef"), "xh0123456789abcdef");
        assert_eq!(vm_key("web01"), "web01");
    }

    /// The key before issue 21: cleaned prefix, `_h` and FNV-1a 64 of the name.
    fn old_key(name: &str) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in name.as_bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let prefix: String = splitncv_rule(name).chars().take(KEY_TEXT_MAX).collect();
        format!("{prefix}_h{hash:016x}")
    }

    #[test]
    fn two_names_that_shared_an_old_fnv_key_get_distinct_keys() {
        // Found by a Pollard-rho search over `a`x48 + `-` + 16 hex digits (12 min on one
        // core): one FNV-1a 64 hash, 5e3142d8eb812596, and one cleaned prefix, so one key,
        // and the extra-script refused every message with both ("a second value").
        let a = format!("{}-28461037af9cf075", "a".repeat(48));
        let b = format!("{}-599eaf919becac3e", "a".repeat(48));
        assert_eq!(old_key(&a), old_key(&b));
        assert_eq!(old_key(&a), format!("{}_h5e3142d8eb812596", "a".repeat(48)));
        let keys = vm_keys(&[&a, &b]);
        assert_ne!(keys[0], keys[1]);
        assert_eq!(
            keys,
            [vm_key(&a), vm_key(&b)],
            "no collision left to resolve"
        );
    }

    /// Up to 200,000 distinct random names of the kinds that get hashed, and of the kinds that do not.
    fn random_names() -> Vec<String> {
        // A fixed xorshift: the same names on every run.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut seen = HashSet::new();
        let alphabet: Vec<char> = "abcXYZ019_-. :/\u{e9}".chars().collect();
        (0..200_000)
            .map(|_| {
                let len = 1 + (next() % 60) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .filter(|name: &String| seen.insert(name.clone()))
            .collect()
    }

    #[test]
    fn keys_of_200k_random_names_are_distinct_in_lower_case() {
        let names = random_names();
        assert!(names.len() > 190_000);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let keys = vm_keys(&refs);
        let folded: HashSet<String> = keys.iter().map(|k| k.to_ascii_lowercase()).collect();
        assert_eq!(folded.len(), names.len());
        for key in &keys {
            assert!(
                key.len() <= MAX_KEY_LEN && splitncv_rule(key) == *key,
                "{key}"
            );
        }
    }

    #[test]
    fn a_key_depends_on_the_name_not_on_the_other_names_or_their_order() {
        let names = random_names();
        let some: Vec<&str> = names[..500].iter().map(String::as_str).collect();
        let mut others: Vec<&str> = names[250..900].iter().map(String::as_str).collect();
        others.reverse();
        let a: HashMap<&str, String> = some.iter().copied().zip(vm_keys(&some)).collect();
        let b: HashMap<&str, String> = others.iter().copied().zip(vm_keys(&others)).collect();
        for name in &names[250..500] {
            assert_eq!(a[name.as_str()], b[name.as_str()], "{name:?}");
            assert_eq!(a[name.as_str()], vm_key(name), "{name:?}");
        }
    }

    #[test]
    fn case_twins_get_keys_distinct_in_lower_case_and_lower_case_keeps_its_own() {
        for names in [["Web01", "web01", "WEB01"], ["WEB01", "Web01", "web01"]] {
            let keys = vm_keys(&names);
            let web = names.iter().position(|n| *n == "web01").unwrap();
            assert_eq!(keys[web], "web01");
            let folded: HashSet<String> = keys.iter().map(|k| k.to_ascii_lowercase()).collect();
            assert_eq!(folded.len(), 3, "{keys:?}");
            for (name, key) in names.iter().zip(&keys) {
                if *name != "web01" {
                    assert!(key.starts_with(&format!("{name}_h")), "{key}");
                }
            }
        }
        assert_eq!(
            vm_keys(&["Web01", "db"]),
            ["Web01", "db"],
            "no twin, no change"
        );
    }

    #[test]
    fn a_name_listed_twice_gets_two_keys() {
        let keys = vm_keys(&["web01", "web01", "a b", "a b"]);
        assert_eq!(keys[0], "web01");
        assert_eq!(keys[2], vm_key("a b"));
        let unique: HashSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), 4, "{keys:?}");
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
