//! Emitters: each turns one [`crate::model::Snapshot`] into what a monitoring system reads.

pub mod librenms;
pub mod xymon;

// shim: removed in the final step
pub(crate) use crate::hash::{NAME_HASH_LEN, distinct_keys, ends_like_a_hash, name_hash};
