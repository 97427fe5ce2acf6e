//! The Xymon wire vocabulary: everything both ends of our messages must agree on, with no
//! dependency but the model (and the name hash).
//!
//! The emitter ([`crate::emit::xymon`]) writes messages in these words, the counters file
//! ([`crate::rates`]) keeps samples in them and the rrd-script handler ([`crate::rrd_script`])
//! reads them back; xymon/README.md describes them for the server's side.
//!
//! - `format`: the graph-line [`Format`]s, which [`Messages`] carry what, size limits,
//!   markers and `number`;
//! - `metric`: what is graphed, each metric a type, and [`CounterRates`];
//! - `sample`: a VM's [`VmSample`] and the host's sums;
//! - `key`: a VM's [`vm_key`] and the names xymond_rrd leaves unchanged.

mod format;
mod key;
mod metric;
mod pool_metric;
mod sample;

pub use format::{DEFAULT_MAX_SIZE, END_MARKER, Format, MARKER_PREFIX, MIN_MAX_SIZE, Messages};
pub use key::{MAX_KEY_LEN, ncv_rule, splitncv_rule, vm_key, vm_keys};
pub use metric::{Counter, CounterRates, Counters, TotalGauge, TotalGauges, VmGauge, VmGauges};
pub use pool_metric::{PoolGauge, PoolGauges, PoolSample};
pub use sample::VmSample;

pub(crate) use format::{
    MAX_COLUMN_LEN, MAX_HOST_LEN, MAX_INTERVAL_SECS, SKIP_END, SKIP_START, number,
};
pub(crate) use key::{host_for_message, valid_column};
pub(crate) use metric::{DERIVE, GAUGE};
pub(crate) use sample::{display_rates, total_counters, total_gauges, total_rates};
