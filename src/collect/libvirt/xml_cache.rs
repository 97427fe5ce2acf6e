//! The facts parsed from each domain's XML, kept between runs so the XML is fetched only
//! when the domain changed. `virDomainGetXMLDesc` costs libvirtd more than the whole bulk
//! stats call (it formats the full live definition, per domain), and what we take from it
//! (MACs, bridges, console, disk kinds, OS) changes rarely.
//!
//! libvirt keeps no generation counter of a definition, and its change events need a
//! process that stays connected. So a domain's entry is used only while its **key** is the
//! same, made of what the run has anyway without a call: its UUID and domain id (local to
//! the handle: a new id at every start, so anything set at start, such as the tap device
//! names and an autoport console, is caught), its state, and from the bulk record the
//! count, names and paths of its disks (hot-plug, media change, block copy), the count and
//! names of its NICs, `balloon.maximum` and `vcpu.current`/`vcpu.maximum`. An entry is also
//! fetched anew after [`MAX_AGE`] whatever its key.
//!
//! What the key misses: a change that leaves all of that alone, chiefly a shut-off domain
//! redefined (`virsh edit`, `define`) with another MAC, network, console or OS but the same
//! disks, or a running domain's NIC moved to another network in place
//! (`virsh update-device`). Those are labels beside the counters, not counters; they are
//! right again after the next start, or within [`MAX_AGE`]. No counter is ever taken from
//! the cache: every number comes from this run's stats.
//!
//! Only for drivers behind a daemon: the test driver answers in this process, where the XML
//! costs less than the file. The file follows the counters file's rules (`safe_file`): never through a link, regular
//! files of ours only, read capped, replaced atomically, a lock beside it from read to
//! write. One that fails a check is not believed and not replaced (a warning says why); a
//! damaged one of ours is rebuilt. Another run holding the lock: this run fetches every XML
//! and leaves the file alone.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::bulk::ParamValue;
use super::parse::domain_xml::DomainXml;
use crate::output::replace_files;
use crate::safe_file::{self, Owner};

/// After this an entry is fetched again even if its key is the same: the bound on how long
/// a change the key misses stays unseen.
pub const MAX_AGE: Duration = Duration::from_secs(30 * 60);

/// Bumped when the entries' meaning changes; a file of another version is rebuilt.
const VERSION: u32 = 1;

/// A few hundred bytes per domain; far past this is not ours.
const MAX_CACHE_BYTES: u64 = 32 << 20;

/// What a domain's XML facts are valid for; see the module doc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    uuid: String,
    id: Option<u32>,
    /// The bulk parameters that change with the definition, in libvirt's order.
    params: Vec<(String, String)>,
}

/// The bulk parameters a definition change shows in (see the module doc).
fn in_key(field: &str) -> bool {
    matches!(
        field,
        "state.state"
            | "block.count"
            | "net.count"
            | "balloon.maximum"
            | "vcpu.current"
            | "vcpu.maximum"
    ) || (field.starts_with("block.") && (field.ends_with(".name") || field.ends_with(".path")))
        || (field.starts_with("net.") && field.ends_with(".name"))
}

/// The key of a domain with this UUID and id (`None` when it has no process) whose bulk
/// record is `params`.
pub fn key(uuid: &str, id: Option<u32>, params: &[(String, ParamValue)]) -> Key {
    let text = |v: &ParamValue| match v {
        ParamValue::Str(s) => s.clone(),
        other => other.as_u64().map_or_else(String::new, |n| n.to_string()),
    };
    Key {
        uuid: uuid.to_string(),
        id,
        params: params
            .iter()
            .filter(|(field, _)| in_key(field))
            .map(|(field, value)| (field.clone(), text(value)))
            .collect(),
    }
}

/// One domain's facts and what they are valid for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    key: Key,
    /// Seconds since the epoch when the XML was fetched.
    fetched_at: u64,
    facts: DomainXml,
}

impl Entry {
    /// Facts just parsed from a fetched XML.
    pub fn fetched(key: Key, facts: DomainXml, now: SystemTime) -> Entry {
        Entry {
            key,
            fetched_at: epoch_secs(now),
            facts,
        }
    }

    /// The facts.
    pub fn facts(&self) -> &DomainXml {
        &self.facts
    }
}

fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    domains: BTreeMap<String, Entry>,
}

/// The previous run's entries, by domain name.
#[derive(Debug, Default)]
pub struct Entries(HashMap<String, Entry>);

impl Entries {
    /// The entry of `name` when it is still good for `key` at `now`: same key, not older
    /// than [`MAX_AGE`], not from the future.
    pub fn valid(&self, name: &str, key: &Key, now: SystemTime) -> Option<&Entry> {
        let now = epoch_secs(now);
        self.0.get(name).filter(|e| {
            e.key == *key && e.fetched_at <= now && now - e.fetched_at <= MAX_AGE.as_secs()
        })
    }

