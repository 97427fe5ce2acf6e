//! How the process ends, once for every job.

use std::io::Write;

use crate::collect::abandoned::threads_left_running;

/// Ends the process with `code`. `std::process::exit` runs the C exit handlers while every
/// other thread keeps running. OpenSSL's (libvirt loads it with libssh and libssh2) frees
/// the thread-local block of every thread; a thread ending at that moment frees its own block
/// again: a double free (found by scripts/stress-sanitizers.sh; glibc saw it as
/// `malloc_consolidate(): invalid chunk size`, exit 134). So collector threads that finished
/// are joined before this, and once one was left inside a backend call our output is
/// flushed and the process ends with `_exit`, running no handlers: every file we write is
/// complete and renamed before this point, and nothing else needs them.
pub fn end_process(code: i32) -> ! {
    if threads_left_running() {
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        // SAFETY: _exit ends the process at once; nothing runs after it.
        unsafe { libc::_exit(code) }
    }
    std::process::exit(code)
}
