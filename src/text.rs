//! Text from outside (a server's answer, an HTTP error page, libvirt's and commands' error
//! messages) made safe to show: on a terminal, in cron's mail, in a log line. Escaping the
//! control characters keeps a server from moving the cursor, clearing the screen or starting
//! a line of its own that reads like one of ours; the cap keeps a megabyte error page out of
//! stderr.

use std::fmt::Write;

/// `text` on one line with every control or invisible formatting character escaped
/// (`\n`, `\r`, `\t`, `\0`, else `\u{1b}` style), cut to at most about `max_bytes` bytes
/// with a note of how much was left out.
pub fn for_terminal(text: &str, max_bytes: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_bytes) + 32);
    for (at, c) in text.char_indices() {
        let before = out.len();
        push_escaped(&mut out, c);
        if out.len() > max_bytes {
            out.truncate(before);
            let _ = write!(out, "... ({} more bytes)", text.len() - at);
            break;
        }
    }
    out
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
}
