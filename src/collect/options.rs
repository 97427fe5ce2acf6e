//! What every backend implements, what a collection may be told, and what a backend's
//! event stream tells (`--watch`): the one file the backends import from their parent
//! folder, so the dispatch in `collect` and the backends depend one way.

use std::time::Instant;

use super::select::Selection;
use crate::error::CollectError;
use crate::model::Snapshot;

/// A backend that can take a snapshot of every VM on this host.
pub trait Collector {
    /// Every VM now; an error only when nothing usable could be had (lesser problems go
    /// into the snapshot's warnings).
    fn collect(&mut self) -> Result<Snapshot, CollectError>;
}

/// What a collection may be told from the command line.
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// libvirt connection URI; `None` lets libvirt choose (LIBVIRT_DEFAULT_URI, its config).
    pub uri: Option<String>,
    /// libvirt connections to collect over at once; `None`: chosen from the VM count.
    pub connections: Option<usize>,
    /// Which VMs to report (`--vm`, `--exclude`); the others are not asked about.
    pub select: Selection,
    /// The domain XML cache file (libvirt); `None`: every domain's XML is fetched each run.
    pub domain_cache: Option<std::path::PathBuf>,
    /// Do not ask guest agents (`--no-agent`): no read-write connection, no agent data.
    pub no_agent: bool,
}

/// One thing a subscription reports, on the backend's own thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A domain was defined, undefined, or changed state (its name; `at`: when told).
    Domain {
        /// The domain's name as libvirt gives it: hostile text, only compared with names.
        name: String,
        /// When the event arrived.
        at: Instant,
    },
    /// The connection the events came over is gone: why, in words.
    Lost(String),
}
