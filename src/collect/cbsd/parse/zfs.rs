//! `zfs list -t volume` (zvol sizes) and `sysctl kstat.zfs.POOL.dataset` (per-zvol I/O).

use std::collections::HashMap;

use super::{Parsed, count_cell, quote};
use crate::model::DiskIo;

/// The `zfs list -o` properties we ask for, in this order.
pub const ZFS_PROPERTIES: &str = "name,volsize,used,referenced";

/// One zvol from `zfs list -Hp -t volume -o` `ZFS_PROPERTIES`.
#[derive(Debug, Clone, PartialEq)]
pub struct Zvol {
    /// Dataset name, pool first (`zroot/vm/vm10/dsk1.vhd`).
    pub name: String,
    /// Capacity the guest sees, bytes.
    pub volsize: u64,
    /// Everything the zvol holds in the pool (data, snapshots, reservation), bytes.
    pub used: u64,
    /// Data the zvol itself references, bytes.
    pub referenced: u64,
}

impl Zvol {
    /// The pool: the first component of the name.
    pub fn pool(&self) -> &str {
        self.name.split('/').next().unwrap_or_default()
    }

    /// Whether this zvol is `.../VM/FILE`, CBSD's layout for the disk `FILE` of `VM`.
    /// Compares whole path components: VM names are data, not patterns.
    pub fn is_disk_of(&self, vm: &str, file: &str) -> bool {
        let mut parts = self.name.rsplit('/');
        parts.next() == Some(file) && parts.next() == Some(vm) && parts.next().is_some()
    }
}

/// `-H` separates fields with one tab (names may contain spaces); `-p` prints exact bytes.
pub fn parse_zfs_volumes(text: &str) -> Parsed<Zvol> {
    let mut out = Parsed::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let parsed = match fields.as_slice() {
            [name, volsize, used, referenced] if !name.is_empty() => {
                match (
                    count_cell(volsize),
                    count_cell(used),
                    count_cell(referenced),
                ) {
                    (Some(volsize), Some(used), Some(referenced)) => Some(Zvol {
                        name: name.to_string(),
                        volsize,
                        used,
                        referenced,
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        match parsed {
            Some(zvol) => out.rows.push(zvol),
            None => out.problems.push(format!(
                "zfs list line {}: expected name, volsize, used and referenced as exact \
                 numbers separated by tabs: '{}'",
                i + 1,
                quote(line)
            )),
        }
    }
    out
}

/// Parses `sysctl kstat.zfs.POOL.dataset ...`: lines
/// `kstat.zfs.POOL.dataset.objset-0xNN.FIELD: VALUE`, grouped by objset, keyed by the
/// objset's `dataset_name`. `reads`/`writes` are requests, `nread`/`nwritten` bytes; ZFS
/// keeps no times or flushes there, so those stay 0. Pool names may contain dots, so the objset is found by its
/// `.dataset.objset-` marker, not by counting dots.
pub fn parse_kstat_datasets(text: &str) -> HashMap<String, DiskIo> {
    #[derive(Default)]
    struct Objset {
        name: Option<String>,
        io: DiskIo,
    }
    let mut objsets: HashMap<&str, Objset> = HashMap::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(": ").or_else(|| line.split_once(':')) else {
            continue;
        };
        let Some(at) = key.find(".dataset.objset-") else {
            continue;
        };
        let rest = &key[at + ".dataset.objset-".len()..];
        let Some((id, field)) = rest.split_once('.') else {
            continue;
        };
        let objset = objsets.entry(&key[..at + ".dataset.objset-".len() + id.len()]);
        let objset = objset.or_default();
        let number = || value.trim().parse::<u64>().unwrap_or(0);
        match field {
            "dataset_name" => objset.name = Some(value.trim().to_string()),
            "reads" => objset.io.rreqs = number(),
            "writes" => objset.io.wreqs = number(),
            "nread" => objset.io.rbytes = number(),
            "nwritten" => objset.io.wbytes = number(),
            _ => {}
        }
    }
    objsets
        .into_values()
        .filter_map(|o| Some((o.name?, o.io)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zvol_match_is_by_whole_components() {
        let z = |name: &str| Zvol {
            name: name.into(),
            volsize: 0,
            used: 0,
            referenced: 0,
        };
        assert!(z("zroot/vm/vm10/dsk1.vhd").is_disk_of("vm10", "dsk1.vhd"));
        assert!(!z("zroot/vm/vm10/dsk1.vhd").is_disk_of("vm1", "dsk1.vhd"));
        assert!(!z("zroot/vm/xvm1/dsk1.vhd").is_disk_of("vm1", "dsk1.vhd"));
        assert!(!z("zroot/vm/a.b/dsk1.vhd").is_disk_of("a*b", "dsk1.vhd"));
        assert!(
            !z("vm1/dsk1.vhd").is_disk_of("vm1", "dsk1.vhd"),
            "needs a pool"
        );
        assert_eq!(z("tank.2/vm/a/d").pool(), "tank.2");
    }
}
