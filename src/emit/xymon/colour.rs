//! The status column's colour, by fixed rules (xymon/README.md, "Colours"). This table is the
//! one place they are stated; a VM's state reason is libvirt's (`virsh domstate --reason`).
//!
//! | finding                                                          | colour |
//! |------------------------------------------------------------------|--------|
//! | the collector failed (no snapshot at all)                        | red    |
//! | a VM crashed                                                     | red    |
//! | a VM paused on a disk I/O error, by its watchdog or on a crash   | red    |
//! | a VM disk with an error libvirt keeps (no space, I/O error): one finding per disk, naming it | red |
//! | a storage pool at least `--pool-panic` % full (default 95)       | red    |
//! | a storage pool at least `--pool-warn` % full (default 90)        | yellow |
//! | a storage pool degraded or inaccessible                          | yellow |
//! | a VM paused after a failed post-copy migration or API call       | yellow |
//! | a VM blocked on a resource                                       | yellow |
//! | a VM set to autostart that is not running (whatever the reason: shut off by the guest itself, destroyed, crashed) | yellow |
//! | a VM whose state the hypervisor cannot tell                      | yellow |
//! | a guest file system (guest agent) at or past `--fs-panic` % used (95) | red    |
//! | a guest file system at or past `--fs-warn` % used (90)           | yellow |
//! | anything else: running; paused by a user, for a snapshot, save, dump or migration, or for no reason given; off without autostart; pools below `--pool-warn`, inactive or being built | green  |
//!
//! "Full" is what is no longer available of a pool's capacity ([`Pool::used_percent`]); of
//! a VM's guest file systems, the fullest one counts.
//!
//! Collection warnings (a VM that vanished mid-run, unreadable /proc figures) are listed on
//! the status page but do not change the colour: they cost some figures, not a VM.

use super::guest_fs::{FsLimits, fullest};
use crate::model::{Pool, PoolState, Reason, Snapshot, State, Vm};

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

/// How full a storage pool may get, percent, before it turns the column yellow (`warn`)
/// and red (`panic`): `--pool-warn`, `--pool-panic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    warn: u8,
    panic: u8,
}

impl PoolLimits {
    /// Yellow at 90 %, red at 95 %.
    pub const DEFAULT: PoolLimits = PoolLimits {
        warn: 90,
        panic: 95,
    };

