//! The guest file system rule of the colour table (`colour`): a VM whose fullest file system
//! (as its guest agent reports it) is at or past the warning percent is yellow, past the panic
//! percent red, and the status names the file system.

use super::colour::Colour;
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

/// The VM's fullest file system past `limits`, as the status says it (`guest file system
/// /srv 96.2 % full (ext4)`), with its colour; the mount point and type made safe for the page.
pub fn fs_finding(vm: &Vm, limits: FsLimits) -> Option<(Colour, String)> {
    let guest = vm.agent.guest()?;
    let (fs, pct) = guest
        .file_systems
        .iter()
        .filter_map(|fs| fs.percent_used().map(|p| (fs, p)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let colour = if pct >= limits.panic {
        Colour::Red
    } else if pct >= limits.warn {
        Colour::Yellow
    } else {
        return None;
    };
    Some((
        colour,
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
    use crate::model::{Agent, Guest, GuestFs, State};

    fn vm_with(fs: &[(&str, u64, u64)]) -> Vm {
        let mut vm = Vm::new("g", State::Running);
        vm.agent = Agent::Answered(Box::new(Guest {
            file_systems: fs
                .iter()
                .map(|&(m, used, total)| GuestFs {
                    mountpoint: m.into(),
                    fstype: "ext4".into(),
                    used: Some(used),
                    total: Some(total),
                })
                .collect(),
            ..Guest::default()
        }));
        vm
    }

    #[test]
    fn ninety_is_yellow_ninety_five_red_and_the_fullest_is_named() {
        let limits = FsLimits::default();
        assert_eq!(fs_finding(&vm_with(&[("/", 89, 100)]), limits), None);
        assert_eq!(
            fs_finding(&vm_with(&[("/", 10, 100), ("/srv", 90, 100)]), limits),
            Some((
                Colour::Yellow,
                "guest file system /srv 90.0 % full (ext4)".into()
            ))
        );
        let red = fs_finding(&vm_with(&[("/var", 96, 100), ("/srv", 91, 100)]), limits);
        assert_eq!(
            red.map(|(c, w)| (c, w.contains("/var"))),
            Some((Colour::Red, true))
        );
        let tight = FsLimits {
            warn: 50.0,
            panic: 60.0,
        };
        assert_eq!(
            fs_finding(&vm_with(&[("/", 55, 100)]), tight).unwrap().0,
            Colour::Yellow
        );
        assert_eq!(fs_finding(&Vm::new("x", State::Running), limits), None);
    }

    #[test]
    fn a_hostile_mount_point_is_cut_and_escaped() {
        let name = format!("/<script>\n{}", "a".repeat(10_000));
        let (_, what) = fs_finding(&vm_with(&[(&name, 99, 100)]), FsLimits::default()).unwrap();
        assert!(!what.contains('<') && !what.contains('\n'), "{what}");
        assert!(what.len() < 200, "{}", what.len());
    }
}
