//! Fitting text to Telegram: parts under the length limit, cut only at line breaks, and the
//! plain text a message falls back to when Telegram refuses its markup.

fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Splits HTML text into parts of at most `limit` UTF-16 units, at line breaks only (every line
/// from [`crate::text`] is self-contained markup). A single line longer than the limit loses its
/// markup and is cut with an ellipsis: shown shortened rather than refused.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let text = text.trim();
    if utf16_len(text) <= limit {
        return vec![text.to_owned()];
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in text.lines() {
        let line = if utf16_len(line) > limit {
            cut_line(line, limit)
        } else {
            line.to_owned()
        };
        let line_len = utf16_len(&line);
        let needed = if current.is_empty() {
            line_len
        } else {
            current_len + 1 + line_len
        };
        if needed > limit {
            parts.push(std::mem::take(&mut current).trim_end().to_owned());
            current_len = 0;
        }
        if !current.is_empty() {
            current.push('\n');
            current_len += 1;
        }
        current.push_str(&line);
        current_len += line_len;
    }
    if !current.trim().is_empty() {
        parts.push(current.trim_end().to_owned());
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// Shortens one over-long line: tags are dropped (a cut could leave one open), entities kept
/// whole, and "…" marks the cut.
fn cut_line(line: &str, limit: usize) -> String {
    let bare = strip_tags(line);
    if utf16_len(&bare) <= limit {
        return bare; // only the markup was too much: the words all fit
    }
    let mut out = String::new();
    let mut len = 0;
    let mut entity_start = None;
    for c in bare.chars() {
        if len + c.len_utf16() + 1 > limit {
            break;
        }
        if c == '&' {
            entity_start = Some(out.len());
        } else if c == ';' {
            entity_start = None;
        }
        out.push(c);
        len += c.len_utf16();
    }
    if let Some(start) = entity_start {
        out.truncate(start);
    }
    out.push('…');
    out
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The text a reader would see, for sending without a parse mode.
pub fn plain_text(html: &str) -> String {
    strip_tags(html)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::MESSAGE_LIMIT;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split("  hello\n", MESSAGE_LIMIT), vec!["hello"]);
    }

    #[test]
    fn long_text_splits_at_newlines_under_the_limit() {
        // as in Buildbot's own test: 250 lines of 39 digits
        let text: Vec<String> = (1..=250).map(|i| format!("{i:039}")).collect();
        let parts = split(&text.join("\n"), MESSAGE_LIMIT);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| utf16_len(p) <= MESSAGE_LIMIT));
        assert!(parts[0].starts_with(&format!("{:039}", 1)));
        assert!(parts[0].ends_with(&format!("{:039}", 102)));
        assert!(parts[2].ends_with(&format!("{:039}", 250)));
        assert_eq!(parts.join("\n"), text.join("\n"), "nothing lost");
    }

    #[test]
    fn emoji_count_as_two_units() {
        let line = "🌀".repeat(1500); // 3000 units
        let parts = split(&format!("{line}\n{line}"), MESSAGE_LIMIT);
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn overlong_line_is_cut_without_breaking_markup() {
        let line = format!("<b>{}</b> &amp; more", "x".repeat(5000));
        let parts = split(&format!("first\n{line}\nlast"), 100);
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert!(parts[1].ends_with('…'));
        assert!(!parts[1].contains('<'));
        assert!(utf16_len(&parts[1]) <= 100);
        let cut = cut_line("aaaa &amp; b", 8);
        assert_eq!(cut, "aaaa …", "an entity is never cut in half");
    }

    #[test]
    fn plain_text_unescapes() {
        assert_eq!(
            plain_text("<b>a &lt;b&gt; &amp; &quot;c&quot;</b>"),
            "a <b> & \"c\""
        );
    }
}
