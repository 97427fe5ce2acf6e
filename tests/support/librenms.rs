//! LibreNMS's side of an extend: how its `json_app_get` decodes the output, how `snmp_get`
//! hands it over, and which RRD files its hv-monitor poller writes.

/// Which LibreNMS `json_app_get` (includes/polling/functions.inc.php, later
/// includes/functions.php) decodes an extend's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonAppGet {
    /// LibreNMS 24.4 and later (pull request 15953, commit 03e9b5229): `stripslashes` only
    /// on plain output, never on decoded `-c` output.
    Current,
    /// Before 24.4: `json_decode(stripslashes($output), true)` on whatever came out, so a
    /// backslash corrupts `-c` output too.
    Before24_4,
}

/// What LibreNMS's `json_app_get` before 24.4 does with an extend's output (the stricter
/// one): see [`librenms_decode_as`].
pub fn librenms_decode(output: &str) -> Result<serde_json::Value, i32> {
    librenms_decode_as(output, JsonAppGet::Before24_4)
}

/// What `version` of LibreNMS's `json_app_get` does with an extend's output, step by step:
/// its regexes, `base64_decode`, `gzdecode`, `stripslashes` where that version runs it,
/// `json_decode` (which needs valid UTF-8), the four required keys, version >= 1. `Err`
/// carries LibreNMS's error number.
pub fn librenms_decode_as(output: &str, version: JsonAppGet) -> Result<serde_json::Value, i32> {
    use base64::Engine;
    use std::io::Read;
    if output.is_empty() {
        return Err(-2);
    }
    // LibreNMS's own two regexes, verbatim:
    // preg_match('/^[A-Za-z0-9\/\+\n]+\=*\n*$/', $output) && ! preg_match('/^[0-9]+\n/', $output)
    let base64_like = regex::Regex::new(r"^[A-Za-z0-9/+\n]+=*\n*$").unwrap();
    let digits_line = regex::Regex::new(r"^[0-9]+\n").unwrap();
    let compressed = base64_like.is_match(output) && !digits_line.is_match(output);
    let text = if compressed {
        let compact: String = output.chars().filter(|c| *c != '\n').collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| -7)?;
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut bytes)
            .map_err(|_| -8)?;
        String::from_utf8(bytes).map_err(|_| -3)?
    } else {
        output.to_string()
    };
    let text = if compressed && version == JsonAppGet::Current {
        text
    } else {
        php_stripslashes(&text)
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| -3)?;
    if json.as_object().is_none_or(|o| o.is_empty()) {
        return Err(-4);
    }
    for key in ["error", "data", "errorString", "version"] {
        if json[key].is_null() {
            return Err(-5);
        }
    }
    if json["version"].as_i64().is_none_or(|v| v < 1) {
        return Err(-6);
    }
    Ok(json)
}

/// LibreNMS's `Rrd::safeName` (LibreNMS/Data/Store/Rrd.php), verbatim:
/// `preg_replace('/[^a-zA-Z0-9,._\-]/', '_', $name)`. No `u` flag, so PCRE works on bytes:
/// the byte-level regex below does the same.
pub fn librenms_safe_name(name: &str) -> String {
    static UNSAFE_BYTE: std::sync::OnceLock<regex::bytes::Regex> = std::sync::OnceLock::new();
    let unsafe_byte =
        UNSAFE_BYTE.get_or_init(|| regex::bytes::Regex::new(r"(?-u)[^a-zA-Z0-9,._\-]").unwrap());
    let out = unsafe_byte.replace_all(name.as_bytes(), &b"_"[..]);
    String::from_utf8(out.into_owned()).expect("only ASCII is left")
}

/// The RRD files LibreNMS's hv-monitor poller (includes/polling/applications/hv-monitor.inc.php)
/// writes for a document: `rrd_name` arrays joined with `-` through [`librenms_safe_name`],
/// one file per VM (`vm`), per disk of a VM (`vmdisk`) and per NIC of a VM (`vmif`).
pub fn librenms_rrd_files(doc: &serde_json::Value, app_id: u32) -> Vec<String> {
    let mut files = vec![librenms_safe_name(&format!("app-hv-monitor-{app_id}"))];
    for (vm, info) in doc["data"]["VMs"].as_object().expect("a VMs object") {
        files.push(librenms_safe_name(&format!(
            "app-hv-monitor-{app_id}-vm-{vm}"
        )));
        for (kind, map) in [("vmdisk", "disks"), ("vmif", "ifs")] {
            for device in info[map].as_object().expect("a device map").keys() {
                files.push(librenms_safe_name(&format!(
                    "app-hv-monitor-{app_id}-{kind}-{vm}-__-__-{device}"
                )));
            }
        }
    }
    files
}

/// The VM keys of a document, in order.
pub fn vm_keys(doc: &serde_json::Value) -> Vec<String> {
    doc["data"]["VMs"]
        .as_object()
        .expect("a VMs object")
        .keys()
        .cloned()
        .collect()
}

/// PHP's stripslashes: `\x` becomes `x`, `\\` becomes `\`, a lone trailing `\` goes.
fn php_stripslashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(if next == '0' { '\0' } else { next });
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What LibreNMS's snmp_get hands json_app_get for `-Oqv`: the value without its quotes.
pub fn librenms_snmp_value(snmpget_stdout: &str) -> String {
    snmpget_stdout
        .trim_matches(|c| c == '"' || c == ' ' || c == '\n' || c == '\r')
        .to_string()
}
