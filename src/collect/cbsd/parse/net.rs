//! `ifconfig` (tap descriptions, which name each tap's VM and NIC) and `netstat -ibdWn`
//! (every interface's counters).

use super::{Parsed, count_cell, quote};
use crate::model::NetCounters;

/// Interface name and description, from `ifconfig` (all interfaces), for interfaces that
/// have a description.
pub fn parse_ifconfig_descriptions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<&str> = None;
    for line in text.lines() {
        if !line.starts_with([' ', '\t']) {
            // `tap0: flags=1008943<UP,...> metric 0 mtu 1500`
            current = line
                .split_once(": flags=")
                .map(|(name, _)| name)
                .filter(|name| !name.is_empty() && !name.contains(char::is_whitespace));
            continue;
        }
        let Some(name) = current else { continue };
        if let Some(description) = line.trim().strip_prefix("description:") {
            let description = description.trim().trim_matches(['"', '\'']);
            if !description.is_empty() {
                out.push((name.to_string(), description.to_string()));
            }
        }
    }
    out
}

/// More NICs than any real VM has (bhyve's first PCI bus holds 32 slots of 8 functions):
/// a tap index past it is no CBSD description, and would make a NIC list that long.
const MAX_NICS: usize = 256;

/// CBSD's tap description `VM-nicN`: the VM name (which may itself contain `-nic`) and N,
/// below `MAX_NICS` (256).
pub fn parse_tap_description(description: &str) -> Option<(&str, usize)> {
    let (vm, index) = description.rsplit_once("-nic")?;
    if vm.is_empty() || index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index: usize = index.parse().ok()?;
    (index < MAX_NICS).then_some((vm, index))
}

/// Counter columns of `netstat -ibdWn`, by header name.
const NETSTAT_COLUMNS: [&str; 9] = [
    "Ipkts", "Ierrs", "Idrop", "Ibytes", "Opkts", "Oerrs", "Obytes", "Coll", "Drop",
];

/// Parses `netstat -ibdWn` for all interfaces: one entry per interface, from its `<Link#N>`
/// line only (the address lines repeat the same traffic and must not be added again). The
/// counters are the host's side of the interface (`ipkts`: what it received, which for a tap
/// is what the guest sent); `crate::collect::cbsd::assemble::guest_side` swaps them. Columns are
/// found by header name counted from the right, because the Address cell is empty for
/// interfaces without a link-level address. A `*` after a name (interface down) is dropped.
pub fn parse_netstat(text: &str) -> Parsed<(String, NetCounters)> {
    let mut out = Parsed::default();
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = loop {
        match lines.next() {
            Some((_, line)) if line.trim_start().starts_with("Name") => {
                break line.split_whitespace().collect();
            }
            Some(_) => continue,
            None => {
                out.problems
                    .push("netstat: no header line (Name Mtu Network ...)".into());
                return out;
            }
        }
    };
    let Some(address_at) = header.iter().position(|h| *h == "Address") else {
        out.problems
            .push("netstat: header has no Address column".into());
        return out;
    };
    let counters = &header[address_at + 1..];
    for (i, line) in lines {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells.len() < 3 || !cells[2].starts_with("<Link#") {
            continue;
        }
        if cells.len() < 3 + counters.len() {
            out.problems.push(format!(
                "netstat line {}: too few columns: '{}'",
                i + 1,
                quote(line)
            ));
            continue;
        }
        let values = &cells[cells.len() - counters.len()..];
        let mut c = NetCounters::default();
        let mut unreadable = None;
        for (column, cell) in counters.iter().zip(values) {
            let Some(v) = count_cell(cell) else {
                unreadable = Some(*column);
                break;
            };
            match *column {
                "Ipkts" => c.ipkts = v,
                "Ierrs" => c.ierrs = v,
                "Idrop" => c.idrop = v,
                "Ibytes" => c.ibytes = v,
                "Opkts" => c.opkts = v,
                "Oerrs" => c.oerrs = v,
                "Obytes" => c.obytes = v,
                "Coll" => c.coll = v,
                "Drop" => c.odrop = v,
                _ => {}
            }
        }
        if let Some(column) = unreadable {
            out.problems.push(format!(
                "netstat line {}: {column} is not a number: '{}'",
                i + 1,
                quote(line)
            ));
            continue;
        }
        let name = cells[0].trim_end_matches('*').to_string();
        out.rows.push((name, c));
    }
    if !NETSTAT_COLUMNS.iter().all(|c| counters.contains(c)) {
        out.problems.push(format!(
            "netstat: header lacks some of {}; those counters are 0",
            NETSTAT_COLUMNS.join(" ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_descriptions_split_at_the_last_nic() {
        assert_eq!(parse_tap_description("vm1-nic0"), Some(("vm1", 0)));
        assert_eq!(
            parse_tap_description("my-nic-vm-nic12"),
            Some(("my-nic-vm", 12))
        );
        assert_eq!(parse_tap_description("vm10-nic0"), Some(("vm10", 0)));
        assert_eq!(parse_tap_description("uplink"), None);
        assert_eq!(parse_tap_description("-nic0"), None);
        assert_eq!(parse_tap_description("vm1-nicX"), None);
        assert_eq!(parse_tap_description("vm1-nic255"), Some(("vm1", 255)));
        assert_eq!(parse_tap_description("vm1-nic256"), None);
        assert_eq!(parse_tap_description("vm1-nic18446744073709551615"), None);
    }
}
