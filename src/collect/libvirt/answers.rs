//! What libvirt answered about one domain, gathered ([`super::gather`]) before anything is
//! built from it ([`super::assemble`]), so the building can be tested on answers recorded from
//! real guests (tests/fixtures/libvirt/).

use serde::{Deserialize, Serialize};
use virt::error::ErrorNumber;

use super::bulk::ParamValue;
use crate::model::Process;

/// A libvirt call's failure, as much of it as the model needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallError {
    /// The domain went away between two calls (undefined, or a transient domain stopped).
    pub vanished: bool,
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
    /// The state's virDomain<State>Reason; `None` for a negative one, which libvirt never gives.
    pub reason: Option<u32>,
}

/// `virDomainGetBlockInfo` and `virDomainBlockStats` of one disk, asked only where the driver
/// has no bulk block stats. Sizes are asked of a shut-off domain too (libvirt reads them from
/// the image); counters only of a running one (`None` otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockAnswers {
    pub target: String,
    pub info: Answer<BlockSizes>,
    pub stats: Option<Answer<BlockCounters>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSizes {
    pub capacity: u64,
    pub allocation: u64,
    pub physical: u64,
}

/// As libvirt gives them: -1 for a counter the driver does not keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCounters {
    pub rd_bytes: i64,
    pub rd_req: i64,
    pub wr_bytes: i64,
    pub wr_req: i64,
}

/// `virDomainInterfaceStats` of one NIC, asked only of a running domain whose driver has no
/// bulk net stats; -1 for a counter the driver does not keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceAnswer {
    pub target: String,
    pub counters: Answer<InterfaceCounters>,
}

/// As `virDomainInterfaceStats` gives them, from the host's side of the tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceCounters {
    pub rx_bytes: i64,
    pub rx_packets: i64,
    pub rx_errs: i64,
    pub rx_drop: i64,
    pub tx_bytes: i64,
    pub tx_packets: i64,
    pub tx_errs: i64,
    pub tx_drop: i64,
}

/// Everything asked about one domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainAnswers {
    pub name: String,
    /// Its bulk stats record (`virDomainListGetStats`); empty when that failed.
    pub stats: Vec<(String, ParamValue)>,
    /// Asked only when `stats` carry no state or no reason.
    pub state: Option<Answer<StateAnswer>>,
    /// `virDomainGetXMLDesc`.
    pub xml: Answer<String>,
    pub blocks: Vec<BlockAnswers>,
    pub interfaces: Vec<InterfaceAnswer>,
    /// Bridge of each libvirt network a NIC without a host-side parent is on.
    pub bridges: Vec<(String, String)>,
    pub snapshots: Answer<u32>,
    pub autostart: Answer<bool>,
    /// The QEMU process from /proc (not a libvirt answer, so not recorded in fixtures);
    /// `None` when not looked for (not running, or no local PID files).
    #[serde(skip)]
    pub process: Option<Result<Process, String>>,
}
