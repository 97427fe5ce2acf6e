//! The size limit: every message at most `--max-size` bytes and whole (ending with the end
//! marker) for any number of VMs, any mix of states, any name length, in every format and
//! message kind.

use std::time::Duration;

use proptest::prelude::*;

use super::graph_lines;
use super::message::{END_MARKER, MARKER_PREFIX, build};
use super::metrics::VmSample;
use super::settings::{DEFAULT_MAX_SIZE, Kind, MIN_MAX_SIZE, Report, Settings};
use super::test_support::*;
use crate::model::{State, Vm};
use crate::rates::CounterRates;

#[test]
fn the_largest_group_fits_the_smallest_message() {
    // A name whose key is as long as keys get, and figures as long as numbers get.
    let s = snapshot(vec![maximal_vm(&"a-".repeat(500), State::Running)]);
    let previous = zero_counters_just_before(&s);
    for format in FORMATS {
        let samples: Vec<VmSample> = s.vms.iter().map(VmSample::of).collect();
        let rates: Vec<CounterRates> = samples
            .iter()
            .map(|x| previous.rates(s.taken_at, x, Duration::from_secs(1)))
            .collect();
        assert!(rates[0].iter().all(Option::is_some));
        let chunks = graph_lines::groups(&s, &samples, &rates, format);
        let longest = chunks.iter().map(String::len).max().unwrap();
        let head = format!(
            "data {}.{}\n{MARKER_PREFIX}rrd-script interval 86400 -->\n",
            "h".repeat(253),
            "c".repeat(60)
        );
        let whole = head.len() + longest + END_MARKER.len() + 1;
        assert!(
            whole <= MIN_MAX_SIZE,
            "{}: a data message with one group is {whole} bytes",
            format.name()
        );
    }
}

#[test]
fn a_mass_failure_with_long_names_stays_under_the_limit_in_every_format_and_kind() {
    let vms: Vec<Vm> = (0..2000)
        .map(|i| maximal_vm(&format!("{i:04}-{}", "<&\n".repeat(330)), State::Crashed))
        .collect();
    let mut s = snapshot(vms);
    s.warnings = (0..2000)
        .map(|i| format!("VM '{i}{}' vanished during collection", "\x07".repeat(990)))
        .collect();
    let previous = zero_counters_just_before(&s);
    // The state file's path is the admin's: as long as a path gets.
    let lost = format!(
        "hv_monitor keeps no rates: cannot write '/{}'",
        "<&\n".repeat(1400)
    );
    for max_size in [MIN_MAX_SIZE, 8192, DEFAULT_MAX_SIZE] {
        for format in FORMATS {
            for kind in KINDS {
                let report = Report::Collected {
                    snapshot: &s,
                    previous: Some(&previous),
                    rates_lost: Some(&lost),
                };
                let messages = build(&report, &Settings::longest(format, kind, max_size));
                for (i, m) in messages.iter().enumerate() {
                    assert!(
                        m.len() <= max_size && m.ends_with(&format!("\n{END_MARKER}\n")),
                        "{} {kind:?} {max_size}: message {i} is {} bytes",
                        format.name(),
                        m.len()
                    );
                }
                if kind != Kind::Data {
                    let status = &messages[0];
                    assert!(status.contains("keeps no rates"), "{}", &status[..300]);
                    assert!(status.contains(" red "), "{}", &status[..300]);
                    assert!(status.contains("more VMs with problems not listed"));
                }
            }
        }
    }
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9_-]{1,20}", "[\\x00-\\x7f]{0,1000}", "(?s).{0,250}",]
}

fn arb_vm() -> impl Strategy<Value = (usize, usize, bool, bool, bool)> {
    (
        0..State::ALL.len(),
        0..3usize,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_message_fits_and_ends_with_the_marker(
        names in prop::collection::vec(arb_name(), 1..12),
        shapes in prop::collection::vec(arb_vm(), 1..16),
        count in 0..5000usize,
        warnings in prop::collection::vec("(?s).{0,400}", 0..40),
        max_size in MIN_MAX_SIZE..=DEFAULT_MAX_SIZE,
        with_rates in any::<bool>(),
        long_settings in any::<bool>(),
        rates_lost in prop::option::of("(?s).{0,5000}"),
    ) {
        let vms: Vec<Vm> = (0..count)
            .map(|i| {
                let (state, figures, autostart, io_error, busy) = shapes[i % shapes.len()];
                let name = format!("{}{i}", names[i % names.len()]);
                let mut vm = match figures {
                    0 => Vm::new(name, State::ALL[state]),
                    1 => { let mut vm = running_vm(&name); vm.state = State::ALL[state]; vm }
                    _ => maximal_vm(&name, State::ALL[state]),
                };
                vm.autostart = Some(autostart);
                if io_error {
                    vm.reason.kind = crate::model::Reason::IoError;
                }
                vm.disk_stats_unknown = busy;
                vm
            })
            .collect();
        let mut s = snapshot(vms);
        s.warnings = warnings;
        let previous = zero_counters_just_before(&s);
        for format in FORMATS {
            for kind in KINDS {
                let settings = if long_settings {
                    Settings::longest(format, kind, max_size)
                } else {
                    settings(format, kind, max_size)
                };
                let report = Report::Collected {
                    snapshot: &s,
                    previous: with_rates.then_some(&previous),
                    rates_lost: rates_lost.as_deref(),
                };
                for m in build(&report, &settings) {
                    prop_assert!(m.len() <= max_size, "{} bytes over {max_size}", m.len());
                    let end = format!("\n{END_MARKER}\n");
                    prop_assert!(m.ends_with(&end), "no end marker");
                }
            }
        }
    }
}
