//! The Xymon pages an admin sees, on the Debian `xymon` package's own layout: our drop-ins in
//! /etc/xymon/*.d, Xymon started as its init script does (as the xymon user) on
//! 127.0.0.1:19890, the packaged CGIs behind Apache with Debian's xymon.conf on
//! 127.0.0.1:18080 (tests/lab/xymon-debian-up.sh, which saves /etc/xymon and /var/lib/xymon
//! and puts them back when this test process exits). hv_monitor runs as the xymon user with
//! 20 and 500 test-driver VMs in both graph forms; headless Chromium loads svcstatus for both
//! columns and the trends page, and every graph image on them must be a PNG of sensible size.
//! Screenshots and DOMs stay in target/xymon-web/.
//! Needs root and the Debian packages xymon, rrdtool, apache2, chromium.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::install::assert_runnable_by;
use support::xymon::XYMON_BIN;
use support::{binary, node_xml, repo, require, text};

const PORT: u16 = 19890;
const HTTP_PORT: u16 = 18080;
const RRD_DIR: &str = "/var/lib/xymon/rrd";
/// VMs per image on the hvmonvm page (hv_monitor draws it) and the hvmonrrd page (the GRAPHS
/// entry "hvmonrrdpage::20").
const VMS_PER_IMAGE: usize = 20;
const SMALL: &str = "hv20.example.com";
const LARGE: &str = "hv500.example.com";
const TRAP: &str = "hvtrap.example.com";
/// The hypervisor of the client test: its Xymon client runs our clientlaunch.d drop-in.
const CLIENT: &str = "hvclient.example.com";
struct Lab {
    xml_dir: PathBuf,
    /// The copy of the binary under test xymon-debian-up.sh installed where the xymon user
    /// can run it (its HV_MONITOR_BIN= line); what every run as that user runs.
    binary: PathBuf,
    /// How long each log in [`LOGS`] was when the lab came up: only later lines are ours.
    log_starts: BTreeMap<PathBuf, u64>,
}

/// Where Xymon says a task or the extra-script could not be started: xymonlaunch logs it in
/// the task's LOGFILE (the client drop-in's hv_monitor.log), else in its own; the xymond_rrd
/// workers log the extra-script's errors in theirs. All in this directory.
const LOGS: &str = "/var/log/xymon";

/// Every log file in [`LOGS`] and its length now.
fn log_lengths() -> BTreeMap<PathBuf, u64> {
    std::fs::read_dir(LOGS)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
                .collect()
        })
        .unwrap_or_default()
}

/// Starts the lab once per test process; `None` when something it needs is missing.
fn lab() -> Option<&'static Lab> {
    static LAB: OnceLock<Option<Lab>> = OnceLock::new();
    LAB.get_or_init(|| {
        let root = unsafe { libc::geteuid() } == 0;
        let installed = Path::new(XYMON_BIN).join("xymond").exists()
            && Path::new("/usr/sbin/apache2").exists()
            && Path::new("/usr/bin/chromium").exists()
            && Path::new("/usr/share/xymon/init-common.sh").exists();
        if !require(
            "root, and the Debian packages xymon apache2 chromium",
            root && installed,
        ) {
            return None;
        }
        let up = lab_script(
            "xymon-debian-up.sh",
            &binary(),
            &[
                &PORT.to_string(),
                &HTTP_PORT.to_string(),
                &std::process::id().to_string(),
            ],
            // hosts.cfg as the guide says: no tag, whatever the host's VM count.
            &[("XYMON_HOSTS", &format!("{SMALL} {LARGE} {TRAP} {CLIENT}"))],
        );
        // The test driver's XMLs: readable by the xymon user, and in the lab's directory,
        // which xymon-debian-down.sh removes.
        let xml_dir = PathBuf::from("/tmp/hvmon-debxy/vms");
        std::fs::create_dir_all(&xml_dir).unwrap();
        let binary = up
            .lines()
            .find_map(|l| l.strip_prefix("HV_MONITOR_BIN="))
            .map(PathBuf::from)
            .expect("xymon-debian-up.sh names the binary it installed");
        assert_runnable_by("xymon", &binary);
        let log_starts = log_lengths();
        Some(Lab {
            xml_dir,
            binary,
            log_starts,
        })
    })
    .as_ref()
}

