//! `hv_monitor`: parses the command line ([`hv_monitor::cli`]) and hands over to
//! [`hv_monitor::app`].

use std::time::Duration;

use clap::Parser;
use hv_monitor::app;
use hv_monitor::cli::{Cli, Command};
use hv_monitor::collect::{Backend, CollectOptions};
use hv_monitor::emit::librenms;

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
            format: args.format.into(),
            kind: args.message.into(),
            interval: Duration::from_secs(args.interval),
            max_size: args.max_size,
            print: args.print,
            servers: args.servers,
            timeout: args.timeout,
            state: args.state,
            host_check: !args.no_host_check,
            ca_file: args.ca_file,
        }),
        Some(Command::XymonRrd { host, test, file }) => app::xymon::run_rrd(&host, &test, &file),
    };
    // Not std::process::exit: a collector thread may still be inside libvirt.
    hv_monitor::collect::exit(code);
}
