//! Strings and keys of the LibreNMS document.
//!
//! LibreNMS uses a VM's key (and a disk's, and a NIC's) twice: as it is, in its UI and in
//! the metric names its `data_flatten` makes, and through its `Rrd::safeName` as part of an
//! RRD file name ([`rrd_safe_name`]). [`vm_keys`] and [`disk_keys`] pick keys that are right
//! for all of them: the name itself wherever that is safe, and never two VMs, or two disks
//! of one VM, in one RRD file or one metric name.

use std::borrow::Cow;
use std::fmt::Write;

use crate::hash::{NAME_HASH_LEN, distinct_keys, ends_like_a_hash, name_hash};

/// How strings travel in each form of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Plain JSON. snmpget prints a value holding non-ASCII bytes as a Hex-STRING, and
    /// LibreNMS strips every backslash before it decodes: printable ASCII only, no JSON
    /// escape ([`safe_text`]).
    Plain,
    /// gzip + base64 (`-c`): any byte travels intact. LibreNMS before 24.4 still stripped
    /// backslashes from the decoded text, so only what JSON would escape is encoded
    /// ([`utf8_text`]).
    Compressed,
}

impl Form {
    /// `s` as this form carries it.
    pub fn text(self, s: &str) -> Cow<'_, str> {
        match self {
            Form::Plain => safe_text(s),
            Form::Compressed => utf8_text(s),
        }
    }
}

/// `s` with `%`, `"`, `\`, control characters and every non-ASCII character as `%XX` (its
/// UTF-8 bytes): printable ASCII that JSON carries without an escape.
pub fn safe_text(s: &str) -> Cow<'_, str> {
    percent_encode(s, |c| {
        matches!(c, '%' | '"' | '\\') || !(' '..='~').contains(&c)
    })
}

/// `s` as UTF-8 with only `%`, `"`, `\` and control characters as `%XX` (their UTF-8 bytes):
/// JSON carries it without an escape, so no backslash ever reaches LibreNMS.
pub fn utf8_text(s: &str) -> Cow<'_, str> {
    percent_encode(s, |c| matches!(c, '%' | '"' | '\\') || c.is_control())
}

/// Every character for which `encode` holds becomes `%XX` per UTF-8 byte. `%` is always among
/// them, so the result decodes back to `s`: two strings never meet.
fn percent_encode(s: &str, encode: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&encode) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut utf8 = [0u8; 4];
    for c in s.chars() {
        if encode(c) {
            for b in c.encode_utf8(&mut utf8).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// LibreNMS's `Rrd::safeName` (LibreNMS/Data/Store/Rrd.php), which names every RRD file:
/// `preg_replace('/[^a-zA-Z0-9,._\-]/', '_', $name)`. The pattern has no `u` flag, so PCRE
/// matches bytes: each byte of a non-ASCII character becomes its own `_` (`é` gives `__`).
/// Nothing is lower-cased or cut, so file names are as case-sensitive as the file system
/// (LibreNMS runs on Linux).
pub fn rrd_safe_name(s: &str) -> String {
    s.bytes()
        .map(|b| if rrd_safe(b) { char::from(b) } else { '_' })
        .collect()
}

fn rrd_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b',' | b'.' | b'_' | b'-')
}

/// Separates a name's text from its hash in a hashed key (`web 01~h0123...`).
const HASH_MARK: &str = "~h";

/// The parts of LibreNMS's RRD file names around our keys (hv-monitor.inc.php's `rrd_name`
/// arrays joined with `-`): `app-hv-monitor-APPID-vmdisk-VM-__-__-DISK.rrd` is the longest.
const DISK_FILE_FIXED: usize = "app-hv-monitor-".len()
    + APP_ID_MAX_DIGITS
    + "-vmdisk-".len()
    + DISK_FILE_JOIN.len()
    + ".rrd".len();
/// `applications.app_id` is an unsigned 32-bit counter.
const APP_ID_MAX_DIGITS: usize = 10;
/// What the poller puts between a VM's key and a disk's or NIC's in their file names.
const DISK_FILE_JOIN: &str = "-__-__-";
/// Linux's NAME_MAX: the longest file name.
const NAME_MAX: usize = 255;
/// Longest VM key, bytes; what [`MAX_DISK_KEY`] leaves of a disk file name.
pub const MAX_VM_KEY: usize = 140;
/// Longest disk key, bytes: a disk file name with both keys at their longest is NAME_MAX.
pub const MAX_DISK_KEY: usize = NAME_MAX - DISK_FILE_FIXED - MAX_VM_KEY;

