//! The LibreNMS `hv-monitor` extend document (see the README's "LibreNMS" section).
//!
//! LibreNMS strips every backslash from plain output before it decodes the JSON (and, before
//! 24.4, from decoded `-c` output too), so the document never needs a JSON escape: strings go
//! through their [`Form`]'s percent-encoding, printable ASCII in the plain form, UTF-8 in the
//! `-c` form. VM and disk keys are also chosen so that no two share a LibreNMS RRD file
//! ([`names`]).

pub mod names;

mod fields;

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use crate::model::{Backend, Snapshot, Totals};
pub use fields::{TOTALS_STATE_KEYS, VM_RRD_KEYS};
use fields::{TotalsOut, VmOut};
pub use names::{Form, safe_text, utf8_text};

/// The document version LibreNMS checks (`version >= 1`).
pub const VERSION: u32 = 1;

/// What one SNMP reply over UDP carries of an extend's output (net-snmp 5.9, measured).
pub const SNMP_UDP_LIMIT: usize = 65_438;
/// Where net-snmp cuts extend output silently, over any transport.
pub const SNMP_TOTAL_LIMIT: usize = 102_399;

/// Error text made readable without escapes: quotes become `'`, backslashes `/`, anything
/// unprintable a space.
pub fn safe_message(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => ' ',
        })
        .collect()
}

#[derive(Serialize)]
struct Envelope<D> {
    version: u32,
    error: i64,
    #[serde(rename = "errorString")]
    error_string: String,
    data: D,
}

#[derive(Serialize)]
struct Data<'a> {
    hv: &'static str,
    #[serde(rename = "VMs")]
    vms: BTreeMap<String, VmOut<'a>>,
    totals: TotalsOut<'a>,
}

/// How much per-device detail a document carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// Every VM's `disks` and `ifs` maps filled (LibreNMS's per-disk and per-NIC graphs).
    #[default]
    Devices,
    /// `disks` and `ifs` left empty, VM-level sums kept: about half the size (BENCHMARKS.md), for hosts
    /// whose full document does not fit one SNMP reply.
    VmsOnly,
}

/// The JSON document for a snapshot in `form`, one line, no trailing newline.
pub fn document(snapshot: &Snapshot, detail: Detail, form: Form) -> String {
    let names: Vec<&str> = snapshot.vms.iter().map(|vm| vm.name.as_str()).collect();
    let totals = Totals::of(&snapshot.vms);
    let data = Data {
        hv: match snapshot.backend {
            // The `data.hv` values LibreNMS's app page compares with, as the Perl tool sent them.
            Backend::Libvirt => "libvirt",
            Backend::Cbsd => "CBSD",
        },
        vms: names::vm_keys(&names, form)
            .into_iter()
            .zip(&snapshot.vms)
            .map(|(key, vm)| (key, VmOut { vm, detail, form }))
            .collect(),
        totals: TotalsOut(&totals),
    };
    let envelope = Envelope {
        version: VERSION,
        error: 0,
        error_string: String::new(),
        data,
    };
    serde_json::to_string(&envelope).expect("the LibreNMS document serialises")
}

/// What `-c` prints: the [`Form::Compressed`] document, [`compress`]ed.
pub fn compressed_document(snapshot: &Snapshot, detail: Detail) -> String {
    compress(&document(snapshot, detail, Form::Compressed))
}

/// The error envelope: `error` non-zero, a readable `errorString`, empty `data`.
pub fn error_document(code: i64, message: &str) -> String {
    let envelope = Envelope {
        version: VERSION,
        error: code,
        error_string: safe_message(message),
        data: BTreeMap::<String, String>::new(),
    };
    serde_json::to_string(&envelope).expect("the LibreNMS error document serialises")
}

/// The `-c` form: gzip of the document, standard base64 on one line.
pub fn compress(document: &str) -> String {
    let mut gz = GzEncoder::new(Vec::with_capacity(document.len() / 4), Compression::best());
    gz.write_all(document.as_bytes())
        .expect("writing to memory cannot fail");
    let bytes = gz.finish().expect("writing to memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests;
