//! The one way text reaches the page: every piece of input-derived text
//! (keys, values, names, messages that quote them) goes through [`text`],
//! which makes control and bidirectional characters visible as
//! [`crate::text::escaped`] does and then escapes the five characters HTML
//! gives a meaning to. Markup is only ever the page's own literals.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` safe to place in an element or in a quoted attribute value.
pub fn text(text: &str) -> Cow<'_, str> {
    let visible = crate::text::escaped(text);
    if !visible.contains(['&', '<', '>', '"', '\'']) {
        return visible;
    }
    let mut out = String::with_capacity(visible.len() + 16);
    for c in visible.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out.into()
}

/// Text that keeps its line breaks (a violation's detail, a diff): each
/// line passed through [`text`] (which would show a newline as `\n`).
pub fn lines(text_with_lines: &str) -> String {
    text_with_lines.lines().map(|line| text(line)).collect::<Vec<_>>().join("\n")
}

/// At most `max_chars` characters of `value`, with `…` when cut.
pub fn excerpt(value: &str, max_chars: usize) -> Cow<'_, str> {
    match value.char_indices().nth(max_chars) {
        None => value.into(),
        Some((cut, _)) => format!("{}…", &value[..cut]).into(),
    }
}

/// The page being written. Writing to a `String` cannot fail, so the
/// results of `write!` are dropped here, once.
#[derive(Default)]
pub struct Page(String);

impl Page {
    /// Appends the page's own markup (never input-derived text).
    pub fn markup(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Appends input-derived text, escaped.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.0.push_str(&text(value));
        self
    }

    /// Appends formatted markup whose arguments are the harness's own
    /// (numbers, names it chose) or already escaped.
    pub fn format(&mut self, args: std::fmt::Arguments<'_>) -> &mut Self {
        let _ = self.0.write_fmt(args);
        self
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_and_invisible_ones_are_escaped() {
        assert_eq!(
            text("<img src=x onerror='a()'> & \"q\""),
            "&lt;img src=x onerror=&#39;a()&#39;&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(text("a\u{202e}b\nc"), "a\\u{202e}b\\nc");
        assert_eq!(text("plain"), "plain");
        assert_eq!(lines("<a>\n<b>"), "&lt;a&gt;\n&lt;b&gt;");
    }

    #[test]
    fn excerpts_cut_on_characters() {
        assert_eq!(excerpt("ééé", 2), "éé…");
        assert_eq!(excerpt("ab", 2), "ab");
    }
}
