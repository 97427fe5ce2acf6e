//! The mass-failure matrix shared by tests/xymon_mass_failure.rs and the `sizes` mode of
//! benches/xymon.rs: hosts whose VMs are all crashed or blocked (libvirt test-driver runstate
//! 6 and 2), with names of a given length, and the size of every message built for them.

use std::path::Path;
use std::time::Duration;

use hv_monitor::collect::{self, Backend, CollectOptions};
use hv_monitor::emit::xymon::{Report, Settings, build};
use hv_monitor::model::Snapshot;
use hv_monitor::xymon_wire::{DEFAULT_MAX_SIZE, END_MARKER, Format, MIN_MAX_SIZE, Messages};

use super::node_xml::{self, TestDomain};

pub const COUNTS: [usize; 3] = [100, 2000, 5000];
pub const NAME_LENGTHS: [usize; 3] = [10, 150, 1000];
pub const MAX_SIZES: [usize; 4] = [MIN_MAX_SIZE, 16_384, 65_536, DEFAULT_MAX_SIZE];

/// The test driver parses a 5000-domain node XML in seconds, minutes on a machine ten times oversubscribed.
pub const COLLECT_DEADLINE: Duration = Duration::from_secs(600);

/// VM `i`'s name, exactly `len` bytes, unique, with characters that need escaping (XML and
/// HTML) and a key that needs hashing.
pub fn vm_name(i: usize, len: usize) -> String {
    let mut name = format!("vm-{i:05}.");
    while name.len() < len {
        name.push_str("crashed&blocked<x>.");
    }
    name.truncate(len);
    name
}

/// A node XML of `count` VMs, crashed and blocked in turn, in `dir`; returns its URI and
/// the names.
pub fn write_node(dir: &Path, count: usize, name_len: usize) -> (String, Vec<String>) {
    let domains: Vec<TestDomain> = (0..count)
        .map(|i| TestDomain::lab(i, &vm_name(i, name_len), if i % 2 == 0 { 6 } else { 2 }))
        .collect();
    let uri = node_xml::write(&domains, &dir.join(format!("node-{count}-{name_len}.xml")));
    (uri, domains.into_iter().map(|d| d.name).collect())
}

/// Collects the node at `uri` through libvirt's test driver.
pub fn collect(uri: &str) -> Snapshot {
    let options = CollectOptions {
        uri: Some(uri.to_string()),
        ..CollectOptions::default()
    };
    collect::collect_within(Backend::Libvirt, &options, COLLECT_DEADLINE)
        .unwrap_or_else(|e| panic!("collect {uri}: {e}"))
}

/// What one format, kind and size limit made of a snapshot.
pub struct Built {
    pub format: Format,
    pub kind: Messages,
    pub max_size: usize,
    pub messages: usize,
    pub largest: usize,
    /// Messages that do not end with the end marker.
    pub unterminated: usize,
}

/// Builds the messages for every format, kind and size limit, with the longest host name
/// and column the CLI takes (the first line is as long as it gets).
pub fn build_all(snapshot: &Snapshot) -> Vec<Built> {
    let report = Report::Collected {
        snapshot,
        rates: None,
        rates_lost: None,
    };
    let end = format!("\n{END_MARKER}\n");
    let mut out = Vec::new();
    for format in Format::ALL {
        for kind in Messages::ALL {
            for max_size in MAX_SIZES {
                let settings = Settings::longest(format, kind, max_size);
                let messages = build(&report, &settings);
                out.push(Built {
                    format,
                    kind,
                    max_size,
                    messages: messages.len(),
                    largest: messages.iter().map(String::len).max().unwrap_or(0),
                    unterminated: messages.iter().filter(|m| !m.ends_with(&end)).count(),
                });
            }
        }
    }
    out
}
