//! The host's storage pools (issue 22, item 3), against real parts: the test driver's own
//! pool for the LibreNMS document's shape (decoded as LibreNMS's json_app_get does), and a
//! real directory pool on a small tmpfs of the lab's libvirtd, filled to 96 % (red on a real
//! xymond, the pool named) and then to 50 % (no finding). The expected figures come from
//! libvirt through the bindings, never from hv_monitor's code. hv_monitor forces no refresh:
//! the test refreshes the pool (`virsh pool-refresh`) after each fill, as libvirt would on a
//! volume change.
#![cfg(all(feature = "libvirt", target_os = "linux"))]

mod support;

use support::librenms::librenms_decode;
use support::tmpfs::{Tmpfs, mounted};
use support::xymon::{self, Server};
use support::{Scratch, qemu_uri, require, run, scratch, stderr, stdout, text, virsh};
use virt::connect::Connect;

const XYMON_PORT: u16 = 19933;
const XYMON_HOST: &str = "hv-pools.example.com";
/// The pool's name: the helper prefix, and a name that is its own key everywhere.
const POOL: &str = "hvtrouble_full";
/// The tmpfs under the pool: 8 MiB.
const TMPFS_BYTES: u64 = 8 << 20;

/// libvirt's figures for one pool, through the bindings: (state, capacity, allocation,
/// available).
fn libvirt_pool(uri: &str, name: &str) -> (u32, u64, u64, u64) {
    let conn = Connect::open_read_only(Some(uri)).expect("connect");
    let pool = conn
        .list_all_storage_pools(0)
        .unwrap()
        .into_iter()
        .find(|p| p.name().as_deref() == Ok(name))
        .unwrap_or_else(|| panic!("libvirt lists no pool {name}"));
    let info = pool.info().unwrap();
    (info.state, info.capacity, info.allocation, info.available)
}

#[test]
fn the_test_drivers_pool_is_in_librenms_pools_next_to_vms_and_totals() {
    let uri = "test:///default";
    let listed = text(&virsh(uri, &["pool-list", "--all", "--name"]).stdout);
    let names: Vec<&str> = listed.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(names.len(), 1, "test:///default has one pool: {listed:?}");
    let name = names[0].trim();
    let (state, capacity, allocation, available) = libvirt_pool(uri, name);
    for args in [vec!["--uri", uri], vec!["--uri", uri, "-c"]] {
        let out = run(&args);
        assert!(
            out.status.success(),
            "hv_monitor {args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).is_empty(), "no warning: {}", stderr(&out));
        let doc = librenms_decode(stdout(&out).trim_end()).expect("LibreNMS decodes it");
        let data = &doc["data"];
        assert!(
            data["VMs"].is_object() && data["totals"].is_object(),
            "{data}"
        );
        let pools = data["pools"].as_object().expect("a pools hash in data");
        assert_eq!(pools.len(), 1, "{pools:?}");
        // A plain safe name is its own key (LibreNMS's key rules).
        let pool = &pools[name];
        assert_eq!(pool["state"], state, "{pool}");
        assert_eq!(pool["state_name"], "running");
        assert_eq!(pool["capacity"], capacity);
        assert_eq!(pool["allocation"], allocation);
        assert_eq!(pool["available"], available);
    }
}

/// A dir pool on a tmpfs of its own; destroyed, undefined and unmounted when dropped.
struct TmpfsPool {
    uri: String,
    // Dropped after the pool (fields drop after `drop`), before the directory.
    tmpfs: Tmpfs,
    _dir: Scratch,
}

impl TmpfsPool {
    fn start(uri: &str) -> TmpfsPool {
        // A pool of the same name left by a run killed before its guard ran.
        remove_pool(uri);
        let dir = scratch("hvtrouble-pool");
        let target = dir.join("pool");
        std::fs::create_dir(&target).unwrap();
        let pool = TmpfsPool {
            uri: uri.to_string(),
            tmpfs: Tmpfs::mount("hvtrouble", &target, TMPFS_BYTES),
            _dir: dir,
        };
        let target = target.to_str().unwrap();
        for args in [
            vec!["pool-define-as", POOL, "dir", "--target", target],
            vec!["pool-start", POOL],
        ] {
            let out = virsh(uri, &args);
            assert!(out.status.success(), "virsh {args:?}: {}", stderr(&out));
        }
        pool
    }

    /// Makes the fill file `bytes` long, then has libvirt read the pool again.
    fn fill_to(&self, bytes: u64) {
        let file = self.tmpfs.path().join("fill");
        std::fs::write(&file, vec![0u8; usize::try_from(bytes).unwrap()]).unwrap();
        let out = virsh(&self.uri, &["pool-refresh", POOL]);
        assert!(out.status.success(), "pool-refresh: {}", stderr(&out));
    }
}

impl Drop for TmpfsPool {
    fn drop(&mut self) {
        remove_pool(&self.uri);
    }
}

fn remove_pool(uri: &str) {
    let _ = virsh(uri, &["pool-destroy", POOL]);
    let _ = virsh(uri, &["pool-undefine", POOL]);
}

/// What libvirt says of the pool, percent full: what is no longer available.
fn libvirt_percent(uri: &str) -> f64 {
    let (_, capacity, _, available) = libvirt_pool(uri, POOL);
    (capacity - available) as f64 * 100.0 / capacity as f64
}

fn prerequisites() -> Option<String> {
    let uri = qemu_uri();
    let ok = require(
        "libvirtd with QEMU (tests/lab/libvirt-up.sh)",
        uri.is_some() && support::have("virsh"),
    ) && require(
        "root, to mount a tmpfs",
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() } == 0,
    ) && require(
        "xymond (apt-get install xymon rrdtool)",
        xymon::xymon_installed(),
    );
    uri.filter(|_| ok)
}

