//! Xymon output: a status column with a colour and a table of VMs, and "NAME : value" lines
//! that xymond_rrd turns into RRD graphs (xymon/README.md).
//!
//! - [`names`]: VM names made safe for NCV/SPLITNCV and RRD file names;
//! - [`metrics`]: what is graphed, each metric a type (rates come from [`crate::rates`]);
//! - [`colour`]: the rules for green, yellow and red;
//! - [`settings`]: what the user asks for; [`message`]: the messages themselves, split under
//!   Xymon's size limit, from the [`status_page`] text and the [`graph_lines`].
//!
//! Not emitters, so not here: sending ([`crate::transport`]) and the server-side
//! `xymond_rrd --extra-script` handler ([`crate::rrd_script`]).

pub mod colour;
pub mod graph_lines;
pub mod message;
pub mod metrics;
pub mod names;
pub mod settings;
#[cfg(test)]
mod size_limit_tests;
pub mod status_page;
#[cfg(test)]
pub(crate) mod test_support;
