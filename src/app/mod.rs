//! The jobs the binary runs: each takes plain options from `main.rs`, returns an exit code,
//! and `main.rs` ends the process with it through [`end_process`].

mod end;
pub mod librenms;
mod stdio;
pub(crate) mod watch;
pub mod xymon;

pub use end::end_process;

/// `path` with `suffix` added to its name: the files a job keeps beside its state or cache
/// file, in the same directory with the same owner.
fn beside(path: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    std::path::PathBuf::from(p)
}
