//! `hv_monitor xymon-rrd HOST COLUMN FILE`: runs the rrd-script handler for xymond_rrd.

use std::io::Write;
use std::path::Path;

use crate::error::exit;
use crate::rrd_script;

/// Runs the handler: the lines for xymond_rrd on stdout, or an error on stderr and nothing
/// on stdout.
pub fn run_rrd_script(host: &str, column: &str, file: &Path) -> i32 {
    match rrd_script::handle(host, column, file) {
        Ok(lines) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(lines.as_bytes()).and_then(|_| out.flush()) {
                Ok(()) => exit::OK,
                Err(e) => {
                    crate::diag!("hv_monitor: xymon-rrd: cannot write to xymond_rrd: {e}");
                    exit::SEND_FAILED
                }
            }
        }
        Err(e) => {
            crate::diag!("hv_monitor: xymon-rrd {host} {column}: {e}");
            e.exit_code()
        }
    }
}

/// The rrd-script handler on messages the Xymon emitter builds: here, where the two meet,
/// so neither imports the other.
#[cfg(test)]
mod tests {
    use crate::emit::xymon::test_support::{running_vm, settings, snapshot};
    use crate::emit::xymon::{Report, build};
    use crate::error::RrdScriptError;
    use crate::model::{State, Vm};
    use crate::rrd_script::*;
    use crate::xymon_wire::{
        Counter, DEFAULT_MAX_SIZE, END_MARKER, Format, MARKER_PREFIX, MAX_KEY_LEN, Messages,
        TotalGauge, VmGauge, vm_key,
    };

    const HOST: &str = "hv1.example.com";
    const TEST: &str = "hvmon";

    fn message(vms: Vec<Vm>) -> String {
        let s = snapshot(vms);
        let report = Report::Collected {
            snapshot: &s,
            rates: None,
            rates_lost: None,
        };
        let mut m = build(
            &report,
            &settings(Format::RrdScript, Messages::Status, DEFAULT_MAX_SIZE),
        );
        m.remove(0)
    }

    #[test]
    fn our_message_becomes_ds_sets_files_and_values() {
        let m = message(vec![running_vm("web-01"), Vm::new("off", State::Shutoff)]);
        let parsed = parse(m.as_bytes(), HOST, TEST).unwrap();
        assert_eq!(parsed.interval, 300);
        assert_eq!(parsed.vms.len(), 2);
        let out = render(&parsed, TEST);
        assert!(
            !out.contains("\n\n") && !out.starts_with('\n'),
            "no blank line"
        );
        let lines: Vec<&str> = out.lines().collect();
        let ds_total = TotalGauge::ALL.len() + Counter::HOST.len();
        assert_eq!(lines[0], "DS:vms:GAUGE:600:0:U");
        assert_eq!(lines[TotalGauge::ALL.len()], "DS:cpu:DERIVE:600:0:U");
        assert_eq!(lines[ds_total], "hvmon-states.rrd");
        assert!(
            lines[ds_total + 1].starts_with("2:1:0:1:0:0:2:"),
            "{}",
            lines[ds_total + 1]
        );
        let vm_ds = ds_total + 2;
        assert_eq!(lines[vm_ds], "DS:up:GAUGE:600:0:U");
        let web = vm_ds + VmGauge::MAIN.len() + Counter::HOST.len();
        assert_eq!(lines[web], format!("hvmon,vm_{}.rrd", vm_key("web-01")));
        let values: Vec<&str> = lines[web + 1].split(':').collect();
        assert_eq!(values.len(), VmGauge::MAIN.len() + Counter::HOST.len());
        assert_eq!(&values[..4], ["1", "2", "1073741824", "268435456"]);
        assert_eq!(values[VmGauge::MAIN.len()], "1250", "12.5 CPU seconds");
        assert_eq!(lines[web + 2], "hvmon,vm_off.rrd");
        assert!(
            lines[web + 3].starts_with("0:0:0:0:"),
            "no process, no memory held: RSS 0"
        );
        // The guest's own figures: a second file per VM, unknown for these two.
        let guest_ds = web + 4;
        assert_eq!(lines[guest_ds], "DS:guestused:GAUGE:600:0:U");
        assert_eq!(lines[guest_ds + 2], "DS:guestfs:GAUGE:600:0:U");
        let guest = guest_ds + VmGauge::GUEST.len() + Counter::GUEST.len();
        assert_eq!(lines[guest - 1], "DS:steal:DERIVE:600:0:U");
        assert_eq!(
            lines[guest],
            format!("hvmon-guest,vm_{}.rrd", vm_key("web-01"))
        );
        // guestused, guestmem, guestfs, vcpu, steal.
        assert_eq!(lines[guest + 1], "U:U:U:U:U");
        assert_eq!(lines[guest + 2], "hvmon-guest,vm_off.rrd");
        assert_eq!(lines.len(), guest + 4);
    }