    /// Percents of 1 to 100, `warn` below `panic`; the error says what is wrong.
    pub fn new(warn: u8, panic: u8) -> Result<PoolLimits, String> {
        for (option, value) in [("--pool-warn", warn), ("--pool-panic", panic)] {
            if !(1..=100).contains(&value) {
                return Err(format!("{option} {value} is not a percent from 1 to 100"));
            }
        }
        if warn >= panic {
            return Err(format!(
                "--pool-warn {warn} must be below --pool-panic {panic}"
            ));
        }
        Ok(PoolLimits { warn, panic })
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    /// Index into the snapshot's VMs.
    Vm(usize),
    /// Index into the snapshot's pools.
    Pool(usize),
}

/// One reason for a colour other than green, about one VM or one pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The colour this finding asks for.
    pub colour: Colour,
    /// The VM or pool it is about.
    pub subject: Subject,
    /// What is wrong, as the status page says it after the VM's or pool's name.
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

/// Each disk error of a VM: red, naming the disk and the error (`disk vdb: no space`).
pub fn disk_error_findings(vm: &Vm) -> impl Iterator<Item = (Colour, String)> + '_ {
    vm.disk_errors
        .iter()
        .map(|e| (Colour::Red, format!("disk {}: {}", e.disk, e.kind.text())))
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

/// What is wrong with one storage pool, if anything, by the rules above.
pub fn pool_finding(pool: &Pool, limits: PoolLimits) -> Option<(Colour, String)> {
    if matches!(pool.state, PoolState::Degraded | PoolState::Inaccessible) {
        return Some((Colour::Yellow, pool.state.name().to_string()));
    }
    let used = pool.used_percent()?;
    let colour = if used >= f64::from(limits.panic) {
        Colour::Red
    } else if used >= f64::from(limits.warn) {
        Colour::Yellow
    } else {
        return None;
    };
    let limit = if colour == Colour::Red {
        limits.panic
    } else {
        limits.warn
    };
    Some((
        colour,
        format!(
            "{used:.1}% full (limit {limit}%), {} of {} MiB free",
            mib(pool.available),
            mib(pool.capacity)
        ),
    ))
}

/// Bytes as MiB with one decimal: a small pool's last free MiB still shows.
fn mib(bytes: u64) -> String {
    // Precision lost only past 2^53 bytes, far below one decimal of a MiB.
    #[allow(clippy::cast_precision_loss)]
    let mib = bytes as f64 / f64::from(1u32 << 20);
    format!("{mib:.1}")
}

/// The findings of a snapshot, worst first, and the colour they add up to.
pub fn assess(
    snapshot: &Snapshot,
    pool_limits: PoolLimits,
    fs_limits: FsLimits,
) -> (Colour, Vec<Finding>) {
    let finding = |subject| {
        move |(colour, what)| Finding {
            colour,
            subject,
            what,
        }
    };
    let mut findings: Vec<Finding> = Vec::new();
    for (i, vm) in snapshot.vms.iter().enumerate() {
        findings.extend(vm_finding(vm).map(finding(Subject::Vm(i))));
        findings.extend(disk_error_findings(vm).map(finding(Subject::Vm(i))));
        findings.extend(fs_finding(vm, fs_limits).map(finding(Subject::Vm(i))));
    }
    for (i, pool) in snapshot.pools.iter().enumerate() {
        findings.extend(pool_finding(pool, pool_limits).map(finding(Subject::Pool(i))));
    }
    // Stable: a VM's own findings of one colour keep their order (state, disks, file system).
    findings.sort_by(|a, b| b.colour.cmp(&a.colour).then(a.subject.cmp(&b.subject)));
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
        assert_eq!(
            assess(&s, PoolLimits::DEFAULT, FsLimits::default()),
            (Colour::Green, vec![])
        );
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
        let (colour, findings) = assess(&s, PoolLimits::DEFAULT, FsLimits::default());
        assert_eq!(colour, Colour::Yellow);
        let flagged: Vec<Subject> = findings.iter().map(|f| f.subject).collect();
        assert_eq!(flagged, [1, 2, 3, 4].map(Subject::Vm));
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
        let (colour, findings) = assess(&s, PoolLimits::DEFAULT, FsLimits::default());
        assert_eq!(colour, Colour::Red);
        assert_eq!(
            findings
                .iter()
                .map(|f| (f.colour, f.subject))
                .collect::<Vec<_>>(),
            vec![
                (Colour::Red, Subject::Vm(1)),
                (Colour::Red, Subject::Vm(2)),
                (Colour::Yellow, Subject::Vm(0))
            ]
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

    fn pool(name: &str, capacity: u64, available: u64, state: PoolState) -> Pool {
        Pool {
            name: name.into(),
            state,
            state_code: None,
            capacity,
            allocation: capacity - available,
            available,
        }
    }

    #[test]
    fn pools_turn_yellow_then_red_as_they_fill() {
        let running = |pct: u64| {
            pool(
                "p",
                1000 << 20,
                (100 - pct) * (10 << 20),
                PoolState::Running,
            )
        };
        let limits = PoolLimits::DEFAULT;
        assert_eq!(pool_finding(&running(50), limits), None);
        assert_eq!(pool_finding(&running(89), limits), None);
        assert_eq!(
            pool_finding(&running(90), limits).unwrap().0,
            Colour::Yellow
        );
        let (colour, what) = pool_finding(&running(96), limits).unwrap();
        assert_eq!(colour, Colour::Red);
        assert_eq!(what, "96.0% full (limit 95%), 40.0 of 1000.0 MiB free");
        let strict = PoolLimits::new(40, 60).unwrap();
        assert_eq!(
            pool_finding(&running(50), strict).unwrap().0,
            Colour::Yellow
        );
        assert_eq!(pool_finding(&running(60), strict).unwrap().0, Colour::Red);
        // No capacity to judge (inactive): no finding; degraded storage: a look.
        assert_eq!(
            pool_finding(&pool("i", 0, 0, PoolState::Inactive), limits),
            None
        );
        assert_eq!(
            pool_finding(&pool("d", 100, 90, PoolState::Degraded), limits),
            Some((Colour::Yellow, "degraded".into()))
        );
    }

    #[test]
    fn pool_limits_are_percents_warn_below_panic() {
        assert_eq!(PoolLimits::new(90, 95), Ok(PoolLimits::DEFAULT));
        assert!(PoolLimits::new(1, 100).is_ok());
        for (warn, panic, says) in [
            (95, 90, "--pool-warn 95 must be below --pool-panic 90"),
            (90, 90, "--pool-warn 90 must be below --pool-panic 90"),
            (0, 90, "--pool-warn 0 is not a percent from 1 to 100"),
            (90, 101, "--pool-panic 101 is not a percent from 1 to 100"),
        ] {
            assert_eq!(PoolLimits::new(warn, panic), Err(says.to_string()));
        }
    }

    #[test]
    fn a_disk_error_is_red_naming_the_disk_after_the_state() {
        use crate::model::{DiskError, DiskErrorKind};
        let mut stuck = with_reason(vm("db", State::Paused, None), Reason::IoError);
        stuck.disk_errors = vec![DiskError {
            disk: "vdb".into(),
            code: 2,
            kind: DiskErrorKind::NoSpace,
        }];
        let mut s = snapshot(vec![vm("a", State::Running, None), stuck]);
        s.pools = vec![
            pool("images", 100 << 20, 4 << 20, PoolState::Running),
            pool("spare", 100 << 20, 50 << 20, PoolState::Running),
        ];
        let (colour, findings) = assess(&s, PoolLimits::DEFAULT, FsLimits::default());
        assert_eq!(colour, Colour::Red);
        let seen: Vec<(Subject, &str)> = findings
            .iter()
            .map(|f| (f.subject, f.what.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (Subject::Vm(1), "paused (I/O error)"),
                (Subject::Vm(1), "disk vdb: no space"),
                (
                    Subject::Pool(0),
                    "96.0% full (limit 95%), 4.0 of 100.0 MiB free"
                ),
            ]
        );
    }

    #[test]
    fn guest_file_systems_are_yellow_from_ninety_and_red_from_ninety_five() {
        use crate::model::{Agent, AgentInfo, GuestFs};
        let full = |pct: u64| {
            let mut vm = vm("g", State::Running, None);
            vm.agent = Agent::Answered(Box::new(AgentInfo {
                file_systems: vec![GuestFs {
                    mountpoint: "/srv".into(),
                    fstype: "ext4".into(),
                    used: Some(pct),
                    total: Some(100),
                }],
                ..AgentInfo::default()
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
        // A VM with a state finding too gets both, the worse first.
        let mut both = full(96);
        both.state = State::Blocked;
        let (colour, findings) = assess(&snapshot(vec![both]), PoolLimits::DEFAULT, limits);
        assert_eq!(colour, Colour::Red);
        let seen: Vec<(Colour, &str)> = findings
            .iter()
            .map(|f| (f.colour, f.what.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (Colour::Red, "guest file system /srv 96.0 % full (ext4)"),
                (Colour::Yellow, "blocked on a resource"),
            ]
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
}
