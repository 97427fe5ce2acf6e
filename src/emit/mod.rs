//! Emitters: each turns one [`crate::model::Snapshot`] into what a monitoring system reads.

pub mod librenms;
pub mod xymon;
