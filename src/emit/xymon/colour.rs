//! The status column's colour, by fixed rules (xymon/README.md, "Colours"). This table is the
//! one place they are stated; a VM's state reason is libvirt's (`virsh domstate --reason`).
//!
//! | finding                                                          | colour |
//! |------------------------------------------------------------------|--------|
//! | the collector failed (no snapshot at all)                        | red    |
//! | a VM crashed                                                     | red    |
//! | a VM paused on a disk I/O error, by its watchdog or on a crash   | red    |
//! | a VM paused after a failed post-copy migration or API call       | yellow |
//! | a VM blocked on a resource                                       | yellow |
//! | a VM set to autostart that is not running (whatever the reason: shut off by the guest itself, destroyed, crashed) | yellow |
//! | a VM whose state the hypervisor cannot tell                      | yellow |
//! | a guest file system (guest agent) at or past `--fs-panic` % used (95) | red    |
//! | a guest file system at or past `--fs-warn` % used (90)           | yellow |
//! | anything else: running; paused by a user, for a snapshot, save, dump or migration, or for no reason given; off without autostart | green  |
//!
//! Collection warnings (a VM that vanished mid-run, unreadable /proc figures) are listed on
//! the status page but do not change the colour: they cost some figures, not a VM.

use super::guest_fs::{FsLimits, fullest};
use crate::model::{Reason, Snapshot, State, Vm};

/// A Xymon status colour, ordered from good to bad: a column shows its worst finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Colour {
    /// Every VM as expected.
    Green,
    /// Something needs a look (see the rules table above).
    Yellow,
    /// Something is broken.
    Red,
}

impl Colour {
    /// The word Xymon reads in a status message.
    pub fn name(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::Red => "red",
        }
    }
}

/// One reason for a colour other than green, about one VM.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The colour this finding asks for.
    pub colour: Colour,
    /// Index into the snapshot's VMs.
    pub vm: usize,
    /// What is wrong, as the status page says it after the VM's name.
    pub what: String,
}

/// What is wrong with one VM, if anything, by the rules above; the text names the state and
/// its reason (`paused (I/O error)`).
pub fn vm_finding(vm: &Vm) -> Option<(Colour, String)> {
    let stuck = |colour| Some((colour, vm.state_text()));
    match (vm.state, vm.reason.kind) {
        (State::Crashed, _)
        | (State::Paused, Reason::IoError | Reason::Watchdog | Reason::Crashed) => {
            stuck(Colour::Red)
        }
        (State::Paused, Reason::PostCopyFailed | Reason::ApiError) => stuck(Colour::Yellow),
        (State::Blocked, _) => Some((Colour::Yellow, "blocked on a resource".into())),
        (State::Unknown | State::NoState, _) => Some((Colour::Yellow, "in no known state".into())),
        (s, _) if vm.autostart == Some(true) && !s.has_process() => Some((
            Colour::Yellow,
            format!("set to autostart but not running: {}", vm.state_text()),
        )),
        _ => None,
    }
}

/// The guest file system rule: the VM's fullest file system at or past `limits`.
pub fn fs_finding(vm: &Vm, limits: FsLimits) -> Option<(Colour, String)> {
    let (pct, what) = fullest(vm)?;
    if pct >= limits.panic {
        Some((Colour::Red, what))
    } else if pct >= limits.warn {
        Some((Colour::Yellow, what))
    } else {
        None
    }
}

