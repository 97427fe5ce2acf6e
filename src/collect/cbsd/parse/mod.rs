//! Pure parsers for what CBSD and the FreeBSD base tools print: text in, values out.
//!
//! Every parser tolerates what these commands really print: ANSI colour codes (CBSD colours
//! its tables even into a pipe), header lines, `-` for "no value", `column -t` padding. A line
//! that cannot be read is skipped and described in the returned problems, so one odd line
//! costs that line only. Sizes are bytes, times seconds, as in [`crate::model`].
//!
//! One file per command family: `inventory.rs` (CBSD's own lists), `net.rs` (`ifconfig`,
//! `netstat`), `ps.rs`, `zfs.rs` (`zfs list`, ZFS kstats); the table and cell readers they
//! share are here.

mod inventory;
mod net;
mod ps;
mod zfs;

use crate::text::{Shown, for_terminal};
pub use inventory::{
    BlsVm, DiskRow, NicRow, SnapshotSum, parse_bls, parse_disk_list, parse_nic_list,
    parse_snapshots,
};
pub use net::{parse_ifconfig_descriptions, parse_netstat, parse_tap_description};
pub use ps::{parse_cpu_time, parse_ps};
pub use zfs::{Zvol, parse_kstat_datasets, parse_zfs_volumes};

pub(crate) use ps::PS_KEYWORDS;
pub(crate) use zfs::ZFS_PROPERTIES;

/// A parser's rows plus a description of every line it had to skip.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// The rows read, in the command's order.
    pub rows: Vec<T>,
    /// One line per skipped or partly read input line, naming the command and line number.
    pub problems: Vec<String>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Parsed {
            rows: Vec::new(),
            problems: Vec::new(),
        }
    }
}

/// Longest excerpt of a bad line quoted in a problem; output is data, keep messages short.
const QUOTE_LIMIT: usize = 80;

/// `line` shortened and made printable for a problem message.
fn quote(line: &str) -> String {
    for_terminal(line, Shown::chars(QUOTE_LIMIT).controls_as_spaces())
}

/// `text` without ANSI escape sequences: CSI (`ESC [ ... final`, colours), charset
/// designations (`ESC ( B`) and two-character escapes.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates up to a final byte in '@'..='~'.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // Character set designation, as `tput sgr0` prints it: `ESC ( B`.
            Some('(' | ')' | '*' | '+') => {
                chars.next();
            }
            // Any other escape is two characters long; a lone ESC at the end is dropped.
            Some(_) | None => {}
        }
    }
    out
}

/// Whether a table cell means "no value": CBSD prints `-`, and `\-` where its printf kept
/// the backslash.
fn is_blank(cell: &str) -> bool {
    matches!(cell, "" | "-" | "\\-")
}

/// A cell that may be blank, as an owned string (`""` when blank).
fn text_cell(cell: &str) -> String {
    if is_blank(cell) {
        String::new()
    } else {
        cell.to_string()
    }
}

/// A whole number; blank cells are 0.
fn count_cell(cell: &str) -> Option<u64> {
    if is_blank(cell) {
        Some(0)
    } else {
        cell.parse().ok()
    }
}

/// A signed number; blank cells are 0.
fn signed_cell(cell: &str) -> Option<i64> {
    if is_blank(cell) {
        Some(0)
    } else {
        cell.parse().ok()
    }
}

/// A decimal number; blank cells are 0. Accepts a decimal comma from a non-C locale.
fn float_cell(cell: &str) -> Option<f64> {
    if is_blank(cell) {
        return Some(0.0);
    }
    let v: f64 = cell.replace(',', ".").parse().ok()?;
    v.is_finite().then_some(v)
}

/// A size as CBSD and `zfs` print it: a number with an optional binary suffix (`B`, `K`,
/// `M`, `G`, `T`, `P`, `E`, any case, optionally followed by `B`/`iB`), e.g. `20g`, `1.5T`,
/// `96K`, `512B`, `4096`. Anything from the first `/` on is cut (`bhyve-dsk-list` may print
/// `20g/...`). Blank cells are 0. ZFS and CBSD count in powers of 1024.
pub fn parse_size(cell: &str) -> Option<u64> {
    let cell = cell.split('/').next().unwrap_or_default().trim();
    if is_blank(cell) {
        return Some(0);
    }
    let split = cell
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(cell.len());
    let (number, suffix) = cell.split_at(split);
    let value: f64 = number.replace(',', ".").parse().ok()?;
    let suffix = suffix.to_ascii_uppercase();
    let suffix = suffix
        .strip_suffix("IB")
        .or_else(|| suffix.strip_suffix('B').filter(|s| !s.is_empty()))
        .unwrap_or(&suffix);
    let exponent = match suffix {
        "" | "B" => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        "E" => 6,
        _ => return None,
    };
    let bytes = value * 1024f64.powi(exponent);
    // In range (checked first), so `as` only rounds off the fraction.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then(|| bytes.round() as u64)
}

/// The table lines of CBSD output: colours stripped, blank lines and the upper-case header
/// (shown when `header=0` is ignored) left out. Yields (line number from 1, cells).
fn table_rows<'a>(
    plain: &'a str,
    header_first_cell: &'a str,
) -> impl Iterator<Item = (usize, &'a str, Vec<&'a str>)> + 'a {
    plain.lines().enumerate().filter_map(move |(i, line)| {
        let cells: Vec<&str> = line.split_whitespace().collect();
        match cells.first() {
            None => None,
            Some(first) if *first == header_first_cell => None,
            Some(_) => Some((i + 1, line, cells)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_codes_go_entirely() {
        assert_eq!(strip_ansi("\u{1b}[0;32mvm1\u{1b}[0m x"), "vm1 x");
        assert_eq!(strip_ansi("\u{1b}[1m\u{1b}[38;5;208mA\u{1b}(B"), "A");
        assert_eq!(strip_ansi("tail\u{1b}"), "tail");
        assert_eq!(strip_ansi("\u{1b}[0"), "");
    }

    #[test]
    fn sizes_are_binary_and_cut_at_slash() {
        assert_eq!(parse_size("20g"), Some(20 << 30));
        assert_eq!(parse_size("20G/1.2G"), Some(20 << 30));
        assert_eq!(parse_size("1.5T"), Some(3 << 39));
        assert_eq!(parse_size("96K"), Some(96 * 1024));
        assert_eq!(parse_size("512B"), Some(512));
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("10GiB"), Some(10 << 30));
        assert_eq!(parse_size("-"), Some(0));
        assert_eq!(parse_size("1,5M"), Some(1536 * 1024));
        assert_eq!(parse_size("10X"), None);
        assert_eq!(parse_size("G"), None);
        assert_eq!(parse_size("-5G"), None);
        assert_eq!(parse_size("1e400"), None);
    }
}
