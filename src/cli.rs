//! The command line: clap definitions only, in the library so the man page and completion
//! generator (and the drift test) build the same `Cli::command()` the binary parses.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::PossibleValue;
use clap::{Parser, Subcommand, ValueEnum};

use crate::app;
use crate::collect::Backend;
use crate::collect::select::parse_pattern;
use crate::seconds::parse_seconds;
use crate::xymon_wire::{DEFAULT_MAX_SIZE, Format, MAX_INTERVAL_SECS, MIN_MAX_SIZE, Messages};

/// Most `-j` connections: twice the default's most. Past libvirtd's 5 default worker
/// threads more only queue, and each connection costs memory on both sides (a test-driver
/// connection loads the whole host again: 64 of them took 7 GB at 2000 VMs).
const MAX_CONNECTIONS: i64 = 8;

/// VM statistics for LibreNMS (snmpd extend `hv-monitor`) and Xymon, from libvirt or CBSD.
///
/// Without a subcommand, prints the LibreNMS document, like the Perl HV::Monitor.
#[derive(Parser, Debug)]
#[command(name = "hv_monitor", version, disable_version_flag = true)]
pub struct Cli {
    // Not a doc comment: clap would print it in --help. The subcommand, if any.
    #[allow(missing_docs)]
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Backend: libvirt or cbsd, any case (default: cbsd on FreeBSD, libvirt elsewhere).
    #[arg(short = 'b', long = "backend", value_name = "BACKEND", global = true)]
    pub backend: Option<Backend>,
    /// Print gzip+base64 (one line), as LibreNMS decodes it.
    #[arg(short = 'c', long = "compress")]
    pub compress: bool,
    /// Also write the cache files: OUTPUT (JSON) and OUTPUT.snmp (the -c form), atomically.
    #[arg(short = 'w', long = "write")]
    pub write: bool,
    /// Cache file path for -w.
    #[arg(short = 'o', long = "output", value_name = "PATH", default_value = app::librenms::DEFAULT_OUTPUT)]
    pub output: PathBuf,
    /// Print nothing on stdout (with -w).
    #[arg(short = 'q', long = "quiet", requires = "write")]
    pub quiet: bool,
    /// Leave the per-disk and per-NIC maps empty (VM sums stay): for hosts whose -c output
    /// passes what one SNMP reply carries (see librenms/README.md, Large hosts).
    #[arg(long = "no-devices")]
    pub no_devices: bool,
    /// libvirt connection URI (default: LIBVIRT_DEFAULT_URI, then libvirt's own choice).
    #[arg(long = "uri", value_name = "URI", global = true)]
    pub uri: Option<String>,
    /// libvirt connections to collect over at once, each with its share of the VMs; 1 is one
    /// serial connection, at most 8 (default: one per 16 VMs, at most 4 and two per core; one
    /// on the test driver, which loads its host anew for each connection). An extra
    /// connection that fails or hangs costs time, not the run: its VMs are collected over the
    /// first.
    #[arg(short = 'j', long = "connections", value_name = "K", value_parser = clap::value_parser!(u16).range(1..=MAX_CONNECTIONS), global = true)]
    pub connections: Option<u16>,
    /// Report only the VMs whose name matches GLOB (repeat for several: any of them); the
    /// others are not asked for stats, and totals and state counts cover those reported. `*`
    /// any characters, `?` one, `[a-z]`, `[!0-9]` one of or none of a set, `[*]` a literal
    /// `*`; the whole name, case sensitive. Quote it from the shell.
    #[arg(long = "vm", value_name = "GLOB", value_parser = parse_pattern, global = true)]
    pub vm: Vec<glob::Pattern>,
    /// Leave out the VMs whose name matches GLOB (repeatable; same syntax as --vm, and wins
    /// over it).
    #[arg(long = "exclude", value_name = "GLOB", value_parser = parse_pattern, global = true)]
    pub exclude: Vec<glob::Pattern>,
    /// libvirt: keep what each domain's XML says in this file between runs, and fetch the
    /// XML only when the domain changed (default: OUTPUT.domains with -w, beside the counters
    /// file for `xymon`; none otherwise, e.g. under snmpd without -w, where every XML is
    /// fetched).
    #[arg(long = "domain-cache", value_name = "PATH", global = true)]
    pub domain_cache: Option<PathBuf>,
    /// Do not ask guest agents (libvirt): no guest file systems, OS or hostname from inside
    /// the guests, no read-write libvirt connection; IPs only from DHCP leases.
    #[arg(long = "no-agent", global = true)]
    pub no_agent: bool,
    /// Keep running: report every interval, and within about 2 s of a VM change (libvirt's
    /// lifecycle events: started, paused, resumed, shut down, crashed, defined, undefined...).
    /// For `xymon` (a status alone between intervals) and for `-w` (the cache files
    /// rewritten). Ends with exit 0 on SIGTERM or SIGINT.
    #[arg(long = "watch", global = true)]
    pub watch: bool,
    /// How often `-w --watch` rewrites the cache files, seconds (default 60; `xymon` has its
    /// own `--interval`).
    #[arg(long = "interval", value_name = "SECONDS", requires = "watch", value_parser = clap::value_parser!(u64).range(10..=MAX_INTERVAL_SECS))]
    pub interval: Option<u64>,
    /// Give up after this many seconds; snmpd's poller waits about 6.
    #[arg(short = 't', long = "deadline", value_name = "SECONDS", default_value = "5", value_parser = parse_seconds, global = true)]
    pub deadline: Duration,
    /// Print the version.
    #[arg(short = 'V', long = "version", visible_short_alias = 'v', action = clap::ArgAction::Version)]
    pub version: (),
}