/// The first `_`-separated word of every VM entry whose flattened name goes on after it:
/// `mem` of `mem_alloc`, `disks` and `ifs` of the maps. A VM key with one of them as a later
/// word (`a_disks_vda`, `a_mem`) could meet another VM's metric name in `data_flatten`
/// (`VMs_a_disks_vda_rbytes`), so such a key is hashed. The unit tests check this list
/// against the document.
pub(super) const VM_ENTRY_HEADS: [&str; 12] = [
    "mem", "snaps", "status", "state", "stats", "disk", "os", "console", "disks", "ifs", "guest",
    "fs",
];
/// The same for a disk's entries: `in_use`, `on_disk`.
pub(super) const DISK_ENTRY_HEADS: [&str; 2] = ["in", "on"];
/// The same for a storage pool's entries: `state_name`.
pub(super) const POOL_ENTRY_HEADS: [&str; 1] = ["state"];

/// The keys of a host's VMs in `form`, in their order; see `keys`.
pub fn vm_keys(names: &[&str], form: Form) -> Vec<String> {
    keys(names, form, &VM_ENTRY_HEADS, MAX_VM_KEY, |_| true)
}

/// The keys of a host's storage pools in `form`, in their order; see `keys`. They name no RRD
/// file (the poller does not read `pools`), only `data_flatten`'s metrics
/// (`pools_images_available`), which the same rules keep apart.
pub fn pool_keys(names: &[&str], form: Form) -> Vec<String> {
    keys(names, form, &POOL_ENTRY_HEADS, MAX_VM_KEY, |_| true)
}

/// The keys of one VM's disks in `form`, in their order; see `keys`. A disk key also
/// never holds the poller's `-__-__-` or starts with `__-` (its tail): no VM and disk pair
/// then shares a file with another (`a` + `x-__-__-y` and `a-__-__-x` + `y`).
pub fn disk_keys(names: &[&str], form: Form) -> Vec<String> {
    keys(names, form, &DISK_ENTRY_HEADS, MAX_DISK_KEY, |key| {
        !key.contains(DISK_FILE_JOIN) && !key.starts_with(&DISK_FILE_JOIN[4..])
    })
}

