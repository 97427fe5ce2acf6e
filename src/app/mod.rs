//! The jobs the binary runs: each takes plain options from `main.rs`, returns an exit code.

pub mod librenms;
pub mod xymon;
