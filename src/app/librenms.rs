//! The LibreNMS job: collect, print the document (plain or `-c`), optionally write the cache
//! files for snmpd to `cat`. With `--watch` (and `-w`) the cache files are rewritten at
//! every interval and soon after each VM change (`app::watch`), printing nothing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::beside;
use super::stdio::{finish_on_stdout, print_notes};
use super::watch as app_watch;
use crate::collect::{self, Backend, CollectOptions};
use crate::emit::librenms::{self, SNMP_TOTAL_LIMIT, SNMP_UDP_LIMIT};
use crate::error::{RunError, exit};
use crate::output::{replace_files, stdout_deadline};

/// The Perl tool's default cache path; the `-c` form goes to the same path plus `.snmp`.
pub const DEFAULT_OUTPUT: &str = "/var/cache/hv_monitor.json";

/// How often `-w --watch` rewrites the cache files by default: a minute keeps the counters a
/// 5-minute LibreNMS poll reads at most a minute old.
pub const DEFAULT_WATCH_INTERVAL_SECS: u64 = 60;

/// What `hv_monitor librenms` (the default job) was asked to do, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// The backend to collect from (`-b`).
    pub backend: Backend,
    /// Backend settings (libvirt URI, what to read).
    pub collect: CollectOptions,
    /// Print the gzip+base64 form.
    pub compress: bool,
    /// Also write `output` (plain JSON) and `output.snmp` (the `-c` form).
    pub write: bool,
    /// The plain JSON cache file's path (`-o`); [`DEFAULT_OUTPUT`] by default.
    pub output: PathBuf,
    /// Print nothing on stdout (only useful with `write`); warnings still go to stderr.
    pub quiet: bool,
    /// The whole run's limit (`-t`): collecting, then stdout taking the document.
    pub deadline: Duration,
    /// Whether per-disk and per-NIC maps are filled.
    pub detail: librenms::Detail,
    /// `--watch` (with `write`): keep running, rewriting the cache files every `interval`
    /// and on each VM change.
    pub watch: bool,
    /// `--interval`: how often `--watch` rewrites the cache files.
    pub interval: Duration,
}

/// Runs the job; returns the process exit code.
pub fn run(options: &Options) -> i32 {
    if options.watch {
        watch(options)
    } else {
        run_once(options)
    }
}

/// `--watch`: [`run_once`] at every interval and on each VM change, quietly, under the lock
/// (`OUTPUT.watch`) that keeps a second watcher off the same cache files.
fn watch(options: &Options) -> i32 {
    let _lock = match app_watch::lock(&beside(&options.output, ".watch")) {
        Ok(lock) => lock,
        Err(e) => {
            crate::diag!("hv_monitor: {e}");
            return e.exit_code();
        }
    };
    let mut job = Rewrite(Options {
        quiet: true,
        ..options.clone()
    });
    app_watch::run(
        options.backend,
        &options.collect,
        options.interval,
        &mut job,
    )
}

/// The cache files rewritten, for every report the watcher asks: LibreNMS computes its
/// rates from the counters in them, so a rewrite between intervals skews nothing.
struct Rewrite(Options);

impl app_watch::Job for Rewrite {
    fn every_interval(&mut self) {
        run_once(&self.0);
    }

    fn on_change(&mut self) {
        run_once(&self.0);
    }
}

