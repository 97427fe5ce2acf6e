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
//! Around the emitters: [`xymon_wire`] holds what both ends of a Xymon message share;
//! [`transport`] sends Xymon messages over Xymon's TCP protocol or HTTP(S); [`rates`] turns
//! two snapshots' counters into rates and keeps the counters file; [`rrd_script`] is the
//! rrd-script handler that xymond_rrd runs (`hv_monitor xymon-rrd`) to write per-VM RRDs with
//! DERIVE counters; [`app`] runs each job and [`error`] maps every failure to an exit code.
//! Dependencies run one way, from the model up to the app (`scripts/module-graph.py` checks
//! it in CI).
//!
//! Backends: libvirt (Linux, through the `virt` crate, one bulk stats call for all VMs) and
//! CBSD + bhyve (FreeBSD), each in its own folder with the same files for the same roles.
//!
//! ## Words used here
//!
//! One word per idea, in the code and the docs:
//!
//! | word | means | not to be confused with |
//! |---|---|---|
//! | **snapshot** ([`model::Snapshot`]) | everything one collection saw at one moment | a *VM snapshot*: libvirt's domain snapshot, CBSD's jsnapshot, always called so (LibreNMS's keys `snaps`, `snaps_size`) |
//! | **state** ([`model::State`]) | a VM's run state, with its **state reason** as libvirt gives it | the counters file |
//! | **counters file** | the previous run's counters, kept for the next run's rates (`--state PATH`; on disk `hv_monitor.HOST.COLUMN.state.json`) | |
//! | **rate** | a per-second value from the counters of two snapshots | |
//! | **column** | a Xymon status column (xymond_rrd calls it TEST) | |
//! | **messages** | which Xymon messages a run sends: status, data or both (`--message`) | |
//! | **format** | the shape of the graph lines: splitncv, ncv, rrd-script (`--format`) | |
//! | **rrd-script** | the format of raw counters and its handler that xymond_rrd runs through `--extra-script` (subcommand `xymon-rrd`, default column `hvmonrrd`) | |
//! | **key** | a VM's or disk's name made safe for NCV and RRD file names, or for LibreNMS | the VM's name, shown as it is |
//! | **answers** | what a backend asked the hypervisor, kept as it came (`answers.rs`), before `assemble.rs` builds the model | |

#![deny(missing_docs)]

pub mod app;
pub mod cli;
pub mod collect;
#[doc(hidden)] // the home of `diag!`, which names it
pub mod diag;
pub mod emit;
pub mod error;
mod hash;
pub mod model;
mod output;
pub mod rates;
pub mod rrd_script;
pub mod safe_file;
mod seconds;
pub mod text;
pub mod transport;
pub mod xymon_wire;