// The subcommands; their doc comments are their --help lines.
#[allow(missing_docs)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the Xymon messages (status column and graph data) and send or print them.
    Xymon(XymonArgs),
    /// The rrd-script handler for xymond_rrd --extra-script: read FILE, print RRD
    /// definitions and values.
    #[command(name = "xymon-rrd")]
    XymonRrd {
        /// Host the message is for (xymond_rrd's first argument).
        host: String,
        /// Column the message is for (xymond_rrd's TEST).
        column: String,
        /// The message file xymond_rrd wrote.
        file: PathBuf,
    },
}

// `hv_monitor xymon`'s options; each field's doc comment is its --help line.
#[allow(missing_docs)]
#[derive(clap::Args, Debug)]
pub struct XymonArgs {
    /// Print the messages instead of sending them.
    #[arg(long = "print", conflicts_with = "servers")]
    pub print: bool,
    /// Xymon server: HOST, HOST:PORT, [V6]:PORT, or an http(s):// URL of xymoncgimsg.cgi;
    /// repeat for several (default: $XYMSRV, or $XYMSERVERS when $XYMSRV is 0.0.0.0). Always
    /// straight to it: proxy variables (http_proxy, https_proxy, ALL_PROXY) are ignored and
    /// an HTTP redirect is an error, not followed.
    #[arg(long = "server", value_name = "ADDR[:PORT]|URL")]
    pub servers: Vec<String>,
    /// Host name as listed in the server's hosts.cfg (default: $MACHINE, else this host).
    #[arg(long = "host", value_name = "HOST")]
    pub host: Option<String>,
    /// Column name (default: hvmon, hvmontot for ncv, hvmonrrd for rrd-script).
    #[arg(long = "column", value_name = "COLUMN")]
    pub column: Option<String>,
    /// Graph lines: splitncv (per VM, rates), ncv (host totals, rates), rrd-script (raw
    /// counters for `xymon-rrd`).
    #[arg(long = "format", value_enum, default_value = "splitncv")]
    pub format: Format,
    /// Message types: both (status for the page, every graph line in data messages: the
    /// whole status for the page), status (graph lines in the status, what does not fit in
    /// data messages), data (no column on the web page).
    #[arg(long = "message", value_enum, default_value = "both")]
    pub message: Messages,
    /// How often this runs, seconds: sets the status lifetime and the RRD heartbeat.
    #[arg(long = "interval", value_name = "SECONDS", default_value = "300", value_parser = clap::value_parser!(u64).range(10..=MAX_INTERVAL_SECS))]
    pub interval: u64,
    /// Largest message, bytes; more VMs go into further messages.
    #[arg(long = "max-size", value_name = "BYTES", default_value_t = DEFAULT_MAX_SIZE, value_parser = parse_max_size)]
    pub max_size: usize,
    /// Time allowed for each server, seconds: the whole exchange (connecting, the host
    /// check, every message and answer), not each network call.
    #[arg(long = "timeout", value_name = "SECONDS", default_value = "15", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// The counters file, keeping the counters for the next run's rates (default:
    /// hv_monitor.HOST.COLUMN.state.json in $XYMONTMP, else $STATE_DIRECTORY, else
    /// /var/lib/hv-monitor; HOST with commas for dots; none with --print unless given).
    #[arg(long = "state", value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Do not ask the server whether it lists the host (needed when xymond runs with
    /// --ghosts=allow or refuses hostinfo from this sender).
    #[arg(long = "no-host-check")]
    pub no_host_check: bool,
    /// Storage pool use, percent full, that turns the column yellow (below --pool-panic).
    #[arg(long = "pool-warn", value_name = "PERCENT", default_value = "90", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub pool_warn: u8,
    /// Storage pool use, percent full, that turns the column red.
    #[arg(long = "pool-panic", value_name = "PERCENT", default_value = "95", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub pool_panic: u8,
    /// PEM file of one or more CA certificates trusted for https:// servers besides the
    /// system's (SSL_CERT_FILE and SSL_CERT_DIR are not read).
    #[arg(long = "ca-file", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// A VM whose fullest guest file system (from its guest agent) is this percent used or
    /// more turns the status yellow.
    #[arg(long = "fs-warn", value_name = "PERCENT", default_value = "90", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub fs_warn: u8,
    /// ... and red from this percent (not below --fs-warn).
    #[arg(long = "fs-panic", value_name = "PERCENT", default_value = "95", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub fs_panic: u8,
}

// The wire types are the CLI's values, spelled by their own `name()`.
impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &Format::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

impl ValueEnum for Messages {
    fn value_variants<'a>() -> &'a [Self] {
        &Messages::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

fn parse_max_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(v) if (MIN_MAX_SIZE..=DEFAULT_MAX_SIZE).contains(&v) => Ok(v),
        _ => Err(format!(
            "'{s}' is not a size between {MIN_MAX_SIZE} and {DEFAULT_MAX_SIZE} bytes"
        )),
    }
}
