//! What a backend tells `--watch` between collections: a VM changed, or the event stream is
//! gone. libvirt has such a stream (`libvirt::events`); CBSD has none, and is watched by
//! collecting at every interval only.

pub use super::options::Change;
use super::{Backend, CollectError, CollectOptions};

/// A live subscription; dropping it ends it.
pub struct Subscription {
    #[cfg(all(feature = "libvirt", target_os = "linux"))]
    _libvirt: super::libvirt::events::Subscription,
}

/// Subscribes to the changes of every VM of `backend`; `Ok(None)` for a backend with no
/// event stream (CBSD).
pub fn subscribe(
    backend: Backend,
    options: &CollectOptions,
    notify: impl Fn(Change) + Send + Sync + 'static,
) -> Result<Option<Subscription>, CollectError> {
    match backend {
        #[cfg(all(feature = "libvirt", target_os = "linux"))]
        Backend::Libvirt => Ok(Some(Subscription {
            _libvirt: super::libvirt::events::subscribe(options.uri.as_deref(), notify)?,
        })),
        #[cfg(not(all(feature = "libvirt", target_os = "linux")))]
        Backend::Libvirt => {
            let _ = (options, notify);
            Err(CollectError::Unsupported("libvirt"))
        }
        Backend::Cbsd => {
            let _ = (options, notify);
            Ok(None)
        }
    }
}
