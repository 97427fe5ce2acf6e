//! Getting messages to a Xymon server: its own TCP protocol, or an HTTP(S) POST to
//! xymoncgimsg.cgi where only a web server is reachable.
//!
//! TCP (port 1984 by default): connect, write the message, half-close, read the answer to
//! EOF. xymond handles a message only once the client has closed its side, and says nothing
//! for a status or data message, so success means "xymond read it". HTTP: the raw message
//! as an `application/octet-stream` body (a form-encoded body is silently lost).
//!
//! `--timeout` bounds the whole [`Exchange`] with one server, not each socket call: a
//! server that trickles a byte a second, never reads or never closes costs at most that
//! long, so a run ends within `-t` plus one timeout per server.
//!
//! Several messages travel as one `extcombo`, framed by `combo`.

mod budget;
mod combo;
mod http;
mod sender;
mod target;
mod tcp;
mod tls;

pub use combo::combine;
pub use sender::{Exchange, Sender};
pub use target::Target;
pub(crate) use target::{DEFAULT_PORT, parse_port};
pub use tls::CaFile;