    #[test]
    fn pools_get_a_gauge_file_each_and_unknown_pool_metrics_are_refused() {
        use crate::model::{Pool, PoolState};
        let mut snap = snapshot(vec![running_vm("a")]);
        snap.pools = vec![Pool {
            name: "images".into(),
            state: PoolState::Running,
            state_code: None,
            capacity: 1000,
            allocation: 250,
            available: 750,
        }];
        let report = Report::Collected {
            snapshot: &snap,
            rates: None,
            rates_lost: None,
        };
        let m = build(
            &report,
            &settings(Format::RrdScript, Messages::Status, DEFAULT_MAX_SIZE),
        )
        .remove(0);
        let out = render(&parse(m.as_bytes(), HOST, TEST).unwrap(), TEST);
        assert!(
            out.ends_with(&format!(
                "DS:pct:GAUGE:600:0:U\nDS:size:GAUGE:600:0:U\nDS:free:GAUGE:600:0:U\n\
                 {TEST},pool_images.rrd\n25:1000:750\n"
            )),
            "{out}"
        );
        let forged = m.replacen("pool_images_pct :", "pool_images_cpu :", 1);
        assert!(
            refused(forged.as_bytes()).contains("unknown pool metric 'cpu'"),
            "{}",
            refused(forged.as_bytes())
        );
    }

    #[test]
    fn the_heartbeat_follows_the_interval() {
        let m = message(vec![running_vm("a")]).replace("interval 300", "interval 900");
        let out = render(&parse(m.as_bytes(), HOST, TEST).unwrap(), TEST);
        assert!(out.starts_with("DS:vms:GAUGE:1800:0:U\n"));
    }

    #[test]
    fn a_message_without_vms_or_totals_prints_nothing() {
        let m = format!(
            "status {HOST}.{TEST} green x\n{MARKER_PREFIX}rrd-script interval 300 -->\n{END_MARKER}\n"
        );
        assert_eq!(render(&parse(m.as_bytes(), HOST, TEST).unwrap(), TEST), "");
    }

    fn refused(bytes: &[u8]) -> String {
        parse(bytes, HOST, TEST).expect_err("must be refused")
    }

    #[test]
    fn hostile_and_broken_messages_are_refused_whole() {
        let good = message(vec![running_vm("a")]);
        let vm_line = good.lines().find(|l| l.starts_with("vm_a_vcpus")).unwrap();
        let with = |from: &str, to: &str| good.replacen(from, to, 1);
        let cases: Vec<(String, &str)> = vec![
            (good[..good.len() / 2].to_string(), "cut short"),
            (good.replace(END_MARKER, ""), "cut short"),
            (with(vm_line, "vm_../../etc/passwd_cpu : 1"), "unknown name"),
            (with(vm_line, "vm_a b_cpu : 1"), "unknown name"),
            (with(vm_line, "vm_a\nx_cpu : 1"), "not 'NAME : VALUE'"),
            (with(vm_line, "vm_a:b_cpu : 1"), "unknown name"),
            (with(vm_line, "vm_a_cpu : 1 : 2"), "not a counter"),
            (with(vm_line, "vm_a_vcpus : nan"), "not a number"),
            (with(vm_line, "vm_a_vcpus : 1e999"), "not a number"),
            (with(vm_line, "vm_a_rbytes : -5"), "not a counter"),
            (
                with(vm_line, "vm_a_rbytes : 99999999999999999999999"),
                "too large",
            ),
            (with(vm_line, "vm_a_bogus : 1"), "unknown metric"),
            (with(vm_line, "vm__cpu : 1"), "unknown name"),
            (
                with(
                    vm_line,
                    &format!("vm_{}_cpu : 1", "x".repeat(MAX_KEY_LEN + 1)),
                ),
                "unknown name",
            ),
            (with(vm_line, "vm_a_up : 1"), "second value"),
            (with(vm_line, "garbage"), "not 'NAME : VALUE'"),
            (format!("{good}trailing text\n"), "after the end marker"),
            (with("interval 300", "interval 0"), "interval"),
            (with("rrd-script", "splitncv"), "'splitncv' form"),
            (
                good.replacen(MARKER_PREFIX, "<!-- other ", 1),
                "no hv_monitor marker",
            ),
            (with(".hvmon ", ".other "), "test 'other'"),
            (
                with("hv1,example,com.", "hv2,example,com."),
                "host 'hv2,example,com'",
            ),
            (with("status+11", "client"), "not a status or data message"),
            (
                good.replacen("status+11 hv1,example,com.hvmon", "status+11 nodot", 1),
                "not HOST.TEST",
            ),
        ];
        for (text, needle) in cases {
            let err = refused(text.as_bytes());
            assert!(
                err.contains(needle),
                "expected '{needle}', got '{err}' for:\n{text}"
            );
        }
        assert!(refused(b"status a.hvmon green\x00\n").contains("NUL"));
        assert!(refused(b"status a.hvmon green \xff\xfe\n").contains("UTF-8"));
        assert!(refused(b"").contains("not a status"));
        let hidden = good.replace(
            "<!-- ncv_skipend -->",
            &format!("{END_MARKER}\n<!-- ncv_skipend -->"),
        );
        let hidden = &hidden[..hidden.rfind(END_MARKER).unwrap()];
        assert!(refused(hidden.as_bytes()).contains("outside the skipped text"));
        let huge = vec![b'a'; usize::try_from(MAX_MESSAGE_FILE).unwrap() + 1];
        assert!(refused(&huge).contains("too large"));
    }

