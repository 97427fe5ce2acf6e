//! Pure parsers for what CBSD and the FreeBSD base tools print: text in, values out.
//!
//! Every parser tolerates what these commands really print: ANSI colour codes (CBSD colours
//! its tables even into a pipe), header lines, `-` for "no value", `column -t` padding. A line
//! that cannot be read is skipped and described in the returned problems, so one odd line
//! costs that line only. Sizes are bytes, times seconds, as in [`crate::model`].

use std::collections::HashMap;

use crate::model::{DiskIo, NetCounters, Process};

/// A parser's rows plus a description of every line it had to skip.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    pub rows: Vec<T>,
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
    excerpt(line, QUOTE_LIMIT)
}

/// `text` cut at `limit` characters (with `...`) and with control characters as spaces, so
/// command output quoted in a message stays on one readable line.
pub(crate) fn excerpt(text: &str, limit: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(limit)
        .collect();
    if text.chars().count() > limit {
        out.push_str("...");
    }
    out
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
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then(|| bytes.round() as u64)
}

/// A CPU or elapsed time as `ps` prints it: `[[d-]h:]m:ss[.frac]`, `ss[.frac]`; FreeBSD's
/// `systime`/`usertime` print `M:SS.hh` with minutes past 59. Seconds.
pub fn parse_cpu_time(cell: &str) -> Option<f64> {
    if is_blank(cell) {
        return Some(0.0);
    }
    let (days, clock) = match cell.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, cell),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let (seconds, whole) = parts.split_last()?;
    let seconds = float_cell(seconds)?;
    let mut total = 0.0;
    for part in whole {
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        total = total * 60.0 + part.parse::<f64>().ok()?;
    }
    // A few hundred digits parse as an infinite f64: no time at all, not an endless one.
    let total = days as f64 * 86_400.0 + total * 60.0 + seconds;
    (seconds >= 0.0 && total.is_finite()).then_some(total)
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

/// One VM from `cbsd bls header=0 display=jname,jid,vm_ram,vm_curmem,vm_cpus,pcpu,vm_os_type,
/// ip4_addr,status,vnc`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlsVm {
    pub name: String,
    /// The bhyve process; 0 when the VM is not running.
    pub pid: u32,
    /// Memory given to the VM, bytes (bls prints MiB).
    pub ram: u64,
    pub cpus: u64,
    /// CPU % from RACCT; 0 when RACCT is off.
    pub pcpu: f64,
    /// `freebsd`, `linux`, ...; empty when unknown.
    pub os_type: String,
    /// First IPv4 address without its prefix length, `DHCP`, or empty.
    pub ip: String,
    /// As printed: `On`, `Off`, `Maintenance[:reason]`, `Slave`, `Unknown`, `Unregister`.
    pub status: String,
    /// VNC `host:port`; empty when there is none.
    pub vnc: String,
}

/// Parses `cbsd bls` (fields as in [`BlsVm`]). A line with a name and a status always gives
/// a VM, so a bad number costs that number (0 and a problem), not the VM.
pub fn parse_bls(text: &str) -> Parsed<BlsVm> {
    let plain = strip_ansi(text);
    let mut out = Parsed::default();
    for (n, line, cells) in table_rows(&plain, "JNAME") {
        if cells.len() < 9 {
            out.problems.push(format!(
                "bls line {n}: {} fields, expected 10: '{}'",
                cells.len(),
                quote(line)
            ));
            continue;
        }
        let name = cells[0].to_string();
        let mut bad = |field: &str, cell: &str| {
            out.problems.push(format!(
                "bls: VM '{name}': {field} '{}' is not a number; using 0",
                quote(cell)
            ));
        };
        let pid = match cells[1] {
            cell if is_blank(cell) => 0,
            cell => cell.parse().unwrap_or_else(|_| {
                bad("jid", cell);
                0
            }),
        };
        let ram_mib = count_cell(cells[2]).unwrap_or_else(|| {
            bad("vm_ram", cells[2]);
            0
        });
        let cpus = count_cell(cells[4]).unwrap_or_else(|| {
            bad("vm_cpus", cells[4]);
            0
        });
        let pcpu = float_cell(cells[5]).unwrap_or_else(|| {
            bad("pcpu", cells[5]);
            0.0
        });
        // A maintenance reason may hold spaces, which `column -t` turns into more cells:
        // the status runs from cell 8 to the one before the last (the VNC address).
        let (status, vnc) = if cells.len() == 9 {
            (cells[8].to_string(), "")
        } else {
            (cells[8..cells.len() - 1].join(" "), cells[cells.len() - 1])
        };
        out.rows.push(BlsVm {
            pid,
            ram: ram_mib.saturating_mul(1024 * 1024),
            cpus,
            pcpu,
            os_type: match cells[6] {
                "0" => String::new(),
                cell => text_cell(cell),
            },
            ip: primary_ip(cells[7]),
            status,
            vnc: match vnc {
                "0" => String::new(),
                cell => text_cell(cell),
            },
            name,
        });
    }
    out
}