/// Runs `tests/lab/SCRIPT ARGS` with the binary `bin` and `ENV`; it must succeed. Its stdout.
fn lab_script(script: &str, bin: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(repo().join("tests/lab").join(script))
        .args(args)
        .envs(env.iter().copied())
        .env("HV_MONITOR_BIN", bin)
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The guide's by-hand try on the client: `hv_monitor xymon --uri qemu:///system --message
/// both ARGS` as the xymon user through the client's xymoncmd, host CLIENT.
fn client_run(lab: &Lab, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", "xymon", "--", "env", &format!("MACHINE={CLIENT}")])
        .arg("/usr/lib/xymon/client/bin/xymoncmd")
        .arg(&lab.binary)
        .arg("xymon")
        .args(["--uri", "qemu:///system", "--message", "both"])
        .args(args)
        .output()
        .expect("run xymoncmd as xymon")
}

/// `hv_monitor xymon ARGS` as the xymon user, the way xymonlaunch runs it.
fn hv_as_xymon(lab: &Lab, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", "xymon", "--"])
        .arg(&lab.binary)
        .arg("xymon")
        .args(args)
        .args(["--server", &format!("127.0.0.1:{PORT}")])
        .output()
        .expect("run hv_monitor as xymon")
}

fn state_path(host: &str, form: &str) -> String {
    format!("/var/lib/xymon/tmp/hv_monitor.web.{host}.{form}.json")
}

/// Two runs per form (the first has no previous counters, so no rates): status for the
/// page, every graph line in data messages (`--message both`). Each run waits for the RRDs
/// it creates: xymond_rrd makes a few hundred RRDs a second (8,500 for 500 VMs in SPLITNCV).
fn send_both_forms(lab: &Lab, host: &str, vms: usize) {
    let xml = lab.xml_dir.join(format!("{host}.xml"));
    let uri = node_xml::write_mixed(vms, &xml);
    std::fs::set_permissions(
        &lab.xml_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let last = format!("vm{:04}", vms - 1);
    for (form, first_run, second_run) in [
        (
            "splitncv",
            format!("hvmon,vm_{last}_diskused.rrd"),
            format!("hvmon,vm_{last}_netout.rrd"),
        ),
        (
            "rrd-script",
            format!("hvmonrrd,vm_{last}.rrd"),
            "hvmonrrd-states.rrd".to_string(),
        ),
    ] {
        for file in [first_run, second_run] {
            let state = state_path(host, form);
            let out = hv_as_xymon(
                lab,
                &[
                    "--uri",
                    &uri,
                    "--host",
                    host,
                    "--format",
                    form,
                    "--message",
                    "both",
                    "--state",
                    &state,
                ],
            );
            assert!(out.status.success(), "{host} {form}: {}", text(&out.stderr));
            wait_for(lab, &Path::new(RRD_DIR).join(host).join(file));
        }
    }
}

/// Waits for `path` to exist, for at most 240 s, and no longer once Xymon has logged that it
/// could not start our task or hv_monitor (then it never will).
fn wait_for(lab: &Lab, path: &Path) {
    wait_until(lab, &path.display().to_string(), || path.exists());
}

/// Polls `done` until true, for at most 240 s, failing at once with the log line when Xymon
/// says it could not start a task or the binary (the runs `what` waits for never come).
fn wait_until(lab: &Lab, what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(240);
    while !done() {
        if let Some(line) = launch_failure(lab) {
            panic!("{what}: waited in vain, Xymon could not start what makes it: {line}");
        }
        assert!(Instant::now() < until, "{what}: never came in 240 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A line logged since the lab came up saying xymonlaunch could not start one of our tasks
/// (hvmon, hvmonrrd), or that a shell (the extra-script) could not run the binary.
fn launch_failure(lab: &Lab) -> Option<String> {
    let binary = lab.binary.to_string_lossy();
    log_lengths().into_keys().find_map(|log| {
        let start = lab.log_starts.get(&log).copied().unwrap_or(0);
        let bytes = std::fs::read(&log).ok()?;
        let new = text(bytes.get(start as usize..).unwrap_or_default());
        new.lines()
            .find(|l| {
                l.contains("Could not start task hvmon")
                    || (l.contains(binary.as_ref())
                        && ["Permission denied", "not found", "No such file"]
                            .iter()
                            .any(|e| l.contains(e)))
            })
            .map(|l| format!("{}: {l}", log.display()))
    })
}

/// A plain HTTP/1.0 GET on the lab's Apache: (status line, content type, body).
fn http_get(path_and_query: &str) -> (String, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", HTTP_PORT)).expect("connect to apache");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1:{HTTP_PORT}\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read HTTP answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP header end");
    let head = text(&raw[..split]);
    let status = head.lines().next().unwrap_or("").to_string();
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, ctype, raw[split + 4..].to_vec())
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || !png.starts_with(b"\x89PNG\r\n\x1a\n") || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&png[16..20]), be(&png[20..24])))
}

