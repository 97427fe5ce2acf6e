//! `hv_monitor`: parses the command line ([`hv_monitor::cli`]) and hands over to
//! [`hv_monitor::app`].

use std::time::Duration;

use clap::Parser;
use hv_monitor::app;
use hv_monitor::cli::{Cli, Command};
use hv_monitor::collect::select::Selection;
use hv_monitor::collect::{Backend, CollectOptions};
use hv_monitor::emit::librenms;

fn main() {
    ignore_a_tz_that_is_not_a_file();
    let cli = Cli::parse();
    let refuse = |kind, text: &str| -> ! {
        use clap::CommandFactory;
        Cli::command().error(kind, text).exit()
    };
    if let Some(Command::Xymon(args)) = &cli.command
        && args.fs_warn > args.fs_panic
    {
        refuse(
            clap::error::ErrorKind::ValueValidation,
            "--fs-warn must not be above --fs-panic",
        );
    }
    match &cli.command {
        None if cli.watch && !cli.write => refuse(
            clap::error::ErrorKind::MissingRequiredArgument,
            "--watch without a subcommand needs -w: it keeps the cache files fresh",
        ),
        Some(_) if cli.interval.is_some() => refuse(
            clap::error::ErrorKind::ArgumentConflict,
            "the --interval before the subcommand is -w --watch's; give it after the subcommand",
        ),
        Some(Command::XymonRrd { .. }) if cli.watch => refuse(
            clap::error::ErrorKind::ArgumentConflict,
            "xymon-rrd runs once per message; --watch is for xymon and -w",
        ),
        _ => {}
    }
    let backend = cli.backend.unwrap_or_else(Backend::default_for_this_os);
    let collect = CollectOptions {
        uri: cli.uri,
        connections: cli.connections.map(usize::from),
        select: Selection::new(cli.vm, cli.exclude),
        domain_cache: cli.domain_cache,
        no_agent: cli.no_agent,
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
            watch: cli.watch,
            interval: Duration::from_secs(
                cli.interval
                    .unwrap_or(app::librenms::DEFAULT_WATCH_INTERVAL_SECS),
            ),
        }),
        Some(Command::Xymon(args)) => app::xymon::run(&app::xymon::Options {
            backend,
            collect,
            deadline: cli.deadline,
            host: args.host,
            column: args.column,
            format: args.format,
            messages: args.message,
            interval: Duration::from_secs(args.interval),
            max_size: args.max_size,
            print: args.print,
            servers: args.servers,
            timeout: args.timeout,
            counters_file: args.state,
            host_check: !args.no_host_check,
            ca_file: args.ca_file,
            pool_warn: args.pool_warn,
            pool_panic: args.pool_panic,
            fs_limits: hv_monitor::emit::xymon::FsLimits {
                warn: f64::from(args.fs_warn),
                panic: f64::from(args.fs_panic),
            },
            watch: cli.watch,
        }),
        Some(Command::XymonRrd { host, column, file }) => {
            app::xymon::run_rrd_script(&host, &column, &file)
        }
    };
    // Not std::process::exit: a collector thread may still be inside libvirt.
    app::end_process(code);
}

/// Where chrono looks for a `TZ` name that is not an absolute path.
const ZONE_INFO_DIRECTORIES: [&str; 4] = [
    "/usr/share/zoneinfo",
    "/share/zoneinfo",
    "/etc/zoneinfo",
    "/usr/share/lib/zoneinfo",
];

/// chrono reads the file `TZ` names (`:/path`, `/path`, or a name under the zoneinfo
/// directories) for the Xymon status date, with a plain blocking read and outside any
/// deadline: a FIFO there would hang the run for good, a device would be read forever. Such
/// a `TZ` is dropped with a warning, and the date is in the system's zone (/etc/localtime).
fn ignore_a_tz_that_is_not_a_file() {
    let Some(tz) = std::env::var_os("TZ") else {
        return;
    };
    let bytes = tz.as_encoded_bytes();
    let name = std::path::Path::new(std::ffi::OsStr::new(
        std::str::from_utf8(bytes.strip_prefix(b":").unwrap_or(bytes)).unwrap_or_default(),
    ));
    if name.as_os_str().is_empty() {
        return; // UTC, or a TZ that is not text: chrono reads no file for either
    }
    let candidates: Vec<std::path::PathBuf> = if name.is_absolute() {
        vec![name.to_path_buf()]
    } else {
        ZONE_INFO_DIRECTORIES
            .iter()
            .map(|d| std::path::Path::new(d).join(name))
            .collect()
    };
    // The first that exists is the one chrono opens (following links, as it does); a POSIX
    // rule like `CET-1CEST` names no file and is left alone.
    let Some((path, meta)) = candidates
        .iter()
        .find_map(|p| std::fs::metadata(p).ok().map(|m| (p, m)))
    else {
        return;
    };
    if meta.is_file() {
        return;
    }
    hv_monitor::diag!(
        "hv_monitor: warning: TZ='{}' names '{}', which is not a regular file; ignoring TZ \
         (dates in the system's time zone)",
        hv_monitor::text::for_terminal(&tz.to_string_lossy(), 300),
        hv_monitor::text::for_terminal(&path.to_string_lossy(), 300)
    );
    // SAFETY: the first thing main does, before any thread exists.
    unsafe { std::env::remove_var("TZ") };
}
