//! Fixtures shared by the Xymon modules' unit tests.

use std::time::{Duration, SystemTime};

use super::settings::Settings;
use crate::model::{
    Backend, Disk, DiskIo, GuestMemory, NetCounters, Nic, Process, Snapshot, State, VcpuTimes, Vm,
};
use crate::rates::{self, PreviousCounters, max_rate_age};
use crate::xymon_wire::{Counter, CounterRates, Format, Messages, VmSample};

/// What xymond_rrd's NCV parser reads from a message (Xymon 4.3.30 do_ncv.c, as the
/// contract describes it): names and values, before its name rewriting.
pub fn ncv_parse(message: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in message.lines().skip(1) {
        if line == "@@" || line.contains("<!-- ncv_end -->") {
            break;
        }
        if line.contains("<!-- ncv_skipstart -->") {
            skipping = true;
        }
        if line.contains("<!-- ncv_skipend -->") {
            skipping = false;
            continue;
        }
        if skipping || line.contains("<!-- ncv_skip -->") {
            continue;
        }
        let Some(at) = line.find([':', '=']) else {
            continue;
        };
        let mut name = line[..at].trim();
        for colour in [
            "&green ", "&yellow ", "&red ", "&clear ", "&blue ", "&purple ",
        ] {
            name = name.strip_prefix(colour).unwrap_or(name);
        }
        let rest = line[at + 1..].trim_start();
        let value: String = rest
            .chars()
            .take_while(|c| "+-0123456789.eE".contains(*c))
            .collect();
        if let Ok(v) = value.parse::<f64>() {
            out.push((name.to_string(), v));
        }
    }
    out
}

/// A running VM with a process, one disk and every stat known.
pub fn running_vm(name: &str) -> Vm {
    let mut vm = Vm::new(name, State::Running);
    vm.cpus = 2;
    vm.mem_alloc = 1 << 30;
    vm.autostart = Some(true);
    vm.process = Some(Process {
        pid: 42,
        usertime: 10.0,
        systime: 2.5,
        rss: 1 << 28,
        ..Process::default()
    });
    vm.disks = vec![Disk {
        name: "vda".into(),
        capacity: 10 << 30,
        allocated: 1 << 30,
        io: DiskIo {
            rbytes: 1000,
            rreqs: 10,
            rtime: 5.0,
            ..DiskIo::default()
        },
        ..Disk::default()
    }];
    vm
}

pub fn snapshot(vms: Vec<Vm>) -> Snapshot {
    Snapshot::new(Backend::Libvirt, vms)
        .taken_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .with_warning("VM 'x:1' vanished during collection; left out")
}

pub fn settings(format: Format, messages: Messages, max_size: usize) -> Settings {
    Settings::new("hv1,example,com", "hvmon", format, messages).with_max_size(max_size)
}

/// The rates of `s` since `previous`, as the app computes them at the default interval.
/// The rates the app hands the emitter for `s` under `settings`: none where the format
/// sends raw counters or there is no `previous`.
pub fn rates_for(
    previous: Option<&PreviousCounters>,
    s: &Snapshot,
    settings: &Settings,
) -> Option<Vec<CounterRates>> {
    let previous = previous.filter(|_| settings.format.uses_rates());
    rates::compute(s, previous, max_rate_age(settings.interval)).per_vm
}

pub fn rates_since(previous: &PreviousCounters, s: &Snapshot) -> Vec<CounterRates> {
    let max_age = max_rate_age(Duration::from_secs(300));
    rates::compute(s, Some(previous), max_age)
        .per_vm
        .unwrap_or_default()
}

/// A VM with every figure at its largest, so every graph line is as long as it gets.
pub fn maximal_vm(name: &str, state: State) -> Vm {
    let mut vm = running_vm(name);
    vm.state = state;
    vm.cpus = u64::MAX;
    vm.mem_alloc = u64::MAX;
    if let Some(p) = vm.process.as_mut() {
        p.rss = u64::MAX;
        p.usertime = 1e300;
    }
    vm.disks[0].capacity = u64::MAX;
    vm.disks[0].allocated = u64::MAX;
    vm.disks[0].io = DiskIo {
        rbytes: u64::MAX,
        wbytes: u64::MAX,
        rreqs: 1,
        wreqs: 1,
        rtime: 1e300,
        wtime: 1e300,
        ..DiskIo::default()
    };
    vm.nics = vec![Nic {
        counters: NetCounters {
            ipkts: u64::MAX,
            ibytes: u64::MAX,
            ierrs: u64::MAX,
            idrop: u64::MAX,
            opkts: u64::MAX,
            obytes: u64::MAX,
            oerrs: u64::MAX,
            odrop: u64::MAX,
            coll: 0,
        },
        ..Nic::default()
    }];
    vm.guest_memory = GuestMemory {
        current: Some(1),
        available: Some(u64::MAX),
        unused: Some(0),
        ..GuestMemory::default()
    };
    vm.vcpu_times = VcpuTimes {
        time: Some(u64::MAX),
        wait: Some(u64::MAX),
        delay: Some(u64::MAX),
    };
    vm
}

/// A state one millisecond older than `s` with every counter at 0: the largest rates.
pub fn zero_counters_just_before(s: &Snapshot) -> PreviousCounters {
    let samples: Vec<VmSample> = VmSample::all(&s.vms)
        .into_iter()
        .map(|mut sample| {
            sample.counters = [Some(0); Counter::ALL.len()];
            sample
        })
        .collect();
    PreviousCounters::new(s.taken_at - Duration::from_millis(1), &samples)
}
