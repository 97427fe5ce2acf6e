//! A message as the handler validated it, between [`super::parse`] and [`super::render`].

use std::collections::BTreeMap;

/// What one message holds, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The interval the sender runs at, seconds.
    pub interval: u64,
    /// Host totals by metric name, when the message carried them.
    pub totals: Option<BTreeMap<&'static str, Value>>,
    /// Per VM key, values by metric name; in message order.
    pub vms: Vec<(String, BTreeMap<&'static str, Value>)>,
    /// Per storage pool key, likewise.
    pub pools: Vec<(String, BTreeMap<&'static str, Value>)>,
}

/// One value of a VM as the message carried it, for its RRD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A GAUGE data source's value.
    Gauge(f64),
    /// A DERIVE data source's raw counter.
    Counter(u64),
    /// Not known this run (`U` for rrdupdate).
    Unknown,
}
