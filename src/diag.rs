//! Diagnostics on stderr. Writing one never fails the run: a stderr on a full disk or a
//! closed pipe would make `eprintln!` panic (exit 101) at the first warning, before the
//! cache files, the error document or the Xymon messages were out. A line that cannot be
//! written is dropped; what the run delivers is not.

/// `eprintln!` that never panics: the line is written whole or dropped.
#[macro_export]
macro_rules! diag {
    ($($arg:tt)*) => {
        $crate::diag::line(::std::format_args!($($arg)*))
    };
}

/// Writes one line to stderr, ignoring any error (see the module docs).
pub fn line(args: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}
