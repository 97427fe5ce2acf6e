//! The one model every backend fills and every emitter reads.
//!
//! Units are fixed here, once, and nowhere else:
//! - sizes and memory: **bytes**;
//! - CPU times (`usertime`, `systime`): **seconds** (float);
//! - disk times (`rtime`, `wtime`, `ftime`): **milliseconds** (float);
//! - `etimes`: whole seconds since the VM's process started;
//! - `pcpu`, `pmem`: percent (100 = one host core / all host memory);
//! - vCPU times (`VcpuTimes`): integer **nanoseconds**, summed over the VM's vCPUs;
//! - guest memory (`GuestMemory`): bytes (libvirt's KiB times 1024), the guest's page
//!   faults as counts, its last update in seconds since the Unix epoch;
//! - counters (bytes, requests, packets, faults, switches): integers since the device or
//!   process started; they reset when the VM restarts.

mod agent;
mod device;
mod guest;
mod pool;
mod snapshot;
mod state;
mod totals;
mod vm;

pub use agent::{Agent, AgentInfo, GuestAddress, GuestFs, GuestInterface, primary_address};
pub use device::{Disk, DiskIo, DiskSum, NetCounters, Nic};
pub use guest::{GuestMemory, VcpuTimes};
pub use pool::{DiskError, DiskErrorKind, Pool, PoolState};
pub use snapshot::{Backend, Filtered, Snapshot};
pub use state::{Reason, State, StateReason};
pub use totals::Totals;
pub use vm::{Process, Vm};
