//! The one path by which text read from input (keys, names, values, topic
//! names) reaches a report, a message or an error: plain text is printed as
//! is; anything that could forge a line or move the cursor is quoted and
//! escaped.

use std::borrow::Cow;

/// Whether `c` could change how the surrounding output reads: control
/// characters (newlines, ESC), line and paragraph separators, and the
/// bidirectional formatting characters.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` as printed: as is, unless it holds a character that could forge
/// output, then quoted and escaped.
pub fn quoted_if_needed(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_unsafe) { quoted(text).into() } else { text.into() }
}

/// `text` quoted and escaped, always (Rust's debug form: `"a\nb"`,
/// `"\u{202e}"`).
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `1 partition`, `3 partitions`: a count and its noun, plural unless 1.
pub fn count(n: impl Into<u128>, noun: &str) -> String {
    let n = n.into();
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// At most `max_chars` characters of `text`, quoted and escaped, with `…`
/// when cut: for messages that quote input of any length.
pub fn quoted_excerpt(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => quoted(text),
        Some((cut, _)) => format!("{}…", quoted(&text[..cut])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_unchanged_and_unsafe_text_is_escaped() {
        assert_eq!(quoted_if_needed("cart-1 ñ カート"), "cart-1 ñ カート");
        assert_eq!(quoted_if_needed("a\nb"), "\"a\\nb\"");
        assert_eq!(quoted_if_needed("x\u{202e}y"), "\"x\\u{202e}y\"");
        assert_eq!(quoted_if_needed("x\u{2028}y"), "\"x\\u{2028}y\"");
        assert_eq!(quoted_excerpt("abcdef", 3), "\"abc\"…");
        assert_eq!(
            (count(1u32, "partition"), count(0u32, "event"), count(3u64, "record")),
            ("1 partition".into(), "0 events".into(), "3 records".into())
        );
        assert_eq!(quoted_excerpt("abc", 3), "\"abc\"");
        assert_eq!(quoted("say \"hi\"\u{1b}[2J"), "\"say \\\"hi\\\"\\u{1b}[2J\"");
    }
}
