//! What the guest file system rule of the colour table (`colour`) reads: a VM's fullest
//! file system as its guest agent reports it, and the thresholds.

use crate::model::Vm;
use crate::text::for_status_page;

/// Percent thresholds (`--fs-warn`, `--fs-panic`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsLimits {
    /// Yellow from this percent used.
    pub warn: f64,
    /// Red from this percent used.
    pub panic: f64,
}

impl Default for FsLimits {
    /// 90 % yellow, 95 % red.
    fn default() -> FsLimits {
        FsLimits {
            warn: 90.0,
            panic: 95.0,
        }
    }
}

/// Characters of a mount point the status names.
const MOUNT_SHOWN_MAX: usize = 48;

/// The VM's fullest file system: its percent used and how the status names it (`guest
/// file system /srv 96.2 % full (ext4)`), the mount point and type made safe for the page.
pub fn fullest(vm: &Vm) -> Option<(f64, String)> {
    let (fs, pct) = vm.agent.info()?.fullest_fs()?;
    Some((
        pct,
        format!(
            "guest file system {} {pct:.1} % full ({})",
            for_status_page(&fs.mountpoint, Some(MOUNT_SHOWN_MAX), None),
            for_status_page(&fs.fstype, Some(16), None)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Agent, AgentInfo, GuestFs, State};

    fn vm_with(fs: &[(&str, u64, u64)]) -> Vm {
        let mut vm = Vm::new("g", State::Running);
        vm.agent = Agent::Answered(Box::new(AgentInfo {
            file_systems: fs
                .iter()
                .map(|&(m, used, total)| GuestFs {
                    mountpoint: m.into(),
                    fstype: "ext4".into(),
                    used: Some(used),
                    total: Some(total),
                })
                .collect(),
            ..AgentInfo::default()
        }));
        vm
    }

    #[test]
    fn the_fullest_is_named_with_its_percent() {
        assert_eq!(
            fullest(&vm_with(&[("/", 10, 100), ("/srv", 90, 100)])),
            Some((90.0, "guest file system /srv 90.0 % full (ext4)".into()))
        );
        assert_eq!(fullest(&Vm::new("x", State::Running)), None);
        assert_eq!(
            fullest(&vm_with(&[("/", 1, 0)])),
            None,
            "no size, no percent"
        );
    }

    #[test]
    fn a_hostile_mount_point_is_cut_and_escaped() {
        let name = format!("/<script>\n{}", "a".repeat(10_000));
        let (_, what) = fullest(&vm_with(&[(&name, 99, 100)])).unwrap();
        assert!(!what.contains('<') && !what.contains('\n'), "{what}");
        assert!(what.len() < 200, "{}", what.len());
    }
}
