//! The jobs the binary runs: each takes plain options from `main.rs`, returns an exit code,
//! and `main.rs` ends the process with it through [`end_process`].

mod end;
pub mod librenms;
mod stdio;
pub mod xymon;

pub use end::end_process;
