//! A VM's run state and the reason libvirt gives for it.

/// A VM's state, in the order of the LibreNMS `status_int` codes (libvirt's virDomainState
/// first, then CBSD's own states; the libvirt collector maps libvirt's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// libvirt: no state (`VIR_DOMAIN_NOSTATE`).
    NoState,
    /// Has a live process running the guest (CBSD `On`).
    Running,
    /// Blocked on a resource (libvirt; rarely seen).
    Blocked,
    /// Paused: by a person, or by libvirt (I/O error, migration, ...); see `Vm::reason`.
    Paused,
    /// Being shut down.
    Shutdown,
    /// Shut off (libvirt), or defined but never started; CBSD says [`State::Off`].
    Shutoff,
    /// Crashed (libvirt); `Vm::reason` says how.
    Crashed,
    /// Suspended by guest power management (S3/S4).
    PmSuspended,
    /// CBSD `Off`.
    Off,
    /// CBSD `Maintenance`.
    Maintenance,
    /// Anything else a backend reports (CBSD `Slave`, `Unknown`).
    Unknown,
}

impl State {
    /// Every state, in `status_int` order: index `i` is the state whose code is `i`.
    pub const ALL: [State; 11] = [
        State::NoState,
        State::Running,
        State::Blocked,
        State::Paused,
        State::Shutdown,
        State::Shutoff,
        State::Crashed,
        State::PmSuspended,
        State::Off,
        State::Maintenance,
        State::Unknown,
    ];

    /// The LibreNMS `status_int` code.
    pub fn code(self) -> u8 {
        match self {
            State::NoState => 0,
            State::Running => 1,
            State::Blocked => 2,
            State::Paused => 3,
            State::Shutdown => 4,
            State::Shutoff => 5,
            State::Crashed => 6,
            State::PmSuspended => 7,
            State::Off => 8,
            State::Maintenance => 9,
            State::Unknown => 10,
        }
    }

    /// Lower-case name for humans (status pages, logs).
    pub fn name(self) -> &'static str {
        match self {
            State::NoState => "nostate",
            State::Running => "running",
            State::Blocked => "blocked",
            State::Paused => "paused",
            State::Shutdown => "shutdown",
            State::Shutoff => "shutoff",
            State::Crashed => "crashed",
            State::PmSuspended => "pmsuspended",
            State::Off => "off",
            State::Maintenance => "maintenance",
            State::Unknown => "unknown",
        }
    }

    /// Whether a VM in this state has a hypervisor process whose stats mean something.
    pub fn has_process(self) -> bool {
        matches!(
            self,
            State::Running | State::Blocked | State::Paused | State::Shutdown | State::PmSuspended
        )
    }
}

/// Why a VM is in its state, as libvirt says (`virDomainGetState`'s reason, the bulk stats'
/// `state.reason`): its code, whose meaning depends on the state, and that meaning. The
/// libvirt collector decodes it with the bindings' enums, once; other backends give none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateReason {
    /// The code as libvirt gives it; `None` where the backend gives no reason (CBSD).
    pub code: Option<u32>,
    /// What the code means; [`Reason::Unknown`] when the code is unknown or absent.
    pub kind: Reason,
}

impl StateReason {
    /// No reason given.
    pub const NONE: StateReason = StateReason {
        code: None,
        kind: Reason::Unknown,
    };
}

