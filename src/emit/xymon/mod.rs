//! Xymon output: a status column with a colour and a table of VMs, and "NAME : value" lines
//! that xymond_rrd turns into RRD graphs (xymon/README.md).
//!
//! The words both ends of a message share (formats, metrics, VM keys, markers, limits) are in
//! [`crate::xymon_wire`]; the rates come computed from [`crate::rates`] in the `report`.
//!
//! - `colour`: the rules for green, yellow and red (`guest_fs`: the guest file system one);
//! - `settings`: what the user asks for; `report`: what one run has to report;
//! - `message`: the messages themselves, split under Xymon's size limit, from the
//!   `status_page` text, the `graph_lines` and the `graph_images` SPLITNCV's pages draw.
//!
//! Not emitters, so not here: sending ([`crate::transport`]) and the server-side
//! rrd-script handler ([`crate::rrd_script`]).

mod colour;
mod graph_images;
mod graph_lines;
mod guest_fs;
mod message;
mod report;
mod settings;
mod status_page;
#[cfg(test)]
pub(crate) mod test_support;

pub use colour::{Colour, Finding, PoolLimits, Subject, assess};
pub use guest_fs::FsLimits;
pub use message::build;
pub use report::Report;
pub use settings::Settings;
