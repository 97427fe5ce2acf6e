//! Pure parsing of what libvirt and /proc give as text or typed parameters: the domain XML,
//! the bulk stats record, and the QEMU process's /proc files. Tested on text; no libvirt
//! calls (procfs's thin reader takes the /proc root it is given).

pub mod domain_xml;
pub mod procfs;
pub mod stats;
