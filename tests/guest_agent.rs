//! Issue 20 against the lab's real Linux guest (`hvmon-linux`, tests/lab/linux-guest.sh):
//! qemu-guest-agent inside it answers for real. The expected values come from `virsh`
//! (`domifaddr --source agent`, `guestinfo`), never from hv_monitor's code. A read-only
//! run through a real snmpd as Debian-snmp (the direct extend mode) gets no agent data and
//! no error. A guest of this test's own whose agent is stopped inside it (channel still
//! connected) costs the run its agent timeout, within the deadline, and flags only its VM.
#![cfg(all(feature = "libvirt", target_os = "linux"))]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::librenms::{librenms_decode, librenms_snmp_value};
use support::{Scratch, guestinfo, qemu_uri, require, run, scratch, stderr, stdout, text, virsh};

const GUEST: &str = "hvmon-linux";
const SNMP_PORT: u16 = 16187;
/// The lease test's snmpd, beside the read-only test's (tests run at once).
const LEASE_SNMP_PORT: u16 = 16188;

/// The lab's URI when the real guest runs with its agent connected (else skipped, or failed
/// under CI=true).
fn lab_guest() -> Option<String> {
    let uri = qemu_uri();
    let ok = require(
        "libvirtd with QEMU (tests/lab/libvirt-up.sh)",
        uri.is_some() && support::have("virsh"),
    );
    let uri = uri.filter(|_| ok)?;
    let xml = stdout(&virsh(&uri, &["dumpxml", GUEST]));
    let connected = xml.contains("name='org.qemu.guest_agent.0' state='connected'");
    require(
        "the real Linux guest with its agent up (setsid tests/lab/linux-guest.sh start)",
        connected,
    )
    .then_some(uri)
}

/// The IPv4 of the guest's NIC as `virsh domifaddr --source agent` reports it, for the MAC
/// `virsh domiflist` gives the VM's first NIC.
fn agent_ipv4(uri: &str) -> String {
    let list = stdout(&virsh(uri, &["domiflist", GUEST]));
    let mac = list
        .split_whitespace()
        .find(|w| w.len() == 17 && w.matches(':').count() == 5)
        .unwrap_or_else(|| panic!("a NIC with a MAC:\n{list}"))
        .to_string();
    let out = virsh(uri, &["domifaddr", GUEST, "--source", "agent"]);
    assert!(out.status.success(), "domifaddr: {}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains(&mac) && l.contains("ipv4"))
        .unwrap_or_else(|| panic!("no IPv4 for {mac}:\n{text}"));
    let addr = line.split_whitespace().last().unwrap();
    addr.split('/').next().unwrap().to_string()
}

fn librenms_vm(uri: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--uri", uri];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "hv_monitor: {}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["error"], 0, "{doc}");
    doc["data"]["VMs"][GUEST].clone()
}