/// One run: collect, write the cache files (`-w`), print the document.
fn run_once(options: &Options) -> i32 {
    let started = Instant::now();
    // snmpd's extend runs the plain or -c form; -w is the cron or systemd job, whose one
    // pipe or journal socket for both streams is where its errors must be seen.
    if !options.write {
        silence_stderr_when_it_is_stdout();
    }
    let mut collect_options = options.collect.clone();
    if options.write && collect_options.domain_cache.is_none() {
        collect_options.domain_cache = Some(beside(&options.output, ".domains"));
    }
    let result = collect::collect_within(options.backend, &collect_options, options.deadline)
        .map_err(RunError::from)
        .and_then(|snapshot| {
            // Warnings go to stderr even with -q: under cron they are mailed, under snmpd
            // (no -w, stderr is stdout's pipe) they were silenced above.
            for warning in &snapshot.warnings {
                crate::diag!("hv_monitor: warning: {warning}");
            }
            for note in &snapshot.notes {
                crate::diag!("hv_monitor: note: {note}");
            }
            let document = librenms::document(&snapshot, options.detail, librenms::Form::Plain);
            let compressed = librenms::compressed_document(&snapshot, options.detail);
            warn_about_size(compressed.len() + 1, snapshot.vms.len(), options.detail);
            if options.write {
                let json = format!("{document}\n");
                let snmp = format!("{compressed}\n");
                let notes = replace_files(
                    &[
                        (&options.output, json.as_bytes()),
                        (&snmp_path(&options.output), snmp.as_bytes()),
                    ],
                    0o644,
                )?;
                print_notes(&notes);
            }
            Ok::<_, RunError>(if options.compress {
                compressed
            } else {
                document
            })
        });
    let (stdout, code) = match result {
        Ok(out) => (out, exit::OK),
        Err(e) => {
            crate::diag!("hv_monitor: {e}");
            let doc = librenms::error_document(e.librenms_code(), &e.to_string());
            (
                if options.compress {
                    librenms::compress(&doc)
                } else {
                    doc
                },
                e.exit_code(),
            )
        }
    };
    if options.quiet {
        return code;
    }
    finish_on_stdout(
        format!("{stdout}\n").as_bytes(),
        stdout_deadline(started, options.deadline),
        code,
    )
}

/// snmpd's `extend` reads stdout and stderr through one pipe, so any diagnostic (ours, or
/// libxml2's printed from inside libvirt) would corrupt the document LibreNMS decodes. The
/// error still reaches LibreNMS in `errorString`. A terminal is left alone, and so is a run
/// with `-w` (cron and systemd also give both streams one pipe or socket).
fn silence_stderr_when_it_is_stdout() {
    // SAFETY: fstat fills the zeroed structs; open/dup2/close act on descriptors we own.
    unsafe {
        let mut out: libc::stat = std::mem::zeroed();
        let mut err: libc::stat = std::mem::zeroed();
        if libc::fstat(1, &raw mut out) != 0 || libc::fstat(2, &raw mut err) != 0 {
            return;
        }
        let is_pipe = matches!(out.st_mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFSOCK);
        if is_pipe && out.st_dev == err.st_dev && out.st_ino == err.st_ino {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if null >= 0 {
                libc::dup2(null, 2);
                libc::close(null);
            }
        }
    }
}

/// `PATH.snmp`, where snmpd `cat`s the `-c` form from. Beside it a run with `-w` keeps
/// `PATH.domains` (the domain XML cache; snmpd's direct `hv_monitor -c` has no such place
/// and fetches every XML unless `--domain-cache` names one) and `--watch` its lock,
/// `PATH.watch`.
pub(crate) fn snmp_path(output: &std::path::Path) -> PathBuf {
    beside(output, ".snmp")
}

/// The README's "Large hosts" steps, from the first one not taken yet.
fn warn_about_size(compressed_len: usize, vms: usize, detail: librenms::Detail) {
    let devices = detail == librenms::Detail::Devices;
    if compressed_len > SNMP_TOTAL_LIMIT {
        let advice = if devices {
            "try --no-devices"
        } else {
            "this host needs the Xymon output"
        };
        crate::diag!(
            "hv_monitor: warning: the -c output for {vms} VMs is {compressed_len} bytes; snmpd cuts extend \
             output at {SNMP_TOTAL_LIMIT} bytes, so LibreNMS cannot read it: {advice} (librenms/README.md, Large hosts)"
        );
    } else if compressed_len > SNMP_UDP_LIMIT {
        let advice = if devices {
            "poll this host over TCP or use --no-devices"
        } else {
            "poll this host over TCP"
        };
        crate::diag!(
            "hv_monitor: warning: the -c output for {vms} VMs is {compressed_len} bytes; over UDP one SNMP \
             reply carries {SNMP_UDP_LIMIT}: {advice} (librenms/README.md, Large hosts)"
        );
    }
}
