//! The stable name hash and the rule that gives a set of names distinct keys: what turns a
//! VM's (or a disk's) name into the key of its RRD files, for Xymon and LibreNMS alike.

use std::collections::{BTreeSet, HashMap, HashSet};

use sha2::{Digest, Sha256};

/// Lowercase hex digits of [`name_hash`]: 96 bits, so neither a chosen name nor a birthday
/// search finds two names with one hash (SHA-256 is a cryptographic hash; 2^48 tries for a
/// pair, 2^96 to hit a given VM's).
pub(crate) const NAME_HASH_LEN: usize = 24;

/// The first 96 bits of SHA-256 of a name's UTF-8 bytes, as lowercase hex: stable across
/// versions and platforms (keys derived from it name RRD files that must stay the same for
/// years) and the same in upper and lower case. `attempt` > 0 gives the further hashes
/// [`distinct_keys`] tries when two names still meet.
pub(crate) fn name_hash(name: &str, attempt: u32) -> String {
    let mut sha = Sha256::new();
    sha.update(name.as_bytes());
    if attempt > 0 {
        // NUL never occurs in a libvirt or CBSD name: no name hashes like a retry.
        sha.update(format!("\0{attempt}").as_bytes());
    }
    let digest = sha.finalize();
    digest[..NAME_HASH_LEN / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `s` ends in `h` or `H` and `digits` hex digits of either case, right after
/// `separator` or at the start: what a hashed key's file name ends with (16 digits: the
/// FNV-1a keys of earlier versions, whose files a plain name must not inherit).
pub(crate) fn ends_like_a_hash(s: &str, separator: u8) -> bool {
    let bytes = s.as_bytes();
    [16, NAME_HASH_LEN].into_iter().any(|digits| {
        bytes.len() > digits && {
            let at = bytes.len() - digits - 1;
            matches!(bytes[at], b'h' | b'H')
                && bytes[at + 1..].iter().all(u8::is_ascii_hexdigit)
                && (at == 0 || bytes[at - 1] == separator)
        }
    })
}

/// The keys of one set of names (a host's VMs, one VM's disks), in their order, distinct
/// even where the file system ignores case. A rule of the emitter gives each name its key:
/// `own` is the name's own key where it may keep it, `hashed` the key with a hash of the
/// name (attempt 0, or a further one); `file` is the part of the RRD file name a key makes.
///
/// 1. Each name gets its own key, or else its hashed one: decided by the name alone.
/// 2. Names whose own keys differ only in case: those with an uppercase letter take their
///    hashed key, an all-lowercase one keeps its own (decided by the name, not the order).
///    No rule of the name alone could do this and keep every capitalised name's key (`Web`
///    and `web` would both have to stay), and keeping those is what keeps today's graphs.
/// 3. A file (lower-cased) two keys still share, which takes a name listed twice or a hash
///    collision, stays with the first name in name order; the later one tries further
///    hashes of its name until its file is free: two names never share an RRD file.
///
/// Own keys never end like a hash and hashed ones always do, so steps 1 and 2 only meet
/// in step 3 through a listed-twice name or a 96-bit hash collision.
pub(crate) fn distinct_keys(
    names: &[&str],
    own: impl Fn(&str) -> Option<String>,
    hashed: impl Fn(&str, u32) -> String,
    file: impl Fn(&str) -> String,
) -> Vec<String> {
    let owns: Vec<Option<String>> = names.iter().map(|n| own(n)).collect();
    let folded = |key: &str| file(key).to_ascii_lowercase();
    // Each lower-cased own key and the names that have it.
    let mut spellings: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for (name, key) in names.iter().zip(&owns) {
        if let Some(key) = key {
            spellings.entry(folded(key)).or_default().insert(name);
        }
    }
    let mut keys: Vec<String> = names
        .iter()
        .zip(owns)
        .map(|(name, key)| match key {
            Some(key)
                if !(spellings[&folded(&key)].len() > 1
                    && file(&key).bytes().any(|b| b.is_ascii_uppercase())) =>
            {
                key
            }
            _ => hashed(name, 0),
        })
        .collect();
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|&i| (names[i], i));
    let mut taken: HashSet<String> = HashSet::with_capacity(names.len());
    for i in order {
        let mut attempt = 0;
        while !taken.insert(folded(&keys[i])) {
            attempt += 1;
            keys[i] = hashed(names[i], attempt);
        }
    }
    keys
}
