//! What libvirt answered about one domain, gathered ([`super::gather`]) before anything is
//! built from it ([`super::assemble`]), so the building can be tested on answers recorded from
//! real guests (tests/fixtures/libvirt/).

use serde::{Deserialize, Serialize};
use virt::error::ErrorNumber;

use super::bulk::ParamValue;
use super::parse::domain_xml::DomainXml;
use crate::model::Process;

/// A libvirt call's failure, as much of it as the model needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallError {
    /// The domain went away between two calls (undefined, or a transient domain stopped).
    pub vanished: bool,
    /// libvirt's error message, unescaped.
    pub message: String,
}

/// Whether a call failed because the domain went away since it was listed: the one test,
/// for the answers ([`CallError::vanished`]) and for the call policy (`super::policy`).
pub fn is_vanished(e: &virt::error::Error) -> bool {
    e.code().is(ErrorNumber::NoDomain)
}

/// One per-domain call's answer.
pub type Answer<T> = Result<T, CallError>;

/// `virDomainGetState`, asked only when the bulk stats carry no state or no reason.
/// Numbers as libvirt gives them, decoded in one place ([`super::parse::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateAnswer {
    /// libvirt's virDomainState.
    pub state: u32,
    /// The state's `virDomain<State>Reason`; `None` for a negative one, which libvirt never gives.
    pub reason: Option<u32>,
}

/// `virDomainGetBlockInfo` and `virDomainBlockStats` of one disk, asked only where the driver
/// has no bulk block stats. Sizes are asked of a shut-off domain too (libvirt reads them from
/// the image); counters only of a running one (`None` otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockAnswers {
    /// The disk's target device (`vda`), from the domain XML.
    pub target: String,
    /// `virDomainGetBlockInfo`.
    pub info: Answer<BlockSizes>,
    /// `virDomainBlockStats`; `None` when not asked (the domain has no process).
    pub stats: Option<Answer<BlockCounters>>,
}

/// `virDomainGetBlockInfo`'s sizes, bytes; named as [`crate::model::Disk`]'s (`allocation`
/// becomes `allocated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSizes {
    /// Size the guest sees, bytes.
    pub capacity: u64,
    /// Host storage the image occupies, bytes.
    pub allocation: u64,
    /// Size of the image's container on the host, bytes.
    pub physical: u64,
}

/// As libvirt gives them: -1 for a counter the driver does not keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCounters {
    /// Bytes read.
    pub rd_bytes: i64,
    /// Read requests.
    pub rd_req: i64,
    /// Bytes written.
    pub wr_bytes: i64,
    /// Write requests.
    pub wr_req: i64,
}

/// `virDomainInterfaceStats` of one NIC, asked only of a running domain whose driver has no
/// bulk net stats; -1 for a counter the driver does not keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceAnswer {
    /// Host-side device (`vnet0`), from the domain XML.
    pub target: String,
    /// `virDomainInterfaceStats`.
    pub counters: Answer<InterfaceCounters>,
}

/// As `virDomainInterfaceStats` gives them, from the host's side of the tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceCounters {
    /// Bytes received by the host side.
    pub rx_bytes: i64,
    /// Packets received by the host side.
    pub rx_packets: i64,
    /// Receive errors.
    pub rx_errs: i64,
    /// Received packets dropped.
    pub rx_drop: i64,
    /// Bytes sent by the host side.
    pub tx_bytes: i64,
    /// Packets sent by the host side.
    pub tx_packets: i64,
    /// Send errors.
    pub tx_errs: i64,
    /// Sent packets dropped.
    pub tx_drop: i64,
}

/// Everything asked about one domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainAnswers {
    /// Domain name as libvirt reports it; any UTF-8.
    pub name: String,
    /// Its bulk stats record (`virDomainListGetStats`); empty when that failed.
    pub stats: Vec<(String, ParamValue)>,
    /// Asked only when `stats` carry no state or no reason.
    pub state: Option<Answer<StateAnswer>>,
    /// `virDomainGetXMLDesc`; empty when not asked (`xml_facts` came from the cache).
    pub xml: Answer<String>,
    /// What `xml` says, parsed as it was fetched or kept from an earlier run
    /// (`super::xml_cache`); `None`: parsed from `xml` when the VM is built (recorded
    /// answers), or it could not be.
    #[serde(skip)]
    pub xml_facts: Option<DomainXml>,
    /// Per-disk calls, one per XML disk; empty where the bulk stats had the block group.
    pub blocks: Vec<BlockAnswers>,
    /// Per-NIC calls, one per XML interface with a host-side device, of a domain with a
    /// process; empty where the bulk stats had the net group.
    pub interfaces: Vec<InterfaceAnswer>,
    /// Bridge of each libvirt network a NIC without a host-side parent is on.
    pub bridges: Vec<(String, String)>,
    /// How many snapshots the domain has: `virDomainSnapshotNum`, or 0 from the one listing
    /// of domains with snapshots.
    pub snapshots: Answer<u32>,
    /// Whether it starts with the host: from the one autostart listing, else
    /// `virDomainGetAutostart`.
    pub autostart: Answer<bool>,
    /// `virDomainGetDiskErrors`: (target device, `virDomainDiskErrorCode`) of each disk with
    /// an error. `None` when not asked: QEMU records a disk error only when it pauses the
    /// VM on it, so only domains paused on an I/O error (or for a reason not known) that are
    /// not busy are asked. Recorded fixtures from
    /// before it was asked read as not asked.
    #[serde(default)]
    pub disk_errors: Option<Answer<Vec<(String, u32)>>>,
    /// The QEMU process from /proc (not a libvirt answer, so not recorded in fixtures);
    /// `None` when not looked for (not running, or no local PID files).
    #[serde(skip)]
    pub process: Option<Result<Process, String>>,
}
