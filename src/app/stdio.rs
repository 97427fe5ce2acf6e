//! What a job writes last: its output on stdout, and on stderr the notes library code hands
//! back as data (library code does not print).

use crate::error::exit;
use crate::output::{StdoutError, write_stdout};

/// Shows the notes the library returned (files left alone and the like) as warnings.
pub fn print_notes(notes: &[String]) {
    for note in notes {
        crate::diag!("hv_monitor: warning: {note}");
    }
}

/// Writes a job's output to stdout by `until` and returns the run's exit code: `code`, or when
/// that is success and stdout failed, [`exit::WRITE_FAILED`] (the reason on stderr, except
/// for a reader that went away) or [`exit::DEADLINE`] for a reader that stopped reading.
/// An earlier failure's code is kept: it is the first thing to fix.
pub fn finish_on_stdout(bytes: &[u8], until: std::time::Instant, code: i32) -> i32 {
    let failed = match write_stdout(bytes, until) {
        Ok(()) => return code,
        Err(StdoutError::Closed) => exit::WRITE_FAILED,
        Err(StdoutError::Failed { written, source }) => {
            crate::diag!(
                "hv_monitor: cannot write to stdout: {source} ({written} of {} bytes written)",
                bytes.len()
            );
            exit::WRITE_FAILED
        }
        Err(StdoutError::Stalled { written }) => {
            crate::diag!(
                "hv_monitor: stdout: the reader took no more output by the deadline ({written} \
                 of {} bytes written); giving up",
                bytes.len()
            );
            exit::DEADLINE
        }
    };
    if code == exit::OK { failed } else { code }
}
