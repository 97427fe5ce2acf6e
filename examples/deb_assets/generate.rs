//! What `cargo deb` packs besides the binary, generated from the sources it describes: the
//! man page hv_monitor(1) and the shell completions from the clap definitions
//! ([`hv_monitor::cli::Cli`]), the exit codes from src/error.rs, and the snmpd, Xymon and
//! systemd snippets with the package's paths. Shared by the generator (main.rs) and the drift
//! test (tests/deb_assets.rs), so both see the same bytes.

use clap::CommandFactory;
use clap_complete::Shell;
use hv_monitor::app::librenms::DEFAULT_OUTPUT;
use hv_monitor::cli::Cli;

/// One generated file, `path` relative to debian/generated/.
pub struct Asset {
    pub path: &'static str,
    pub bytes: Vec<u8>,
}

/// The snippets as the repository ships them for a hand install under /usr/local, and where
/// the package puts their rewritten copies.
const SNIPPETS: &[(&str, &str)] = &[
    (
        "examples/librenms/snmpd.conf",
        include_str!("../../librenms/snmpd.conf"),
    ),
    (
        "examples/librenms/hv_monitor.cron",
        include_str!("../../librenms/hv_monitor.cron"),
    ),
    (
        "examples/xymon/clientlaunch.d/hv-monitor.cfg",
        include_str!("../../xymon/clientlaunch.d/hv-monitor.cfg"),
    ),
    (
        "examples/xymon/xymonserver.d/hv-monitor.cfg",
        include_str!("../../xymon/xymonserver.d/hv-monitor.cfg"),
    ),
    (
        "examples/xymon/graphs.d/hv-monitor.cfg",
        include_str!("../../xymon/graphs.d/hv-monitor.cfg"),
    ),
    (
        "examples/xymon/tasks.d/hv-monitor.cfg",
        include_str!("../../xymon/tasks.d/hv-monitor.cfg"),
    ),
    (
        "hv_monitor-xymon-rrd.sh",
        include_str!("../../xymon/hv_monitor-xymon-rrd.sh"),
    ),
    (
        "systemd/hv_monitor.service",
        include_str!("../../librenms/hv_monitor.service"),
    ),
    (
        "systemd/hv_monitor.timer",
        include_str!("../../librenms/hv_monitor.timer"),
    ),
    (
        "systemd/hv_monitor-watch.service",
        include_str!("../../librenms/hv_monitor-watch.service"),
    ),
];

/// A hand install puts everything under /usr/local and units in /etc/systemd/system; the
/// package owns the same paths without `local`, and cargo-deb installs units in
/// /usr/lib/systemd/system.
fn package_paths(snippet: &str) -> String {
    snippet
        .replace("/usr/local/", "/usr/")
        .replace("/etc/systemd/system/", "/usr/lib/systemd/system/")
}

const ERROR_RS: &str = include_str!("../../src/error.rs");

pub fn assets() -> Vec<Asset> {
    let mut out = vec![
        Asset {
            path: "hv_monitor.1",
            bytes: man_page(),
        },
        Asset {
            path: "completions/hv_monitor.bash",
            bytes: completion(Shell::Bash),
        },
        Asset {
            path: "completions/_hv_monitor",
            bytes: completion(Shell::Zsh),
        },
        Asset {
            path: "completions/hv_monitor.fish",
            bytes: completion(Shell::Fish),
        },
    ];
    out.extend(SNIPPETS.iter().map(|(path, text)| Asset {
        path,
        bytes: package_paths(text).into_bytes(),
    }));
    out
}

fn completion(shell: Shell) -> Vec<u8> {
    let mut bytes = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "hv_monitor", &mut bytes);
    bytes
}

