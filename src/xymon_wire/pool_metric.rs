//! What we graph per storage pool: how full it is, its size and what is free. Each metric a
//! variant with its name in the messages and RRDs; every one a GAUGE.

use std::ops::Index;

use crate::model::Pool;

use super::key::vm_keys;

/// A storage pool's instant values (RRD type `GAUGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolGauge {
    /// Percent full: what is no longer available of the capacity.
    Used,
    /// Capacity, bytes.
    Size,
    /// Available, bytes.
    Free,
}

/// One pool's gauges, indexed by [`PoolGauge`]; `None` where unknown (no capacity).
pub type PoolGauges = [Option<f64>; PoolGauge::ALL.len()];

impl Index<PoolGauge> for PoolGauges {
    type Output = Option<f64>;
    fn index(&self, g: PoolGauge) -> &Option<f64> {
        &self[g as usize]
    }
}

impl PoolGauge {
    /// In declaration order, which is the order of the messages and of the RRD datasets.
    pub const ALL: [PoolGauge; 3] = [PoolGauge::Used, PoolGauge::Size, PoolGauge::Free];

    /// The metric's name in NCV lines and RRD files (`pool_KEY_pct`).
    pub fn name(self) -> &'static str {
        match self {
            PoolGauge::Used => "pct",
            PoolGauge::Size => "size",
            PoolGauge::Free => "free",
        }
    }

    /// A pool without capacity (inactive) has nothing to graph: all unknown.
    fn read(self, pool: &Pool) -> Option<f64> {
        let used = pool.used_percent()?;
        // Bytes as a float lose precision only past 2^53, far below what a graph shows.
        #[allow(clippy::cast_precision_loss)]
        Some(match self {
            PoolGauge::Used => used,
            PoolGauge::Size => pool.capacity as f64,
            PoolGauge::Free => pool.available as f64,
        })
    }
}

/// One pool as the graph lines carry it: its key (the VM key rules: `[A-Za-z0-9_]`, long or
/// unsafe names hashed) and its gauges.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSample {
    /// The pool's key in line and file names.
    pub key: String,
    /// Its values.
    pub gauges: PoolGauges,
}

impl PoolSample {
    /// Every pool of a snapshot, in its order, with distinct keys.
    pub fn all(pools: &[Pool]) -> Vec<PoolSample> {
        let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        vm_keys(&names)
            .into_iter()
            .zip(pools)
            .map(|(key, pool)| PoolSample {
                key,
                gauges: PoolGauge::ALL.map(|g| g.read(pool)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PoolState;

    #[test]
    fn hostile_pool_names_get_keys_and_empty_pools_no_figures() {
        let pool = |name: &str, capacity| Pool {
            name: name.into(),
            state: PoolState::Running,
            state_code: None,
            capacity,
            allocation: 0,
            available: capacity / 4,
        };
        let samples = PoolSample::all(&[pool("images", 400), pool("evil\npool_x : 1", 0)]);
        assert_eq!(samples[0].key, "images");
        assert_eq!(samples[0].gauges, [Some(75.0), Some(400.0), Some(100.0)]);
        assert!(
            samples[1]
                .key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        );
        assert_eq!(samples[1].gauges, [None; 3]);
    }
}
