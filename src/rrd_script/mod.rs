//! The rrd-script handler, run by `xymond_rrd --extra-script` as `hv_monitor xymon-rrd HOST
//! COLUMN FILE` (xymond_rrd calls the column its TEST).
//!
//! Its tests run on messages the Xymon emitter builds, so they sit where the two meet: in
//! `app::xymon::rrd_script`.
//!
//! xymond_rrd writes each message of a column whose TEST2RRD name is in `--extra-tests`
//! (`hvmonrrd=hvmonrrdpage`, `--extra-tests=hvmonrrdpage`) to FILE and runs us;
//! whatever we print on stdout becomes RRD updates:
//!
//! ```text
//! DS:vms:GAUGE:600:0:U         the dataset definitions of the files that follow
//! hvmonrrd-states.rrd          a file, relative to the host's RRD directory
//! 3:2:0:1:...                  its values in DS order, U for unknown
//! DS:up:GAUGE:600:0:U          a new DS set for the per-VM files
//! hvmonrrd,vm_web.rrd
//! 1:2:...
//! DS:guestused:GAUGE:600:0:U   the guest's own figures, in a second file per VM
//! hvmonrrd-guest,vm_web.rrd
//! 52428800:25:...
//! DS:pct:GAUGE:600:0:U         and one for the storage pools' files
//! hvmonrrd,pool_images.rrd
//! 42.5:107374182400:...
//! ```
//!
//! An RRD file keeps the datasets it was created with, and xymond_rrd refuses an update
//! with more values: the host and main per-VM files hold the metrics they always held
//! ([`VmGauge::MAIN`], [`Counter::HOST`]), and later metrics go into files of their own.
//!
//! Counters are DERIVE with min 0, so RRDtool computes rates and a counter reset (a VM
//! restart) is one unknown point, not a spike. The message must be one `hv_monitor xymon
//! --format rrd-script` built: its version marker first, its end marker last (a message
//! cut short by the 256 KiB limit has none), only names and values we know. Anything else
//! is refused as a whole, with the reason on stderr and nothing on stdout: garbage never
//! reaches an RRD, and file names are built only from validated keys, so no name can leave
//! the host's RRD directory, and at most `max_vms_per_message` of them per message.

mod message;
mod parse;
mod render;

use std::path::Path;

use crate::error::RrdScriptError;
use crate::safe_file;
use crate::xymon_wire::valid_column;

pub use message::{Parsed, Value};
pub(crate) use parse::MAX_MESSAGE_FILE;
#[cfg(test)] // The handler's tests build a message one VM past it.
pub(crate) use parse::max_vms_per_message;
pub use parse::parse;
pub use render::render;

/// Reads and checks FILE for HOST and TEST, returns the lines to print.
pub fn handle(host: &str, column: &str, file: &Path) -> Result<String, RrdScriptError> {
    let fail = |reason: String| RrdScriptError::Message {
        path: file.to_path_buf(),
        reason,
    };
    if !valid_column(column) {
        return Err(RrdScriptError::Usage(format!(
            "test name '{}' is not [A-Za-z0-9_-]: it would go into RRD file names",
            column.escape_debug()
        )));
    }
    let bytes = safe_file::read_capped(file, MAX_MESSAGE_FILE, safe_file::Owner::Anyone)
        .map_err(|e| fail(e.reason()))?;
    let parsed = parse(&bytes, host, column).map_err(fail)?;
    Ok(render(&parsed, column))
}
