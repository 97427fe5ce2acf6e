//! Whether a thread was left running inside a backend call (a collection past its deadline,
//! a libvirt stats call given up on): how the process may end depends on it
//! (`app::end_process`).

use std::sync::atomic::{AtomicBool, Ordering};

/// Set once, never cleared: an abandoned thread may still be inside libvirt at exit.
static THREAD_ABANDONED: AtomicBool = AtomicBool::new(false);

/// Records that a thread was left inside a backend call.
pub(crate) fn note_abandoned_thread() {
    THREAD_ABANDONED.store(true, Ordering::SeqCst);
}

/// Whether [`note_abandoned_thread`] was called in this process.
pub(crate) fn threads_left_running() -> bool {
    THREAD_ABANDONED.load(Ordering::SeqCst)
}
