//! `hv_monitor`: parses the command line and hands over to [`hv_monitor::app`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use hv_monitor::app;
use hv_monitor::collect::{Backend, CollectOptions};
use hv_monitor::emit::librenms;
use hv_monitor::emit::xymon::message::{DEFAULT_MAX_SIZE, Format, Kind, MIN_MAX_SIZE};

/// VM statistics for LibreNMS (snmpd extend `hv-monitor`) and Xymon, from libvirt or CBSD.
///
/// Without a subcommand, prints the LibreNMS document, like the Perl HV::Monitor.
#[derive(Parser, Debug)]
#[command(name = "hv_monitor", version, disable_version_flag = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Backend: libvirt or cbsd, any case (default: cbsd on FreeBSD, libvirt elsewhere).
    #[arg(short = 'b', long = "backend", value_name = "BACKEND", global = true)]
    backend: Option<Backend>,
    /// Print gzip+base64 (one line), as LibreNMS decodes it.
    #[arg(short = 'c', long = "compress")]
    compress: bool,
    /// Also write the cache files: OUTPUT (JSON) and OUTPUT.snmp (the -c form), atomically.
    #[arg(short = 'w', long = "write")]
    write: bool,
    /// Cache file path for -w.
    #[arg(short = 'o', long = "output", value_name = "PATH", default_value = app::librenms::DEFAULT_OUTPUT)]
    output: PathBuf,
    /// Print nothing on stdout (with -w).
    #[arg(short = 'q', long = "quiet", requires = "write")]
    quiet: bool,
    /// Leave the per-disk and per-NIC maps empty (VM sums stay): for hosts whose -c output
    /// passes what one SNMP reply carries (see README, Large hosts).
    #[arg(long = "no-devices")]
    no_devices: bool,
    /// libvirt connection URI (default: LIBVIRT_DEFAULT_URI, then libvirt's own choice).
    #[arg(long = "uri", value_name = "URI", global = true)]
    uri: Option<String>,
    /// libvirt connections to collect over at once, each with its share of the VMs; 1 is one
    /// serial connection (default: one per 16 VMs, at most 4 and two per core).
    #[arg(short = 'j', long = "connections", value_name = "K", value_parser = clap::value_parser!(u16).range(1..=64), global = true)]
    connections: Option<u16>,
    /// Give up after this many seconds; snmpd's poller waits about 6.
    #[arg(short = 't', long = "deadline", value_name = "SECONDS", default_value = "5", value_parser = parse_seconds, global = true)]
    deadline: Duration,
    /// Print the version.
    #[arg(short = 'V', long = "version", visible_short_alias = 'v', action = clap::ArgAction::Version)]
    version: (),
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build the Xymon messages (status column and graph data) and send or print them.
    Xymon(XymonArgs),
    /// The xymond_rrd extra-script handler: read FILE, print RRD definitions and values.
    #[command(name = "xymon-rrd")]
    XymonRrd {
        /// Host the message is for (xymond_rrd's first argument).
        host: String,
        /// Test (column) the message is for.
        test: String,
        /// The message file xymond_rrd wrote.
        file: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct XymonArgs {
    /// Print the messages instead of sending them.
    #[arg(long = "print", conflicts_with = "servers")]
    print: bool,
    /// Xymon server: HOST, HOST:PORT, [V6]:PORT, or an http(s):// URL of xymoncgimsg.cgi;
    /// repeat for several (default: $XYMSRV, or $XYMSERVERS when $XYMSRV is 0.0.0.0).
    #[arg(long = "server", value_name = "ADDR[:PORT]|URL")]
    servers: Vec<String>,
    /// Host name as listed in the server's hosts.cfg (default: $MACHINE, else this host).
    #[arg(long = "host", value_name = "HOST")]
    host: Option<String>,
    /// Column (test) name (default: hvmon, hvmontot for ncv, hvmonrrd for rrd-script).
    #[arg(long = "column", value_name = "COLUMN")]
    column: Option<String>,
    /// Graph lines: splitncv (per VM, rates), ncv (host totals, rates), rrd-script (raw
    /// counters for `xymon-rrd`).
    #[arg(long = "format", value_enum, default_value = "splitncv")]
    format: FormatArg,
    /// Message types: status (graph lines that do not fit go into data messages), data
    /// (no column on the web page), both (status for the page, data for the graphs).
    #[arg(long = "message", value_enum, default_value = "status")]
    message: KindArg,
    /// How often this runs, seconds: sets the status lifetime and the RRD heartbeat.
    #[arg(long = "interval", value_name = "SECONDS", default_value = "300", value_parser = clap::value_parser!(u64).range(10..=86_400))]
    interval: u64,
    /// Largest message, bytes; more VMs go into further messages.
    #[arg(long = "max-size", value_name = "BYTES", default_value_t = DEFAULT_MAX_SIZE, value_parser = parse_max_size)]
    max_size: usize,
    /// Network timeout per server, seconds.
    #[arg(long = "timeout", value_name = "SECONDS", default_value = "15", value_parser = parse_seconds)]
    timeout: Duration,
    /// File keeping the counters for the next run's rates (default: $XYMONTMP or /var/tmp,
    /// hv_monitor.HOST.COLUMN.state.json; none with --print unless given).
    #[arg(long = "state", value_name = "PATH")]
    state: Option<PathBuf>,
    /// Do not ask the server whether it lists the host (needed when xymond runs with
    /// --ghosts=allow or refuses hostinfo from this sender).
    #[arg(long = "no-host-check")]
    no_host_check: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum FormatArg {
    Splitncv,
    Ncv,
    RrdScript,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum KindArg {
    Status,
    Data,
    Both,
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "'{s}' is not a number of seconds between 0 and 3600"
        )),
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

fn main() {
    let cli = Cli::parse();
    let backend = cli.backend.unwrap_or_else(Backend::default_for_this_os);
    let collect = CollectOptions {
        uri: cli.uri,
        connections: cli.connections.map(usize::from),
    };
    let code = match cli.command {
        None => app::librenms::run(&app::librenms::Options {
            backend,
            collect,
            compress: cli.compress,
            write: cli.write,
            output: cli.output,
            quiet: cli.quiet,
            deadline: cli.deadline,
            detail: if cli.no_devices {
                librenms::Detail::VmsOnly
            } else {
                librenms::Detail::Devices
            },
        }),
        Some(Command::Xymon(args)) => app::xymon::run(&app::xymon::Options {
            backend,
            collect,
            deadline: cli.deadline,
            host: args.host,
            column: args.column,
            format: match args.format {
                FormatArg::Splitncv => Format::SplitNcv,
                FormatArg::Ncv => Format::Ncv,
                FormatArg::RrdScript => Format::RrdScript,
            },
            kind: match args.message {
                KindArg::Status => Kind::Status,
                KindArg::Data => Kind::Data,
                KindArg::Both => Kind::Both,
            },
            interval: Duration::from_secs(args.interval),
            max_size: args.max_size,
            print: args.print,
            servers: args.servers,
            timeout: args.timeout,
            state: args.state,
            host_check: !args.no_host_check,
        }),
        Some(Command::XymonRrd { host, test, file }) => app::xymon::run_rrd(&host, &test, &file),
    };
    std::process::exit(code);
}
