//! What fuzzing found and started from, replayed in every `cargo test`, plus properties that
//! proptest checks on structured input the byte-level fuzzers rarely build.
//!
//! The checks are the fuzz targets' own (`fuzz/src/lib.rs`, included below), so a crasher in
//! `fuzz/regressions/TARGET/` fails here exactly as it failed under `cargo fuzz`, without a
//! nightly toolchain or libFuzzer. `scripts/fuzz.sh` runs the fuzzers themselves.

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use hv_monitor::emit::librenms::safe_text;
use hv_monitor::rrd_script;
use hv_monitor::xymon_wire::{
    Counter, END_MARKER, MARKER_PREFIX, MAX_KEY_LEN, ncv_rule, splitncv_rule, vm_key,
};
use proptest::prelude::*;

#[path = "../fuzz/src/lib.rs"]
mod checks;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Runs every file of `fuzz/KIND/TARGET/` through TARGET's check; returns how many ran.
/// Every failing file is named, not just the first.
fn replay(kind: &str) -> usize {
    let mut ran = 0;
    let mut failed = Vec::new();
    for (target, check) in checks::TARGETS {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("read the directory").path();
            let data = std::fs::read(&path).expect("read an input");
            if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
                failed.push(path.display().to_string());
            }
            ran += 1;
        }
    }
    assert!(failed.is_empty(), "failing inputs:\n{}", failed.join("\n"));
    ran
}

#[test]
fn every_crasher_found_by_fuzzing_is_fixed() {
    assert!(replay("regressions") > 0, "fuzz/regressions/ is empty");
}

#[test]
fn every_seed_passes_the_checks() {
    assert!(replay("seeds") >= checks::TARGETS.len());
}

#[test]
fn every_corpus_input_passes_the_checks() {
    // The corpus is what earlier fuzz runs kept; absent in a checkout that never fuzzed.
    replay("corpus");
}

