//! The only three ways text becomes markup. Everything else in `text` goes through them, so a
//! name from Buildbot can never open a tag or break the parse.

/// Escapes text for Telegram's HTML parse mode. Line breaks become spaces: escaped text is
/// always inline, and keeping every line self-contained is what makes splitting safe.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn link(url: &str, label: &str) -> String {
    format!("<a href=\"{}\">{}</a>", escape(url), escape(label))
}

pub(super) fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_metacharacters() {
        assert_eq!(escape("lint_*[x]<&>\""), "lint_*[x]&lt;&amp;&gt;&quot;");
        assert_eq!(escape("two\nlines"), "two lines");
    }
}