fn artefacts() -> PathBuf {
    let dir = repo().join("target/xymon-web");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loads a page in headless Chromium: its DOM after loading, and a screenshot kept in
/// target/xymon-web/NAME.png.
fn chromium(url: &str, name: &str) -> String {
    // A profile of its own per run: two Chromiums on one profile refuse to start.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let profile = PathBuf::from(format!(
        "/tmp/hvmon-web-chromium-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--window-size=1280,4000",
    ];
    let profile_arg = format!("--user-data-dir={}", profile.display());
    let dom = Command::new("chromium")
        .args(common)
        .arg(&profile_arg)
        // Time for the page's load handlers (see `measure`) before the DOM is dumped.
        .args(["--virtual-time-budget=20000", "--dump-dom", url])
        .output()
        .expect("run chromium --dump-dom");
    assert!(
        dom.status.success(),
        "chromium --dump-dom {url}: {}",
        text(&dom.stderr)
    );
    let shot = artefacts().join(format!("{name}.png"));
    let out = Command::new("chromium")
        .args(common)
        .arg(&profile_arg)
        .args([&format!("--screenshot={}", shot.display()), url])
        .output()
        .expect("run chromium --screenshot");
    assert!(
        out.status.success(),
        "chromium --screenshot {url}: {}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&profile);
    let dom = text(&dom.stdout);
    std::fs::write(artefacts().join(format!("{name}.html")), &dom).unwrap();
    assert!(
        png_size(&std::fs::read(&shot).expect("screenshot written")).is_some(),
        "{name}: screenshot is no PNG"
    );
    dom
}

/// One graph image on a page: its showgraph service and first/count, and the PNG's size.
#[derive(Debug)]
struct Graph {
    service: String,
    first: Option<usize>,
    count: Option<usize>,
    width: u32,
    height: u32,
    bytes: usize,
}

/// What an admin's browser gets of a page: its HTML, its graph images, and how tall it is
/// in Chromium at 1280 px wide, in all and above the first graph.
#[derive(Debug)]
struct PageFigures {
    html_bytes: usize,
    images: usize,
    png_bytes: usize,
    height_px: u32,
    above_first_graph_px: u32,
}

/// Measures `url`'s page as Chromium lays it out: the page as Apache serves it, with a
/// `<base>` for its links and a script that writes the page's height and the first graph's
/// top into the DOM Chromium dumps.
fn measure(url: &str, name: &str, graphs: &[Graph]) -> PageFigures {
    let (status, _, body) = http_get(url);
    assert!(status.contains(" 200"), "{url}: {status}");
    let html = text(&body);
    let probe = "<script>window.addEventListener('load', () => {\
        const g = document.querySelector('img[src*=\"showgraph\"]');\
        const top = g ? g.getBoundingClientRect().top + window.scrollY : -1;\
        document.body.setAttribute('data-first-graph', Math.round(top));\
        document.body.setAttribute('data-height', document.documentElement.scrollHeight);\
        });</script>";
    let base = format!("<base href=\"http://127.0.0.1:{HTTP_PORT}{url}\">");
    let lower = html.to_ascii_lowercase();
    let head_at = lower.find("<head>").map_or(0, |i| i + "<head>".len());
    let body_end = lower.rfind("</body>").unwrap_or(html.len());
    let probed = format!(
        "{}{base}{}{probe}{}",
        &html[..head_at],
        &html[head_at..body_end],
        &html[body_end..]
    );
    let file = artefacts().join(format!("{name}-measured.html"));
    std::fs::write(&file, probed).unwrap();
    let dom = chromium(
        &format!("file://{}", file.display()),
        &format!("{name}-measured"),
    );
    let attribute = |key: &str| -> u32 {
        let at = dom
            .find(&format!("{key}=\""))
            .unwrap_or_else(|| panic!("{name}: Chromium set no {key}"));
        let rest = &dom[at + key.len() + 2..];
        let value: i64 = rest[..rest.find('"').unwrap()].parse().unwrap();
        u32::try_from(value).unwrap_or(0)
    };
    PageFigures {
        html_bytes: body.len(),
        images: graphs.len(),
        png_bytes: graphs.iter().map(|g| g.bytes).sum(),
        height_px: attribute("data-height"),
        above_first_graph_px: attribute("data-first-graph"),
    }
}

fn query_param<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

/// Every showgraph image in the DOM, each fetched (three at a time): it must answer a PNG
/// (a broken graph answers HTML, e.g. "Unknown graph requested"). A relative `src` (the
/// images hv_monitor's statuses draw) is the CGI directory's, where svcstatus.sh is.
fn graphs_on(dom: &str, page: &str) -> Vec<Graph> {
    let urls: Vec<String> = dom
        .split("<img")
        .skip(1)
        .filter_map(|tag| tag.split("src=\"").nth(1)?.split('"').next())
        .filter(|src| src.contains("showgraph.sh"))
        .map(|src| {
            let src = src.replace("&amp;", "&");
            if src.starts_with('/') {
                src
            } else {
                format!("/xymon-cgi/{src}")
            }
        })
        .collect();
    let fetch = |url: &String| {
        let (status, ctype, body) = http_get(url);
        assert!(
            status.contains(" 200") && ctype == "image/png",
            "{page}: {url} answered {status} {ctype}: {}",
            text(&body[..body.len().min(300)])
        );
        let (width, height) = png_size(&body).unwrap_or_else(|| {
            panic!(
                "{page}: {url} is not a PNG: {}",
                text(&body[..body.len().min(300)])
            )
        });
        Graph {
            service: query_param(url, "service").unwrap_or("").to_string(),
            first: query_param(url, "first").and_then(|v| v.parse().ok()),
            count: query_param(url, "count").and_then(|v| v.parse().ok()),
            width,
            height,
            bytes: body.len(),
        }
    };
    let mut graphs = Vec::new();
    for batch in urls.chunks(3) {
        std::thread::scope(|s| {
            let running: Vec<_> = batch.iter().map(|u| s.spawn(|| fetch(u))).collect();
            graphs.extend(
                running
                    .into_iter()
                    .map(|t| t.join().expect("fetch a graph")),
            );
        });
    }
    graphs
}

fn page(host: &str, column: &str) -> (String, Vec<Graph>, PageFigures) {
    let path = format!("/xymon-cgi/svcstatus.sh?HOST={host}&SERVICE={column}");
    let url = format!("http://127.0.0.1:{HTTP_PORT}{path}");
    let dom = chromium(&url, &format!("{host}-{column}"));
    assert!(
        !dom.contains("Unknown graph") && !dom.contains("Invalid request"),
        "{host} {column}: Xymon refused the page"
    );
    let graphs = graphs_on(&dom, &format!("{host} {column}"));
    // No page offers a graph without data: showgraph's blank 1x1 image for a graph without
    // files is no graph.
    for g in &graphs {
        assert!(drawn(g), "{host} {column}: {g:?} is not a drawn graph");
    }
    let figures = measure(&path, &format!("{host}-{column}"), &graphs);
    eprintln!("{host} {column}: {figures:?}");
    (dom, graphs, figures)
}

fn by_service(graphs: &[Graph]) -> BTreeMap<&str, Vec<&Graph>> {
    let mut m: BTreeMap<&str, Vec<&Graph>> = BTreeMap::new();
    for g in graphs {
        m.entry(g.service.as_str()).or_default().push(g);
    }
    m
}

/// A drawn graph: rrdtool's canvas is at least the 576x120 Xymon asks for.
fn drawn(g: &Graph) -> bool {
    g.width >= 576 && g.height > 120
}

/// The images of one split graph ask for VMs 1..=vms, at most VMS_PER_IMAGE each.
fn assert_images_follow(service: &str, images: &[&Graph], vms: usize) {
    let mut next = 1;
    for g in images {
        let (first, count) = (g.first.unwrap(), g.count.unwrap());
        assert_eq!(first, next, "{service}: images follow each other");
        assert!(
            count <= VMS_PER_IMAGE,
            "{service}: {count} lines in one image"
        );
        next += count;
    }
    assert!(
        next > vms,
        "{service}: the images show only {} of {vms} VMs",
        next - 1
    );
}

/// The images of one split graph cover VMs 1..=vms, at most VMS_PER_IMAGE each, each drawn.
fn assert_split(service: &str, images: &[&Graph], vms: usize) {
    assert_images_follow(service, images, vms);
    for g in images {
        // Twenty legend lines and the graph itself fit in a screen.
        assert!(drawn(g) && g.height < 600, "{service}: {g:?}");
    }
}

/// The per-VM graphs whose files every test-driver VM has (disks and network; no CPU,
/// memory or vCPU times: no QEMU process).
const EVERY_VM_HAS: [&str; 8] = [
    "hvmon-diskread",
    "hvmon-diskwrite",
    "hvmon-netin",
    "hvmon-netout",
    "hvmon-readlat",
    "hvmon-readops",
    "hvmon-writelat",
    "hvmon-writeops",
];

fn check_pages(host: &str, vms: usize) {
    // SPLITNCV's page: Xymon draws the VMs by state, hv_monitor's status the host's totals
    // that have data, one image each whatever the VM count, and a link to the per-VM graphs'
    // column. Test-driver VMs have no QEMU process: no CPU total, so no CPU image.
    let (dom, graphs, figures) = page(host, "hvmon");
    let hvmon = by_service(&graphs);
    assert_eq!(
        hvmon.keys().copied().collect::<Vec<_>>(),
        ["hvmon", "hvmon-totdisk", "hvmon-totmem", "hvmon-totnet"],
        "{host} hvmon graphs"
    );
    for (service, images) in &hvmon {
        assert_eq!(images.len(), 1, "{host} {service}: {images:?}");
        let g = images[0];
        assert_eq!((g.first, g.count), (None, None), "{host} {service}: split");
        assert!(g.height < 600, "{host} {service}: {g:?}");
    }
    assert!(
        dom.contains("No data from any VM, so no graph, for: host CPU ("),
        "{host} hvmon: the CPU graph's absence not named"
    );
    // The budget for the page at 500 VMs, met at any count: the images do not grow
    // with the VMs.
    assert!(
        figures.html_bytes < 60_000 && figures.images < 40,
        "{host} hvmon: {figures:?}"
    );
    assert!(
        dom.contains("Graphs of each VM: <a href=\"svcstatus.sh?HOST=")
            && dom.contains("&amp;SERVICE=hvmonvm\">hvmonvm</a>"),
        "{host}: no link to the per-VM graphs"
    );
    // The page keeps the VM table and no graph lines (they went in data messages).
    assert!(dom.contains("vm0000"), "{host}: VM table missing");
    assert_first_screen(host, "hvmon", &dom, &figures, vms);
    assert!(
        !dom.contains("vm_vm0000_rbytes"),
        "{host}: graph lines on the page"
    );

    // SPLITNCV's per-VM graphs, drawn by hv_monitor's status from the same hvmon,vm_* RRDs:
    // only those with data, each split into images of at most 20 VMs.
    let (dom, graphs, vm_figures) = page(host, "hvmonvm");
    let per_vm = by_service(&graphs);
    for service in EVERY_VM_HAS {
        let images = per_vm
            .get(service)
            .unwrap_or_else(|| panic!("{host} hvmonvm: no {service} graph"));
        assert_split(service, images, vms);
    }
    for absent in ["hvmon-cpu", "hvmon-mem", "hvmon-vcpu", "hvmon-steal"] {
        assert!(!per_vm.contains_key(absent), "{host} hvmonvm: {absent}");
    }
    // A graph only some VMs have files for (the guest's memory) is split by its own files.
    for (service, images) in &per_vm {
        let files = images.iter().map(|g| g.count.unwrap()).sum();
        assert_split(service, images, files);
    }
    assert!(
        !dom.contains("linecount="),
        "{host} hvmonvm: svcstatus would split nothing there"
    );
    assert!(
        dom.contains(&format!("Graphs of each of the {vms} VMs"))
            && dom.contains("&amp;SERVICE=hvmon\">hvmon</a>"),
        "{host} hvmonvm: text or link back"
    );
    assert!(
        dom.contains("No data from any VM, so no graph, for: CPU, memory ("),
        "{host} hvmonvm: graphs without data not named"
    );
    assert!(
        vm_figures.html_bytes > 0 && vm_figures.png_bytes > 0,
        "{host} hvmonvm: {vm_figures:?}"
    );
    assert_zoom_menu(host, &dom);

    // rrd-script: the VMs by state (Xymon's), the host's totals from the same states file
    // that have a known figure (hv_monitor's; no CPU time on the test driver), one image
    // each, and a link to the per-VM graphs.
    let (dom, graphs, rrd_figures) = page(host, "hvmonrrd");
    let rrd = by_service(&graphs);
    assert_eq!(
        rrd.keys().copied().collect::<Vec<_>>(),
        [
            "hvmonrrd-states",
            "hvmonrrd-totdisk",
            "hvmonrrd-totmem",
            "hvmonrrd-totnet"
        ],
        "{host} hvmonrrd graphs"
    );
    for (service, images) in &rrd {
        assert_eq!(images.len(), 1, "{host} {service}: {images:?}");
        assert_eq!((images[0].first, images[0].count), (None, None));
    }
    assert!(
        dom.contains("No data from any VM, so no graph, for: host CPU ("),
        "{host} hvmonrrd: the CPU graph's absence not named"
    );
    assert!(
        // svcstatus writes its own "linecount=0" for a status without one.
        !dom.contains(&format!("linecount={vms}"))
            && dom.contains("&amp;SERVICE=hvmonrrdvm\">hvmonrrdvm</a>"),
        "{host}: hvmonrrd's link to its per-VM graphs"
    );
    assert_first_screen(host, "hvmonrrd", &dom, &rrd_figures, vms);
    assert!(
        dom.contains("rates: not computed in the rrd-script form") && !dom.contains("CPU %"),
        "{host} hvmonrrd: no CPU column of dashes"
    );
    assert!(
        !dom.contains("vm_vm0000_rbytes"),
        "{host}: graph lines on the page"
    );
    // Its per-VM graphs, drawn by hv_monitor's status: one file a VM holds every figure
    // (`U` where unknown), so every graph offered covers every VM; test-driver VMs have no
    // CPU, memory or vCPU times, so those graphs are not offered.
    let (dom, graphs, rrd_vm_figures) = page(host, "hvmonrrdvm");
    let rrd_vm = by_service(&graphs);
    for service in [
        "hvmonrrd-disk",
        "hvmonrrd-disklat",
        "hvmonrrd-diskops",
        "hvmonrrd-net",
    ] {
        let images = rrd_vm
            .get(service)
            .unwrap_or_else(|| panic!("{host} hvmonrrdvm: no {service}"));
        assert_split(service, images, vms);
    }
    for absent in ["hvmonrrd", "hvmonrrd-mem", "hvmonrrd-vcpu"] {
        assert!(!rrd_vm.contains_key(absent), "{host} hvmonrrdvm: {absent}");
    }
    for (service, images) in &rrd_vm {
        assert_split(service, images, vms);
    }
    assert!(
        dom.contains("No data from any VM, so no graph, for: CPU, memory (")
            && dom.contains("&amp;SERVICE=hvmonrrd\">hvmonrrd</a>"),
        "{host} hvmonrrdvm: text or link back"
    );
    assert!(
        rrd_vm_figures.png_bytes > 0,
        "{host} hvmonrrdvm: {rrd_vm_figures:?}"
    );

    // Trends, with the shipped drop-ins alone: both states graphs, one image each, and no
    // per-VM image (Xymon 4.3.30 cuts the page's list of images after about 20 kB without a
    // sign: at 500 VMs the per-VM ones stopped at vm0359), so nothing can be cut.
    let (_, graphs, _) = page(host, "trends");
    let trends = by_service(&graphs);
    assert_eq!(
        trends.keys().copied().collect::<Vec<_>>(),
        ["hvmon", "hvmonrrd-states"],
        "{host} trends"
    );
    for (states, images) in &trends {
        assert_eq!(images.len(), 1, "{host} trends {states}");
        assert!(drawn(images[0]), "{host} trends {states}: {:?}", images[0]);
    }
    eprintln!(
        "{host}: hvmon page {} images, hvmonvm page {} images, hvmonrrd page {} images, hvmonrrdvm page {} images, trends {} images",
        graphs_count(&hvmon),
        graphs_count(&per_vm),
        graphs_count(&rrd),
        graphs_count(&rrd_vm),
        graphs_count(&trends)
    );
}

/// An image hv_monitor draws links to showgraph's zoom menu, as Xymon's own do: the menu
/// page answers, with its images of the same range of files.
fn assert_zoom_menu(host: &str, dom: &str) {
    let href = dom
        .split("<a href=\"")
        .skip(1)
        .filter_map(|a| a.split('"').next())
        .filter(|h| h.starts_with("showgraph.sh?") && h.contains("action=menu"))
        .last()
        .unwrap_or_else(|| panic!("{host}: no link to a zoom menu"))
        .replace("&amp;", "&");
    let first = query_param(&href, "first").expect("a split image's link has its range");
    let (status, ctype, body) = http_get(&format!("/xymon-cgi/{href}"));
    let menu = text(&body);
    assert!(
        status.contains(" 200") && ctype.starts_with("text/html"),
        "{host}: {href} answered {status} {ctype}"
    );
    assert!(
        menu.contains("action=view") && menu.contains(&format!("first={first}&")),
        "{host}: {href}: {}",
        &menu[..menu.len().min(500)]
    );
}

/// The first screen of a status page: the host's totals before the table, the table folded
/// away past 30 VMs (Xymon passes `<details>` through), and at any VM count everything
/// above the first graph in about 1,000 px.
fn assert_first_screen(host: &str, column: &str, dom: &str, figures: &PageFigures, vms: usize) {
    let totals = dom
        .find("Host: ")
        .unwrap_or_else(|| panic!("{host} {column}: no host totals"));
    let table = dom.find("MEMORY MiB").expect("the VM table's header");
    assert!(totals < table, "{host} {column}: totals after the table");
    assert!(
        dom.contains(&format!("{vms} VMs: ")),
        "{host} {column}: the VM counts"
    );
    let folded = dom.contains(&format!("<details><summary>All {vms} VMs</summary>"));
    assert_eq!(folded, vms > 30, "{host} {column}: table folded");
    // Test-driver VMs have no CPU time: the page says so rather than a column of "-".
    if column == "hvmon" {
        assert!(
            dom.contains("CPU unknown (libvirt gave no CPU time") && !dom.contains("CPU %"),
            "{host} {column}: CPU"
        );
    }
    assert!(
        figures.html_bytes > 0 && figures.images > 0 && figures.png_bytes > 0,
        "{host} {column}: {figures:?}"
    );
    assert!(
        figures.above_first_graph_px <= 1100 && figures.above_first_graph_px < figures.height_px,
        "{host} {column}: {} px above the first graph",
        figures.above_first_graph_px
    );
}

fn graphs_count(m: &BTreeMap<&str, Vec<&Graph>>) -> usize {
    m.values().map(Vec::len).sum()
}

#[test]
fn both_forms_graph_on_the_status_and_trends_pages_at_20_and_500_vms() {
    let Some(lab) = lab() else { return };
    let started = Instant::now();
    send_both_forms(lab, SMALL, 20);
    check_pages(SMALL, 20);
    eprintln!("20 VMs sent and checked in {:?}", started.elapsed());
    let started = Instant::now();
    send_both_forms(lab, LARGE, 500);
    eprintln!(
        "500 VMs sent and their RRDs created in {:?}",
        started.elapsed()
    );
    check_pages(LARGE, 500);
    eprintln!("500 VMs sent and checked in {:?}", started.elapsed());
}

#[test]
fn a_state_lock_left_by_root_turns_the_column_yellow_with_the_fix() {
    let Some(lab) = lab() else { return };
    let xml = lab.xml_dir.join("trap.xml");
    let uri = node_xml::write_mixed(3, &xml);
    let state = "/var/lib/xymon/tmp/hv_monitor.web.trap.json";
    // One run by hand as root leaves the lock (and state) owned by root...
    let root = Command::new(&lab.binary)
        .args(["xymon", "--uri", &uri, "--host", TRAP, "--state", state])
        .args(["--server", &format!("127.0.0.1:{PORT}")])
        .output()
        .unwrap();
    assert!(root.status.success(), "{}", text(&root.stderr));
    // ...and every later run as the xymon user cannot keep rates: exit 6, and the page says
    // so in yellow, with what to do.
    let out = hv_as_xymon(lab, &["--uri", &uri, "--host", TRAP, "--state", state]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let (dom, _, _) = page(TRAP, "hvmon");
    let log = xymondlog(TRAP, "hvmon");
    assert!(log.contains("|hvmon|yellow|"), "{log}");
    for needed in [
        "keeps no rates",
        "Permission denied",
        &format!("{state}.lock"),
        "chown xymon:",
    ] {
        assert!(dom.contains(needed), "the page does not say {needed:?}");
    }
}

/// `xymon xymondlog HOST.COLUMN` on the lab's xymond: the column's status, empty if none.
fn xymondlog(host: &str, column: &str) -> String {
    let out = Command::new(Path::new(XYMON_BIN).join("xymon"))
        .args([
            &format!("127.0.0.1:{PORT}"),
            &format!("xymondlog {host}.{column}"),
        ])
        .output()
        .expect("run xymon");
    text(&out.stdout)
}

/// The guide's client steps on a hypervisor: our clientlaunch.d drop-in (both columns), the
/// client started as its init script starts it, as the xymon user, with no option naming the
/// server, port or host (they come from the client's environment); then the guide's by-hand
/// try with xymoncmd. Needs the lab's QEMU guests at qemu:///system (tests/lab/libvirt-up.sh).
#[test]
fn the_client_drop_in_sends_both_columns_as_the_xymon_user() {
    let Some(lab) = lab() else { return };
    if !require(
        "libvirtd with the lab's QEMU guests (tests/lab/libvirt-up.sh, HVMON_QEMU_URI)",
        std::env::var("HVMON_QEMU_URI").as_deref() == Ok("qemu:///system"),
    ) {
        return;
    }
    lab_script(
        "xymon-debian-client.sh",
        &lab.binary,
        &[CLIENT, &PORT.to_string()],
        &[],
    );
    // xymonlaunch runs each task once as it starts, then every INTERVAL.
    let rrd = Path::new(RRD_DIR).join(CLIENT);
    for (column, file) in [
        ("hvmon", "hvmon,all_vms.rrd"),
        ("hvmonrrd", "hvmonrrd-states.rrd"),
    ] {
        wait_for(lab, &rrd.join(file));
        let log = xymondlog(CLIENT, column);
        assert!(
            log.contains(&format!("|{column}|")) && log.contains("hvmon-running"),
            "{column}: {log}"
        );
    }
    let state = Path::new("/var/lib/xymon/tmp/hv_monitor.hvclient,example,com.hvmon.state.json");
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(state).unwrap());
    let xymon_uid = Command::new("id").args(["-u", "xymon"]).output().unwrap();
    assert_eq!(
        owner.to_string(),
        text(&xymon_uid.stdout).trim(),
        "state owner"
    );

    // By hand, as the guide says: as the xymon user, in the client's environment.
    let by_hand = client_run(lab, &["--print"]);
    assert!(by_hand.status.success(), "{}", text(&by_hand.stderr));
    assert!(
        text(&by_hand.stdout).starts_with("status+11 hvclient,example,com.hvmon "),
        "{}",
        text(&by_hand.stdout)
    );
    // The same without --print sends, against the counters of the client's first run: rates
    // for the real guests, so the page's CPU and memory graphs have one RRD per VM.
    let sent = client_run(lab, &[]);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    wait_until(lab, "a CPU RRD for hvmon-running", || {
        std::fs::read_dir(&rrd).unwrap().any(|f| {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            name.starts_with("hvmon,vm_hvmon_running") && name.ends_with("_cpu.rrd")
        })
    });
    // The hvmon page: the states and every host total, CPU and memory included (real guests
    // have processes), each drawn (`page` checks every image).
    let (dom, graphs, _) = page(CLIENT, "hvmon");
    let hvmon = by_service(&graphs);
    assert_eq!(
        hvmon.keys().copied().collect::<Vec<_>>(),
        [
            "hvmon",
            "hvmon-totcpu",
            "hvmon-totdisk",
            "hvmon-totmem",
            "hvmon-totnet"
        ],
        "{CLIENT} hvmon graphs"
    );
    assert!(
        !dom.contains("No data from any VM"),
        "{CLIENT}: the real guests' totals all have data"
    );
    for (service, images) in &hvmon {
        assert_eq!(images.len(), 1, "{CLIENT} {service}: {images:?}");
    }
    // The hvmonvm page: CPU and memory of the real guests, every graph split, each drawn.
    let (_, graphs, _) = page(CLIENT, "hvmonvm");
    let per_vm = by_service(&graphs);
    for service in ["hvmon-cpu", "hvmon-mem"].iter().chain(&EVERY_VM_HAS) {
        assert!(
            per_vm.contains_key(service),
            "{CLIENT} hvmonvm: no {service}: {:?}",
            per_vm.keys()
        );
    }
    for (service, images) in &per_vm {
        let vms = images.iter().map(|g| g.count.unwrap()).sum();
        assert_split(service, images, vms);
    }
    // The rrd-script form's per-VM page (the drop-in's [hvmonrrd] task): CPU and memory of
    // the real guests too.
    let (_, graphs, _) = page(CLIENT, "hvmonrrdvm");
    let rrd_vm = by_service(&graphs);
    for service in ["hvmonrrd", "hvmonrrd-mem", "hvmonrrd-disk", "hvmonrrd-net"] {
        assert!(
            rrd_vm.contains_key(service),
            "{CLIENT} hvmonrrdvm: no {service}: {:?}",
            rrd_vm.keys()
        );
    }
    for (service, images) in &rrd_vm {
        let vms = images.iter().map(|g| g.count.unwrap()).sum();
        assert_split(service, images, vms);
    }
    // Its main page: every host total of the real guests, CPU included, one image each.
    let (_, graphs, _) = page(CLIENT, "hvmonrrd");
    let rrd = by_service(&graphs);
    assert_eq!(
        rrd.keys().copied().collect::<Vec<_>>(),
        [
            "hvmonrrd-states",
            "hvmonrrd-totcpu",
            "hvmonrrd-totdisk",
            "hvmonrrd-totmem",
            "hvmonrrd-totnet"
        ],
        "{CLIENT}: the real guests' rrd-script totals all have data"
    );
}

/// Config the pages depend on: every graph a page can ask for is defined, and states keep
/// one colour each in every graph (crashed red, paused yellow, off grey, never @COLOR@).
#[test]
fn every_requested_graph_is_defined_and_states_keep_their_colours() {
    let graphs = std::fs::read_to_string(repo().join("xymon/graphs.d/hv-monitor.cfg")).unwrap();
    let server =
        std::fs::read_to_string(repo().join("xymon/xymonserver.d/hv-monitor.cfg")).unwrap();
    let mut sections: BTreeMap<String, String> = BTreeMap::new();
    let mut current = None;
    for line in graphs.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.to_string());
            sections.insert(name.to_string(), String::new());
        } else if let Some(name) = &current {
            let body = sections.get_mut(name).unwrap();
            body.push_str(line);
            body.push('\n');
        }
    }
    // The TEST2RRD names ("ncv", "hvmonrrdpage"): their GRAPHS entries ("ncv::20") set a
    // column's image size, they are not graphs.
    let rrd_names: Vec<&str> = server
        .lines()
        .filter_map(|l| l.strip_prefix("TEST2RRD+="))
        .flat_map(|l| l.trim_matches('"').split(','))
        .filter_map(|pair| pair.split_once('=').map(|(_, name)| name))
        .collect();
    assert!(rrd_names.contains(&"hvmonrrdpage"), "{rrd_names:?}");
    let mut requested = Vec::new();
    for line in server.lines().filter(|l| l.starts_with("GRAPHS")) {
        let list = line.split_once('=').unwrap().1.trim_matches(['"', ',']);
        // "$GRAPHS" is the stock list our entries go after.
        for entry in list.trim_start_matches(',').split(',') {
            let name = entry.split(':').next().unwrap();
            if !rrd_names.contains(&name) && name != "$GRAPHS" {
                requested.push(name.to_string());
            }
        }
    }
    for name in &requested {
        assert!(
            sections.contains_key(name),
            "GRAPHS names [{name}], graphs.d lacks it"
        );
    }
    let colours = [
        ("running", "00CC00"),
        ("paused", "FFCC00"),
        ("off", "888888"),
        ("crashed", "FF0000"),
    ];
    for (name, body) in &sections {
        for (state, colour) in colours {
            if body.contains(&format!("DEF:{state}=")) {
                assert!(
                    (1..=3).any(|w| body.contains(&format!("LINE{w}:{state}#{colour}:"))),
                    "[{name}]: {state} is not #{colour}"
                );
            }
        }
        // Paused and off are often equal (0 and 0): paused is drawn thick, off thin and
        // dashed on top, so neither hides the other.
        if body.contains("DEF:paused=") {
            let paused = body.find("LINE3:paused#").expect("paused drawn thick");
            let off = body.find("LINE1:off#").expect("off drawn thin");
            assert!(
                paused < off && body[off..].lines().next().unwrap().ends_with(":dashes"),
                "[{name}]: off dashed over paused"
            );
        }
        // showgraph titles an image "HOST TITLE DATE - DATE" in rrdtool's title font,
        // about 8 px a character: at 576 px a title of 32 characters leaves room for a host
        // name of 21 (the 42-character title was cut at both ends for
        // hv500.example.com).
        for title in body.lines().filter_map(|l| l.trim().strip_prefix("TITLE ")) {
            assert!(
                title.chars().count() <= 32,
                "[{name}]: title {title:?} too long"
            );
        }
        if body.contains("DEF:running=") {
            assert!(
                !body.contains("@COLOR@"),
                "[{name}]: states drawn in rotating colours"
            );
        }
        // Every dataset a graph reads is named in its legend: a labelled LINE, or a GPRINT
        // of it or of a CDEF computed from it.
        let mut legend: Vec<String> = Vec::new();
        for line in body.lines().map(str::trim) {
            let parts: Vec<&str> = line.split(':').collect();
            match parts[0] {
                "GPRINT" => legend.push(parts[1].to_string()),
                p if p.starts_with("LINE") && parts.len() > 2 && !parts[2].is_empty() => {
                    legend.push(parts[1].split('#').next().unwrap().to_string())
                }
                _ => {}
            }
        }
        for line in body
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("CDEF:"))
        {
            let (var, expr) = line["CDEF:".len()..].split_once('=').unwrap();
            if legend.iter().any(|l| l == var) {
                legend.extend(expr.split(',').map(str::to_string));
            }
        }
        for line in body
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("DEF:"))
        {
            let var = line["DEF:".len()..].split('=').next().unwrap();
            assert!(
                legend.iter().any(|l| l == var),
                "[{name}]: no legend for {var}"
            );
        }
    }
}

/// Each drop-in line is one its reader takes whole: a comment, a `[section]` or a
/// tab-indented setting (tasks, clientlaunch, graphs), a `NAME=` or `NAME+=` (xymonserver).
/// A stray line of prose would start a section of its own in xymonlaunch.
#[test]
fn every_drop_in_line_is_one_xymon_reads() {
    for dir in ["tasks.d", "clientlaunch.d", "graphs.d", "xymonserver.d"] {
        let path = repo().join("xymon").join(dir).join("hv-monitor.cfg");
        let cfg = std::fs::read_to_string(&path).unwrap();
        for (n, line) in cfg.lines().enumerate() {
            let ok = line.is_empty()
                || line.starts_with('#')
                || if dir == "xymonserver.d" {
                    line.split_once('=').is_some_and(|(name, _)| {
                        name.trim_end_matches('+')
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
                } else {
                    (line.starts_with('[') && line.ends_with(']') && !line.contains(' '))
                        || line.starts_with('\t')
                };
            assert!(ok, "{}:{}: {line:?}", path.display(), n + 1);
        }
    }
}