/// clap_mangen renders one page per command; hv_monitor(1) holds the subcommands too, each under
/// its own `.SS` with its synopsis and options, then the sections clap knows nothing about.
pub fn man_page() -> Vec<u8> {
    let mut cli = with_aliases_in_help(Cli::command());
    cli.build();
    let man = clap_mangen::Man::new(cli.clone()).manual("hv-monitor");
    let mut page = Vec::new();
    let render = |page: &mut Vec<u8>,
                  part: fn(&clap_mangen::Man, &mut dyn std::io::Write) -> std::io::Result<()>,
                  man: &clap_mangen::Man| {
        part(man, page).expect("rendering into memory cannot fail")
    };
    render(&mut page, clap_mangen::Man::render_title, &man);
    // Identifiers such as HV_MONITOR_CBSD_PATH must not be hyphenated or stretched.
    page.extend(b".nh\n.ad l\n");
    render(&mut page, clap_mangen::Man::render_name_section, &man);
    render(&mut page, clap_mangen::Man::render_synopsis_section, &man);
    for sub in cli.get_subcommands() {
        page.extend(b".br\n");
        page.extend(body(
            &clap_mangen::Man::new(sub.clone()),
            "SYNOPSIS",
            |m, w| m.render_synopsis_section(w),
        ));
    }
    render(
        &mut page,
        clap_mangen::Man::render_description_section,
        &man,
    );
    page.extend(DESCRIPTION_MORE.as_bytes());
    render(&mut page, clap_mangen::Man::render_options_section, &man);
    page.extend(b".SH COMMANDS\n");
    for built in cli.get_subcommands() {
        let name = format!("hv_monitor {}", built.get_name());
        // Unbuilt, a subcommand holds only its own options: the global ones are described
        // above. clap adds `help` at build time only.
        let own = Cli::command()
            .find_subcommand(built.get_name())
            .cloned()
            .unwrap_or_else(|| built.clone());
        let sub_man = clap_mangen::Man::new(own.bin_name(&name));
        page.extend(format!(".SS \"{name}\"\n").as_bytes());
        page.extend(body(&sub_man, "DESCRIPTION", |m, w| {
            m.render_description_section(w)
        }));
        page.extend(body(&sub_man, "OPTIONS", |m, w| {
            m.render_options_section(w)
        }));
    }
    page.extend(exit_status_section().as_bytes());
    page.extend(environment_section().as_bytes());
    page.extend(files_section().as_bytes());
    page.extend(EXAMPLES.as_bytes());
    page.extend(SEE_ALSO.as_bytes());
    page
}

/// clap_mangen leaves out visible aliases; `--help` appends them to the help text, so the man
/// page does the same.
fn with_aliases_in_help(cli: clap::Command) -> clap::Command {
    cli.mut_args(|arg| {
        let aliases: Vec<String> = arg
            .get_visible_short_aliases()
            .unwrap_or_default()
            .into_iter()
            .map(|c| format!("-{c}"))
            .chain(
                arg.get_visible_aliases()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| format!("--{l}")),
            )
            .collect();
        if aliases.is_empty() {
            return arg;
        }
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let label = if aliases.len() == 1 {
            "alias"
        } else {
            "aliases"
        };
        arg.help(format!("{help} [{label}: {}]", aliases.join(", ")))
    })
}

/// One rendered section without its `.SH` heading line (and what comes before it); empty when
/// clap_mangen had nothing to say (a command without options).
fn body(
    man: &clap_mangen::Man,
    heading: &str,
    part: impl Fn(&clap_mangen::Man, &mut Vec<u8>) -> std::io::Result<()>,
) -> Vec<u8> {
    let mut out = Vec::new();
    part(man, &mut out).expect("rendering into memory cannot fail");
    let text = String::from_utf8(out).expect("clap_mangen writes UTF-8");
    // Each part repeats the preamble that defines \*(Aq; the title part has already given it.
    text.split_once(&format!(".SH {heading}\n"))
        .map(|(_, section)| section.as_bytes().to_vec())
        .unwrap_or_default()
}

/// Roff text: a backslash is `\e`, a dash `\-` (so options copy as ASCII), and a line starting
/// with `.` or `'` is text, not a request.
fn roff_text(s: &str) -> String {
    let escaped = s.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// The codes and their doc comments from `pub mod exit` in src/error.rs, the one place they are
/// defined.
pub fn exit_codes() -> Vec<(i32, String)> {
    let module = ERROR_RS
        .split_once("pub mod exit {")
        .expect("src/error.rs has `pub mod exit`")
        .1
        .split_once("\n}")
        .expect("`pub mod exit` ends")
        .0;
    let mut doc = Vec::new();
    let mut codes = Vec::new();
    for line in module.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim().to_string());
        } else if let Some(def) = line.strip_prefix("pub const ") {
            let value = def
                .split_once('=')
                .and_then(|(_, v)| v.trim().trim_end_matches(';').parse::<i32>().ok())
                .unwrap_or_else(|| panic!("exit code line in src/error.rs: {line}"));
            let text = if doc.is_empty() {
                "Success.".to_string()
            } else {
                doc.join(" ")
            };
            codes.push((value, text));
            doc.clear();
        }
    }
    codes
}