/// libvirt's reasons (virDomainRunningReason, virDomainPausedReason, virDomainShutoffReason,
/// virDomainCrashedReason, ...), one variant per name: a name that several states use
/// (`crashed`, `from_snapshot`, `migrated`, `postcopy`, `user`) is one variant, the state
/// telling them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// libvirt's `*_UNKNOWN`, a code newer than this build, or no reason at all.
    Unknown,
    /// Running: started normally.
    Booted,
    /// Running: migrated in from another host; shutoff: migrated away.
    Migrated,
    /// Running: restored from a saved state file.
    Restored,
    /// Restored from a VM snapshot (running, paused, or shutoff for an offline snapshot).
    FromSnapshot,
    /// Running: resumed after a pause.
    Unpaused,
    /// Running again after a migration was canceled.
    MigrationCanceled,
    /// Running again after a save failed.
    SaveCanceled,
    /// Running: woken from power-management suspend.
    Wakeup,
    /// The guest crashed: running again after it, paused on it, or shut off by it.
    Crashed,
    /// Running or paused in post-copy migration.
    PostCopy,
    /// Running or paused after a post-copy migration failed.
    PostCopyFailed,
    /// Paused, or shutting down, on request (`virsh suspend`, `virsh shutdown`).
    User,
    /// Paused for an offline migration.
    Migration,
    /// Paused while being saved to a file.
    Save,
    /// Paused for an offline core dump.
    Dump,
    /// Paused on a disk I/O error (often a full disk); the guest waits until resumed.
    IoError,
    /// Paused by a watchdog device's action.
    Watchdog,
    /// Paused while shutting down.
    ShuttingDown,
    /// Paused while a VM snapshot is taken.
    Snapshot,
    /// Paused while being started.
    StartingUp,
    /// Paused after a failed API call.
    ApiError,
    /// Shutoff: the guest shut itself down.
    Shutdown,
    /// Shutoff: forced off (`virsh destroy`).
    Destroyed,
    /// Shutoff: saved to a file.
    Saved,
    /// Shutoff: failed to start.
    Failed,
    /// Shutoff: killed by libvirtd while it reconnected after a restart.
    Daemon,
    /// Crashed: the guest panicked (a pvpanic device reported it).
    Panicked,
}

impl Reason {
    /// libvirt's own name, lower-cased, without the state: `VIR_DOMAIN_PAUSED_IOERROR` is
    /// `ioerror` (the LibreNMS `state_reason_name`).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Unknown => "unknown",
            Reason::Booted => "booted",
            Reason::Migrated => "migrated",
            Reason::Restored => "restored",
            Reason::FromSnapshot => "from_snapshot",
            Reason::Unpaused => "unpaused",
            Reason::MigrationCanceled => "migration_canceled",
            Reason::SaveCanceled => "save_canceled",
            Reason::Wakeup => "wakeup",
            Reason::Crashed => "crashed",
            Reason::PostCopy => "postcopy",
            Reason::PostCopyFailed => "postcopy_failed",
            Reason::User => "user",
            Reason::Migration => "migration",
            Reason::Save => "save",
            Reason::Dump => "dump",
            Reason::IoError => "ioerror",
            Reason::Watchdog => "watchdog",
            Reason::ShuttingDown => "shutting_down",
            Reason::Snapshot => "snapshot",
            Reason::StartingUp => "starting_up",
            Reason::ApiError => "api_error",
            Reason::Shutdown => "shutdown",
            Reason::Destroyed => "destroyed",
            Reason::Saved => "saved",
            Reason::Failed => "failed",
            Reason::Daemon => "daemon",
            Reason::Panicked => "panicked",
        }
    }

    /// For humans, after the state: `paused (I/O error)`, `shutoff (guest shutdown)`.
    pub fn text(self) -> &'static str {
        match self {
            Reason::Unknown => "unknown",
            Reason::Booted => "booted",
            Reason::Migrated => "migrated",
            Reason::Restored => "restored",
            Reason::FromSnapshot => "from a snapshot",
            Reason::Unpaused => "unpaused",
            Reason::MigrationCanceled => "migration canceled",
            Reason::SaveCanceled => "save canceled",
            Reason::Wakeup => "woken up",
            Reason::Crashed => "guest crash",
            Reason::PostCopy => "post-copy migration",
            Reason::PostCopyFailed => "post-copy migration failed",
            Reason::User => "user",
            Reason::Migration => "migration",
            Reason::Save => "save",
            Reason::Dump => "dump",
            Reason::IoError => "I/O error",
            Reason::Watchdog => "watchdog",
            Reason::ShuttingDown => "shutting down",
            Reason::Snapshot => "snapshot",
            Reason::StartingUp => "starting up",
            Reason::ApiError => "failed API call",
            Reason::Shutdown => "guest shutdown",
            Reason::Destroyed => "destroyed",
            Reason::Saved => "saved",
            Reason::Failed => "failed to start",
            Reason::Daemon => "killed by libvirtd",
            Reason::Panicked => "guest panic",
        }
    }
}
