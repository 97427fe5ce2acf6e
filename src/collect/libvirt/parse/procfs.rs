//! Process stats of a hypervisor process from Linux /proc: pure parsers plus a thin reader.
//! No `ps` fork: everything `ps` would print is in stat, status and the host-wide files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::model::Process;

/// The fields of /proc/PID/stat we use (man 5 proc numbering in comments).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stat {
    /// Field 10: minor page faults.
    pub minflt: u64,
    /// Field 12: major page faults.
    pub majflt: u64,
    /// Field 14: CPU time in user mode, clock ticks.
    pub utime: u64,
    /// Field 15: CPU time in kernel mode, clock ticks.
    pub stime: u64,
    /// Field 18: the kernel's priority (20 + nice for normal processes).
    pub priority: i64,
    /// Field 19: nice value, -20 to 19.
    pub nice: i64,
    /// Field 22: start time, clock ticks after boot.
    pub starttime: u64,
    /// Field 23: virtual size, bytes.
    pub vsize: u64,
    /// Field 24: resident set, pages.
    pub rss_pages: u64,
}

/// Parses /proc/PID/stat. The command name may hold spaces and parentheses, so fields are
/// counted from the last `)`.
pub fn parse_stat(text: &str) -> Result<Stat, String> {
    let after = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or("no ')' after the command name")?;
    let f: Vec<&str> = after.split_whitespace().collect();
    // f[0] is field 3 (state).
    let field = |n: usize| -> Result<&str, String> {
        f.get(n - 3)
            .copied()
            .ok_or_else(|| format!("field {n} missing"))
    };
    let num = |n: usize| -> Result<u64, String> {
        field(n)?
            .parse()
            .map_err(|_| format!("field {n} is not a number"))
    };
    let signed = |n: usize| -> Result<i64, String> {
        field(n)?
            .parse()
            .map_err(|_| format!("field {n} is not a number"))
    };
    Ok(Stat {
        minflt: num(10)?,
        majflt: num(12)?,
        utime: num(14)?,
        stime: num(15)?,
        priority: signed(18)?,
        nice: signed(19)?,
        starttime: num(22)?,
        vsize: num(23)?,
        rss_pages: num(24)?,
    })
}

/// Voluntary and involuntary context switches from /proc/PID/status.
pub fn parse_ctxt_switches(status: &str) -> (u64, u64) {
    let value = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.trim_start_matches(':').trim().parse().ok())
            .unwrap_or(0)
    };
    (
        value("voluntary_ctxt_switches"),
        value("nonvoluntary_ctxt_switches"),
    )
}

/// Seconds since boot from /proc/uptime.
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// MemTotal from /proc/meminfo, in bytes.
pub fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Whether a QEMU command line (NUL-separated) runs the guest `name`. QEMU's `-name
/// guest=NAME,...` doubles commas inside NAME.
pub fn cmdline_runs_guest(cmdline: &[u8], name: &str) -> bool {
    let wanted = format!("guest={}", name.replace(',', ",,"));
    cmdline.split(|&b| b == 0).any(|arg| {
        let arg = String::from_utf8_lossy(arg);
        arg.strip_prefix(&wanted).is_some_and(|rest| {
            rest.is_empty() || (rest.starts_with(',') && !rest.starts_with(",,"))
        })
    })
}

/// Where the kernel's process files are; tests read a recorded tree instead.
pub const PROC_ROOT: &str = "/proc";

/// Host-wide facts every process's figures are relative to, and the /proc they were read
/// from (every process is read from the same one); read once per run.
#[derive(Debug, Clone)]
pub struct Host {
    /// The /proc tree read (`PROC_ROOT`, or a recorded one).
    pub root: PathBuf,
    /// Clock ticks per second (`_SC_CLK_TCK`; 100 where sysconf fails).
    pub clock_ticks: u64,
    /// Page size, bytes (`_SC_PAGESIZE`; 4096 where sysconf fails).
    pub page_size: u64,
    /// Host memory (`MemTotal`), bytes.
    pub mem_total: u64,
    /// Seconds since boot, from `uptime`.
    pub uptime: f64,
}

impl Host {
    /// Reads `meminfo` and `uptime` under `root`; the error names the file.
    pub fn read(root: &Path) -> io::Result<Host> {
        let bad = |file: &str| {
            let path = root.join(file);
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("cannot parse {}", path.display()),
            )
        };
        // SAFETY: sysconf has no preconditions.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let read = |file: &str| {
            let path = root.join(file);
            fs::read_to_string(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        };
        Ok(Host {
            root: root.to_path_buf(),
            clock_ticks: u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100),
            page_size: u64::try_from(page).ok().filter(|&p| p > 0).unwrap_or(4096),
            mem_total: parse_mem_total(&read("meminfo")?).ok_or_else(|| bad("meminfo"))?,
            uptime: parse_uptime(&read("uptime")?).ok_or_else(|| bad("uptime"))?,
        })
    }
}

