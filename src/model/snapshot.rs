//! One collection's result: the VMs, the host's pools, what went wrong on the way.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use super::pool::Pool;
use super::vm::Vm;

/// The hypervisor stack a snapshot comes from; `-b` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// libvirt, through the `virt` crate (Linux).
    Libvirt,
    /// CBSD with bhyve, through CBSD's commands (FreeBSD).
    Cbsd,
}

impl Backend {
    /// The Perl tool's defaults: CBSD on FreeBSD, libvirt elsewhere.
    pub fn default_for_this_os() -> Backend {
        if cfg!(target_os = "freebsd") {
            Backend::Cbsd
        } else {
            Backend::Libvirt
        }
    }

    /// The `-b` name, lower-case (`libvirt`, `cbsd`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Libvirt => "libvirt",
            Backend::Cbsd => "cbsd",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;

    /// Case-insensitive, so the Perl tool's `-b Libvirt` and `-b CBSD` keep working.
    fn from_str(s: &str) -> Result<Backend, String> {
        match s.to_ascii_lowercase().as_str() {
            "libvirt" => Ok(Backend::Libvirt),
            "cbsd" => Ok(Backend::Cbsd),
            _ => Err(format!("unknown backend '{s}' (expected libvirt or cbsd)")),
        }
    }
}

/// Everything one collection saw, at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Which backend collected it.
    pub backend: Backend,
    /// When the collection started (the time status pages and rates use).
    pub taken_at: SystemTime,
    /// Sorted by name, so every output is stable from run to run.
    pub vms: Vec<Vm>,
    /// The host's storage pools, sorted by name; empty where the backend reports none.
    pub pools: Vec<Pool>,
    /// Problems that cost some data but not the run (a VM that vanished mid-collection, an
    /// unreadable /proc file): one line each, for stderr and status pages.
    pub warnings: Vec<String>,
    /// Facts about the run that cost nothing a user must act on (guest agents not asked over
    /// a read-only connection): said once, never as a warning or an error.
    pub notes: Vec<String>,
    /// Set when the run was told to report only some VMs (`--vm`, `--exclude`): the totals
    /// and state counts then cover the reported VMs only.
    pub filtered: Option<Filtered>,
}

/// A run that reports only some VMs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filtered {
    /// The patterns as given on the command line (`--vm 'web-*' --exclude 'web-9'`).
    pub rules: String,
    /// How many VMs the host has that the patterns left out.
    pub left_out: usize,
}

impl Snapshot {
    /// A snapshot of `vms` taken now, without warnings; the methods below set the rest. The
    /// one way to build one, for the collectors and for every test.
    pub fn new(backend: Backend, vms: Vec<Vm>) -> Snapshot {
        Snapshot {
            backend,
            taken_at: SystemTime::now(),
            vms,
            pools: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
            filtered: None,
        }
    }

    /// Recording the filter that chose its VMs, if any.
    pub fn filtered(mut self, filtered: Option<Filtered>) -> Snapshot {
        self.filtered = filtered;
        self
    }

    /// Taken at `at` instead of now (tests pin the time their expected output shows).
    pub fn taken_at(mut self, at: SystemTime) -> Snapshot {
        self.taken_at = at;
        self
    }

    /// With one more warning.
    pub fn with_warning(mut self, warning: impl Into<String>) -> Snapshot {
        self.warnings.push(warning.into());
        self
    }

    /// With these warnings after any already there.
    pub fn with_warnings(mut self, warnings: impl IntoIterator<Item = String>) -> Snapshot {
        self.warnings.extend(warnings);
        self
    }

    /// With these notes after any already there.
    pub fn with_notes(mut self, notes: impl IntoIterator<Item = String>) -> Snapshot {
        self.notes.extend(notes);
        self
    }
}

#[cfg(test)]
mod tests {
    //! Unit tests of [`super`]: the builder.

    use super::*;
    use crate::model::state::State;

    #[test]
    fn the_builder_sets_what_it_is_given_and_nothing_else() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let snapshot = Snapshot::new(Backend::Cbsd, vec![Vm::new("a", State::Off)])
            .taken_at(at)
            .with_warning("one")
            .with_warnings(["two".to_string()]);
        assert_eq!(snapshot.backend, Backend::Cbsd);
        assert_eq!(snapshot.taken_at, at);
        assert_eq!(snapshot.vms.len(), 1);
        assert_eq!(snapshot.warnings, ["one", "two"]);
        assert!(Snapshot::new(Backend::Libvirt, vec![]).warnings.is_empty());
    }
}
