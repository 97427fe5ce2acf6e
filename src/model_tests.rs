//! Unit tests of [`super`]: state codes and the sums.

use super::*;

fn disk(name: &str, is_image: bool, size: u64, rbytes: u64, freqs: u64) -> Disk {
    Disk {
        name: name.into(),
        is_image,
        capacity: size,
        allocated: size / 2,
        physical: size / 2,
        io: DiskIo {
            rbytes,
            freqs,
            ftime: 1.5,
            ..DiskIo::default()
        },
    }
}

#[test]
fn state_codes_follow_the_librenms_table() {
    let codes: Vec<u8> = State::ALL.iter().map(|s| s.code()).collect();
    assert_eq!(codes, (0..=10).collect::<Vec<u8>>());
    for (i, s) in State::ALL.iter().enumerate() {
        assert_eq!(*s as usize, i, "State::ALL is indexed by discriminant");
    }
}

#[test]
fn the_state_text_names_a_known_reason_only() {
    let mut vm = Vm::new("a", State::Paused);
    assert_eq!(vm.state_text(), "paused", "no reason given");
    vm.reason.kind = Reason::IoError;
    assert_eq!(vm.state_text(), "paused (I/O error)");
    vm.state = State::Crashed;
    vm.reason.kind = Reason::Panicked;
    assert_eq!(vm.state_text(), "crashed (guest panic)");
}

#[test]
fn sums_saturate_instead_of_wrapping() {
    let mut vm = Vm::new("a", State::Running);
    vm.disks = vec![disk("vda", false, u64::MAX, u64::MAX, 1); 2];
    vm.nics = vec![
        Nic {
            counters: NetCounters {
                ibytes: u64::MAX,
                ..NetCounters::default()
            },
            ..Nic::default()
        };
        2
    ];
    let t = Totals::of(&[vm.clone(), vm]);
    assert_eq!(
        (t.disk.capacity, t.disk.io.rbytes, t.net.ibytes),
        (u64::MAX, u64::MAX, u64::MAX)
    );
    assert_eq!(t.disk.io.freqs, 4);
}

#[test]
fn iso_images_count_for_io_but_not_for_size() {
    let mut vm = Vm::new("a", State::Running);
    vm.disks = vec![
        disk("vda", false, 1000, 10, 1),
        disk("hdc", true, 500, 7, 0),
    ];
    let sum = vm.disk_sum();
    assert_eq!(sum.capacity, 1000);
    assert_eq!(sum.allocated, 500);
    assert_eq!(sum.io.rbytes, 17);
    assert_eq!(sum.io.freqs, 1);
    assert_eq!(sum.io.ftime, 3.0);
}

#[test]
fn totals_count_snapshots_flushes_and_every_nic_once() {
    let mut a = Vm::new("a", State::Running);
    a.snaps = 2;
    a.disks = vec![disk("vda", false, 100, 1, 3)];
    a.nics = vec![
        Nic {
            counters: NetCounters {
                ibytes: 10,
                opkts: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        Nic {
            counters: NetCounters {
                ibytes: 5,
                opkts: 2,
                ..Default::default()
            },
            ..Default::default()
        },
    ];
    a.process = Some(Process {
        rss: 4096,
        majflt: 3,
        ..Default::default()
    });
    let mut b = Vm::new("b", State::Shutoff);
    b.snaps = 1;
    b.disks = vec![disk("vda", false, 300, 0, 4)];
    let t = Totals::of(&[a, b]);
    assert_eq!(t.snaps, 3, "the Perl tool counts snapshots twice");
    assert_eq!(t.disk.io.freqs, 7, "the Perl tool counts flushes twice");
    assert_eq!(t.disk.io.ftime, 3.0);
    assert_eq!(t.net.ibytes, 15, "every NIC, not only the last");
    assert_eq!(t.net.opkts, 3);
    assert_eq!(t.disk.capacity, 400, "stopped VMs count too");
    assert_eq!(t.process.rss, 4096);
    assert_eq!(t.process.majflt, 3);
    assert_eq!(t.in_state(State::Running), 1);
    assert_eq!(t.in_state(State::Shutoff), 1);
    assert_eq!(t.vms, 2);
}