/// bls's `ip4_addr`: `0`/`-`/`Unk` mean none, `DHCP` stays, a list keeps its first address,
/// without a `/prefix`.
fn primary_ip(cell: &str) -> String {
    let first = cell.split(',').next().unwrap_or_default();
    let address = first.split('/').next().unwrap_or_default();
    match address {
        "0" | "Unk" => String::new(),
        a => text_cell(a),
    }
}

/// One disk from `cbsd bhyve-dsk-list header=0 display=jname,dsk_path,dsk_size`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskRow {
    pub vm: String,
    /// As CBSD stores it: a file name in the VM's data directory (`dsk1.vhd`) or a path.
    pub path: String,
    /// Capacity, bytes.
    pub size: u64,
}

pub fn parse_disk_list(text: &str) -> Parsed<DiskRow> {
    let plain = strip_ansi(text);
    let mut out = Parsed::default();
    for (n, line, cells) in table_rows(&plain, "JNAME") {
        let size = match cells.as_slice() {
            [_, path, size] if !is_blank(path) => parse_size(size),
            _ => {
                out.problems.push(format!(
                    "bhyve-dsk-list line {n}: expected VM, disk and size: '{}'",
                    quote(line)
                ));
                continue;
            }
        };
        out.rows.push(DiskRow {
            vm: cells[0].to_string(),
            path: cells[1].to_string(),
            size: size.unwrap_or_else(|| {
                out.problems.push(format!(
                    "bhyve-dsk-list: VM '{}' disk '{}': size '{}' unreadable; using 0",
                    cells[0],
                    cells[1],
                    quote(cells[2])
                ));
                0
            }),
        });
    }
    out
}

/// One NIC from `cbsd bhyve-nic-list header=0 display=jname,nic_parent,nic_hwaddr`, in the
/// VM's NIC order.
#[derive(Debug, Clone, PartialEq)]
pub struct NicRow {
    pub vm: String,
    /// Bridge (`bridge0`), `auto`, or empty.
    pub parent: String,
    pub mac: String,
}

pub fn parse_nic_list(text: &str) -> Parsed<NicRow> {
    let plain = strip_ansi(text);
    let mut out = Parsed::default();
    for (n, line, cells) in table_rows(&plain, "JNAME") {
        match cells.as_slice() {
            [vm, parent, mac] => out.rows.push(NicRow {
                vm: vm.to_string(),
                parent: text_cell(parent),
                mac: match *mac {
                    "0" => String::new(),
                    mac => text_cell(mac),
                },
            }),
            _ => out.problems.push(format!(
                "bhyve-nic-list line {n}: expected VM, parent and MAC: '{}'",
                quote(line)
            )),
        }
    }
    out
}

/// Snapshots of one VM from `cbsd jsnapshot mode=list header=0
/// display=jname,snapname,creation,refer`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotSum {
    pub count: u64,
    /// Sum of `refer`, bytes.
    pub bytes: u64,
}

/// Snapshot count and size per VM name.
pub fn parse_snapshots(text: &str) -> Parsed<(String, SnapshotSum)> {
    let plain = strip_ansi(text);
    let mut out = Parsed::default();
    let mut order: Vec<String> = Vec::new();
    let mut sums: HashMap<String, SnapshotSum> = HashMap::new();
    for (n, line, cells) in table_rows(&plain, "JNAME") {
        let [vm, _snapname, _creation, refer] = cells.as_slice() else {
            out.problems.push(format!(
                "jsnapshot line {n}: expected VM, name, creation and size: '{}'",
                quote(line)
            ));
            continue;
        };
        let bytes = parse_size(refer).unwrap_or_else(|| {
            out.problems.push(format!(
                "jsnapshot: VM '{vm}': size '{}' unreadable; counted as 0",
                quote(refer)
            ));
            0
        });
        let sum = sums.entry(vm.to_string()).or_insert_with(|| {
            order.push(vm.to_string());
            SnapshotSum::default()
        });
        sum.count += 1;
        // Sizes are up to 16 EiB each: two of them can pass u64::MAX.
        sum.bytes = sum.bytes.saturating_add(bytes);
    }
    out.rows = order
        .into_iter()
        .map(|vm| {
            let sum = sums.remove(&vm).unwrap_or_default();
            (vm, sum)
        })
        .collect();
    out
}

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
/// below [`MAX_NICS`].
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
/// is what the guest sent); [`super::guest_side`] swaps them. Columns are found by header name counted from the right, because the Address cell is
/// empty for interfaces without a link-level address. A `*` after a name (interface down)
/// is dropped.
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

