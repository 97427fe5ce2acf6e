//! `hv_monitor`: parses the command line and hands over to [`hv_monitor::app`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use hv_monitor::app;
use hv_monitor::collect::{Backend, CollectOptions};

/// VM statistics for LibreNMS (snmpd extend `hv-monitor`) from libvirt or CBSD.
///
/// Without a subcommand, prints the LibreNMS document, like the Perl HV::Monitor.
#[derive(Parser, Debug)]
#[command(name = "hv_monitor", version, disable_version_flag = true)]
struct Cli {
    /// Backend: libvirt or cbsd, any case (default: cbsd on FreeBSD, libvirt elsewhere).
    #[arg(short = 'b', long = "backend", value_name = "BACKEND")]
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
    /// libvirt connection URI (default: LIBVIRT_DEFAULT_URI, then libvirt's own choice).
    #[arg(long = "uri", value_name = "URI")]
    uri: Option<String>,
    /// Give up after this many seconds; snmpd's poller waits about 6.
    #[arg(short = 't', long = "deadline", value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    deadline: Duration,
    /// Print the version.
    #[arg(short = 'V', long = "version", visible_short_alias = 'v', action = clap::ArgAction::Version)]
    version: (),
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "'{s}' is not a number of seconds between 0 and 3600"
        )),
    }
}

fn main() {
    let cli = Cli::parse();
    let options = app::librenms::Options {
        backend: cli.backend.unwrap_or_else(Backend::default_for_this_os),
        collect: CollectOptions { uri: cli.uri },
        compress: cli.compress,
        write: cli.write,
        output: cli.output,
        quiet: cli.quiet,
        deadline: cli.deadline,
    };
    std::process::exit(app::librenms::run(&options));
}
