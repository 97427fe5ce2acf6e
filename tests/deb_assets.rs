//! Drift tests for what the Debian package ships from debian/generated/: the committed files are
//! exactly what `cargo run --example deb_assets` writes from today's sources, every line of the
//! binary's `--help` is in the man page, and every environment variable the source reads is
//! documented there.

#[path = "../examples/deb_assets/generate.rs"]
mod generate;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const REGENERATE: &str = "run `cargo run --example deb_assets` and commit debian/generated/";

fn generated_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/generated")
}

fn files_under(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, root, out);
        } else {
            let relative = path.strip_prefix(root).unwrap();
            out.insert(relative.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn committed_files_are_what_the_generator_writes_today() {
    use std::os::unix::fs::PermissionsExt;
    let root = generated_dir();
    let assets = generate::assets();
    let mut committed = BTreeSet::new();
    files_under(&root, &root, &mut committed);
    let expected: BTreeSet<String> = assets.iter().map(|a| a.path.to_string()).collect();
    assert_eq!(
        committed, expected,
        "debian/generated/ holds other files: {REGENERATE}"
    );
    for asset in &assets {
        let path = root.join(asset.path);
        let on_disk = std::fs::read(&path).unwrap();
        assert!(
            on_disk == asset.bytes,
            "debian/generated/{} differs from the sources it is generated from: {REGENERATE}",
            asset.path
        );
        let executable = std::fs::metadata(&path).unwrap().permissions().mode() & 0o111 != 0;
        assert_eq!(
            executable,
            asset.bytes.starts_with(b"#!"),
            "debian/generated/{}: only scripts are executable ({REGENERATE})",
            asset.path
        );
    }
}

/// The man page as text a reader sees: font and dash escapes resolved, requests dropped,
/// whitespace collapsed.
fn man_text() -> String {
    let roff = std::fs::read_to_string(generated_dir().join("hv_monitor.1")).unwrap();
    let mut text = String::new();
    for line in roff.lines() {
        if line.starts_with('.') {
            // Requests: keep the argument text of headings, drop formatting requests.
            if let Some(heading) = line.strip_prefix(".SS ").or(line.strip_prefix(".SH ")) {
                text += heading.trim_matches('"');
                text.push(' ');
            }
            continue;
        }
        text += line;
        text.push(' ');
    }
    for (escape, plain) in [
        ("\\fB", ""),
        ("\\fI", ""),
        ("\\fR", ""),
        ("\\fP", ""),
        ("\\-", "-"),
        ("\\*(Aq", "'"),
        ("\\(aq", "'"),
        ("\\&", ""),
        ("\\e", "\\"),
    ] {
        text = text.replace(escape, plain);
    }
    squeeze(&text)
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One entry of clap's help: the flags (`-b, --backend <BACKEND>`, `<HOST>`, `xymon`), the
/// text, and the bracketed notes clap appends (`[default: 5]`, `[possible values: a, b]`).
#[derive(Debug)]
struct HelpEntry {
    head: String,
    text: String,
    notes: Vec<String>,
}

/// Parses the entries of every section (Commands, Arguments, Options) of `--help` output, in
/// both of clap's layouts: text beside the flags, or indented below them.
fn help_entries(help: &str) -> Vec<HelpEntry> {
    let mut entries: Vec<HelpEntry> = Vec::new();
    let mut in_section = false;
    for line in help.lines() {
        if line.ends_with(':') && !line.starts_with(' ') {
            in_section = true;
            continue;
        }
        if !in_section || line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent <= 6 {
            // "  -b, --backend <BACKEND>   text" or "  xymon  text": flags end at two spaces.
            let body = line.trim_start();
            let (head, text) = body.split_once("  ").unwrap_or((body, ""));
            entries.push(HelpEntry {
                head: head.to_string(),
                text: text.trim().to_string(),
                notes: Vec::new(),
            });
        } else if let Some(entry) = entries.last_mut() {
            entry.text.push(' ');
            entry.text += line.trim();
        }
    }
    for entry in &mut entries {
        while let Some(start) = entry.text.rfind(" [").or_else(|| {
            entry
                .text
                .starts_with('[')
                .then_some(0)
                .filter(|_| entry.text.ends_with(']'))
        }) {
            if !entry.text.ends_with(']') {
                break;
            }
            entry.notes.push(entry.text[start..].trim().to_string());
            entry.text.truncate(start);
            entry.text = entry.text.trim_end().to_string();
        }
        entry.text = squeeze(&entry.text);
    }
    entries
}

fn help_of(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hv_monitor"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "hv_monitor {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_entry_of_help_is_in_the_man_page() {
    let man = man_text();
    let mut checked = 0;
    for args in [
        &["--help"][..],
        &["xymon", "--help"],
        &["xymon-rrd", "--help"],
    ] {
        let help = help_of(args);
        let about = help.split("\n\n").next().unwrap();
        assert!(
            man.contains(&squeeze(about)),
            "the man page lacks the description of `hv_monitor {args:?}`: {about}\n{REGENERATE}"
        );
        let entries = help_entries(&help);
        assert!(entries.len() >= 4, "parsed {entries:?} from {help}");
        for entry in entries {
            // In the man page a subcommand is "hv_monitor NAME", an option its flags.
            let head = if entry.head.starts_with(['-', '<']) {
                entry.head.clone()
            } else {
                format!("hv_monitor {}", entry.head)
            };
            assert!(
                man.contains(&head),
                "`hv_monitor {args:?}` lists `{head}`, the man page does not: {REGENERATE}"
            );
            assert!(
                man.contains(&entry.text),
                "`hv_monitor {args:?}` says of `{head}`: \"{}\"; the man page does not: {REGENERATE}",
                entry.text
            );
            for note in &entry.notes {
                let values = note
                    .strip_prefix("[possible values: ")
                    .map(|v| v.trim_end_matches(']').split(", ").collect::<Vec<_>>());
                let present = match values {
                    Some(values) => values.iter().all(|v| man.contains(v)),
                    None => man.contains(note),
                };
                assert!(
                    present,
                    "`hv_monitor {args:?}` notes {note} for `{head}`; the man page does not: {REGENERATE}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} help entries parsed");
}

#[test]
fn the_help_parser_sees_a_difference() {
    // A drift test is only as good as its parser: an entry whose text changed must fail.
    let man = man_text();
    let help = help_of(&["--help"]).replace(
        "Print gzip+base64 (one line)",
        "Print gzip+base64 (two lines)",
    );
    let entries = help_entries(&help);
    let compress = entries
        .iter()
        .find(|e| e.head == "-c, --compress")
        .expect("the -c entry is parsed");
    assert!(!man.contains(&compress.text), "{compress:?}");
    let deadline = entries
        .iter()
        .find(|e| e.head == "-t, --deadline <SECONDS>")
        .expect("the -t entry is parsed");
    assert_eq!(deadline.notes, ["[default: 5]"]);
}

/// Names of the environment variables src/ reads: `var("X")`, `var_os("X")`, a local
/// `env("X")` helper, clap's `env = "X"`, and constants named `*_ENV`.
fn variables_read_by_the_source() -> BTreeSet<String> {
    let read =
        regex::Regex::new(r#"\b(?:var|var_os|env)\(\s*"([A-Z][A-Z0-9_]*)"\s*\)|env\s*=\s*"([A-Z][A-Z0-9_]*)"|const [A-Z_]*ENV: &str = "([A-Z][A-Z0-9_]*)""#)
            .unwrap();
    let mut names = BTreeSet::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                for caps in read.captures_iter(&source) {
                    let name = caps.iter().skip(1).flatten().next().unwrap();
                    names.insert(name.as_str().to_string());
                }
            }
        }
    }
    names
}

#[test]
fn every_environment_variable_the_source_reads_is_in_the_man_page() {
    let documented: BTreeSet<String> = generate::ENVIRONMENT
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    let read = variables_read_by_the_source();
    assert!(
        read.contains("XYMSRV") && read.contains("HV_MONITOR_CBSD_PATH"),
        "{read:?}"
    );
    let missing: Vec<_> = read.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "src/ reads {missing:?}: describe them in ENVIRONMENT of examples/deb_assets/generate.rs, then {REGENERATE}"
    );
    // Read by others on our behalf: libvirt, and the extra-script wrapper.
    let stale: Vec<_> = documented
        .difference(&read)
        .filter(|n| !["LIBVIRT_DEFAULT_URI", "HV_MONITOR_BIN"].contains(&n.as_str()))
        .collect();
    assert!(
        stale.is_empty(),
        "the man page documents {stale:?}, which src/ no longer reads"
    );
    let man = man_text();
    let section = man
        .split_once(" ENVIRONMENT ")
        .and_then(|(_, rest)| rest.split_once(" FILES "))
        .expect("the man page has ENVIRONMENT before FILES")
        .0;
    for name in &documented {
        assert!(
            section.contains(name.as_str()),
            "{name} is not in ENVIRONMENT"
        );
    }
}

#[test]
fn every_exit_code_of_src_error_rs_is_in_the_man_page() {
    let man = man_text();
    let section = man
        .split_once("EXIT STATUS")
        .and_then(|(_, rest)| rest.split_once("ENVIRONMENT"))
        .expect("the man page has EXIT STATUS before ENVIRONMENT")
        .0;
    let codes = generate::exit_codes();
    let values: Vec<i32> = codes.iter().map(|(code, _)| *code).collect();
    use hv_monitor::error::exit;
    for known in [
        exit::OK,
        exit::USAGE,
        exit::BACKEND_UNAVAILABLE,
        exit::COLLECTION_FAILED,
        exit::DEADLINE,
        exit::WRITE_FAILED,
        exit::SEND_FAILED,
        exit::BAD_INPUT,
    ] {
        assert!(
            values.contains(&known),
            "exit {known} not parsed from src/error.rs: {values:?}"
        );
    }
    for (code, text) in codes {
        assert!(
            section.contains(&format!("{code} {text}")),
            "exit {code}: {text}"
        );
    }
}