    /// Whether `name`'s last fetched XML had a connected guest agent channel: a guess, made
    /// before this run's stats, of whom the agent calls will ask (`agent::Session`).
    pub fn had_agent(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|e| e.facts.agent_connected)
    }

    /// How many domains have an entry.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The entries in a file's text; `Err` says why they cannot be used.
    pub fn from_json(text: &str) -> Result<Entries, String> {
        let file: CacheFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.version != VERSION {
            return Err(format!("version {}, not {VERSION}", file.version));
        }
        Ok(Entries(file.domains.into_iter().collect()))
    }

    /// The file's text for `entries`.
    pub fn to_json(entries: BTreeMap<String, Entry>) -> String {
        serde_json::to_string(&CacheFile {
            version: VERSION,
            domains: entries,
        })
        .expect("the domain cache serialises")
    }
}

/// The cache file, locked for this run.
pub struct CacheFileLock {
    path: PathBuf,
    _lock: File,
}

/// What [`open`] found.
pub struct Opened {
    /// The lock, to write the file with at the end; `None`: do not write it.
    pub lock: Option<CacheFileLock>,
    /// The previous run's entries (none on a first run or when the file was not used).
    pub entries: Entries,
    /// Why the file was not used, for the snapshot's warnings.
    pub warning: Option<String>,
}

/// Locks and reads the cache file at `path`.
pub fn open(path: &Path) -> Opened {
    let unused = |warning: Option<String>| Opened {
        lock: None,
        entries: Entries::default(),
        warning,
    };
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock = match safe_file::open_lock(Path::new(&lock_path)) {
        Ok(lock) => lock,
        Err(e) => return unused(Some(format!("domain XML cache: lock file {e}"))),
    };
    match safe_file::try_lock(&lock) {
        Ok(true) => {}
        // Another run is using it: fetch everything, leave the file to that run.
        Ok(false) => return unused(None),
        Err(e) => return unused(Some(format!("domain XML cache: cannot lock: {e}"))),
    }
    let locked = CacheFileLock {
        path: path.to_path_buf(),
        _lock: lock,
    };
    let bytes = match safe_file::read_capped(path, MAX_CACHE_BYTES, Owner::Us) {
        Ok(bytes) => bytes,
        Err(e) if e.is_missing() => Vec::new(),
        // Not ours, not a regular file, too large: not believed, not replaced.
        Err(e) => return unused(Some(format!("domain XML cache {e}; not used"))),
    };
    if bytes.is_empty() {
        return Opened {
            lock: Some(locked),
            entries: Entries::default(),
            warning: None,
        };
    }
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|_| "not UTF-8".to_string())
        .and_then(Entries::from_json);
    match parsed {
        Ok(entries) => Opened {
            lock: Some(locked),
            entries,
            warning: None,
        },
        Err(e) => Opened {
            lock: Some(locked),
            entries: Entries::default(),
            warning: Some(format!(
                "ignoring domain XML cache '{}' ({e}); rebuilt this run",
                path.display()
            )),
        },
    }
}

