//! CBSD's own lists: `cbsd bls` (the VMs), `bhyve-dsk-list`, `bhyve-nic-list`, `jsnapshot`.

use std::collections::HashMap;

use super::{
    Parsed, count_cell, float_cell, is_blank, parse_size, quote, strip_ansi, table_rows, text_cell,
};

/// One VM from `cbsd bls header=0 display=jname,jid,vm_ram,vm_curmem,vm_cpus,pcpu,vm_os_type,
/// ip4_addr,status,vnc`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlsVm {
    /// The jail name (`jname`) CBSD knows the VM by.
    pub name: String,
    /// The bhyve process; 0 when the VM is not running.
    pub pid: u32,
    /// Memory given to the VM, bytes (bls prints MiB).
    pub ram: u64,
    /// vCPU count (`vm_cpus`).
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
    /// The VM's jail name.
    pub vm: String,
    /// As CBSD stores it: a file name in the VM's data directory (`dsk1.vhd`) or a path.
    pub path: String,
    /// Capacity, bytes.
    pub size: u64,
}

/// Rows of `bhyve-dsk-list`; an unreadable size is 0, with a problem saying so.
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
    /// The VM's jail name.
    pub vm: String,
    /// Bridge (`bridge0`), `auto`, or empty.
    pub parent: String,
    /// MAC address, or empty where CBSD prints `0`.
    pub mac: String,
}

/// Rows of `bhyve-nic-list`.
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
    /// Number of snapshots.
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
