//! Xymon output: a status column with a colour and a table of VMs, and "NAME : value" lines
//! that xymond_rrd turns into RRD graphs (README, "Xymon").
//!
//! - [`names`]: VM names made safe for NCV/SPLITNCV and RRD file names;
//! - [`metrics`]: what is graphed, and counters turned into rates with a state file;
//! - [`colour`]: the rules for green, yellow and red;
//! - [`message`]: the messages themselves, split under Xymon's size limit;
//! - [`transport`]: sending over Xymon's TCP protocol or HTTP(S) to xymoncgimsg.cgi;
//! - [`rrd_script`]: the `xymond_rrd --extra-script` handler.

pub mod colour;
pub mod message;
pub mod metrics;
pub mod names;
pub mod rrd_script;
pub mod transport;
