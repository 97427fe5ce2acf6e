//! # hv-monitor
//!
//! Watches the VMs of a hypervisor and feeds monitoring systems people already run.
//!
//! One collector ([`collect`]) reads every VM on the host into one [`model::Snapshot`]; emitters
//! ([`emit`]) turn that snapshot into what each monitoring system reads:
//!
//! - [`emit::librenms`]: the JSON document of the LibreNMS `hv-monitor` snmpd extend, a drop-in
//!   for the Perl tool HV::Monitor, plain or gzip+base64.
//! - [`emit::xymon`]: a Xymon status column (colour by documented rules, a table of VMs) and
//!   NCV/SPLITNCV graph lines.
//!
//! Around the emitters: [`transport`] sends Xymon messages over Xymon's TCP protocol or
//! HTTP(S); [`rates`] keeps the previous run's counters for rates; [`rrd_script`] is the
//! `xymond_rrd --extra-script` handler (`hv_monitor xymon-rrd`) that writes per-VM RRDs with
//! DERIVE counters; [`app`] runs each job and [`error`] maps every failure to an exit code.
//!
//! Backends: libvirt (Linux, through the `virt` crate, one bulk stats call for all VMs) and
//! CBSD + bhyve (FreeBSD).

pub mod app;
pub mod cli;
pub mod collect;
pub mod diag;
pub mod emit;
pub mod error;
mod hash;
pub mod model;
pub mod output;
pub mod rates;
pub mod rrd_script;
pub mod safe_file;
pub mod seconds;
pub mod text;
pub mod transport;
pub mod xymon_wire;
