//! Strings and keys of the LibreNMS document.
//!
//! LibreNMS uses a VM's key (and a disk's, and a NIC's) twice: as it is, in its UI and metric
//! names, and through its `Rrd::safeName` as part of an RRD file name ([`rrd_safe_name`]).
//! [`keys_of`] picks keys that are right for both: the name itself wherever the form can carry
//! it, and never two VMs, or two disks of one VM, in one RRD file.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::emit::fnv1a64;

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

/// Separates a name from the hash that tells it apart from names sharing its RRD file.
const SUFFIX_MARK: char = '~';

/// The keys of `names` (one set: a host's VMs, or one VM's disks) in `form`, in their order.
///
/// - A name [`rrd_safe_name`] leaves as it is is its own key, always.
/// - Any other name is its `form` text, unless another name of the set lands in the same RRD
///   file; then it gets `~` and six hex digits of the FNV-1a hash of its raw UTF-8 bytes
///   (`dup name~5c1f0e`): derived from the name alone, the same on every run and host.
///
/// No two keys share an RRD file name, suffixed or not. Keys are given in two rounds against
/// one set of taken RRD names. Round one gives the unsuffixed keys; their RRD names differ: a
/// safe name is its own RRD name and the names differ, and any other name kept unsuffixed
/// shares its RRD name with no name of the set. Round two, in the order of the raw names,
/// gives each remaining name the first of `~H`, `~H-1`, `~H-2`, ... whose RRD name is not
/// taken yet (so a suffixed key never takes the file of a name that is its own key). Those
/// candidates' RRD names differ from each other (same prefix, different tails), and only
/// finitely many are taken, so one is free.
pub fn keys_of(names: &[&str], form: Form) -> Vec<String> {
    let texts: Vec<Cow<'_, str>> = names.iter().map(|n| form.text(n)).collect();
    let files: Vec<String> = texts.iter().map(|t| rrd_safe_name(t)).collect();
    let mut sharing: HashMap<&str, usize> = HashMap::with_capacity(files.len());
    for file in &files {
        *sharing.entry(file.as_str()).or_default() += 1;
    }
    let mut taken: HashSet<String> = HashSet::with_capacity(files.len());
    let mut keys: Vec<Option<String>> = vec![None; names.len()];
    for (i, file) in files.iter().enumerate() {
        let unchanged = texts[i] == file.as_str();
        // The `insert` only fails for a name listed twice, which then gets a suffix.
        if (unchanged || sharing[file.as_str()] == 1) && taken.insert(file.clone()) {
            keys[i] = Some(texts[i].clone().into_owned());
        }
    }
    let mut suffixed: Vec<usize> = (0..names.len()).filter(|&i| keys[i].is_none()).collect();
    suffixed.sort_by_key(|&i| names[i]);
    for i in suffixed {
        let hash = fnv1a64(names[i].as_bytes()) >> 40;
        let key = (0u64..)
            .map(|attempt| match attempt {
                0 => format!("{}{SUFFIX_MARK}{hash:06x}", texts[i]),
                n => format!("{}{SUFFIX_MARK}{hash:06x}-{n}", texts[i]),
            })
            .find(|key| taken.insert(rrd_safe_name(key)))
            .expect("the candidates never run out");
        keys[i] = Some(key);
    }
    keys.into_iter()
        .map(|k| k.expect("both rounds give every name a key"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_distinct_files(keys: &[String]) {
        let files: HashSet<String> = keys.iter().map(|k| rrd_safe_name(k)).collect();
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

    #[test]
    fn safe_names_and_lone_names_keep_their_text() {
        let names = ["web-01", "Web-01", "web 02", "\u{e9}lan-vm", "50%"];
        assert_eq!(
            keys_of(&names, Form::Compressed),
            ["web-01", "Web-01", "web 02", "\u{e9}lan-vm", "50%25"]
        );
        assert_eq!(
            keys_of(&names, Form::Plain),
            ["web-01", "Web-01", "web 02", "%C3%A9lan-vm", "50%25"]
        );
    }

    #[test]
    fn names_sharing_a_file_get_a_suffix_the_safe_one_does_not() {
        let names = ["dup name", "dup_name", "dup-name", "dup/name"];
        for form in [Form::Plain, Form::Compressed] {
            let keys = keys_of(&names, form);
            assert_eq!(keys[1], "dup_name");
            assert_eq!(keys[2], "dup-name");
            for (i, name) in [(0, "dup name"), (3, "dup/name")] {
                let hash = fnv1a64(name.as_bytes()) >> 40;
                assert_eq!(keys[i], format!("{name}~{hash:06x}"));
            }
            assert_distinct_files(&keys);
        }
    }

    #[test]
    fn accented_twins_collide_only_in_the_compressed_form() {
        let names = ["\u{e9}lan-vm", "\u{f6}lan-vm"];
        assert_eq!(
            keys_of(&names, Form::Plain),
            ["%C3%A9lan-vm", "%C3%B6lan-vm"]
        );
        let keys = keys_of(&names, Form::Compressed);
        assert!(keys[0].starts_with("\u{e9}lan-vm~") && keys[1].starts_with("\u{f6}lan-vm~"));
        assert_distinct_files(&keys);
    }

    #[test]
    fn the_suffix_is_stable_whatever_the_order_and_the_other_names() {
        let a = keys_of(&["x y", "x_y", "q"], Form::Compressed);
        let b = keys_of(&["q", "x_y", "zz", "x y"], Form::Compressed);
        assert_eq!(a[0], b[3]);
        assert_eq!(a[1], "x_y");
    }

    #[test]
    fn a_safe_name_equal_to_a_suffixed_key_keeps_it_and_the_suffix_moves_on() {
        let first = keys_of(&["dup name", "dup_name"], Form::Compressed);
        let trap = rrd_safe_name(&first[0]);
        let keys = keys_of(&["dup name", "dup_name", &trap], Form::Compressed);
        assert_eq!(keys[2], trap, "a safe name is its own key, always");
        assert_eq!(keys[0], format!("{}-1", first[0]));
        assert_distinct_files(&keys);
        let again = keys_of(
            &["dup name", "dup_name", &trap, &format!("{trap}-1")],
            Form::Plain,
        );
        assert_eq!(again[0], format!("{}-2", first[0]));
        assert_distinct_files(&again);
    }

    #[test]
    fn a_name_listed_twice_still_gets_two_keys() {
        let keys = keys_of(&["a", "a", "b c", "b c"], Form::Compressed);
        assert_eq!(keys[0], "a");
        assert_distinct_files(&keys);
    }
}