/// What `ps -o etimes,pcpu,pmem,rss,vsz,...` would print, from the parsed files.
// Ticks and bytes as f64 lose digits only past 2^53, which /proc never gets near.
#[allow(clippy::cast_precision_loss)]
pub fn process(pid: u32, stat: &Stat, ctxt: (u64, u64), host: &Host) -> Process {
    let ticks = host.clock_ticks as f64;
    let usertime = stat.utime as f64 / ticks;
    let systime = stat.stime as f64 / ticks;
    let elapsed = (host.uptime - stat.starttime as f64 / ticks).max(0.0);
    // Saturating: a stat line with absurd numbers must not wrap to a small, credible value.
    let rss = stat.rss_pages.saturating_mul(host.page_size);
    Process {
        pid,
        // ps's %CPU: CPU time over the process's lifetime.
        pcpu: if elapsed > 0.0 {
            round2((usertime + systime) / elapsed * 100.0)
        } else {
            0.0
        },
        pmem: if host.mem_total > 0 {
            round2(rss as f64 / host.mem_total as f64 * 100.0)
        } else {
            0.0
        },
        // Whole seconds, as ps shows them; `elapsed` is not negative.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        etimes: elapsed as u64,
        usertime: round2(usertime),
        systime: round2(systime),
        rss,
        vsz: stat.vsize,
        minflt: stat.minflt,
        majflt: stat.majflt,
        nvcsw: ctxt.0,
        nivcsw: ctxt.1,
        cow: 0,
        nswap: 0,
        inblk: 0,
        oublk: 0,
        nice: stat.nice,
        // procps prints `pri` as 39 - the kernel's priority field.
        pri: 39i64.saturating_sub(stat.priority),
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Reads one process's stats from the host's /proc.
pub fn read_process(pid: u32, host: &Host) -> io::Result<Process> {
    let dir = host.root.join(pid.to_string());
    let stat = parse_stat(&fs::read_to_string(dir.join("stat"))?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}/stat: {e}", dir.display()),
        )
    })?;
    let ctxt = parse_ctxt_switches(&fs::read_to_string(dir.join("status"))?);
    Ok(process(pid, &stat, ctxt, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real qemu line, with a command name made hostile: spaces and a ')' inside.
    const STAT: &str = "4242 (qemu-system-x86) x) S 1 4241 4241 0 -1 4194624 15817 0 3 0 \
        1234 567 0 0 20 0 4 0 250000 1523662848 9000 18446744073709551615 1 1 0 0 0 0 0 4096 16963 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let s = parse_stat(STAT).unwrap();
        assert_eq!(
            s,
            Stat {
                minflt: 15817,
                majflt: 3,
                utime: 1234,
                stime: 567,
                priority: 20,
                nice: 0,
                starttime: 250000,
                vsize: 1523662848,
                rss_pages: 9000,
            }
        );
    }

    #[test]
    fn a_truncated_stat_names_the_missing_field() {
        let err = parse_stat("1 (x) S 1 2 3").unwrap_err();
        assert_eq!(err, "field 10 missing");
        assert!(parse_stat("garbage").is_err());
    }

    #[test]
    fn figures_match_what_ps_prints() {
        let host = Host {
            root: PathBuf::from(PROC_ROOT),
            clock_ticks: 100,
            page_size: 4096,
            mem_total: 8 << 30,
            uptime: 3500.0,
        };
        let p = process(4242, &parse_stat(STAT).unwrap(), (10, 2), &host);
        assert_eq!(p.etimes, 1000);
        assert_eq!(p.usertime, 12.34);
        assert_eq!(p.systime, 5.67);
        assert_eq!(p.pcpu, 1.8);
        assert_eq!(p.rss, 9000 * 4096);
        assert_eq!(p.pmem, 0.43);
        assert_eq!(p.vsz, 1523662848);
        assert_eq!((p.nvcsw, p.nivcsw, p.majflt, p.minflt), (10, 2, 3, 15817));
        assert_eq!((p.nice, p.pri), (0, 19));
    }

    #[test]
    fn absurd_numbers_saturate_instead_of_overflowing() {
        let host = Host {
            root: PathBuf::from(PROC_ROOT),
            clock_ticks: 100,
            page_size: 4096,
            mem_total: 8 << 30,
            uptime: 3500.0,
        };
        let stat = Stat {
            rss_pages: u64::MAX,
            priority: i64::MIN,
            ..Stat::default()
        };
        let p = process(1, &stat, (0, 0), &host);
        assert_eq!((p.rss, p.pri), (u64::MAX, i64::MAX));
        assert_eq!(parse_mem_total("MemTotal: 18446744073709551615 kB\n"), None);
    }

    #[test]
    fn host_files_parse() {
        assert_eq!(parse_uptime("12345.67 2345.00\n"), Some(12345.67));
        assert_eq!(
            parse_mem_total("MemTotal:       24600000 kB\nMemFree: 1 kB\n"),
            Some(24600000 * 1024)
        );
        assert_eq!(
            parse_ctxt_switches(
                "Name:\tqemu\nvoluntary_ctxt_switches:\t77\nnonvoluntary_ctxt_switches:\t5\n"
            ),
            (77, 5)
        );
        assert_eq!(parse_ctxt_switches("Name:\tqemu\n"), (0, 0));
    }

    #[test]
    fn the_guest_name_must_match_exactly() {
        let cmd = b"/usr/bin/qemu-system-x86_64\0-name\0guest=web,,1,debug-threads=on\0-S\0";
        assert!(cmdline_runs_guest(cmd, "web,1"));
        assert!(!cmdline_runs_guest(cmd, "web"));
        assert!(!cmdline_runs_guest(cmd, "web,1,debug-threads=on"));
        assert!(cmdline_runs_guest(b"qemu\0-name\0guest=a b\0", "a b"));
    }
}
