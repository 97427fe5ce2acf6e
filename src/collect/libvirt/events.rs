//! libvirt's domain lifecycle events, for `--watch`: one read-only connection of its own with
//! libvirt's keepalive, a lifecycle callback and a close callback, served by libvirt's default
//! event loop on a thread of its own. The `virt` crate binds the event loop and keepalive but
//! not the callbacks: a small safe wrapper here that frees what it hands libvirt.
//!
//! A lifecycle event covers every change a status shows: defined, undefined, started,
//! suspended (by the user, an I/O error, a migration...), resumed, stopped (shut off, crashed,
//! destroyed), shut down, PM-suspended, crashed. Each one names its domain; the watcher is
//! told the name, not the details: it collects anew, so what it reports is libvirt's state
//! after the event, not a decoding of the event.

use std::ffi::CStr;
use std::os::raw::{c_int, c_void};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use virt::connect::Connect;
use virt::sys;

use super::policy;
use crate::collect::options::Change;
use crate::error::CollectError;

/// libvirt's keepalive for the event connection: a probe after 5 s of silence, the
/// connection closed after 3 unanswered (about 20 s for a libvirtd that hangs; one that
/// exits or restarts closes the socket, seen at once).
const KEEPALIVE_INTERVAL_SECS: c_int = 5;
const KEEPALIVE_COUNT: u32 = 3;

/// Longest wait for the event connection to open: libvirt's open has no timeout of its own.
const CONNECT_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Starts libvirt's default event loop once per process, on a thread that serves it for the
/// rest of the process: the callbacks and keepalive run there. It must be registered before
/// the connections whose events it serves are opened.
fn event_loop() -> Result<(), CollectError> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            virt::event::event_register_default_impl().map_err(|e| e.message().to_string())?;
            std::thread::Builder::new()
                .name("libvirt-events".into())
                .spawn(|| {
                    loop {
                        // It blocks until a handle or timer is due; it fails only when the
                        // loop itself is broken, and then nothing would be served again.
                        if let Err(e) = virt::event::event_run_default_impl() {
                            crate::diag!(
                                "hv_monitor: libvirt's event loop failed: {}",
                                e.message()
                            );
                            return;
                        }
                    }
                })
                .map(drop)
                .map_err(|e| format!("cannot start libvirt's event thread: {e}"))
        })
        .clone()
        .map_err(|reason| CollectError::Libvirt {
            call: "virEventRegisterDefaultImpl",
            reason,
        })
}

/// The lifecycle and close callbacks of one connection; both deregistered, and the
/// connection closed, when this is dropped.
pub struct Subscription {
    conn: Connect,
    /// `virConnectDomainEventRegisterAny`'s callback id.
    lifecycle: c_int,
    /// Whether the close callback was registered (drivers without one refuse it).
    close: bool,
}

/// The `notify` each callback is given; libvirt frees its own copy with [`free_notify`].
type Shared = Arc<dyn Fn(Change) + Send + Sync>;

fn into_opaque(notify: &Shared) -> *mut c_void {
    Box::into_raw(Box::new(Arc::clone(notify))).cast()
}

/// libvirt's `virFreeCallback` for an opaque made by [`into_opaque`].
unsafe extern "C" fn free_notify(opaque: *mut c_void) {
    // SAFETY: made by `into_opaque`; libvirt calls this once, when the callback is dropped.
    drop(unsafe { Box::from_raw(opaque.cast::<Shared>()) });
}

/// `virConnectDomainEventCallback`, libvirt's lifecycle callback.
unsafe extern "C" fn on_lifecycle(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    _event: c_int,
    _detail: c_int,
    opaque: *mut c_void,
) -> c_int {
    // SAFETY: `opaque` is a live `Shared` until `free_notify`; `dom` lives for the call and
    // its name (no RPC) with it.
    unsafe {
        let notify = &*opaque.cast::<Shared>();
        let name = sys::virDomainGetName(dom);
        let name = if name.is_null() {
            String::new()
        } else {
            CStr::from_ptr(name).to_string_lossy().into_owned()
        };
        notify(Change::Domain {
            name,
            at: Instant::now(),
        });
    }
    0
}

/// `virConnectCloseFunc`: the connection is gone.
unsafe extern "C" fn on_close(_conn: sys::virConnectPtr, reason: c_int, opaque: *mut c_void) {
    let why = match u32::try_from(reason) {
        Ok(sys::VIR_CONNECT_CLOSE_REASON_EOF) => "libvirtd closed the connection",
        Ok(sys::VIR_CONNECT_CLOSE_REASON_KEEPALIVE) => "libvirtd stopped answering keepalives",
        Ok(sys::VIR_CONNECT_CLOSE_REASON_CLIENT) => "the connection was closed here",
        _ => "the connection failed",
    };
    // SAFETY: as in `on_lifecycle`.
    let notify = unsafe { &*opaque.cast::<Shared>() };
    notify(Change::Lost(why.to_string()));
}

/// Subscribes to the lifecycle events of every domain on `uri` (`None`: libvirt's
/// default); each one, and the loss of the connection, is told to `notify` on libvirt's
/// event thread.
pub fn subscribe(
    uri: Option<&str>,
    notify: impl Fn(Change) + Send + Sync + 'static,
) -> Result<Subscription, CollectError> {
    event_loop()?;
    virt::error::clear_error_callback();
    let conn = policy::connect_within(uri, Some(Instant::now() + 2 * CONNECT_WITHIN))?;
    // Local drivers (the test driver) have no keepalive: their connection cannot be lost.
    let _ = conn.set_keep_alive(KEEPALIVE_INTERVAL_SECS, KEEPALIVE_COUNT);
    let notify: Shared = Arc::new(notify);
    let lifecycle_cb: sys::virConnectDomainEventCallback = Some(on_lifecycle);
    let opaque = into_opaque(&notify);
    // SAFETY: `conn` is live; the callback has the lifecycle signature libvirt calls it with
    // (the generic type is how the C API takes every kind); `opaque` is freed by libvirt
    // through `free_notify`, or here when registering fails.
    let lifecycle = unsafe {
        sys::virConnectDomainEventRegisterAny(
            conn.as_ptr(),
            std::ptr::null_mut(),
            sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE as c_int,
            std::mem::transmute::<
                sys::virConnectDomainEventCallback,
                sys::virConnectDomainEventGenericCallback,
            >(lifecycle_cb),
            opaque,
            Some(free_notify),
        )
    };
    if lifecycle < 0 {
        // SAFETY: libvirt did not take it.
        unsafe { free_notify(opaque) };
        return Err(policy::libvirt_err("virConnectDomainEventRegisterAny")(
            virt::error::Error::last_error(),
        ));
    }
    let opaque = into_opaque(&notify);
    // SAFETY: as above, for the close callback.
    let close = unsafe {
        sys::virConnectRegisterCloseCallback(
            conn.as_ptr(),
            Some(on_close),
            opaque,
            Some(free_notify),
        )
    } == 0;
    if !close {
        // SAFETY: libvirt did not take it.
        unsafe { free_notify(opaque) };
    }
    Ok(Subscription {
        conn,
        lifecycle,
        close,
    })
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // SAFETY: both were registered on this live connection; a connection already lost
        // may refuse, and closing it frees them then.
        unsafe {
            sys::virConnectDomainEventDeregisterAny(self.conn.as_ptr(), self.lifecycle);
            if self.close {
                sys::virConnectUnregisterCloseCallback(self.conn.as_ptr(), Some(on_close));
            }
        }
    }
}