/// The `ps -o` keywords we ask for, in this order; [`parse_ps`] reads them by position.
pub const PS_KEYWORDS: &str = "pid,%cpu,etimes,%mem,cow,majflt,minflt,nice,nivcsw,nswap,nvcsw,inblk,oublk,pri,rss,systime,usertime,vsz";

/// The bhyve processes from `ps -o` [`PS_KEYWORDS`] `-p PID,...`: `rss` and `vsz` in bytes (ps
/// prints KiB), CPU times in seconds, `pcpu` as ps's own decaying %CPU.
pub fn parse_ps(text: &str) -> Parsed<Process> {
    let columns = PS_KEYWORDS.split(',').count();
    let mut out = Parsed::default();
    for (i, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        // FreeBSD ps prints a header line `PID %CPU ELAPSED ...` first.
        if cells.first().is_none_or(|first| *first == "PID") {
            continue;
        }
        match ps_row(&cells, columns) {
            Ok(row) => out.rows.push(row),
            Err(what) => out
                .problems
                .push(format!("ps line {}: {what}: '{}'", i + 1, quote(line))),
        }
    }
    out
}

fn ps_row(cells: &[&str], columns: usize) -> Result<Process, String> {
    if cells.len() != columns {
        return Err(format!("{} fields, expected {columns}", cells.len()));
    }
    let count = |i: usize, name: &str| {
        count_cell(cells[i]).ok_or_else(|| format!("{name} is not a number"))
    };
    let signed = |i: usize, name: &str| {
        signed_cell(cells[i]).ok_or_else(|| format!("{name} is not a number"))
    };
    let float = |i: usize, name: &str| {
        float_cell(cells[i]).ok_or_else(|| format!("{name} is not a number"))
    };
    let time = |i: usize, name: &str| {
        parse_cpu_time(cells[i]).ok_or_else(|| format!("{name} is not a time"))
    };
    Ok(Process {
        pid: cells[0].parse().map_err(|_| "pid is not a number")?,
        pcpu: float(1, "%cpu")?,
        etimes: count(2, "etimes")?,
        pmem: float(3, "%mem")?,
        cow: count(4, "cow")?,
        majflt: count(5, "majflt")?,
        minflt: count(6, "minflt")?,
        nice: signed(7, "nice")?,
        nivcsw: count(8, "nivcsw")?,
        nswap: count(9, "nswap")?,
        nvcsw: count(10, "nvcsw")?,
        inblk: count(11, "inblk")?,
        oublk: count(12, "oublk")?,
        pri: signed(13, "pri")?,
        rss: count(14, "rss")?.saturating_mul(1024),
        systime: time(15, "systime")?,
        usertime: time(16, "usertime")?,
        vsz: count(17, "vsz")?.saturating_mul(1024),
    })
}

/// The `zfs list -o` properties we ask for, in this order.
pub const ZFS_PROPERTIES: &str = "name,volsize,used,referenced";

/// One zvol from `zfs list -Hp -t volume -o` [`ZFS_PROPERTIES`].
#[derive(Debug, Clone, PartialEq)]
pub struct Zvol {
    pub name: String,
    /// Capacity the guest sees, bytes.
    pub volsize: u64,
    /// Everything the zvol holds in the pool (data, snapshots, reservation), bytes.
    pub used: u64,
    /// Data the zvol itself references, bytes.
    pub referenced: u64,
}

impl Zvol {
    /// The pool: the first component of the name.
    pub fn pool(&self) -> &str {
        self.name.split('/').next().unwrap_or_default()
    }

    /// Whether this zvol is `.../VM/FILE`, CBSD's layout for the disk `FILE` of `VM`.
    /// Compares whole path components: VM names are data, not patterns.
    pub fn is_disk_of(&self, vm: &str, file: &str) -> bool {
        let mut parts = self.name.rsplit('/');
        parts.next() == Some(file) && parts.next() == Some(vm) && parts.next().is_some()
    }
}

