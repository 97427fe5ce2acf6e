//! End to end: hv_monitor's messages through a real xymond + xymond_rrd (Debian's `xymon`
//! package) on 127.0.0.1:19841, checked with rrdtool, `xymon query` and showgraph.cgi;
//! HTTP through the real xymoncgimsg.cgi behind python3's CGI server on 127.0.0.1:19842.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hv_monitor::collect::{self, Backend, CollectOptions};
use hv_monitor::emit::xymon::{FsLimits, PoolLimits, assess};
use hv_monitor::xymon_wire::vm_key;
use support::node_xml::{self, TestDomain};
use support::xymon::{self, Server, rrd_info};
use support::{require, run, scratch, text};

const PORT: u16 = 19841;
const HTTP_PORT: u16 = 19842;

fn server() -> Option<&'static Server> {
    xymon::required(Server::shared(PORT))
}

/// Runs `hv_monitor xymon ARGS --server 127.0.0.1:PORT`, asserting success.
fn send(server: &Server, args: &[&str]) -> String {
    let mut all = vec!["xymon", "--server"];
    let addr = server.addr();
    all.push(&addr);
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(
        out.status.success(),
        "hv_monitor {all:?} failed ({:?}): {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stderr)
}

/// xymond_rrd drops a second update of one RRD within the same second.
fn next_second() {
    support::clock::next_second();
}

#[test]
fn splitncv_from_the_test_driver_gives_gauge_rrds_with_the_sent_values() {
    let Some(server) = server() else { return };
    let host = "hv-split.example.com";
    let dir = scratch("split");
    let state = dir.join("state.json");
    let state = state.to_str().unwrap();
    // Graph lines in the status, not the default data messages: both roads to the RRDs are
    // taken (the other tests send the default).
    let args = [
        "--uri",
        "test:///default",
        "--host",
        host,
        "--state",
        state,
        "--message",
        "status",
    ];
    send(server, &args);
    let vcpus = server.rrd(host, "hvmon,vm_test_vcpus.rrd");
    server.wait_for(&vcpus);
    next_second();
    // The second run has the first one's counters: now the rates exist too.
    send(server, &args);
    let rbytes = server.rrd(host, "hvmon,vm_test_rbytes.rrd");
    server.wait_for(&rbytes);

    let info = rrd_info(&vcpus);
    assert_eq!(
        info["ds[lambda].type"], "GAUGE",
        "SPLITNCV_hvmon=*:GAUGE is in effect"
    );
    assert_eq!(
        info["ds[lambda].last_ds"], "2",
        "the test domain has 2 vCPUs"
    );
    let mem = rrd_info(&server.rrd(host, "hvmon,vm_test_mem.rrd"));
    assert_eq!(mem["ds[lambda].last_ds"], (8u64 << 30).to_string());
    let rate: f64 = rrd_info(&rbytes)["ds[lambda].last_ds"].parse().unwrap();
    // The test driver's counters grow by about 50 kB/s of wall time.
    assert!(rate > 1000.0 && rate < 1e7, "read rate {rate}");
    assert_eq!(
        rrd_info(&server.rrd(host, "hvmon,all_running.rrd"))["ds[lambda].last_ds"],
        "1"
    );
    // The test driver's one pool (default-pool) has its three files too.
    let files = server.rrd_files(host);
    for file in &files {
        assert!(
            file.starts_with("hvmon,vm_test_")
                || file.starts_with("hvmon,all_")
                || file.starts_with("hvmon,pool_default_pool_"),
            "unexpected RRD {file}"
        );
    }
    for metric in ["pct", "size", "free"] {
        assert!(
            files
                .iter()
                .any(|f| f.starts_with("hvmon,pool_") && f.ends_with(&format!("_{metric}.rrd"))),
            "no pool {metric} RRD in {files:?}"
        );
    }
    assert_eq!(server.colour(host, "hvmon"), "green");

    // The states graph is named after the column (the trends page's rule).
    assert_drawn(server, host, "hvmon");
    assert_drawn(server, host, "hvmon-diskread");
    // The hvmon page's host totals, from the hvmon,all_* RRDs.
    assert_drawn(server, host, "hvmon-totmem");
    assert_drawn(server, host, "hvmon-totdisk");
    // The per-VM graphs' column: clear, its text and the images it draws itself (no
    // linecount: svcstatus draws nothing there).
    assert_eq!(server.colour(host, "hvmonvm"), "clear");
    let page = server.xymon(&format!("xymondlog {host}.hvmonvm"));
    assert!(
        page.contains("Graphs of each of the 1 VMs")
            && page.contains("<img src=\"showgraph.sh?host=hv-split.example.com&amp;service=hvmon-diskread&amp;first=1&amp;count=1&amp;")
            && !page.contains("linecount"),
        "{page}"
    );
}

#[test]
fn ncv_totals_land_in_one_rrd_with_fixed_datasets() {
    let Some(server) = server() else { return };
    let host = "hv-ncv.example.com";
    let dir = scratch("ncv");
    let state = dir.join("state.json");
    let args = [
        "--uri",
        "test:///default",
        "--host",
        host,
        "--format",
        "ncv",
        "--state",
        state.to_str().unwrap(),
    ];
    // The first run has no rates: no NCV line at all, so the RRD is not created with a
    // partial dataset list it would keep for good.
    send(server, &args);
    let rrd = server.rrd(host, "hvmontot.rrd");
    server.status_worker_caught_up(host);
    assert!(
        !rrd.exists(),
        "a first run without rates must not create the NCV RRD"
    );
    send(server, &args);
    server.wait_for(&rrd);
    let info = rrd_info(&rrd);
    for ds in [
        "vms", "running", "paused", "off", "crashed", "cpu", "rbytes", "rlat", "netdrop",
    ] {
        assert_eq!(info[&format!("ds[{ds}].type")], "GAUGE", "{ds}");
    }
    assert_eq!(info["ds[vms].last_ds"], "1");
    assert_eq!(info["ds[running].last_ds"], "1");
    assert_eq!(server.colour(host, "hvmontot"), "green");
    assert_drawn(server, host, "hvmontot");
}

#[test]
fn the_extra_script_writes_derive_counters_and_gauges() {
    let Some(server) = server() else { return };
    let host = "hv-rrd.example.com";
    let args = [
        "--uri",
        "test:///default",
        "--host",
        host,
        "--format",
        "rrd-script",
    ];
    send(server, &args);
    let vm = server.rrd(host, "hvmonrrd,vm_test.rrd");
    let all = server.rrd(host, "hvmonrrd-states.rrd");
    server.wait_for(&vm);
    server.wait_for(&all);
    let first_update = rrd_info(&vm)["last_update"].clone();
    next_second();
    send(server, &args);
    // Wait for the second update to land before reading the values.
    let deadline = Instant::now() + Duration::from_secs(10);
    while rrd_info(&vm)["last_update"] == first_update {
        assert!(
            Instant::now() < deadline,
            "the second run's update never reached {} (last update {first_update}); worker \
             logs in {}",
            vm.display(),
            server.home.join("logs").display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let info = rrd_info(&vm);
    for (ds, kind) in [
        ("up", "GAUGE"),
        ("vcpus", "GAUGE"),
        ("mem", "GAUGE"),
        ("rss", "GAUGE"),
        ("cpu", "DERIVE"),
        ("rbytes", "DERIVE"),
        ("wtime", "DERIVE"),
        ("netdrop", "DERIVE"),
    ] {
        assert_eq!(info[&format!("ds[{ds}].type")], kind, "{ds}");
        assert_eq!(info[&format!("ds[{ds}].min")], "0.0000000000e+00", "{ds}");
        assert_eq!(info[&format!("ds[{ds}].minimal_heartbeat")], "600", "{ds}");
    }
    assert_eq!(info["ds[vcpus].last_ds"], "2");
    assert_eq!(
        info["ds[rss].last_ds"], "U",
        "the test driver has no process"
    );
    let raw: u64 = info["ds[rbytes].last_ds"].parse().expect("raw counter");
    assert!(raw > 1_000_000, "raw read counter {raw}");
    // The test driver gives no guest figures: its guest file holds unknowns, not zeros.
    let guest = server.rrd(host, "hvmonrrd-guest,vm_test.rrd");
    server.wait_for(&guest);
    let guest = rrd_info(&guest);
    for ds in ["guestused", "guestmem", "guestfs", "vcpu", "steal"] {
        assert_eq!(guest[&format!("ds[{ds}].last_ds")], "U", "{ds}");
    }
    assert_eq!(guest["ds[steal].type"], "DERIVE");
    // The test driver's pool: one file, three GAUGE datasets, its size as libvirt gives it.
    let pool_file = server
        .rrd_files(host)
        .into_iter()
        .find(|f| f.starts_with("hvmonrrd,pool_"))
        .expect("a pool RRD");
    let pool = rrd_info(&server.rrd(host, &pool_file));
    for ds in ["pct", "size", "free"] {
        assert_eq!(pool[&format!("ds[{ds}].type")], "GAUGE", "{ds}");
    }
    let info =
        text(&support::virsh("test:///default", &["pool-info", "--bytes", "default-pool"]).stdout);
    let capacity: f64 = info
        .lines()
        .find_map(|l| l.strip_prefix("Capacity:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no capacity from virsh pool-info: {info}"));
    let stored: f64 = pool["ds[size].last_ds"].parse().expect("pool size");
    assert_eq!(stored, capacity, "{pool:?}");
    let totals = rrd_info(&all);
    assert_eq!(totals["ds[vms].last_ds"], "1");
    assert!(
        !totals.contains_key("ds[vcpu].type"),
        "the host's file keeps its datasets"
    );
    assert_eq!(totals["ds[cpu].type"], "DERIVE");
    assert_eq!(server.colour(host, "hvmonrrd"), "green");
    // Its per-VM graphs' column draws them itself: one file a VM, so all of it in one image.
    assert_eq!(server.colour(host, "hvmonrrdvm"), "clear");
    let page = server.xymon(&format!("xymondlog {host}.hvmonrrdvm"));
    assert!(
        page.contains("&amp;service=hvmonrrd-disk&amp;first=1&amp;count=1&amp;"),
        "{page}"
    );

    for graph in ["hvmonrrd-states", "hvmonrrd-disk", "hvmonrrd-net"] {
        assert_drawn(server, host, graph);
    }
}

#[test]
fn strange_vm_names_stay_inside_the_rrd_directory_and_never_collide() {
    let Some(server) = server() else { return };
    let host = "hv-names.example.com";
    let dir = scratch("names");
    let names = [
        "web-01",
        "web_01",
        "web.01",
        "a b",
        "x:y=z",
        "..",
        "...hidden",
        "ünïcødé",
        "名前",
        "<b>",
        "@@",
        "semi;colon",
        "trailing-",
        "line\nbreak : 99",
        "quo\"te\\back",
        "tab\tx",
        "a-very-long-vm-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on",
    ];
    let domains: Vec<TestDomain> = names
        .iter()
        .enumerate()
        .map(|(i, n)| TestDomain::lab(i, n, 1))
        .collect();
    let uri = node_xml::write(&domains, &dir.join("node.xml"));
    let state = dir.join("state.json");
    for format in ["splitncv", "rrd-script"] {
        send(
            server,
            &[
                "--uri",
                &uri,
                "--host",
                host,
                "--format",
                format,
                "--state",
                state.to_str().unwrap(),
            ],
        );
    }
    let mut expected_rrd_script: Vec<String> = names
        .iter()
        .map(|n| format!("hvmonrrd,vm_{}.rrd", vm_key(n)))
        .collect();
    expected_rrd_script.push("hvmonrrd-states.rrd".into());
    for f in &expected_rrd_script {
        server.wait_for(&server.rrd(host, f));
    }
    for n in names {
        server.wait_for(&server.rrd(host, &format!("hvmon,vm_{}_vcpus.rrd", vm_key(n))));
        server.wait_for(&server.rrd(host, &format!("hvmonrrd-guest,vm_{}.rrd", vm_key(n))));
    }
    let files = server.rrd_files(host);
    let per_vm: Vec<&String> = files
        .iter()
        .filter(|f| f.starts_with("hvmonrrd,vm_"))
        .collect();
    assert_eq!(
        per_vm.len(),
        names.len(),
        "one file per VM, no collisions: {files:?}"
    );
    let guest_files = files
        .iter()
        .filter(|f| f.starts_with("hvmonrrd-guest,vm_"))
        .count();
    assert_eq!(guest_files, names.len(), "one guest file per VM: {files:?}");
    for f in &files {
        assert!(
            f.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_,.-".contains(&b))
                && f.ends_with(".rrd"),
            "unsafe file name {f:?}"
        );
    }
    // A name holding "\nbreak : 99" must not have become a metric of its own.
    for f in &files {
        assert!(
            [
                "hvmon,vm_",
                "hvmon,all_",
                "hvmonrrd,vm_",
                "hvmonrrd-guest,vm_",
                "hvmonrrd-states."
            ]
            .iter()
            .any(|p| f.starts_with(p)),
            "unexpected RRD {f:?}: injected by a VM name?"
        );
    }
    // Nothing was written outside the host's own directory.
    let hosts: Vec<String> = std::fs::read_dir(server.home.join("var/rrd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        hosts
            .iter()
            .all(|h| h == "xymon-lab" || h.ends_with(".example.com")),
        "{hosts:?}"
    );
}

#[test]
fn colours_on_the_server_follow_the_vm_states() {
    let Some(server) = server() else { return };
    let host = "hv-colour.example.com";
    let dir = scratch("colour");
    let healthy = node_xml::write(
        &[
            TestDomain::lab(0, "up", 1),
            TestDomain::lab(1, "resting", 3),
            TestDomain::lab(2, "down", 5),
        ],
        &dir.join("healthy.xml"),
    );
    send(server, &["--uri", &healthy, "--host", host]);
    assert_eq!(server.colour(host, "hvmon"), "green");
    let page = server.xymon(&format!("xymondlog {host}.hvmon"));
    assert!(page.contains("all VMs as expected"), "{page}");

    let crashed = node_xml::write(
        &[TestDomain::lab(0, "up", 1), TestDomain::lab(1, "broken", 6)],
        &dir.join("crashed.xml"),
    );
    next_second();
    send(server, &["--uri", &crashed, "--host", host]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.colour(host, "hvmon") != "red" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.colour(host, "hvmon"), "red");
    let page = server.xymon(&format!("xymondlog {host}.hvmon"));
    assert!(page.contains("&red broken: crashed"), "{page}");

    // A collector that cannot connect: red, with the error, and a non-zero exit.
    next_second();
    let out = run(&[
        "xymon",
        "--server",
        &server.addr(),
        "--uri",
        "test:///nonexistent/node.xml",
        "--host",
        host,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = server.xymon(&format!("xymondlog {host}.hvmon"));
        if page.contains("could not collect") {
            assert!(page.contains("/nonexistent/node.xml"), "{page}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no collector error on the page: {page}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.colour(host, "hvmon"), "red");
}

#[test]
fn a_host_with_many_vms_is_split_into_several_messages_that_all_arrive() {
    let Some(server) = server() else { return };
    let host = "hv-split2.example.com";
    let dir = scratch("many");
    let uri = node_xml::write_mixed(300, &dir.join("node.xml"));
    let printed = run(&[
        "xymon",
        "--print",
        "--uri",
        &uri,
        "--host",
        host,
        "--max-size",
        "8000",
    ]);
    let printed = text(&printed.stdout);
    let parts = printed.matches("\n<!-- hvmon end -->").count();
    assert!(parts > 3, "{parts} messages");
    // The status, the data messages, then the per-VM graphs' status.
    assert_eq!(
        printed
            .matches(&format!("data {}.hvmon\n", host.replace('.', ",")))
            .count(),
        parts - 2
    );
    assert_eq!(
        printed
            .matches(&format!(
                "status+11 {}.hvmonvm clear ",
                host.replace('.', ",")
            ))
            .count(),
        1
    );
    send(
        server,
        &["--uri", &uri, "--host", host, "--max-size", "8000"],
    );
    for vm in ["vm0000", "vm0150", "vm0299"] {
        server.wait_for(&server.rrd(host, &format!("hvmon,vm_{vm}_vcpus.rrd")));
    }
    assert_eq!(server.colour(host, "hvmon"), "green");
}

/// python3's CGI server with a copy of the real xymoncgimsg.cgi, forwarding to our xymond;
/// the directory it serves is removed after it stops.
struct CgiServer {
    child: Child,
    _root: support::Scratch,
}

impl Drop for CgiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cgi_server(server: &Server) -> CgiServer {
    let root = scratch("cgi");
    std::fs::create_dir_all(root.join("cgi-bin")).unwrap();
    std::fs::copy(
        Path::new(xymon::XYMON_BIN).join("xymoncgimsg.cgi"),
        root.join("cgi-bin/xymoncgimsg.cgi"),
    )
    .unwrap();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--cgi",
            "--bind",
            "127.0.0.1",
            &HTTP_PORT.to_string(),
        ])
        .current_dir(&root)
        .env("XYMONHOME", &server.home)
        .env("XYMONTMP", server.home.join("tmp"))
        .env("XYMONDPORT", server.port.to_string())
        .env("XYMSRV", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start python3 -m http.server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", HTTP_PORT)).is_err() {
        assert!(
            Instant::now() < deadline,
            "python3 http.server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    CgiServer { child, _root: root }
}

#[test]
fn http_through_xymoncgimsg_and_every_failure_is_clear() {
    let Some(server) = server() else { return };
    if !require(
        "python3",
        Command::new("python3").arg("-V").output().is_ok(),
    ) {
        return;
    }
    let host = "hv-http.example.com";
    let _cgi = cgi_server(server);
    let url = format!("http://127.0.0.1:{HTTP_PORT}/cgi-bin/xymoncgimsg.cgi");
    let out = run(&[
        "xymon",
        "--server",
        &url,
        "--uri",
        "test:///default",
        "--host",
        host,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server.colour(host, "hvmon"), "green");
    server.wait_for(&server.rrd(host, "hvmon,vm_test_vcpus.rrd"));

    let fails = |args: &[&str], code: i32, needle: &str| {
        let mut all = vec!["xymon", "--uri", "test:///default"];
        all.extend_from_slice(args);
        let out = run(&all);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{all:?}: {err}");
        assert!(
            err.contains(needle),
            "{all:?}: expected '{needle}' in: {err}"
        );
        assert!(out.stdout.is_empty());
    };
    // Host not in hosts.cfg, over TCP and over HTTP.
    fails(
        &["--server", &server.addr(), "--host", "stranger.example.com"],
        7,
        "does not know host 'stranger.example.com'",
    );
    fails(
        &["--server", &url, "--host", "stranger.example.com"],
        7,
        "hosts.cfg",
    );
    // Server down: a port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fails(
        &["--server", &format!("127.0.0.1:{free}"), "--host", host],
        7,
        "Connection refused",
    );
    // Wrong port: the web server, which does not speak Xymon.
    fails(
        &[
            "--server",
            &format!("127.0.0.1:{HTTP_PORT}"),
            "--host",
            host,
        ],
        7,
        "is not a Xymon server",
    );
    // Wrong URL.
    fails(
        &[
            "--server",
            &format!("http://127.0.0.1:{HTTP_PORT}/cgi-bin/nothere.cgi"),
            "--host",
            host,
        ],
        7,
        "404",
    );
    // Several servers: the good one still gets the message, the bad one fails the run.
    let out = run(&[
        "xymon",
        "--uri",
        "test:///default",
        "--host",
        host,
        "--server",
        &server.addr(),
        "--server",
        &format!("127.0.0.1:{free}"),
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    // No server at all, and an unusable one: usage errors.
    fails(&["--host", host], 2, "no Xymon server");
    fails(
        &["--server", "xymon:99999", "--host", host],
        2,
        "port '99999'",
    );
}

#[test]
fn the_xymonlaunch_environment_is_honoured() {
    let Some(server) = server() else { return };
    let host = "hv-split.example.com";
    let xymontmp = scratch("env");
    let out = support::hv_monitor()
        .args(["xymon", "--uri", "test:///default", "--column", "hvenv"])
        .env("XYMSRV", "0.0.0.0")
        .env("XYMSERVERS", "127.0.0.1")
        .env("XYMONDPORT", server.port.to_string())
        .env("MACHINE", host.replace('.', ","))
        .env("XYMONTMP", &*xymontmp)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server.colour(host, "hvenv"), "green");
}

/// The real QEMU guests of tests/lab/libvirt-up.sh (HVMON_QEMU_URI): hvmon-running,
/// hvmon-paused, hvmon-off.
#[test]
fn the_real_qemu_guests_reach_rrds_through_both_paths() {
    let Some(server) = server() else { return };
    let uri = support::qemu_uri();
    if !require("HVMON_QEMU_URI (tests/lab/libvirt-up.sh)", uri.is_some()) {
        return;
    }
    let uri = uri.unwrap();
    let host = "hv-qemu.example.com";
    let dir = scratch("qemu");
    let state = dir.join("state.json");
    let split = [
        "--uri",
        uri.as_str(),
        "--host",
        host,
        "--state",
        state.to_str().unwrap(),
        "--deadline",
        "30",
    ];
    let rrd_args = [
        "--uri",
        uri.as_str(),
        "--host",
        host,
        "--format",
        "rrd-script",
        "--deadline",
        "30",
    ];
    send(server, &split);
    send(server, &rrd_args);
    next_second();
    send(server, &split);
    send(server, &rrd_args);

    let running = vm_key("hvmon-running");
    let cpu = server.rrd(host, &format!("hvmon,vm_{running}_cpu.rrd"));
    server.wait_for(&cpu);
    let rate: f64 = rrd_info(&cpu)["ds[lambda].last_ds"].parse().unwrap();
    assert!((0.0..400.0).contains(&rate), "CPU % {rate}");
    let rss = rrd_info(&server.rrd(host, &format!("hvmon,vm_{running}_rss.rrd")));
    let rss: f64 = rss["ds[lambda].last_ds"].parse().unwrap();
    assert!(rss > 1e6, "a QEMU process uses more than 1 MB: {rss}");
    for (vm, up) in [
        ("hvmon-running", "1"),
        ("hvmon-paused", "1"),
        ("hvmon-off", "0"),
    ] {
        let f = server.rrd(host, &format!("hvmon,vm_{}_up.rrd", vm_key(vm)));
        server.wait_for(&f);
        assert_eq!(rrd_info(&f)["ds[lambda].last_ds"], up, "{vm}");
    }
    let vm_rrd = server.rrd(host, &format!("hvmonrrd,vm_{running}.rrd"));
    server.wait_for(&vm_rrd);
    let info = rrd_info(&vm_rrd);
    assert_eq!(info["ds[cpu].type"], "DERIVE");
    let cs: u64 = info["ds[cpu].last_ds"]
        .parse()
        .expect("CPU centiseconds from /proc");
    assert!(cs > 0);

    guest_figures_reach_their_rrds(server, host, &uri);

    // The column's colour is what the rules make of the same VMs.
    let snapshot = collect::collect(
        Backend::Libvirt,
        &CollectOptions {
            uri: Some(uri),
            ..CollectOptions::default()
        },
    )
    .unwrap();
    let (expected, _) = assess(&snapshot, PoolLimits::DEFAULT, FsLimits::default());
    assert_eq!(server.colour(host, "hvmon"), expected.name());
    assert_eq!(server.colour(host, "hvmonrrd"), expected.name());
    assert_drawn(server, host, "hvmon-cpu");
}

/// The lab's real Linux guest (hvmon-linux, virtio_balloon with a 2 s stats period) in the
/// runs of [`the_real_qemu_guests_reach_rrds_through_both_paths`]: its memory and vCPU
/// figures as GAUGE rates in SPLITNCV, and in the extra-script's second file per VM as
/// GAUGE and DERIVE, the main file keeping the datasets it always had.
fn guest_figures_reach_their_rrds(server: &Server, host: &str, uri: &str) {
    let state = support::virsh(uri, &["domstate", "hvmon-linux"]);
    if !require(
        "the lab's real Linux guest hvmon-linux (tests/lab/linux-guest.sh start)",
        text(&state.stdout).trim() == "running",
    ) {
        return;
    }
    let linux = vm_key("hvmon-linux");
    let split = |metric: &str| {
        let f = server.rrd(host, &format!("hvmon,vm_{linux}_{metric}.rrd"));
        server.wait_for(&f);
        let info = rrd_info(&f);
        assert_eq!(info["ds[lambda].type"], "GAUGE", "{metric}");
        info["ds[lambda].last_ds"]
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("{metric}: {}", info["ds[lambda].last_ds"]))
    };
    let used = split("guestused");
    assert!(
        used > 1e6 && used < 256e6,
        "memory used inside the guest: {used}"
    );
    let pct = split("guestmem");
    assert!(pct > 0.0 && pct < 100.0, "% of its memory: {pct}");
    // The fullest file system, as the guest's agent tells virsh.
    let info = support::guestinfo(uri, "hvmon-linux");
    let figure = |i: u64, what: &str| -> Option<f64> {
        info.get(&format!("fs.{i}.{what}-bytes"))?.parse().ok()
    };
    let count: u64 = info["fs.count"].parse().expect("fs.count");
    let fullest = (0..count)
        .filter_map(|i| Some(figure(i, "used")? * 100.0 / figure(i, "total")?))
        .fold(f64::NAN, f64::max);
    let fs = split("guestfs");
    assert!(
        (fs - fullest).abs() < 0.5,
        "fullest file system {fs} %, virsh guestinfo says {fullest} %"
    );
    // TCG: the guest's one vCPU is busy for a part of the time, and waits behind the host's
    // other work for a part.
    for metric in ["vcpu", "steal"] {
        let rate = split(metric);
        assert!((0.0..=100.0).contains(&rate), "{metric} % {rate}");
    }
    let guest = server.rrd(host, &format!("hvmonrrd-guest,vm_{linux}.rrd"));
    server.wait_for(&guest);
    let info = rrd_info(&guest);
    for (ds, kind) in [
        ("guestused", "GAUGE"),
        ("guestmem", "GAUGE"),
        ("guestfs", "GAUGE"),
        ("vcpu", "DERIVE"),
        ("steal", "DERIVE"),
    ] {
        assert_eq!(info[&format!("ds[{ds}].type")], kind, "{ds}");
        assert_eq!(info[&format!("ds[{ds}].min")], "0.0000000000e+00", "{ds}");
    }
    let cs: u64 = info["ds[vcpu].last_ds"].parse().expect("vCPU centiseconds");
    assert!(cs > 0);
    let main = rrd_info(&server.rrd(host, &format!("hvmonrrd,vm_{linux}.rrd")));
    assert!(main.contains_key("ds[cpu].type"));
    assert!(
        !main.contains_key("ds[vcpu].type"),
        "the main file keeps its datasets"
    );
    for graph in [
        "hvmon-guestmem",
        "hvmon-guestfs",
        "hvmon-vcpu",
        "hvmon-steal",
        "hvmonrrd-guest",
        "hvmonrrd-guestfs",
        "hvmonrrd-vcpu",
    ] {
        assert_drawn(server, host, graph);
    }
}

/// showgraph.cgi draws GRAPH for HOST: a PNG, and more than Xymon's blank one.
fn assert_drawn(server: &Server, host: &str, graph: &str) {
    let png = server.showgraph(host, graph);
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5000,
        "{graph}: {} bytes",
        png.len()
    );
}