fn exit_status_section() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, text) in exit_codes() {
        s += &format!(".TP\n\\fB{code}\\fR\n{}\n", roff_text(&text));
    }
    s += ".PP\n\
On an error of the LibreNMS job, stdout still carries the LibreNMS error document \
(\\fB{\"version\":1,\"error\":N,...}\\fR, compressed with \\fB\\-c\\fR) so the poller logs the reason. \
\\fBhv_monitor xymon\\fR still sends the red status when collection fails (exit 3, 4 or 5) and \
tries every server before exiting 7. \\fBhv_monitor xymon\\-rrd\\fR refuses a bad message file \
whole: one line on stderr naming the file and the reason, nothing on stdout, exit 8.\n\
.PP\n\
Writing stdout is checked: a short or failed write (a full disk, \\fB/dev/full\\fR) exits 6 with the \
reason on stderr; a reader that went away (\\fB| head\\fR) exits 6 without a message; a reader that \
stops reading is given up on at the \\fB\\-t\\fR deadline (at least 1 s after the output is ready), \
exit 5. An earlier failure's code is kept.\n\
.PP\n\
\\fBstderr under snmpd.\\fR snmpd's extend reads stdout and stderr through one pipe, where a \
diagnostic would corrupt the document LibreNMS decodes. So the LibreNMS job \\fIwithout\\fR \
\\fB\\-w\\fR, when its stdout and stderr are one pipe or socket, sends its diagnostics to \
\\fB/dev/null\\fR (the error still reaches LibreNMS in errorString). With \\fB\\-w\\fR stderr is \
kept whatever it is: cron and systemd also give both streams one pipe or socket, and a write \
error must reach the cron mail or the journal. A terminal is always kept.\n";
    s
}

/// Every variable hv_monitor reads; tests/deb_assets.rs checks that each one the source reads
/// is here.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "LIBVIRT_DEFAULT_URI",
        "The libvirt connection when --uri is not given (read by libvirt). Without either, libvirt \
         chooses: qemu:///system for root, qemu:///session for other users.",
    ),
    (
        "XDG_RUNTIME_DIR",
        "Where a qemu:///session daemon keeps the QEMU PID files (for the process statistics).",
    ),
    (
        "XYMSRV",
        "The Xymon server when no --server is given, as xymonlaunch sets it; 0.0.0.0 means every \
         server in XYMSERVERS.",
    ),
    (
        "XYMSERVERS",
        "Space-separated Xymon servers, used when XYMSRV is unset or 0.0.0.0.",
    ),
    (
        "XYMONDPORT",
        "The xymond port for servers given without one (default 1984).",
    ),
    (
        "MACHINE",
        "The host name sent to Xymon when --host is not given (xymonlaunch sets it from the \
         client's configuration); else this host's name.",
    ),
    (
        "XYMONTMP",
        "Directory of the Xymon rate state file when --state is not given (the Xymon client's \
         scratch directory). It must be owned by the user running hv_monitor or by root, and \
         writable by no one else unless it is sticky (like /tmp; each file there is then checked \
         to be ours); else it is refused, and the run sends no rates (yellow, exit 6).",
    ),
    (
        "STATE_DIRECTORY",
        "Directory of the Xymon rate state file when --state is not given and XYMONTMP is unset \
         (systemd sets it from StateDirectory=), checked as XYMONTMP is; else \
         /var/lib/hv-monitor, created mode 0700.",
    ),
    (
        "TZ",
        "The time zone of the Xymon status date (read by chrono). A TZ naming a file that is not \
         a regular file (a FIFO, a device) is ignored with a warning: reading it could block.",
    ),
    (
        "HV_MONITOR_CBSD_PATH",
        "PATH for the programs the CBSD backend runs (cbsd, ps, zfs, ...); default: the inherited \
         PATH plus the system directories.",
    ),
    (
        "PATH",
        "Searched for the CBSD backend's programs when HV_MONITOR_CBSD_PATH is unset.",
    ),
    (
        "HV_MONITOR_BIN",
        "Read by the extra-script wrapper /usr/lib/hv_monitor/hv_monitor-xymon-rrd.sh, not by hv_monitor: \
         the binary it runs (default /usr/bin/hv_monitor); set it in xymonserver.cfg when the \
         binary lives elsewhere.",
    ),
];

