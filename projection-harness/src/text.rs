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
        || matches!(
            c,
            '\u{061c}' | '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` as printed: as is, unless it holds a character that could forge
/// output, then quoted and escaped.
pub fn quoted_if_needed(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_unsafe) { quoted(text).into() } else { text.into() }
}

/// A name (an entity id, an item) as printed where it starts or shapes a
/// report line (`order-1: 7 items`, `Widget: 3 units`): as is, unless it
/// holds a character that could forge output, a `:` (the report's own
/// separator: unquoted, a name could make its line read as another kind of
/// line, such as `VIOLATION: ...`, and hide where the name ends), or starts
/// with a `"` (so that a raw name never reads as a quoted one); then quoted
/// and escaped.
pub fn name(text: &str) -> Cow<'_, str> {
    if text.contains(':') || text.starts_with('"') || text.chars().any(is_unsafe) {
        quoted(text).into()
    } else {
        text.into()
    }
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
            c => push_escaped(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// `text` with every unsafe character escaped as [`quoted`] escapes it, but
/// no quotes added: for messages written by libraries (serde's "unknown
/// field `...`", I/O errors) that embed input text verbatim, and as the last
/// gate every error line passes before it is printed. Safe text, including
/// text already escaped, is unchanged.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    text.chars().for_each(|c| push_escaped(&mut out, c));
    out.into()
}

/// A path as printed in a message: [`quoted_if_needed`] of its (lossy)
/// text, since paths come from the command line and may hold anything.
pub fn path(path: &std::path::Path) -> String {
    quoted_if_needed(&path.to_string_lossy()).into_owned()
}

/// JSON text with the characters JSON allows raw inside strings but that
/// change how a terminal shows the output (line separators, bidirectional
/// formatting) written as `\uXXXX` escapes instead. The data is unchanged:
/// these characters can only occur inside JSON strings, where both forms
/// mean the same. Newlines, tabs and carriage returns are left alone:
/// serde_json escapes them inside strings, and outside strings they are the
/// layout; other control characters (C1's CSI, U+009B, which serde_json
/// writes raw) are escaped.
pub fn json_escaped(json: &str) -> Cow<'_, str> {
    let shown_raw = |c: char| is_unsafe(c) && !matches!(c, '\n' | '\t' | '\r');
    if !json.chars().any(shown_raw) {
        return json.into();
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if shown_raw(c) {
            // Every unsafe character is in the Basic Multilingual Plane.
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Pushes `c`, escaped if it could forge output.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_unsafe(c) => out.extend(c.escape_unicode()),
        c => out.push(c),
    }
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
        assert_eq!(quoted_if_needed("order-1 ñ カート"), "order-1 ñ カート");
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

    #[test]
    fn names_with_the_separator_or_a_leading_quote_are_quoted() {
        assert_eq!(name("order-1 ñ"), "order-1 ñ");
        assert_eq!(name("VIOLATION: x"), "\"VIOLATION: x\"");
        assert_eq!(name("a:b"), "\"a:b\"");
        assert_eq!(name("\"q\""), "\"\\\"q\\\"\"");
        assert_eq!(name("say \"hi\""), "say \"hi\"");
        assert_eq!(name("a\u{2028}b"), "\"a\\u{2028}b\"");
    }

    #[test]
    fn paths_are_printed_as_is_unless_unsafe() {
        assert_eq!(path(std::path::Path::new("/tmp/a b/c.jsonl")), "/tmp/a b/c.jsonl");
        assert_eq!(path(std::path::Path::new("/tmp/x\ny")), "\"/tmp/x\\ny\"");
    }

    #[test]
    fn escaped_keeps_safe_text_and_is_idempotent() {
        assert_eq!(escaped("unknown field `a\nb`"), "unknown field `a\\nb`");
        assert_eq!(escaped("x\u{202e}\u{1b}[2J\"q\""), "x\\u{202e}\\u{1b}[2J\"q\"");
        let once = escaped("a\r\n\u{2028}\\").into_owned();
        assert_eq!(escaped(&once), once);
        assert!(matches!(escaped("plain \"text\" ñ"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_escaped_is_the_same_json_without_raw_separators() {
        let value = serde_json::json!({"k\u{202e}": "a\u{2028}b\u{1b}\u{9b}", "n": 1});
        let text = serde_json::to_string_pretty(&value).unwrap();
        let safe = json_escaped(&text);
        assert!(!safe.chars().any(|c| is_unsafe(c) && c != '\n'), "{safe}");
        assert_eq!(safe.lines().count(), text.lines().count(), "the layout is kept");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).unwrap(), value);
        assert!(safe.contains("\\u202e") && safe.contains("\\u2028"), "{safe}");
    }
}
