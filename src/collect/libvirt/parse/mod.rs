//! Pure parsing of what libvirt and /proc give as text or typed parameters: the domain XML,
//! the bulk stats record (guest memory and vCPU times in `guest`), storage answers (pools,
//! disk errors), a guest agent's answer (`guest_info`, after virDomainGetGuestInfo), DHCP
//! leases (`lease`, after virNetworkGetDHCPLeases), and the QEMU process's /proc files.
//! Tested on text; no libvirt calls (procfs's thin reader takes the /proc root it is given).

pub(crate) mod domain_xml;
pub(crate) mod guest;
pub(crate) mod guest_info;
pub(crate) mod lease;
pub(crate) mod procfs;
pub(crate) mod stats;
pub(crate) mod storage;

pub use crate::collect::libvirt::bulk::ParamValue;
pub use domain_xml::{DomainXml, Graphics, XmlDisk, XmlInterface, parse as parse_domain_xml};
pub use guest_info::{
    MAX_ADDRESSES, MAX_FILE_SYSTEMS, MAX_INTERFACES, MAX_TEXT, parse as parse_guest_info,
};
pub use procfs::{
    Host, cmdline_runs_guest, parse_ctxt_switches, parse_mem_total, parse_stat, parse_uptime,
    process,
};