fn environment_section() -> String {
    let mut s = String::from(".SH ENVIRONMENT\n");
    for (name, text) in ENVIRONMENT {
        s += &format!(".TP\n\\fB{name}\\fR\n{}\n", roff_text(text));
    }
    s += &format!(".PP\n{}\n", roff_text(NOT_READ));
    s
}

/// Variables other tools honour that hv_monitor deliberately does not.
const NOT_READ: &str = "Not read: http_proxy, https_proxy, ALL_PROXY and NO_PROXY (messages go \
    straight to the Xymon server named, as over Xymon's TCP protocol), SSL_CERT_FILE and \
    SSL_CERT_DIR (the system's CA bundle is trusted, and the certificates of --ca-file).";

fn files_section() -> String {
    format!(
        ".SH FILES\n\
.TP\n\\fB{out}\\fR, \\fB{out}.snmp\\fR\n\
The LibreNMS cache written by \\fB\\-w\\fR (\\fB\\-o\\fR changes the path): the JSON document and its \
\\fB\\-c\\fR form, replaced atomically as a pair (all old or all new; only regular files are \
replaced); snmpd serves the second in cached mode.\n\
.TP\n\\fB$XYMONTMP/hv_monitor.\\fIHOST\\fB.\\fICOLUMN\\fB.state.json\\fR (else under \\fB$STATE_DIRECTORY\\fR, else \\fB/var/lib/hv\\-monitor\\fR)\n\
The counters of the previous \\fBhv_monitor xymon\\fR run, for rates (\\fB\\-\\-state\\fR changes it; \
\\fB\\-\\-print\\fR uses none unless given); \\fIHOST\\fR in Xymon's comma form. A \\fB.lock\\fR file beside it keeps \
two runs apart. Both must belong to the user running hv_monitor and be writable by no one else; \
a path that is not a regular file (\\fB\\-\\-state /dev/null\\fR, a FIFO) is refused, never replaced.\n\
.TP\n\\fB{out}.domains\\fR, \\fI(counters file)\\fB.domains\\fR\n\
libvirt: the facts taken from each domain's XML, kept so the XML is fetched only when the domain \
changed (\\fB\\-w\\fR beside its output, \\fBhv_monitor xymon\\fR beside its counters file, \
\\fB\\-\\-domain\\-cache\\fR anywhere; the direct mode keeps none). Same rules as the counters file, \
with a \\fB.lock\\fR beside it; one that fails a check is neither used nor replaced.\n\
.TP\n\\fIFILE\\fR of \\fBhv_monitor xymon\\-rrd\\fR\n\
The message file xymond_rrd writes in its temporary directory for each message of an \
\\fB\\-\\-extra\\-tests\\fR column; read, never changed.\n\
.TP\n\\fB/usr/lib/systemd/system/hv_monitor.service\\fR, \\fB/usr/lib/systemd/system/hv_monitor.timer\\fR\n\
Cached LibreNMS mode: the timer runs \\fBhv_monitor \\-w \\-q \\-t 60\\fR every 5 minutes. Installed, not \
enabled: \\fBsystemctl enable \\-\\-now hv_monitor.timer\\fR.\n\
.TP\n\\fB/usr/lib/systemd/system/hv_monitor\\-watch.service\\fR\n\
The same cached mode as one watcher, \\fBhv_monitor \\-w \\-\\-watch \\-t 60\\fR: the cache files every minute \
and within about 2 s of a VM change. Instead of the timer (it conflicts with it); installed, not enabled: \
\\fBsystemctl enable \\-\\-now hv_monitor\\-watch.service\\fR.\n\
.TP\n\\fB{out}.watch\\fR, \\fI(counters file)\\fB.watch\\fR\n\
The lock of \\fB\\-\\-watch\\fR: one watcher per set of cache or state files; a second one exits 9.\n\
.TP\n\\fB/usr/lib/hv_monitor/hv_monitor\\-xymon\\-rrd.sh\\fR\n\
The xymond_rrd \\fB\\-\\-extra\\-script\\fR: runs \\fBhv_monitor xymon\\-rrd\\fR with xymond_rrd's arguments.\n\
.TP\n\\fB/usr/share/doc/hv\\-monitor/examples/\\fR\n\
\\fBlibrenms/snmpd.conf\\fR (the extend line), \\fBlibrenms/hv_monitor.cron\\fR (cached mode without \
systemd), and for Xymon \\fBxymon/clientlaunch.d/\\fR, \\fBxymon/xymonserver.d/\\fR, \
\\fBxymon/graphs.d/\\fR and \\fBxymon/tasks.d/hv\\-monitor.cfg\\fR. Nothing is active until copied \
into place.\n",
        out = roff_text(DEFAULT_OUTPUT)
    )
}