/// The findings of a snapshot, worst first, one per VM at most (a VM with a state and a
/// file system finding gets both texts and the worse colour), and the colour they add up to.
pub fn assess(snapshot: &Snapshot, fs_limits: FsLimits) -> (Colour, Vec<Finding>) {
    let mut findings: Vec<Finding> = snapshot
        .vms
        .iter()
        .enumerate()
        .filter_map(|(i, vm)| {
            let finding = match (vm_finding(vm), fs_finding(vm, fs_limits)) {
                (Some((c1, w1)), Some((c2, w2))) => Some((c1.max(c2), format!("{w1}; {w2}"))),
                (one, other) => one.or(other),
            };
            finding.map(|(colour, what)| Finding {
                colour,
                vm: i,
                what,
            })
        })
        .collect();
    findings.sort_by(|a, b| b.colour.cmp(&a.colour).then(a.vm.cmp(&b.vm)));
    let colour = findings.first().map_or(Colour::Green, |f| f.colour);
    (colour, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Backend;

    fn snapshot(vms: Vec<Vm>) -> Snapshot {
        Snapshot::new(Backend::Libvirt, vms)
            .with_warning("VM 'gone' vanished during collection; left out")
    }

    fn vm(name: &str, state: State, autostart: Option<bool>) -> Vm {
        let mut vm = Vm::new(name, state);
        vm.autostart = autostart;
        vm
    }

    fn with_reason(mut vm: Vm, kind: Reason) -> Vm {
        vm.reason.kind = kind;
        vm
    }

    #[test]
    fn healthy_states_and_warnings_stay_green() {
        let s = snapshot(vec![
            vm("a", State::Running, Some(true)),
            vm("b", State::Paused, Some(true)),
            vm("c", State::Shutoff, Some(false)),
            vm("d", State::Shutoff, None),
            vm("e", State::PmSuspended, Some(true)),
            vm("f", State::Maintenance, None),
            with_reason(vm("g", State::Paused, None), Reason::User),
            with_reason(vm("h", State::Shutoff, Some(false)), Reason::Shutdown),
        ]);
        assert_eq!(assess(&s, FsLimits::default()), (Colour::Green, vec![]));
    }

    #[test]
    fn autostart_but_down_and_blocked_are_yellow() {
        let s = snapshot(vec![
            vm("a", State::Running, Some(true)),
            vm("b", State::Shutoff, Some(true)),
            vm("c", State::Blocked, None),
            vm("d", State::Off, Some(true)),
            with_reason(vm("e", State::Shutoff, Some(true)), Reason::Shutdown),
        ]);
        let (colour, findings) = assess(&s, FsLimits::default());
        assert_eq!(colour, Colour::Yellow);
        let flagged: Vec<usize> = findings.iter().map(|f| f.vm).collect();
        assert_eq!(flagged, vec![1, 2, 3, 4]);
        assert_eq!(
            findings[0].what,
            "set to autostart but not running: shutoff"
        );
        assert_eq!(
            findings[3].what,
            "set to autostart but not running: shutoff (guest shutdown)"
        );
    }

    #[test]
    fn crashed_and_io_error_pauses_are_red_and_listed_first() {
        let s = snapshot(vec![
            vm("a", State::Blocked, None),
            vm("b", State::Crashed, Some(true)),
            with_reason(vm("stuck", State::Paused, None), Reason::IoError),
        ]);
        let (colour, findings) = assess(&s, FsLimits::default());
        assert_eq!(colour, Colour::Red);
        assert_eq!(
            findings
                .iter()
                .map(|f| (f.colour, f.vm))
                .collect::<Vec<_>>(),
            vec![(Colour::Red, 1), (Colour::Red, 2), (Colour::Yellow, 0)]
        );
        assert_eq!(findings[1].what, "paused (I/O error)");
    }

    #[test]
    fn a_crashed_vm_set_to_autostart_reports_the_crash() {
        assert_eq!(
            vm_finding(&with_reason(
                vm("x", State::Crashed, Some(true)),
                Reason::Panicked
            )),
            Some((Colour::Red, "crashed (guest panic)".to_string()))
        );
    }

    /// The rules by reason, each VM's state and reason given as libvirt's numbers from the
    /// bindings and decoded as the collector decodes them.
    #[cfg(all(feature = "libvirt", target_os = "linux"))]
    #[test]
    fn reasons_from_libvirt_decide_the_colour() {
        use crate::collect::libvirt::parse::stats::{reason_from_libvirt, state_from_libvirt};
        use virt::sys;
        let colour = |state: u32, reason: u32, autostart: bool| {
            let mut vm = vm("v", state_from_libvirt(state), Some(autostart));
            vm.reason = reason_from_libvirt(vm.state, reason);
            vm_finding(&vm)
        };
        let paused = sys::VIR_DOMAIN_PAUSED;
        let red = |what: &str| Some((Colour::Red, what.to_string()));
        assert_eq!(
            colour(paused, sys::VIR_DOMAIN_PAUSED_IOERROR, false),
            red("paused (I/O error)")
        );
        assert_eq!(
            colour(paused, sys::VIR_DOMAIN_PAUSED_WATCHDOG, false),
            red("paused (watchdog)")
        );
        assert_eq!(
            colour(paused, sys::VIR_DOMAIN_PAUSED_CRASHED, false),
            red("paused (guest crash)")
        );
        for not_stuck in [
            sys::VIR_DOMAIN_PAUSED_USER,
            sys::VIR_DOMAIN_PAUSED_MIGRATION,
            sys::VIR_DOMAIN_PAUSED_SAVE,
            sys::VIR_DOMAIN_PAUSED_DUMP,
            sys::VIR_DOMAIN_PAUSED_SNAPSHOT,
            sys::VIR_DOMAIN_PAUSED_FROM_SNAPSHOT,
            sys::VIR_DOMAIN_PAUSED_UNKNOWN,
        ] {
            assert_eq!(
                colour(paused, not_stuck, true),
                None,
                "paused reason {not_stuck}"
            );
        }
        assert_eq!(
            colour(paused, sys::VIR_DOMAIN_PAUSED_POSTCOPY_FAILED, false),
            Some((Colour::Yellow, "paused (post-copy migration failed)".into()))
        );
        assert_eq!(
            colour(
                sys::VIR_DOMAIN_CRASHED,
                sys::VIR_DOMAIN_CRASHED_PANICKED,
                false
            ),
            red("crashed (guest panic)")
        );
        let shutoff = sys::VIR_DOMAIN_SHUTOFF;
        assert_eq!(
            colour(shutoff, sys::VIR_DOMAIN_SHUTOFF_SHUTDOWN, true),
            Some((
                Colour::Yellow,
                "set to autostart but not running: shutoff (guest shutdown)".into()
            ))
        );
        assert_eq!(
            colour(shutoff, sys::VIR_DOMAIN_SHUTOFF_SHUTDOWN, false),
            None
        );
        assert_eq!(
            colour(shutoff, sys::VIR_DOMAIN_SHUTOFF_DESTROYED, false),
            None
        );
        assert_eq!(
            colour(
                sys::VIR_DOMAIN_RUNNING,
                sys::VIR_DOMAIN_RUNNING_UNPAUSED,
                true
            ),
            None,
            "{} is I/O error only for a paused VM",
            sys::VIR_DOMAIN_PAUSED_IOERROR
        );
    }

    #[test]
    fn guest_file_systems_are_yellow_from_ninety_and_red_from_ninety_five() {
        use crate::model::{Agent, Guest, GuestFs};
        let full = |pct: u64| {
            let mut vm = vm("g", State::Running, None);
            vm.agent = Agent::Answered(Box::new(Guest {
                file_systems: vec![GuestFs {
                    mountpoint: "/srv".into(),
                    fstype: "ext4".into(),
                    used: Some(pct),
                    total: Some(100),
                }],
                ..Guest::default()
            }));
            vm
        };
        let limits = FsLimits::default();
        assert_eq!(fs_finding(&full(89), limits), None);
        assert_eq!(fs_finding(&full(90), limits).unwrap().0, Colour::Yellow);
        assert_eq!(fs_finding(&full(95), limits).unwrap().0, Colour::Red);
        let tight = FsLimits {
            warn: 50.0,
            panic: 60.0,
        };
        assert_eq!(fs_finding(&full(55), tight).unwrap().0, Colour::Yellow);
        // A VM with a state finding too gets one line with both and the worse colour.
        let mut both = full(96);
        both.state = State::Blocked;
        let (colour, findings) = assess(&snapshot(vec![both]), limits);
        assert_eq!((colour, findings.len()), (Colour::Red, 1));
        assert_eq!(
            findings[0].what,
            "blocked on a resource; guest file system /srv 96.0 % full (ext4)"
        );
    }
}