/// A directory or target file whose name matches no check would silently never run.
#[cfg(all(target_os = "linux", feature = "libvirt"))]
#[test]
fn every_fuzz_target_has_a_check_and_seeds() {
    let names: BTreeSet<&str> = checks::TARGETS.iter().map(|(n, _)| *n).collect();
    let listed = |dir: &str, strip: &str| -> BTreeSet<String> {
        std::fs::read_dir(fuzz_dir().join(dir))
            .map(|entries| {
                entries
                    .map(|e| e.expect("read the directory").file_name())
                    .map(|n| n.to_string_lossy().trim_end_matches(strip).to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let targets = listed("fuzz_targets", ".rs");
    assert_eq!(
        targets.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        names,
        "fuzz/fuzz_targets/*.rs and checks::TARGETS differ"
    );
    for dir in ["seeds", "corpus", "regressions"] {
        for name in listed(dir, "") {
            assert!(
                names.contains(name.as_str()),
                "fuzz/{dir}/{name}: no such target"
            );
        }
    }
    assert_eq!(
        listed("seeds", "").len(),
        names.len(),
        "a target without seeds"
    );
}

// ---------------------------------------------------------------------------------------
// Properties

/// VM names as libvirt and CBSD allow them, weighted toward what breaks name mangling:
/// separators, markup, our markers, look-alikes of hashed keys, non-ASCII, long names.
fn vm_name() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9_.:=/ -]{0,80}",
        "(vm|web|h([0-9a-f]{16}|[0-9a-fA-F]{24})|_|__|-|\\.|\\.\\.|/| : |=|<!-- |-->|ncv_skipend|hvmon end|\n|\\\\|\"|%|名|é){1,8}",
        "[a-z]{40,60}(_h([0-9a-f]{16}|[0-9a-f]{24}))?",
    ]
}

proptest! {
    /// SPLITNCV and the rrd-script handler see every VM's graph names unchanged by
    /// xymond_rrd's sanitising, of `[A-Za-z0-9_]` only.
    #[test]
    fn graph_names_survive_xymond_unchanged(name in vm_name()) {
        let key = vm_key(&name);
        prop_assert!(!key.is_empty() && key.len() <= MAX_KEY_LEN);
        prop_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{key}");
        for metric in checks::vm_gauges().iter().chain(&checks::counters()) {
            let full = format!("vm_{key}_{metric}");
            prop_assert_eq!(splitncv_rule(&full), full);
        }
        // NCV's names are fixed; its rule keeps each of them.
        for metric in checks::total_gauges().iter().chain(&checks::counters()) {
            prop_assert_eq!(ncv_rule(metric), *metric);
        }
    }

    /// Different VMs never share RRD files or graphs.
    #[test]
    fn distinct_names_never_share_a_key(a in vm_name(), b in vm_name()) {
        prop_assume!(a != b);
        prop_assert_ne!(vm_key(&a), vm_key(&b));
    }

    /// Names through every Xymon format and back through the handler (the xymon_names
    /// fuzz target's checks, on names built to be awkward).
    #[test]
    fn awkward_names_through_every_xymon_format(names in prop::collection::vec(vm_name(), 1..6)) {
        checks::xymon_names(names.join("\0").as_bytes());
    }

    /// LibreNMS reads only printable ASCII without `"` or `\`, and two names must not
    /// become one key.
    #[test]
    fn safe_text_is_printable_escape_free_and_injective(a in vm_name(), b in vm_name()) {
        let sa = safe_text(&a);
        prop_assert!(sa.bytes().all(|c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\'));
        if a != b {
            prop_assert_ne!(sa, safe_text(&b));
        }
        checks::librenms(format!("{a}\0{b}").as_bytes());
    }

    /// Whatever lines a message holds, the handler prints no blank line, no `/` in a file
    /// name, no line ending in `\`: it refuses the message or prints well-formed lines.
    #[test]
    fn the_extra_script_prints_only_well_formed_lines(
        lines in prop::collection::vec(graph_line(), 0..40),
        interval in prop_oneof![Just(300u64), 0u64..100_000],
    ) {
        let message = format!(
            "status hv1,example,com.{test} green x\n{MARKER_PREFIX}rrd-script interval {interval} -->\n{}\n{END_MARKER}\n",
            lines.join("\n"),
            test = checks::RRD_TEST,
        );
        match rrd_script::parse(message.as_bytes(), checks::RRD_HOST, checks::RRD_TEST) {
            Ok(parsed) => {
                let out = rrd_script::render(&parsed, checks::RRD_TEST);
                checks::check_rrd_output(&parsed, &out, checks::RRD_TEST);
            }
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }

    /// A message of only well-formed lines is accepted, with every value where it belongs.
    #[test]
    fn well_formed_messages_are_read_whole(
        values in prop::collection::btree_map(("[A-Za-z0-9]{1,6}(_[A-Za-z0-9]{1,6}){0,2}", 0..Counter::ALL.len()), any::<u64>(), 0..30),
    ) {
        let lines: Vec<String> = values
            .iter()
            .map(|((key, m), v)| format!("vm_{key}_{} : {v}", Counter::ALL[*m].name()))
            .collect();
        let message = format!(
            "data hv1,example,com.{}\n{MARKER_PREFIX}rrd-script interval 300 -->\n{}\n{END_MARKER}\n",
            checks::RRD_TEST,
            lines.join("\n"),
        );
        let parsed = rrd_script::parse(message.as_bytes(), checks::RRD_HOST, checks::RRD_TEST);
        prop_assert!(parsed.is_ok(), "{:?}\n{message}", parsed);
        let parsed = parsed.unwrap();
        let by_key: HashMap<&str, _> = parsed.vms.iter().map(|(k, v)| (k.as_str(), v)).collect();
        for ((key, m), v) in &values {
            prop_assert_eq!(
                by_key[key.as_str()].get(Counter::ALL[*m].name()),
                Some(&rrd_script::Value::Counter(*v))
            );
        }
        let out = rrd_script::render(&parsed, checks::RRD_TEST);
        checks::check_rrd_output(&parsed, &out, checks::RRD_TEST);
    }
}

/// One line of a message body: mostly plausible graph lines, some with hostile names or
/// values, some free text or NCV markers.
fn graph_line() -> impl Strategy<Value = String> {
    let metric = prop::sample::select(
        checks::vm_gauges()
            .into_iter()
            .chain(checks::counters())
            .chain(checks::total_gauges())
            .collect::<Vec<_>>(),
    );
    let value = prop_oneof![
        any::<u64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        Just("U".to_string()),
        "[-0-9.eE+a-z\\\\]{0,12}",
    ];
    let object = prop_oneof![
        Just("all".to_string()),
        "vm_[A-Za-z0-9]{1,8}(_[A-Za-z0-9]{1,8}){0,2}",
        vm_name().prop_map(|n| format!("vm_{n}")),
    ];
    prop_oneof![
        8 => (object, metric, value).prop_map(|(o, m, v)| format!("{o}_{m} : {v}")),
        1 => Just("<!-- ncv_skipstart -->".to_string()),
        1 => Just("<!-- ncv_skipend -->".to_string()),
        1 => vm_name(),
    ]
}

/// A sanity check of the property strategies themselves: they do produce names that need
/// hashing, and keys that collide under the plain SPLITNCV rule.
#[test]
fn the_name_strategy_reaches_the_hard_cases() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let names: BTreeSet<String> = (0..2000)
        .map(|_| vm_name().new_tree(&mut runner).unwrap().current())
        .collect();
    assert!(
        names.iter().any(|n| vm_key(n) != *n),
        "no name needed hashing"
    );
    let mut by_rule: HashMap<String, usize> = HashMap::new();
    for n in &names {
        *by_rule.entry(splitncv_rule(n)).or_default() += 1;
    }
    assert!(
        by_rule.values().any(|&c| c > 1),
        "no two names the plain SPLITNCV rule would merge"
    );
}
