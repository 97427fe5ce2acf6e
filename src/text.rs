//! Text from outside (a server's answer, an HTTP error page, libvirt's and commands' error
//! messages, VM names) made safe for the output it goes to, one function per output:
//! [`for_terminal`] (stderr and every error message), [`for_status_page`] (the HTML of a Xymon
//! status page) and [`for_librenms`] (the LibreNMS document's `errorString`).
//!
//! Escaping the control characters keeps a server from moving the cursor, clearing the screen
//! or starting a line of its own that reads like one of ours; the cap keeps a megabyte error
//! page out of stderr.

use std::fmt::Write;

/// How [`for_terminal`] shows a text: how much of it, and how its unsafe characters look.
/// A bare number is [`Shown::bytes`], what most error messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    limit: Limit,
    controls: Controls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Bytes(usize),
    Chars(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Controls {
    Escaped,
    RustEscaped,
    Spaces,
}

impl Shown {
    /// At most about `max` bytes of the shown text, cut on a character (and escape) boundary,
    /// followed by `... (N more bytes)` counting what was left out of the text.
    pub fn bytes(max: usize) -> Shown {
        Shown {
            limit: Limit::Bytes(max),
            controls: Controls::Escaped,
        }
    }

    /// The first `max` characters of the text, followed by `...` when it had more.
    pub fn chars(max: usize) -> Shown {
        Shown {
            limit: Limit::Chars(max),
            controls: Controls::Escaped,
        }
    }

    /// Escaped as Rust's `str::escape_debug` does: quotes and backslashes too, so hostile
    /// input quoted in `'...'` cannot close the quote (the rrd-script handler's errors).
    pub fn rust_escaped(self) -> Shown {
        Shown {
            controls: Controls::RustEscaped,
            ..self
        }
    }

    /// Control characters as spaces rather than escapes: command output quoted in a message
    /// stays one readable line (CBSD's answers).
    pub fn controls_as_spaces(self) -> Shown {
        Shown {
            controls: Controls::Spaces,
            ..self
        }
    }
}

impl From<usize> for Shown {
    fn from(max_bytes: usize) -> Shown {
        Shown::bytes(max_bytes)
    }
}

/// `text` on one line for stderr or an error message, as `shown` says: by default every
/// control or invisible formatting character escaped (`\n`, `\r`, `\t`, `\0`, else `\u{1b}`
/// style) and cut at a byte count with a note of how much was left out.
pub fn for_terminal(text: &str, shown: impl Into<Shown>) -> String {
    let shown = shown.into();
    match shown.limit {
        Limit::Bytes(max_bytes) => {
            let mut out = String::with_capacity(text.len().min(max_bytes) + 32);
            for (at, c) in text.char_indices() {
                let before = out.len();
                push_shown(&mut out, c, shown.controls);
                if out.len() > max_bytes {
                    out.truncate(before);
                    let _ = write!(out, "... ({} more bytes)", text.len() - at);
                    break;
                }
            }
            out
        }
        Limit::Chars(max_chars) => {
            let head = match text.char_indices().nth(max_chars) {
                Some((at, _)) => &text[..at],
                None => text,
            };
            let mut out = String::with_capacity(head.len() + 3);
            if shown.controls == Controls::RustEscaped {
                // Whole, not char by char: escape_debug treats a combining mark at the start
                // differently.
                let _ = write!(out, "{}", head.escape_debug());
            } else {
                for c in head.chars() {
                    push_shown(&mut out, c, shown.controls);
                }
            }
            if head.len() < text.len() {
                out.push_str("...");
            }
            out
        }
    }
}

fn push_shown(out: &mut String, c: char, controls: Controls) {
    match controls {
        Controls::Escaped => push_escaped(out, c),
        Controls::RustEscaped => {
            let _ = write!(out, "{}", c.escape_debug());
        }
        Controls::Spaces => out.push(if c.is_control() { ' ' } else { c }),
    }
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if is_unsafe(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// `text` for a Xymon status page (HTML inside `<pre>`, and NCV-parsed lines): `&`, `<`, `>` as
/// entities and control characters as `\xNN` (a VM name with a newline must not start a line
/// of its own, where NCV would read it). `max_chars` keeps the first that many characters of
/// `text` with `...` after them when it had more; `max_bytes` then cuts the result silently,
/// on a character boundary, to fit the message's budget.
pub fn for_status_page(text: &str, max_chars: Option<usize>, max_bytes: Option<usize>) -> String {
    let (head, cut) = match max_chars.and_then(|max| text.char_indices().nth(max)) {
        Some((at, _)) => (&text[..at], true),
        None => (text, false),
    };
    let mut out = String::with_capacity(head.len() + 3);
    for c in head.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    if cut {
        out.push_str("...");
    }
    if let Some(max) = max_bytes {
        let end = within_bytes(&out, max).len();
        out.truncate(end);
    }
    out
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary: the
/// cut of a status page's own lines (already safe, so not escaped again) to fit its budget.
pub fn within_bytes(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `text` for the LibreNMS document's `errorString`, readable without any JSON escape (LibreNMS
/// strips backslashes before it decodes): quotes become `'`, backslashes `/`, anything but
/// printable ASCII a space.
pub fn for_librenms(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => ' ',
        })
        .collect()
}

/// C0 (ESC, CR, BS ...), DEL and C1 controls (U+009B is a one-character CSI on some
/// terminals), plus the invisible characters that reorder or hide text: bidirectional
/// overrides and isolates, zero-width characters, line and paragraph separators, BOM.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_a_line_or_move_the_cursor() {
        let forged = "404\r\nhv_monitor: all servers OK\x1b[2K\x1b]0;title\x07\0\x7f\u{9b}31m";
        let shown = for_terminal(forged, 400);
        assert_eq!(
            shown,
            "404\\r\\nhv_monitor: all servers OK\\u{1b}[2K\\u{1b}]0;title\\u{7}\\0\\u{7f}\\u{9b}31m"
        );
        assert!(!shown.chars().any(char::is_control), "{shown}");
    }

    #[test]
    fn invisible_reordering_characters_are_shown() {
        assert_eq!(
            for_terminal("ok\u{202e}kO\u{200b}\u{2028}\u{feff}", 400),
            "ok\\u{202e}kO\\u{200b}\\u{2028}\\u{feff}"
        );
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for text in [
            "",
            "Connection refused",
            "nœud: échec 'x' \"y\" \\path",
            "日本語",
        ] {
            assert_eq!(for_terminal(text, 400), text);
        }
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_with_a_count() {
        let text = "é".repeat(1000); // 2000 bytes
        let shown = for_terminal(&text, 101);
        assert_eq!(shown, format!("{}... (1900 more bytes)", "é".repeat(50)));
        // An escape is never cut in half.
        let shown = for_terminal("ab\x1b\x1b", 8);
        assert_eq!(shown, "ab\\u{1b}... (1 more bytes)");
        assert_eq!(for_terminal("abc", 3), "abc");
    }

    /// The rrd-script handler's form of hostile input in its errors: 60 characters, quotes
    /// and controls escaped as Rust does, `...` when cut.
    #[test]
    fn rust_escaped_text_is_cut_at_a_character_count() {
        let shown = |s: &str| for_terminal(s, Shown::chars(60).rust_escaped());
        assert_eq!(
            shown("it's \"x\"\\\n\x1b"),
            "it\\'s \\\"x\\\"\\\\\\n\\u{1b}"
        );
        assert_eq!(shown(&"é".repeat(60)), "é".repeat(60));
        assert_eq!(shown(&"é".repeat(61)), format!("{}...", "é".repeat(60)));
        assert_eq!(
            shown(&format!("{}\n", "a".repeat(60))),
            format!("{}...", "a".repeat(60))
        );
    }

    /// CBSD's form of command output in a message: controls as spaces, a character cap.
    #[test]
    fn command_output_stays_one_readable_line() {
        let shown = |s: &str, max| for_terminal(s, Shown::chars(max).controls_as_spaces());
        assert_eq!(shown("bad\tline\r\nnext\x1b[0m", 80), "bad line  next [0m");
        assert_eq!(shown("abcdef", 3), "abc...");
        assert_eq!(shown("abc", 3), "abc");
        assert_eq!(shown("日本語です", 2), "日本...");
    }

    #[test]
    fn a_bare_number_is_a_byte_cap() {
        assert_eq!(Shown::from(7), Shown::bytes(7));
        assert_eq!(for_terminal("a\nb", Shown::bytes(400)), "a\\nb");
        // Escaped the terminal way under a character cap too.
        assert_eq!(
            for_terminal("a\u{202e}bc", Shown::chars(2)),
            "a\\u{202e}..."
        );
    }

    #[test]
    fn status_page_text_cannot_break_the_html_or_start_a_line() {
        assert_eq!(
            for_status_page("a\nb<c>&", None, None),
            "a\\x0ab&lt;c&gt;&amp;"
        );
        assert_eq!(for_status_page("名前", None, None), "名前");
        assert_eq!(for_status_page("abcdef", Some(3), None), "abc...");
        assert_eq!(for_status_page("abc", Some(3), None), "abc");
        assert_eq!(for_status_page("<b>", Some(2), None), "&lt;b...");
        // The byte cap cuts what is shown, silently, never inside a character.
        assert_eq!(for_status_page("éé", None, Some(3)), "é");
        assert_eq!(for_status_page("a<b", Some(300), Some(4)), "a&lt");
        // Our own lines are cut the same way, unescaped.
        assert_eq!(within_bytes("&red 3 more\n", 8), "&red 3 m");
        assert_eq!(within_bytes("éé", 3), "é");
        assert_eq!(within_bytes("ab", 5), "ab");
    }

    #[test]
    fn librenms_error_text_needs_no_json_escape() {
        assert_eq!(
            for_librenms("say \"no\" to C:\\dir\n\tnœud"),
            "say 'no' to C:/dir  n ud"
        );
        assert_eq!(for_librenms("plain text 1-2 (ok)"), "plain text 1-2 (ok)");
    }
}
