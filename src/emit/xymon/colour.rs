//! The status column's colour, by fixed rules (xymon/README.md, "Colours"):
//!
//! | finding                                         | colour |
//! |-------------------------------------------------|--------|
//! | the collector failed (no snapshot at all)       | red    |
//! | a VM crashed                                    | red    |
//! | a VM paused by a disk I/O error                 | red    |
//! | a VM blocked on a resource                      | yellow |
//! | a VM set to autostart that is not running       | yellow |
//! | a VM whose state the hypervisor cannot tell     | yellow |
//! | anything else (running, paused by a person, off)| green  |
//!
//! Collection warnings (a VM that vanished mid-run, unreadable /proc figures) are listed on
//! the status page but do not change the colour: they cost some figures, not a VM.

use crate::model::{Snapshot, State, Vm};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

impl Colour {
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
    pub colour: Colour,
    /// Index into the snapshot's VMs.
    pub vm: usize,
    pub what: &'static str,
}

/// What is wrong with one VM, if anything.
pub fn vm_finding(vm: &Vm) -> Option<(Colour, &'static str)> {
    match vm.state {
        State::Crashed => Some((Colour::Red, "crashed")),
        State::Paused if vm.paused_on_io_error => Some((Colour::Red, "paused by a disk I/O error")),
        State::Blocked => Some((Colour::Yellow, "blocked on a resource")),
        State::Unknown | State::NoState => Some((Colour::Yellow, "in no known state")),
        s if vm.autostart == Some(true) && !s.has_process() => {
            Some((Colour::Yellow, "set to autostart but not running"))
        }
        _ => None,
    }
}

/// The findings of a snapshot, worst first, and the colour they add up to.
pub fn assess(snapshot: &Snapshot) -> (Colour, Vec<Finding>) {
    let mut findings: Vec<Finding> = snapshot
        .vms
        .iter()
        .enumerate()
        .filter_map(|(i, vm)| {
            vm_finding(vm).map(|(colour, what)| Finding {
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
        Snapshot {
            backend: Backend::Libvirt,
            taken_at: std::time::SystemTime::now(),
            vms,
            warnings: vec!["VM 'gone' vanished during collection; left out".into()],
        }
    }

    fn vm(name: &str, state: State, autostart: Option<bool>) -> Vm {
        let mut vm = Vm::new(name, state);
        vm.autostart = autostart;
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
        ]);
        assert_eq!(assess(&s), (Colour::Green, vec![]));
    }

    #[test]
    fn autostart_but_down_and_blocked_are_yellow() {
        let s = snapshot(vec![
            vm("a", State::Running, Some(true)),
            vm("b", State::Shutoff, Some(true)),
            vm("c", State::Blocked, None),
            vm("d", State::Off, Some(true)),
        ]);
        let (colour, findings) = assess(&s);
        assert_eq!(colour, Colour::Yellow);
        let flagged: Vec<usize> = findings.iter().map(|f| f.vm).collect();
        assert_eq!(flagged, vec![1, 2, 3]);
        assert_eq!(findings[0].what, "set to autostart but not running");
    }

    #[test]
    fn crashed_and_io_error_pauses_are_red_and_listed_first() {
        let mut stuck = vm("stuck", State::Paused, None);
        stuck.paused_on_io_error = true;
        let s = snapshot(vec![
            vm("a", State::Blocked, None),
            vm("b", State::Crashed, Some(true)),
            stuck,
        ]);
        let (colour, findings) = assess(&s);
        assert_eq!(colour, Colour::Red);
        assert_eq!(
            findings
                .iter()
                .map(|f| (f.colour, f.vm))
                .collect::<Vec<_>>(),
            vec![(Colour::Red, 1), (Colour::Red, 2), (Colour::Yellow, 0)]
        );
        assert_eq!(findings[1].what, "paused by a disk I/O error");
    }

    #[test]
    fn a_crashed_vm_set_to_autostart_reports_the_crash() {
        assert_eq!(
            vm_finding(&vm("x", State::Crashed, Some(true))),
            Some((Colour::Red, "crashed"))
        );
    }
}