/// The keys of `names` (one set: a host's VMs, or one VM's disks) in `form`, in their order.
///
/// - A name is its own key when its `form` text is what [`rrd_safe_name`] leaves as it is,
///   at most `max_len` bytes, with none of `heads` as a later `_` word, not ending like a
///   hashed key (`_h` and hex digits, either case) and `fits_join`: every plain safe name
///   of today keeps its key and its RRD files.
/// - Any other name's key is its `form` text, cut to fit `max_len`, `~h` and 96 bits of the
///   SHA-256 of the raw name ([`name_hash`]): `dup name~h6514ef7bc8ad8913e44f2910`, from
///   the name alone, the same on every run and host whatever other names come and go.
///
/// [`distinct_keys`] then keeps keys apart where only case tells them apart and resolves a
/// name listed twice (or a hash collision). So no two keys share an RRD file, even on a
/// file system that ignores case: an own key's file is the key, which does not end like a
/// hash, and a hashed key's file ends in `_h` and its name's hash. No two share a flattened
/// metric name: that takes a key that is another key, `_`, and a later word that starts
/// an entry of the other's (`a` and `a_disks_vda`), and `heads` hashes those; a hashed key
/// ends in its own name's hash, which no entry and no other key's tail holds.
fn keys(
    names: &[&str],
    form: Form,
    heads: &[&str],
    max_len: usize,
    fits_join: impl Fn(&str) -> bool,
) -> Vec<String> {
    let own = |name: &str| {
        let text = form.text(name);
        let own = text.len() <= max_len
            && rrd_safe_name(&text) == text
            && !text.split('_').skip(1).any(|word| heads.contains(&word))
            && !ends_like_a_hash(&text, b'_')
            && fits_join(&text);
        own.then(|| text.into_owned())
    };
    let hashed = |name: &str, attempt: u32| {
        let text = form.text(name);
        let room = max_len - HASH_MARK.len() - NAME_HASH_LEN;
        let mut cut = room.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}{HASH_MARK}{}", &text[..cut], name_hash(name, attempt))
    };
    distinct_keys(names, own, hashed, rrd_safe_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn assert_distinct_files(keys: &[String]) {
        let files: HashSet<String> = keys
            .iter()
            .map(|k| rrd_safe_name(k).to_lowercase())
            .collect();
        assert_eq!(files.len(), keys.len(), "{keys:?}");
    }

    #[test]
    fn the_plain_text_is_printable_ascii_and_injective() {
        assert_eq!(safe_text("web-01.example"), "web-01.example");
        assert_eq!(safe_text("a\"b\\c"), "a%22b%5Cc");
        assert_eq!(safe_text("50%"), "50%25");
        assert_eq!(safe_text("caf\u{e9}\n"), "caf%C3%A9%0A");
        assert_ne!(safe_text("a%22"), safe_text("a\""));
    }

    #[test]
    fn the_compressed_text_keeps_utf8_and_encodes_what_json_would_escape() {
        assert_eq!(utf8_text("\u{e9}lan-vm"), "\u{e9}lan-vm");
        assert_eq!(
            utf8_text("web 01 \u{65e5}\u{672c} \u{1f680}"),
            "web 01 \u{65e5}\u{672c} \u{1f680}"
        );
        assert_eq!(utf8_text("a\"b\\c"), "a%22b%5Cc");
        assert_eq!(utf8_text("50%"), "50%25");
        assert_eq!(
            utf8_text("tab\tnl\ndel\u{7f}c1\u{85}"),
            "tab%09nl%0Adel%7Fc1%C2%85"
        );
        assert_ne!(utf8_text("a%22"), utf8_text("a\""));
    }

    #[test]
    fn rrd_safe_name_is_librenms_safe_name_byte_by_byte() {
        assert_eq!(rrd_safe_name("web-01.example,a_b"), "web-01.example,a_b");
        assert_eq!(rrd_safe_name("dup name/x"), "dup_name_x");
        assert_eq!(
            rrd_safe_name("\u{e9}lan-vm"),
            "__lan-vm",
            "two bytes, two _"
        );
        assert_eq!(rrd_safe_name("\u{1f680}"), "____");
        assert_eq!(rrd_safe_name("Web"), "Web", "no lower-casing");
    }

    /// The hashed key of `name` whose text is `text`: what `printf %s NAME | sha256sum`
    /// says, cut to 24 hex digits, is given by each test.
    fn hashed(text: &str, sha256_head: &str) -> String {
        format!("{text}~h{sha256_head}")
    }

    #[test]
    fn safe_names_keep_their_text_others_get_the_hash_of_the_name() {
        let names = ["web-01", "Web.02", "web 02", "dup/name"];
        let expected = [
            "web-01".to_string(),
            "Web.02".to_string(),
            hashed("web 02", "6880e9f4d13657a8a9e4ac63"),
            hashed("dup/name", "0e1e30d1ba12af93e695f1a7"),
        ];
        assert_eq!(vm_keys(&names, Form::Compressed), expected);
        assert_eq!(vm_keys(&names, Form::Plain), expected);
        assert_eq!(
            vm_keys(&["\u{e9}lan-vm", "50%"], Form::Plain)[1],
            "50%25~h28fdae8deae31d6eafd18b70"
        );
        assert!(vm_keys(&["\u{e9}lan-vm"], Form::Plain)[0].starts_with("%C3%A9lan-vm~h"));
        assert!(vm_keys(&["\u{e9}lan-vm"], Form::Compressed)[0].starts_with("\u{e9}lan-vm~h"));
    }

    #[test]
    fn names_sharing_a_file_get_distinct_files_the_safe_ones_keep_theirs() {
        let names = ["dup name", "dup_name", "dup-name", "dup/name"];
        for form in [Form::Plain, Form::Compressed] {
            let keys = vm_keys(&names, form);
            assert_eq!(keys[0], hashed("dup name", "6514ef7bc8ad8913e44f2910"));
            assert_eq!(keys[1], "dup_name");
            assert_eq!(keys[2], "dup-name");
            assert_distinct_files(&keys);
        }
    }

    /// The scheme before issue 21: FNV-1a 64 of the name, its top 24 bits as the `~` suffix.
    fn old_suffix(name: &str) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in name.as_bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash >> 40
    }

    #[test]
    fn two_names_with_one_old_24_bit_suffix_get_distinct_keys_and_the_existing_vm_keeps_its_own() {
        // Found by trying `vm N` / `vm:N` for N = 0, 1, ... (3 s): both land in the file
        // `vm_16316894`, both got `~24fe65`, and the newcomer `vm 16316894`, first in name
        // order, took the existing VM's key and RRD history.
        let (newcomer, victim) = ("vm 16316894", "vm:16316894");
        assert_eq!(old_suffix(newcomer), 0x24fe65);
        assert_eq!(old_suffix(victim), 0x24fe65);
        for form in [Form::Plain, Form::Compressed] {
            let before = vm_keys(&["vm_16316894", victim], form);
            let after = vm_keys(&["vm_16316894", victim, newcomer], form);
            assert_eq!(after[1], before[1], "the existing VM keeps its key");
            assert_distinct_files(&after);
            assert_ne!(after[2], after[1]);
        }
    }

    #[test]
    fn a_plain_name_that_looks_like_a_hashed_key_is_hashed() {
        let key = vm_keys(&["dup name"], Form::Compressed).remove(0);
        let trap = rrd_safe_name(&key);
        let keys = vm_keys(&["dup name", &trap, &trap.to_uppercase()], Form::Compressed);
        assert_eq!(keys[0], key, "the newcomers do not move it");
        assert!(keys[1].starts_with(&format!("{trap}~h")));
        assert_distinct_files(&keys);
    }

    #[test]
    fn case_twins_keep_apart_in_lower_case_the_lower_case_one_keeps_its_key() {
        for names in [["Web", "web", "WEB"], ["WEB", "Web", "web"]] {
            let keys = vm_keys(&names, Form::Plain);
            let web = names.iter().position(|n| *n == "web").unwrap();
            assert_eq!(keys[web], "web");
            let files: HashSet<String> = keys
                .iter()
                .map(|k| rrd_safe_name(k).to_lowercase())
                .collect();
            assert_eq!(files.len(), 3, "{keys:?}");
        }
        assert_eq!(vm_keys(&["Web", "db"], Form::Plain), ["Web", "db"]);
    }

    #[test]
    fn keys_that_data_flatten_could_confuse_are_hashed() {
        let keys = vm_keys(
            &["a", "a_disks_vda", "a_ifs_nic0", "a_mem", "web_01"],
            Form::Plain,
        );
        assert_eq!(keys[0], "a");
        assert!(keys[1].starts_with("a_disks_vda~h") && keys[2].starts_with("a_ifs_nic0~h"));
        assert!(keys[3].starts_with("a_mem~h"));
        assert_eq!(keys[4], "web_01");
        let disks = disk_keys(&["vda", "vda_in", "x-__-__-y", "__-y", "a_b"], Form::Plain);
        assert_eq!(disks[0], "vda");
        for (key, text) in disks[1..4].iter().zip(["vda_in", "x-__-__-y", "__-y"]) {
            assert!(key.starts_with(&format!("{text}~h")), "{key}");
        }
        assert_eq!(disks[4], "a_b");
    }

    #[test]
    fn long_names_are_cut_and_hashed_so_every_file_name_fits_name_max() {
        let long_vm = "v".repeat(300);
        let long_disk = "d".repeat(300);
        let vm = vm_keys(&[&long_vm, &"\u{e9}".repeat(200)], Form::Compressed);
        let disk = disk_keys(&[&long_disk], Form::Plain).remove(0);
        assert_eq!(vm[0].len(), MAX_VM_KEY);
        assert!(vm[1].len() <= MAX_VM_KEY);
        assert_eq!(disk.len(), MAX_DISK_KEY);
        let file = format!(
            "app-hv-monitor-4294967295-vmdisk-{}-__-__-{disk}.rrd",
            vm[0]
        );
        assert_eq!(rrd_safe_name(&file).len(), 255);
        let at_limit = "v".repeat(MAX_VM_KEY);
        assert_eq!(vm_keys(&[&at_limit], Form::Plain), [at_limit]);
    }

    #[test]
    fn a_name_listed_twice_still_gets_two_keys() {
        let keys = vm_keys(&["a", "a", "b c", "b c"], Form::Compressed);
        assert_eq!(keys[0], "a");
        assert_distinct_files(&keys);
    }
}
