//! Collectors: one module per hypervisor backend, all filling [`crate::model::Snapshot`].
//!
//! Both backends name their files by role: `mod.rs` (the `Collector`), `gather.rs` (asks
//! the hypervisor), `answers.rs` (what it answered), `assemble.rs` (answers to the model,
//! pure and tested on recorded answers) and `parse/` (pure text parsing, tested on text).
//! A collection returns its own error, [`CollectError`]; ending the process is the app's
//! (`app::end_process`), told by `abandoned` whether a thread was left inside a backend.

use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) mod abandoned;
pub mod cbsd;
pub mod events;
#[cfg(all(feature = "libvirt", target_os = "linux"))]
pub mod libvirt;
mod options;
pub mod select;

pub use crate::error::CollectError;
pub use crate::model::Backend;
use crate::model::Snapshot;
pub use options::CollectOptions;
pub(crate) use options::Collector;

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
            options,
        )?)),
        #[cfg(not(all(feature = "libvirt", target_os = "linux")))]
        Backend::Libvirt => {
            let _ = options;
            Err(CollectError::Unsupported("libvirt"))
        }
        Backend::Cbsd => Ok(Box::new(
            cbsd::CbsdCollector::from_env(deadline).selecting(options.select.clone()),
        )),
    }
}

/// Longest time kept back before the deadline (at most a tenth of it) to report a command
/// that had to be killed or a VM that did not answer.
const COMMAND_MARGIN: Duration = Duration::from_millis(500);

/// Like [`collect`], but gives up after `deadline`. A hypervisor that hangs (a stuck libvirtd,
/// a command that never ends) must not hang snmpd or a Xymon client, so the collection runs on
/// its own thread and is abandoned, not joined, when time is up; the process then ends with
/// `app::end_process`.
pub fn collect_within(
    backend: Backend,
    options: &CollectOptions,
    deadline: Duration,
) -> Result<Snapshot, CollectError> {
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
            // must not overlap the exit handlers (see `app::end_process`).
            let _ = collector.join();
            result
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            abandoned::note_abandoned_thread();
            Err(CollectError::Deadline {
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