/// `-H` separates fields with one tab (names may contain spaces); `-p` prints exact bytes.
pub fn parse_zfs_volumes(text: &str) -> Parsed<Zvol> {
    let mut out = Parsed::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let parsed = match fields.as_slice() {
            [name, volsize, used, referenced] if !name.is_empty() => {
                match (
                    count_cell(volsize),
                    count_cell(used),
                    count_cell(referenced),
                ) {
                    (Some(volsize), Some(used), Some(referenced)) => Some(Zvol {
                        name: name.to_string(),
                        volsize,
                        used,
                        referenced,
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        match parsed {
            Some(zvol) => out.rows.push(zvol),
            None => out.problems.push(format!(
                "zfs list line {}: expected name, volsize, used and referenced as exact \
                 numbers separated by tabs: '{}'",
                i + 1,
                quote(line)
            )),
        }
    }
    out
}

/// Parses `sysctl kstat.zfs.POOL.dataset ...`: lines
/// `kstat.zfs.POOL.dataset.objset-0xNN.FIELD: VALUE`, grouped by objset, keyed by the
/// objset's `dataset_name`. `reads`/`writes` are requests, `nread`/`nwritten` bytes; ZFS
/// keeps no times or flushes there, so those stay 0. Pool names may contain dots, so the objset is found by its
/// `.dataset.objset-` marker, not by counting dots.
pub fn parse_kstat_datasets(text: &str) -> HashMap<String, DiskIo> {
    #[derive(Default)]
    struct Objset {
        name: Option<String>,
        io: DiskIo,
    }
    let mut objsets: HashMap<&str, Objset> = HashMap::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(": ").or_else(|| line.split_once(':')) else {
            continue;
        };
        let Some(at) = key.find(".dataset.objset-") else {
            continue;
        };
        let rest = &key[at + ".dataset.objset-".len()..];
        let Some((id, field)) = rest.split_once('.') else {
            continue;
        };
        let objset = objsets.entry(&key[..at + ".dataset.objset-".len() + id.len()]);
        let objset = objset.or_default();
        let number = || value.trim().parse::<u64>().unwrap_or(0);
        match field {
            "dataset_name" => objset.name = Some(value.trim().to_string()),
            "reads" => objset.io.rreqs = number(),
            "writes" => objset.io.wreqs = number(),
            "nread" => objset.io.rbytes = number(),
            "nwritten" => objset.io.wbytes = number(),
            _ => {}
        }
    }
    objsets
        .into_values()
        .filter_map(|o| Some((o.name?, o.io)))
        .collect()
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

    #[test]
    fn cpu_times_in_every_ps_form() {
        assert_eq!(parse_cpu_time("0:01.25"), Some(1.25));
        assert_eq!(parse_cpu_time("125:07.50"), Some(7507.5));
        assert_eq!(parse_cpu_time("1:02:03.00"), Some(3723.0));
        assert_eq!(parse_cpu_time("2-01:00:00"), Some(2.0 * 86_400.0 + 3600.0));
        assert_eq!(
            parse_cpu_time("42.5"),
            Some(42.5),
            "no colon: plain seconds"
        );
        assert_eq!(parse_cpu_time("0:01,25"), Some(1.25));
        assert_eq!(parse_cpu_time("-"), Some(0.0));
        assert_eq!(parse_cpu_time("1::2"), None);
        assert_eq!(parse_cpu_time("a:01.00"), None);
        assert_eq!(parse_cpu_time("1:2:3:4"), None);
        assert_eq!(parse_cpu_time(&format!("{}:00", "9".repeat(400))), None);
    }

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

    #[test]
    fn zvol_match_is_by_whole_components() {
        let z = |name: &str| Zvol {
            name: name.into(),
            volsize: 0,
            used: 0,
            referenced: 0,
        };
        assert!(z("zroot/vm/vm10/dsk1.vhd").is_disk_of("vm10", "dsk1.vhd"));
        assert!(!z("zroot/vm/vm10/dsk1.vhd").is_disk_of("vm1", "dsk1.vhd"));
        assert!(!z("zroot/vm/xvm1/dsk1.vhd").is_disk_of("vm1", "dsk1.vhd"));
        assert!(!z("zroot/vm/a.b/dsk1.vhd").is_disk_of("a*b", "dsk1.vhd"));
        assert!(
            !z("vm1/dsk1.vhd").is_disk_of("vm1", "dsk1.vhd"),
            "needs a pool"
        );
        assert_eq!(z("tank.2/vm/a/d").pool(), "tank.2");
    }
}