    #[test]
    fn the_table_and_free_text_are_skipped_but_names_in_it_cannot_escape() {
        let m = message(vec![
            running_vm("evil\nvm_a_cpu : 1"),
            running_vm("<!-- ncv_skipend -->"),
        ]);
        let parsed = parse(m.as_bytes(), HOST, TEST).unwrap();
        assert_eq!(parsed.vms.len(), 2);
        assert!(parsed.vms.iter().all(|(k, _)| k.contains("_h")));
    }

    #[test]
    fn test_names_that_could_leave_the_directory_are_refused() {
        let dir = std::env::temp_dir();
        for test in ["../x", "a/b", "a b", ""] {
            let err = handle(HOST, test, &dir.join("nonexistent")).unwrap_err();
            assert!(matches!(err, RrdScriptError::Usage(_)), "{test}: {err}");
        }
        let err = handle(HOST, TEST, &dir.join("hvmon-no-such-file")).unwrap_err();
        assert!(err.to_string().contains("hvmon-no-such-file"), "{err}");
    }

    /// A forged message: our head and markers, one line for each of `vms` VMs.
    fn forged_with_vms(vms: usize) -> String {
        let mut m =
            format!("status {HOST}.{TEST} green x\n{MARKER_PREFIX}rrd-script interval 300 -->\n");
        for i in 0..vms {
            m.push_str(&format!("vm_v{i}_up : 1\n"));
        }
        m.push_str(END_MARKER);
        m.push('\n');
        m
    }

    #[test]
    fn no_more_vms_than_our_largest_message_holds() {
        // What the emitter puts into its largest message with the shortest keys it makes.
        let names: Vec<String> = (0..3000).map(|i| format!("v{i}")).collect();
        let vms: Vec<Vm> = names.iter().map(|n| Vm::new(n, State::Shutoff)).collect();
        let s = snapshot(vms);
        let report = Report::Collected {
            snapshot: &s,
            rates: None,
            rates_lost: None,
        };
        let ours = build(
            &report,
            &settings(Format::RrdScript, Messages::Data, DEFAULT_MAX_SIZE),
        );
        assert!(ours.len() > 1, "3000 VMs take more than one message");
        let most = ours
            .iter()
            .map(|m| parse(m.as_bytes(), HOST, TEST).unwrap().vms.len())
            .max()
            .unwrap();
        let cap = max_vms_per_message();
        assert!(most <= cap && most * 2 > cap, "{most} VMs sent, cap {cap}");

        // A forged message of one short line per VM fits 512 KiB with tens of thousands.
        assert_eq!(
            parse(forged_with_vms(cap).as_bytes(), HOST, TEST)
                .unwrap()
                .vms
                .len(),
            cap
        );
        let err = refused(forged_with_vms(cap + 1).as_bytes());
        assert!(err.contains(&format!("more than {cap} VMs")), "{err}");
        let huge = forged_with_vms(30_000);
        assert!(huge.len() < usize::try_from(MAX_MESSAGE_FILE).unwrap());
        assert!(refused(huge.as_bytes()).contains("VMs"));
    }

    #[test]
    fn case_twins_and_a_name_listed_twice_get_files_of_their_own() {
        // Before, `Web01`/`web01` shared files where case is ignored, and two VMs with one key
        // had the whole message refused ("a second value for the same name").
        let m = message(vec![
            running_vm("Web01"),
            running_vm("web01"),
            running_vm("dup"),
            running_vm("dup"),
        ]);
        let parsed = parse(m.as_bytes(), HOST, TEST).unwrap();
        assert_eq!(parsed.vms.len(), 4);
        let files: std::collections::HashSet<String> = render(&parsed, TEST)
            .lines()
            .filter(|l| l.ends_with(".rrd") && l.starts_with("hvmon,vm_"))
            .map(str::to_lowercase)
            .collect();
        assert_eq!(files.len(), 4, "{files:?}");
        assert!(files.contains("hvmon,vm_web01.rrd") && files.contains("hvmon,vm_dup.rrd"));
    }

    #[test]
    fn two_names_with_one_old_fnv_key_both_reach_their_rrd_files() {
        // One FNV-1a 64 hash (xymon_wire::key tests): one key before issue 21, and the whole
        // message refused for "a second value for the same name".
        let a = format!("{}-28461037af9cf075", "a".repeat(48));
        let b = format!("{}-599eaf919becac3e", "a".repeat(48));
        let m = message(vec![running_vm(&a), running_vm(&b)]);
        let parsed = parse(m.as_bytes(), HOST, TEST).unwrap();
        assert_eq!(parsed.vms.len(), 2);
        assert_ne!(parsed.vms[0].0, parsed.vms[1].0);
    }
}
