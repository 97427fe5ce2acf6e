//! Xymon output: a status column with a colour and a table of VMs, and "NAME : value" lines
//! that xymond_rrd turns into RRD graphs (README, "Xymon").
//!
//! - [`names`]: VM names made safe for NCV/SPLITNCV and RRD file names;
//! - [`metrics`]: what is graphed, each metric a type; [`rates`]: counters turned into rates
//!   with a state file;
//! - [`colour`]: the rules for green, yellow and red;
//! - [`settings`]: what the user asks for; [`message`]: the messages themselves, split under
//!   Xymon's size limit, from the [`status_page`] text and the [`graph_lines`];
//! - [`transport`]: sending over Xymon's TCP protocol or HTTP(S) to xymoncgimsg.cgi, several
//!   messages framed as one by [`combo`];
//! - [`rrd_script`]: the `xymond_rrd --extra-script` handler.

pub mod colour;
pub mod combo;
pub mod graph_lines;
pub mod message;
pub mod metrics;
pub mod names;
pub mod rates;
pub mod rrd_script;
pub mod settings;
#[cfg(test)]
mod size_limit_tests;
pub mod status_page;
#[cfg(test)]
mod test_support;
pub mod transport;
