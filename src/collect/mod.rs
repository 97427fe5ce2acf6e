//! Collectors: one module per hypervisor backend, all filling [`crate::model::Snapshot`].
//!
//! Each backend keeps the code that talks to the hypervisor (libvirt calls, commands) apart
//! from pure parsing functions, which are tested on text.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{CollectError, RunError};
pub use crate::model::Backend;
use crate::model::Snapshot;

pub mod cbsd;
#[cfg(all(feature = "libvirt", target_os = "linux"))]
pub mod libvirt;

/// A backend that can take a snapshot of every VM on this host.
pub trait Collector {
    fn collect(&mut self) -> Result<Snapshot, CollectError>;
}

/// What a collection may be told from the command line.
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// libvirt connection URI; `None` lets libvirt choose (LIBVIRT_DEFAULT_URI, its config).
    pub uri: Option<String>,
    /// libvirt connections to collect over at once; `None`: chosen from the VM count.
    pub connections: Option<usize>,
}

/// Opens the backend and takes one snapshot.
pub fn collect(backend: Backend, options: &CollectOptions) -> Result<Snapshot, CollectError> {
    collect_before(backend, options, None)
}

/// Like [`collect`]; backends stop waiting on a command or a libvirt stats call by
/// `deadline` and report what they have.
fn collect_before(
    backend: Backend,
    options: &CollectOptions,
    deadline: Option<Instant>,
) -> Result<Snapshot, CollectError> {
    open(backend, options, deadline)?.collect()
}

/// The collector of `backend`: connected (libvirt) or ready to run its commands (CBSD).
fn open(
    backend: Backend,
    options: &CollectOptions,
    deadline: Option<Instant>,
) -> Result<Box<dyn Collector>, CollectError> {
    match backend {
        #[cfg(all(feature = "libvirt", target_os = "linux"))]
        Backend::Libvirt => Ok(Box::new(libvirt::LibvirtCollector::open(
            options.uri.as_deref(),
            deadline,
            options.connections,
        )?)),
        #[cfg(not(all(feature = "libvirt", target_os = "linux")))]
        Backend::Libvirt => {
            let _ = options;
            Err(CollectError::Unsupported("libvirt"))
        }
        Backend::Cbsd => Ok(Box::new(cbsd::CbsdCollector::from_env(deadline))),
    }
}

/// Longest time kept back before the deadline (at most a tenth of it) to report a command
/// that had to be killed or a VM that did not answer.
const COMMAND_MARGIN: Duration = Duration::from_millis(500);

/// Like [`collect`], but gives up after `deadline`. A hypervisor that hangs (a stuck libvirtd,
/// a command that never ends) must not hang snmpd or a Xymon client, so the collection runs on
/// its own thread and is abandoned, not joined, when time is up; the process then ends with
/// [`exit`].
pub fn collect_within(
    backend: Backend,
    options: &CollectOptions,
    deadline: Duration,
) -> Result<Snapshot, RunError> {
    let (tx, rx) = mpsc::channel();
    let options = options.clone();
    // Commands are killed, and libvirt stats calls given up on, a little before the deadline,
    // so a hanging one is reported by name (and costs only its data) instead of the whole
    // run ending in a bare deadline error.
    let backend_deadline =
        Instant::now() + deadline.saturating_sub((deadline / 10).min(COMMAND_MARGIN));
    let collector = std::thread::Builder::new()
        .name("collect".into())
        .spawn(move || {
            // The receiver may be gone after a timeout; nothing is left to tell then.
            let _ = tx.send(collect_before(backend, &options, Some(backend_deadline)));
        })
        .map_err(|e| CollectError::Command {
            command: "spawn collector thread".into(),
            reason: e.to_string(),
        })?;
    match rx.recv_timeout(deadline) {
        Ok(result) => {
            // It has sent its last word; joining waits out its thread-local destructors, which
            // must not overlap the exit handlers (see `exit`).
            let _ = collector.join();
            Ok(result?)
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            note_abandoned_thread();
            Err(RunError::Deadline {
                backend: backend.name(),
                deadline,
            })
        }
        // The thread sends before it ends, so it panicked: pass the panic on.
        Err(mpsc::RecvTimeoutError::Disconnected) => std::panic::resume_unwind(
            collector
                .join()
                .expect_err("the collector thread sends before it ends"),
        ),
    }
}

/// Set once a thread was left running inside a backend call (a collection past its
/// deadline, a libvirt stats call given up on).
static THREAD_ABANDONED: AtomicBool = AtomicBool::new(false);

/// Records that a thread was left inside a backend call, so [`exit`] skips the exit handlers.
pub(crate) fn note_abandoned_thread() {
    THREAD_ABANDONED.store(true, Ordering::SeqCst);
}

/// Ends the process with `code`. `std::process::exit` runs the C exit handlers while every
/// other thread keeps running. OpenSSL's (libvirt loads it with libssh and libssh2) frees
/// the thread-local block of every thread; a thread ending at that moment frees its own block
/// again: a double free (found by scripts/stress-sanitizers.sh; glibc saw it as
/// `malloc_consolidate(): invalid chunk size`, exit 134). So collector threads that finished
/// are joined before this, and once one was left inside a backend call our output is
/// flushed and the process ends with `_exit`, running no handlers: every file we write is
/// complete and renamed before this point, and nothing else needs them.
pub fn exit(code: i32) -> ! {
    if THREAD_ABANDONED.load(Ordering::SeqCst) {
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        // SAFETY: _exit ends the process at once; nothing runs after it.
        unsafe { libc::_exit(code) }
    }
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_are_case_insensitive() {
        assert_eq!("Libvirt".parse::<Backend>().unwrap(), Backend::Libvirt);
        assert_eq!("CBSD".parse::<Backend>().unwrap(), Backend::Cbsd);
        let err = "xen".parse::<Backend>().unwrap_err();
        assert!(err.contains("'xen'"), "{err}");
    }
}