#[test]
fn the_real_guest_gives_its_address_file_system_and_os_through_its_agent() {
    let Some(uri) = lab_guest() else { return };
    let ip = agent_ipv4(&uri);
    // The guest rewrites a file on /mnt every few seconds (tests/lab/linux-guest.sh): its
    // used bytes are compared from a run between two `virsh guestinfo` that agree on them.
    let mnt_used = |info: &std::collections::HashMap<String, String>| {
        (0..)
            .take_while(|i| info.contains_key(&format!("fs.{i}.mountpoint")))
            .find(|i| info[&format!("fs.{i}.mountpoint")] == "/mnt")
            .map(|i| info[&format!("fs.{i}.used-bytes")].clone())
    };
    let (info, vm) = (0..20)
        .find_map(|_| {
            let before = guestinfo(&uri, GUEST);
            let vm = librenms_vm(&uri, &["-t", "20"]);
            let after = guestinfo(&uri, GUEST);
            (mnt_used(&before) == mnt_used(&after)).then_some((after, vm))
        })
        .expect("/mnt's used bytes held still across one run in 20 tries");
    assert_eq!(vm["agent"], "answered", "{vm}");
    assert_eq!(
        vm["ip"],
        ip.as_str(),
        "the eth0 address virsh reports: {vm}"
    );
    assert_eq!(vm["guest_os"], info["os.kernel-release"].as_str());
    assert_eq!(vm["guest_hostname"], info["hostname"].as_str());
    let fs_index = (0..)
        .take_while(|i| info.contains_key(&format!("fs.{i}.mountpoint")))
        .find(|i| info[&format!("fs.{i}.mountpoint")] == "/mnt")
        .expect("virsh lists /mnt");
    let field = |f: &str| info[&format!("fs.{fs_index}.{f}")].clone();
    let fs = vm["fs"]
        .as_object()
        .unwrap()
        .values()
        .find(|f| f["mountpoint"] == "/mnt")
        .unwrap_or_else(|| panic!("no /mnt in {vm}"));
    assert_eq!(fs["fstype"], field("fstype").as_str());
    assert_eq!(fs["fstype"], "ext2");
    assert_eq!(fs["total"].to_string(), field("total-bytes"));
    assert_eq!(fs["used"].to_string(), field("used-bytes"));
    let ips = vm["ifs"]["nic0"]["ips"].as_array().unwrap();
    assert!(
        ips.iter()
            .any(|a| a.as_str().unwrap().starts_with(&format!("{ip}/"))),
        "{ips:?}"
    );

    // The Xymon table shows the address and the OS.
    let out = run(&["xymon", "--print", "--uri", &uri, "-t", "20"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let print = stdout(&out);
    let row = print
        .lines()
        .find(|l| l.starts_with(&format!("{GUEST} ")))
        .unwrap_or_else(|| panic!("no row for {GUEST}:\n{print}"));
    assert!(row.contains(&ip), "{row}");
    assert!(row.contains(info["os.kernel-release"].as_str()), "{row}");

    // --no-agent: the agent is not asked, nothing from inside the guest.
    let vm = librenms_vm(&uri, &["-t", "20", "--no-agent"]);
    assert_eq!(vm["agent"], "not_asked", "{vm}");
    assert_eq!(vm["ip"], "");
    assert_eq!(vm["fs"], serde_json::json!({}));
}

/// A net-snmp snmpd on 127.0.0.1 as Debian-snmp, serving `hv_monitor --uri URI -c` (the
/// direct extend mode: a read-only libvirt connection), stopped when dropped.
struct Snmpd {
    child: Child,
    port: u16,
    _dir: Scratch,
}

impl Snmpd {
    fn start(uri: &str, port: u16) -> Snmpd {
        let dir = scratch("agent-snmpd");
        std::fs::set_permissions(&*dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let binary = dir.join("hv_monitor");
        std::fs::copy(support::binary(), &binary).unwrap();
        let (conf, persist) = (dir.join("conf"), dir.join("persist"));
        for d in [&conf, &persist] {
            std::fs::create_dir(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::write(
            conf.join("snmpd.conf"),
            format!(
                "rocommunity public 127.0.0.1\nextend hv-monitor {} --uri {uri} -t 5 -c\n",
                binary.display()
            ),
        )
        .unwrap();
        std::fs::write(conf.join("snmp.conf"), "mibs :\n").unwrap();
        let child = Command::new("/usr/sbin/snmpd")
            .env("SNMPCONFPATH", &conf)
            .env("SNMP_PERSISTENT_DIR", &persist)
            .args(["-f", "-Lf"])
            .arg(dir.join("snmpd.log"))
            .args(["-u", "Debian-snmp", "-g", "Debian-snmp"])
            .arg(format!("udp:127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("snmpd starts");
        let snmpd = Snmpd {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !snmpget(port, ".1.3.6.1.2.1.1.3.0", "0.5").status.success() {
            assert!(
                Instant::now() < deadline,
                "snmpd did not answer within 10 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        snmpd
    }

    fn poll(&self) -> String {
        let mut oid = format!(".1.3.6.1.4.1.8072.1.3.2.3.1.2.{}", "hv-monitor".len());
        for b in "hv-monitor".bytes() {
            oid += &format!(".{b}");
        }
        let out = snmpget(self.port, &oid, "20");
        assert!(out.status.success(), "snmpget: {}", stderr(&out));
        librenms_snmp_value(&stdout(&out))
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether snmpd, snmpget and snmpd's user are here (else skipped, or failed under CI=true).
fn snmpd_peers() -> bool {
    let users = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    require(
        "net-snmp's snmpd and snmpget, and the Debian-snmp user (apt-get install snmpd snmp)",
        std::path::Path::new("/usr/sbin/snmpd").exists()
            && support::have("snmpget")
            && users.lines().any(|l| l.starts_with("Debian-snmp:")),
    )
}

fn snmpget(port: u16, oid: &str, timeout: &str) -> Output {
    Command::new("snmpget")
        .args([
            "-v2c", "-c", "public", "-On", "-Oqv", "-r", "0", "-t", timeout,
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg(oid)
        .output()
        .expect("snmpget runs")
}

#[test]
fn a_read_only_run_through_snmpd_gets_no_agent_data_and_no_error() {
    let Some(uri) = lab_guest() else { return };
    if !snmpd_peers() {
        return;
    }
    // Debian-snmp cannot open a read-write connection: what the direct mode runs as.
    let rw = Command::new("runuser")
        .args(["-u", "Debian-snmp", "--", "virsh", "-c", &uri, "list"])
        .output()
        .expect("runuser runs");
    assert!(
        !rw.status.success(),
        "Debian-snmp has a read-write connection here: {}",
        text(&rw.stdout)
    );
    let snmpd = Snmpd::start(&uri, SNMP_PORT);
    let doc = librenms_decode(&snmpd.poll()).expect("LibreNMS decodes the extend's output");
    assert_eq!(doc["error"], 0, "no error: {doc}");
    assert_eq!(doc["errorString"], "");
    let vm = &doc["data"]["VMs"][GUEST];
    assert_eq!(vm["status_int"], 1, "the rest of its data is there: {vm}");
    assert_eq!(vm["agent"], "not_asked", "{vm}");
    assert_eq!(vm["ip"], "");
    assert_eq!(vm["guest_os"], "");
    assert_eq!(vm["fs"], serde_json::json!({}));
}

/// A guest of a test's own (tests/lab/linux-guest.sh, names `hvmonagent-*`) whose agent a
/// shell script changes after boot, run through guest-exec. Destroyed and undefined however
/// the test ends.
struct OwnGuest {
    name: &'static str,
    uri: String,
    dir: Scratch,
}

impl OwnGuest {
    fn script(uri: &str, name: &str, dir: &Scratch, action: &str) -> Output {
        Command::new(support::repo().join("tests/lab/linux-guest.sh"))
            .arg(action)
            .env("NAME", name)
            .env("GUEST_DIR", &**dir)
            .env("HVMON_QEMU_URI", uri)
            .output()
            .expect("run tests/lab/linux-guest.sh")
    }

    fn start(uri: &str, name: &'static str) -> OwnGuest {
        let dir = scratch(name);
        let _ = Self::script(uri, name, &dir, "stop");
        let guest = OwnGuest {
            name,
            uri: uri.to_string(),
            dir,
        };
        let out = Self::script(uri, name, &guest.dir, "start");
        assert!(
            out.status.success(),
            "linux-guest.sh start: {}{}",
            text(&out.stdout),
            stderr(&out)
        );
        guest
    }

    /// Runs `sh -c SCRIPT sh ARGS` in the guest through its agent, not waiting for it: the
    /// child guest-exec started outlives the reply.
    fn exec(&self, script: &str, args: &[&str]) {
        let mut arg = vec!["-c", script, "sh"];
        arg.extend_from_slice(args);
        let command = serde_json::json!({
            "execute": "guest-exec",
            "arguments": {"path": "/bin/sh", "arg": arg},
        });
        let out = virsh(
            &self.uri,
            &["qemu-agent-command", self.name, &command.to_string()],
        );
        assert!(out.status.success(), "guest-exec: {}", stderr(&out));
    }

    /// Whether the agent answers COMMAND (JSON) within a second.
    fn answers(&self, command: &str) -> bool {
        virsh(
            &self.uri,
            &["qemu-agent-command", self.name, "--timeout", "1", command],
        )
        .status
        .success()
    }

    /// Waits (30 s at most: a TCG guest on a loaded host is slow) until `done` holds of the
    /// guest.
    fn wait_until(&self, what: &str, done: impl Fn(&OwnGuest) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(Instant::now() < deadline, "{}: {what}", self.name);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for OwnGuest {
    fn drop(&mut self) {
        let _ = Self::script(&self.uri, self.name, &self.dir, "stop");
    }
}

/// [`lab_guest`]'s URI where this test may start guests of its own (as root).
fn own_guest_uri() -> Option<String> {
    let uri = lab_guest()?;
    require(
        "root, to start a guest of this test's own",
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() } == 0,
    )
    .then_some(uri)
}

const PING: &str = r#"{"execute":"guest-ping"}"#;

const HUNG: &str = "hvmonagent-hung";

/// [`OwnGuest`] `hvmonagent-hung`, whose agent is stopped inside it after boot: its channel
/// stays connected, nothing answers.
fn hung_agent_guest(uri: &str) -> OwnGuest {
    let guest = OwnGuest::start(uri, HUNG);
    // Busybox has no pidof: the shell finds qemu-ga in /proc and stops it.
    guest.exec(
        "for p in /proc/[0-9]*; do read n < $p/comm; \
         [ \"$n\" = qemu-ga ] && kill -STOP ${p#/proc/}; done",
        &[],
    );
    // Until the agent is stopped a ping still answers.
    guest.wait_until("the agent still answers", |g| !g.answers(PING));
    guest
}

#[test]
fn a_hung_agent_costs_its_timeout_and_flags_only_its_vm() {
    let Some(uri) = own_guest_uri() else { return };
    let _guest = hung_agent_guest(&uri);
    let xml = stdout(&virsh(&uri, &["dumpxml", HUNG]));
    assert!(
        xml.contains("name='org.qemu.guest_agent.0' state='connected'"),
        "the stopped agent's channel stays connected: {xml}"
    );
    let dir = scratch("agent-hung");
    let cache = dir.join("domains.json");
    let cache = cache.to_str().unwrap();
    let within_deadline = |what: &str| {
        let started = Instant::now();
        let out = run(&["--uri", &uri, "-t", "5", "--domain-cache", cache]);
        let took = started.elapsed();
        assert!(out.status.success(), "{what}: hv_monitor: {}", stderr(&out));
        assert!(
            took < Duration::from_secs(5),
            "{what}: within the deadline: {took:?}"
        );
        let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(doc["error"], 0, "{what}: {doc}");
        doc
    };
    // The first run fills the domain cache, and the second asks the agents it remembers
    // while the stats are collected: the same bounds and flags either way.
    for what in ["asked after the stats", "asked beside the stats"] {
        let doc = within_deadline(what);
        let hung = &doc["data"]["VMs"][HUNG];
        assert_eq!(hung["agent"], "no_answer", "{what}: {hung}");
        assert_eq!(
            hung["status_int"], 1,
            "{what}: the rest of its data is there: {hung}"
        );
        assert!(hung["mem_alloc"].as_u64().unwrap() > 0);
        assert_eq!(hung["ip"], "");
        let healthy = &doc["data"]["VMs"][GUEST];
        assert_eq!(
            healthy["agent"], "answered",
            "{what}: no other VM waits on it: {healthy}"
        );
        assert_ne!(healthy["ip"], "");
    }
    // Paused, the hung VM is still asked on the cache's word, and its late answer is not
    // taken: a paused VM's agent is not reported.
    assert!(virsh(&uri, &["suspend", HUNG]).status.success());
    let doc = within_deadline("paused after the cache");
    let hung = &doc["data"]["VMs"][HUNG];
    assert_eq!(hung["status_int"], 3, "{hung}");
    assert_eq!(hung["agent"], "none", "{hung}");
    assert_eq!(doc["data"]["VMs"][GUEST]["agent"], "answered");
}

const HOSTILE: &str = "hvmonagent-hostile";

/// [`OwnGuest`] `hvmonagent-hostile`, whose qemu-ga is replaced after boot by
/// tests/lab/hostile-agent.sh.
fn hostile_agent_guest(uri: &str) -> OwnGuest {
    let guest = OwnGuest::start(uri, HOSTILE);
    let nics = stdout(&virsh(uri, &["domiflist", HOSTILE]));
    let mac = nics
        .split_whitespace()
        .find(|w| w.len() == 17 && w.matches(':').count() == 5)
        .unwrap_or_else(|| panic!("no MAC in {nics}"));
    let script = std::fs::read_to_string(support::repo().join("tests/lab/hostile-agent.sh"))
        .expect("tests/lab/hostile-agent.sh");
    guest.exec(&script, &[mac]);
    // qemu-ga knows guest-info; the hostile agent answers pings only.
    guest.wait_until("the hostile agent does not answer yet", |g| {
        !g.answers(r#"{"execute":"guest-info"}"#) && g.answers(PING)
    });
    guest
}

/// Whether `ip/prefix` (an `ifs` entry) is an address and a prefix length.
fn is_address(entry: &str) -> bool {
    entry.split_once('/').is_some_and(|(ip, prefix)| {
        ip.parse::<std::net::IpAddr>().is_ok() && prefix.parse::<u8>().is_ok_and(|p| p <= 128)
    })
}

#[test]
fn a_hostile_agent_is_refused_field_by_field_and_changes_only_its_own_entry() {
    let Some(uri) = own_guest_uri() else { return };
    let _guest = hostile_agent_guest(&uri);

    // LibreNMS: the one real address kept, nothing else taken as one; strings and lists cut.
    let out = run(&["--uri", &uri, "-t", "20"]);
    assert!(out.status.success(), "hv_monitor: {}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["error"], 0, "{doc}");
    let vm = &doc["data"]["VMs"][HOSTILE];
    assert_eq!(vm["agent"], "answered", "{vm}");
    assert_eq!(vm["ip"], "192.0.2.77", "the one global IPv4 it gave");
    let ips: Vec<&str> = vm["ifs"]["nic0"]["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(ips.iter().all(|a| is_address(a)), "{ips:?}");
    assert!(ips.contains(&"192.0.2.77/24"), "{ips:?}");
    let hostname = vm["guest_hostname"].as_str().unwrap();
    assert!(
        hostname.starts_with("AAAA") && hostname.chars().count() <= 128,
        "1 MiB host name cut: {} characters",
        hostname.chars().count()
    );
    let fs = vm["fs"].as_object().unwrap();
    assert!(
        !fs.is_empty() && fs.len() <= 64,
        "200 file systems, {} kept",
        fs.len()
    );
    let healthy = &doc["data"]["VMs"][GUEST];
    assert_eq!(healthy["agent"], "answered", "{healthy}");
    assert_eq!(
        healthy["guest_hostname"],
        guestinfo(&uri, GUEST)["hostname"].as_str(),
        "the other guest's entry is its own"
    );

    // Xymon: the VM is red for its full file systems, named, and no markup or colour marker
    // from the guest reaches the page.
    let out = run(&["xymon", "--print", "--uri", &uri, "-t", "20"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let print = stdout(&out);
    // The guest's markup exactly: the page's own graphs are <img> tags too.
    for planted in ["<script", "<img src=x", "<b>"] {
        assert!(!print.contains(planted), "{planted} on the page:\n{print}");
    }
    assert!(
        !print.lines().any(|l| l.contains("&red injected")),
        "a colour marker of the guest's on the page:\n{print}"
    );
    let finding = print
        .lines()
        .find(|l| l.starts_with("&red") && l.contains(HOSTILE))
        .unwrap_or_else(|| panic!("no red line for {HOSTILE}:\n{print}"));
    assert!(
        finding.contains("guest file system /m") && finding.contains("99.0 % full"),
        "{finding}"
    );
}

const LEASE_NET: &str = "hvmon-leases";
const LEASE_GUEST: &str = "hvmon-lease";
const LEASE_MAC: &str = "52:54:00:4d:02:01";

/// A libvirt network of the test's own with DHCP (libvirt's dnsmasq) and, on it, a guest
/// without an OS whose firmware asks for a lease (iPXE's DHCP), so it has no agent; both
/// transient (nothing written to /etc/libvirt) and gone however the test ends.
struct LeaseGuest {
    uri: String,
    _dir: Scratch,
}

impl LeaseGuest {
    fn start(uri: &str) -> LeaseGuest {
        let dir = scratch("lease");
        let guest = LeaseGuest {
            uri: uri.to_string(),
            _dir: dir,
        };
        guest.remove();
        let net = guest._dir.join("net.xml");
        std::fs::write(
            &net,
            format!(
                "<network><name>{LEASE_NET}</name><bridge name='hvmlease0' stp='off'/>\
                 <ip address='10.213.77.1' netmask='255.255.255.0'><dhcp>\
                 <range start='10.213.77.100' end='10.213.77.199'/></dhcp></ip></network>"
            ),
        )
        .unwrap();
        let out = virsh(uri, &["net-create", &net.to_string_lossy()]);
        assert!(out.status.success(), "net-create: {}", stderr(&out));
        let dom = guest._dir.join("dom.xml");
        std::fs::write(
            &dom,
            format!(
                "<domain type='qemu'><name>{LEASE_GUEST}</name><memory unit='MiB'>128</memory>\
                 <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type>\
                 <boot dev='network'/></os><devices>\
                 <emulator>/usr/bin/qemu-system-x86_64</emulator>\
                 <interface type='network'><source network='{LEASE_NET}'/>\
                 <mac address='{LEASE_MAC}'/><model type='virtio'/></interface>\
                 </devices></domain>"
            ),
        )
        .unwrap();
        let out = virsh(uri, &["create", &dom.to_string_lossy()]);
        assert!(out.status.success(), "create: {}", stderr(&out));
        guest
    }

    /// The address `virsh net-dhcp-leases` shows for the guest's MAC, waiting for the
    /// firmware's DHCP (120 s at most: a TCG guest on a loaded host boots slowly).
    fn leased_address(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = virsh(
                &self.uri,
                &["net-dhcp-leases", LEASE_NET, "--mac", LEASE_MAC],
            );
            let text = stdout(&out);
            if let Some(addr) = text
                .split_whitespace()
                .find(|w| w.starts_with("10.213.77.") && w.contains('/'))
            {
                return addr.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no DHCP lease for {LEASE_MAC} within 120 s: {text}{}",
                stderr(&out)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn remove(&self) {
        let _ = virsh(&self.uri, &["destroy", LEASE_GUEST]);
        let _ = virsh(&self.uri, &["net-destroy", LEASE_NET]);
        // libvirt keeps a destroyed network's lease file; the next run starts afresh.
        let _ = std::fs::remove_file("/var/lib/libvirt/dnsmasq/hvmlease0.status");
    }
}

impl Drop for LeaseGuest {
    fn drop(&mut self) {
        self.remove();
    }
}

#[test]
fn a_vm_without_an_agent_has_its_dhcp_lease_as_ip_also_through_read_only_snmpd() {
    let Some(uri) = own_guest_uri() else { return };
    if !snmpd_peers() {
        return;
    }
    let guest = LeaseGuest::start(&uri);
    let leased = guest.leased_address();
    let ip = leased.split('/').next().unwrap();
    for extra in [&[][..], &["--no-agent"][..]] {
        let mut args = vec!["--uri", uri.as_str(), "--vm", LEASE_GUEST];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(out.status.success(), "hv_monitor: {}", stderr(&out));
        let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(doc["error"], 0, "{doc}");
        let vm = &doc["data"]["VMs"][LEASE_GUEST];
        assert_eq!(vm["agent"], "none", "{vm}");
        assert_eq!(vm["ip"], ip, "{extra:?}: {vm}");
        assert_eq!(
            vm["ifs"]["nic0"]["ips"],
            serde_json::json!([leased]),
            "{vm}"
        );
    }
    // snmpd's user has only a read-only connection: leases are read there all the same.
    let snmpd = Snmpd::start(&uri, LEASE_SNMP_PORT);
    let doc = librenms_decode(&snmpd.poll()).expect("LibreNMS decodes the extend's output");
    assert_eq!(doc["error"], 0, "no error: {doc}");
    let vm = &doc["data"]["VMs"][LEASE_GUEST];
    assert_eq!(vm["ip"], ip, "{vm}");
    assert_eq!(
        doc["data"]["VMs"][GUEST]["ip"], "",
        "the agent's guest: no lease, no agent"
    );
}
