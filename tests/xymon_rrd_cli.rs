//! `hv_monitor xymon-rrd HOST TEST FILE` as xymond_rrd runs it: good messages give lines on
//! stdout and exit 0; hostile files give a clear stderr line, nothing on stdout, exit 8.

mod support;

use support::{run, scratch, text};

fn print_message(host: &str, format: &str) -> String {
    let out = run(&[
        "xymon",
        "--print",
        "--uri",
        "test:///default",
        "--host",
        host,
        "--format",
        format,
        "--column",
        "hvmonrrd",
        // One data message: what xymond_rrd hands the handler of the default `--message both`.
        "--message",
        "data",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn a_message_we_built_becomes_rrd_lines() {
    let dir = scratch("cli-good");
    let file = dir.join("msg");
    std::fs::write(&file, print_message("hv1.example.com", "rrd-script")).unwrap();
    let out = run(&[
        "xymon-rrd",
        "hv1.example.com",
        "hvmonrrd",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("DS:vms:GAUGE:600:0:U\n"), "{stdout}");
    assert!(stdout.contains("\nhvmonrrd,vm_test.rrd\n"));
    assert!(!stdout.contains("\n\n"));
    assert!(out.stderr.is_empty());
}

#[test]
fn hostile_files_are_refused_with_nothing_on_stdout() {
    let dir = scratch("cli-bad");
    let good = print_message("hv1.example.com", "rrd-script");
    let splitncv = print_message("hv1.example.com", "splitncv");
    // Under 512 KiB, one short line per VM: without a cap, 31,000 new RRD files.
    let many: String = (0..31_000).map(|i| format!("vm_v{i}_up : 1\n")).collect();
    let many_vms = good.replacen(
        "<!-- hvmon end -->",
        &format!("{many}<!-- hvmon end -->"),
        1,
    );
    assert!(many_vms.len() < 512 * 1024);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("huge", vec![b'x'; 600 * 1024], "bytes, more than"),
        (
            "many-vms",
            many_vms.into_bytes(),
            "VMs, the most one message",
        ),
        ("binary", b"\x7fELF\x02\x01\x01\x00\x00".to_vec(), "binary"),
        (
            "truncated",
            good.as_bytes()[..good.len() - 40].to_vec(),
            "cut short",
        ),
        (
            "dotdot",
            good.replacen("vm_test_up", "vm_../../x_up", 1).into_bytes(),
            "unknown name",
        ),
        (
            "newline",
            good.replacen("vm_test_up :", "vm_test\n_up :", 1)
                .into_bytes(),
            "line",
        ),
        (
            "colons",
            good.replacen("vm_test_up : 1", "vm_test_up : 1:2:3", 1)
                .into_bytes(),
            "not a number",
        ),
        ("splitncv", splitncv.into_bytes(), "rrd-script"),
        (
            "other-host",
            print_message("hv2.example.com", "rrd-script").into_bytes(),
            "host",
        ),
    ];
    for (name, bytes, needle) in cases {
        let file = dir.join(name);
        std::fs::write(&file, bytes).unwrap();
        let out = run(&[
            "xymon-rrd",
            "hv1.example.com",
            "hvmonrrd",
            file.to_str().unwrap(),
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(8), "{name}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{name}: printed {}",
            text(&out.stdout)
        );
        assert!(
            err.contains(file.to_str().unwrap()) && err.contains(needle),
            "{name}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{name}: one clear line: {err}");
    }
    let missing = dir.join("missing");
    let out = run(&[
        "xymon-rrd",
        "hv1.example.com",
        "hvmonrrd",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(8));
    let out = run(&[
        "xymon-rrd",
        "hv1.example.com",
        "../etc",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}