impl CacheFileLock {
    /// Replaces the file (mode 0600) with `entries`; `Err` says why it was not.
    pub fn write(&self, entries: BTreeMap<String, Entry>) -> Result<(), String> {
        replace_files(&[(&self.path, Entries::to_json(entries).as_bytes())], 0o600)
            .map(|_| ())
            .map_err(|e| format!("domain XML cache not written: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, ParamValue)]) -> Vec<(String, ParamValue)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    }

    fn running_guest() -> Vec<(String, ParamValue)> {
        params(&[
            ("state.state", ParamValue::Int(1)),
            ("state.reason", ParamValue::Int(1)),
            ("cpu.time", ParamValue::UInt(123)),
            ("balloon.maximum", ParamValue::UInt(131_072)),
            ("vcpu.current", ParamValue::UInt(1)),
            ("net.count", ParamValue::UInt(1)),
            ("net.0.name", ParamValue::Str("vnet0".into())),
            ("net.0.rx.bytes", ParamValue::UInt(10)),
            ("block.count", ParamValue::UInt(1)),
            ("block.0.name", ParamValue::Str("vda".into())),
            ("block.0.path", ParamValue::Str("/var/a.raw".into())),
            ("block.0.rd.bytes", ParamValue::UInt(5)),
        ])
    }

    fn with(
        mut p: Vec<(String, ParamValue)>,
        field: &str,
        v: ParamValue,
    ) -> Vec<(String, ParamValue)> {
        match p.iter_mut().find(|(k, _)| k == field) {
            Some(slot) => slot.1 = v,
            None => p.push((field.to_string(), v)),
        }
        p
    }

    #[test]
    fn counters_and_the_reason_do_not_change_the_key() {
        let before = key("u", Some(7), &running_guest());
        let p = with(running_guest(), "cpu.time", ParamValue::UInt(999));
        let p = with(p, "net.0.rx.bytes", ParamValue::UInt(99));
        let p = with(p, "block.0.rd.bytes", ParamValue::UInt(99));
        let p = with(p, "state.reason", ParamValue::Int(3));
        assert_eq!(key("u", Some(7), &p), before);
    }

    #[test]
    fn a_restart_a_device_change_or_a_new_definition_changes_the_key() {
        let before = key("u", Some(7), &running_guest());
        assert_ne!(key("u", Some(8), &running_guest()), before, "restarted");
        assert_ne!(key("u", None, &running_guest()), before, "stopped");
        assert_ne!(key("v", Some(7), &running_guest()), before, "redefined");
        let changes = [
            ("block.count", ParamValue::UInt(2)),
            ("block.1.name", ParamValue::Str("vdb".into())),
            ("block.0.path", ParamValue::Str("/var/b.iso".into())),
            ("net.count", ParamValue::UInt(2)),
            ("net.0.name", ParamValue::Str("vnet9".into())),
            ("state.state", ParamValue::Int(3)),
            ("balloon.maximum", ParamValue::UInt(262_144)),
            ("vcpu.current", ParamValue::UInt(2)),
        ];
        for (field, value) in changes {
            let p = with(running_guest(), field, value);
            assert_ne!(key("u", Some(7), &p), before, "{field}");
        }
    }

    fn entry(at: SystemTime) -> Entry {
        let facts = DomainXml {
            os_type: "hvm".into(),
            ..DomainXml::default()
        };
        Entry::fetched(key("u", Some(1), &running_guest()), facts, at)
    }

    #[test]
    fn an_entry_is_used_only_for_its_key_and_while_young() {
        let now = SystemTime::now();
        let k = key("u", Some(1), &running_guest());
        let entries = Entries([("a".to_string(), entry(now))].into_iter().collect());
        assert!(entries.valid("a", &k, now).is_some());
        assert!(entries.valid("b", &k, now).is_none(), "another name");
        assert!(
            entries
                .valid("a", &key("u", Some(2), &running_guest()), now)
                .is_none()
        );
        let later = now + MAX_AGE + Duration::from_secs(1);
        assert!(entries.valid("a", &k, later).is_none(), "too old");
        let earlier = now - Duration::from_secs(60);
        assert!(entries.valid("a", &k, earlier).is_none(), "from the future");
    }

    #[test]
    fn entries_round_trip_and_other_versions_or_garbage_are_refused() {
        let now = SystemTime::now();
        let text = Entries::to_json([("a".to_string(), entry(now))].into_iter().collect());
        let back = Entries::from_json(&text).unwrap();
        assert_eq!(back.0["a"], entry(now));
        let other = text.replace("\"version\":1", "\"version\":99");
        assert!(
            Entries::from_json(&other)
                .unwrap_err()
                .contains("version 99")
        );
        assert!(Entries::from_json("{not json").is_err());
        assert!(Entries::from_json("[]").is_err());
    }

    #[test]
    fn a_hostile_file_is_refused_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "{}").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let opened = open(&link);
        assert!(opened.lock.is_none(), "a link is not written through");
        assert!(opened.warning.unwrap().contains("symbolic link"));

        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let opened = open(&fifo);
        assert!(opened.lock.is_none());
        assert!(
            opened.warning.unwrap().contains("FIFO"),
            "and it did not hang"
        );

        let huge = dir.path().join("huge");
        File::create(&huge)
            .unwrap()
            .set_len(MAX_CACHE_BYTES + 1)
            .unwrap();
        let opened = open(&huge);
        assert!(opened.lock.is_none());
        assert!(opened.warning.unwrap().contains("more than"));
    }

    #[test]
    fn a_damaged_file_of_ours_is_ignored_then_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        std::fs::write(&path, b"\xff\x00garbage").unwrap();
        let opened = open(&path);
        assert!(opened.warning.unwrap().contains("not UTF-8"));
        assert!(opened.entries.0.is_empty());
        let now = SystemTime::now();
        let lock = opened.lock.expect("ours: rebuilt");
        lock.write([("a".to_string(), entry(now))].into_iter().collect())
            .unwrap();
        drop(lock);
        let again = open(&path);
        assert!(again.warning.is_none());
        assert_eq!(again.entries.0["a"], entry(now));
    }

    #[test]
    fn a_second_run_leaves_a_locked_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        let first = open(&path);
        assert!(first.lock.is_some());
        let second = open(&path);
        assert!(second.lock.is_none() && second.warning.is_none());
    }
}