/// Roff after clap's DESCRIPTION text.
const DESCRIPTION_MORE: &str = "\
.PP
One pass reads every VM of the hypervisor: libvirt (Linux; one bulk statistics call, read-only \
connection) or CBSD + bhyve (FreeBSD). The options \\fB\\-b\\fR, \\fB\\-\\-uri\\fR and \\fB\\-t\\fR \
apply to every command.
.PP
On libvirt, running VMs whose qemu\\-guest\\-agent is connected are also asked from inside the \
guest (IP addresses, file systems, OS, hostname) over one read\\-write connection, within the \
deadline; libvirt refuses that to a read\\-only user, so snmpd's direct mode (Debian\\-snmp) gets \
none, said once as a note, while root's cached mode and a Xymon client in group libvirt get it. \
\\fB\\-\\-no\\-agent\\fR turns it off.
";

const EXAMPLES: &str = r#".SH EXAMPLES
.SS "LibreNMS, direct mode"
snmpd runs hv_monitor at each poll. Copy the extend line into snmpd's configuration, give it the
libvirt URI (snmpd runs as Debian\-snmp, for whom libvirt would pick qemu:///session), and let
LibreNMS's community see NET\-SNMP\-EXTEND\-MIB:
.PP
.nf
.RS
cp /usr/share/doc/hv\-monitor/examples/librenms/snmpd.conf /etc/snmp/snmpd.conf.d/hv\-monitor.conf
# in it: extend hv\-monitor /usr/bin/hv_monitor \-c \-t 4 \-\-uri qemu:///system
# in /etc/snmp/snmpd.conf: view systemonly included .1.3.6.1.4.1.8072.1.3
systemctl restart snmpd
.RE
.fi
.PP
LibreNMS discovers the application by the extend name \fBhv\-monitor\fR.
.SS "LibreNMS, cached mode"
.nf
.RS
systemctl enable \-\-now hv_monitor.timer
# in /etc/snmp/snmpd.conf.d/hv\-monitor.conf:
extend hv\-monitor /bin/cat /var/cache/hv_monitor.json.snmp
.RE
.fi
.SS "Xymon client (the hypervisor)"
.nf
.RS
cp /usr/share/doc/hv\-monitor/examples/xymon/clientlaunch.d/hv\-monitor.cfg /etc/xymon/clientlaunch.d/
systemctl restart xymon\-client
.RE
.fi
.PP
The server, port and host name come from xymonlaunch (XYMSRV, XYMONDPORT, MACHINE). List the
host in the server's hosts.cfg: hv_monitor checks that the server knows it.
.SS "Xymon server"
.nf
.RS
cd /usr/share/doc/hv\-monitor/examples/xymon
cp xymonserver.d/hv\-monitor.cfg /etc/xymon/xymonserver.d/
cp graphs.d/hv\-monitor.cfg /etc/xymon/graphs.d/
# only for \-\-format rrd\-script: replace [rrdstatus] and [rrddata] of
# /etc/xymon/tasks.cfg with tasks.d/hv\-monitor.cfg
systemctl restart xymon
.RE
.fi
.SS "By hand"
.nf
.RS
hv_monitor \-\-uri qemu:///system | python3 \-m json.tool
hv_monitor xymon \-\-print \-\-host hv1.example.com
hv_monitor xymon \-\-server xymon.example.com \-\-host hv1.example.com
.RE
.fi
"#;

const SEE_ALSO: &str = r#".SH "SEE ALSO"
\fBsnmpd.conf\fR(5), \fBxymon\fR(7), \fBxymond_rrd\fR(8), \fBclientlaunch.cfg\fR(5),
\fBtasks.cfg\fR(5), \fBvirsh\fR(1)
"#;
