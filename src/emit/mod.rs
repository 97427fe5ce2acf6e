//! Emitters: each turns one [`crate::model::Snapshot`] into what a monitoring system reads.

pub mod librenms;
pub mod xymon;

/// 64-bit FNV-1a: tiny, stable across versions and platforms (keys derived from it name RRD
/// files that must stay the same for years), and good enough spread for names.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