#[test]
fn a_dir_pool_filled_to_96_percent_is_red_on_xymond_and_at_50_percent_has_no_finding() {
    let Some(uri) = prerequisites() else { return };
    let server = Server::start(XYMON_PORT, &[XYMON_HOST]).expect("Xymon is installed");
    let pool = TmpfsPool::start(&uri);
    let send = || {
        let out = run(&[
            "xymon",
            "--uri",
            &uri,
            "--host",
            XYMON_HOST,
            "--server",
            &server.addr(),
        ]);
        assert!(out.status.success(), "hv_monitor xymon: {}", stderr(&out));
        server.xymon(&format!("xymondlog {XYMON_HOST}.hvmon"))
    };
    let finding = format!("&red pool {POOL}: ");

    pool.fill_to(TMPFS_BYTES * 96 / 100);
    let full = libvirt_percent(&uri);
    assert!((95.5..97.0).contains(&full), "libvirt sees {full:.2} %");
    let page = send();
    assert_eq!(server.colour(XYMON_HOST, "hvmon"), "red", "{page}");
    let line = page
        .lines()
        .find(|l| l.starts_with(&finding))
        .unwrap_or_else(|| panic!("no '{finding}' line:\n{page}"));
    assert!(line.contains(&format!("{full:.1}% full")), "{line}");
    // Its row in the pool table, and its graph on the real xymond_rrd (SPLITNCV).
    assert!(
        page.lines().any(|l| l.starts_with(POOL)
            && l.contains("running")
            && l.ends_with(&format!("{full:.1}"))),
        "no table row for {POOL}:\n{page}"
    );
    let rrd = server.rrd(XYMON_HOST, &format!("hvmon,pool_{POOL}_pct.rrd"));
    server.wait_for(&rrd);
    // The same pool stays below a limit set higher: only yellow asked at 97 %, red at 99 %.
    let out = run(&[
        "xymon",
        "--print",
        "--uri",
        &uri,
        "--host",
        XYMON_HOST,
        "--pool-warn",
        "97",
        "--pool-panic",
        "99",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains(&format!("pool {POOL}:")),
        "no finding under limits of 97/99 %:\n{}",
        stdout(&out)
    );

    pool.fill_to(TMPFS_BYTES / 2);
    let half = libvirt_percent(&uri);
    assert!((49.0..52.0).contains(&half), "libvirt sees {half:.2} %");
    let page = send();
    assert!(
        !page.contains(&format!("pool {POOL}:")),
        "no finding at {half:.1} %:\n{page}"
    );
    assert!(
        page.lines()
            .any(|l| l.starts_with(POOL) && l.ends_with(&format!("{half:.1}"))),
        "the table shows {half:.1} %:\n{page}"
    );

    let target = pool.tmpfs.path().to_path_buf();
    drop(pool);
    assert!(!mounted(&target), "the guard unmounts the tmpfs");
    assert!(
        !text(&virsh(&uri, &["pool-list", "--all", "--name"]).stdout).contains(POOL),
        "the guard removes the pool"
    );
}

#[test]
fn pool_limits_out_of_order_or_range_are_usage_errors() {
    for (warn, panic, says) in [
        ("95", "90", "--pool-warn 95 must be below --pool-panic 90"),
        ("90", "90", "--pool-warn 90 must be below --pool-panic 90"),
        ("0", "95", "0 is not in 1..=100"),
        ("90", "101", "101 is not in 1..=100"),
    ] {
        let out = run(&[
            "xymon",
            "--print",
            "--uri",
            "test:///default",
            "--pool-warn",
            warn,
            "--pool-panic",
            panic,
        ]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{warn}/{panic}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(says),
            "{warn}/{panic}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty());
    }
}
