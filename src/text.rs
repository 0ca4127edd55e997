//! Text that came from outside (a target's answers, a URL, a run id) made safe for where it
//! goes: the terminal and logs ([`sanitize`]), Markdown ([`escape_markdown`]), messages that
//! name a connection URL ([`redact_url`]). Bottom layer: imports nothing from the crate.
//! Secret values are removed separately, by `secrets::scrub`, before any of these cut text.

/// Makes target-supplied text safe for logs and reports: no control characters (ANSI escapes
/// included), bounded length.
pub fn sanitize(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}

/// Escapes text for Markdown tables and paragraphs: HTML-significant characters become
/// entities, Markdown syntax characters are backslash-escaped, control characters become
/// spaces, and the text is cut to `max` characters.
pub fn escape_markdown(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A URL with any password replaced, fit for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("[redacted]"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_drops_control_characters_and_cuts() {
        assert_eq!(sanitize("a\u{7}b", 10), "a b");
        assert_eq!(sanitize("abcdef", 3), "abc…");
    }

    #[test]
    fn markdown_escape_neutralises_table_and_html_syntax() {
        assert_eq!(escape_markdown("a|b\nc", 10), "a\\|b c");
        assert_eq!(escape_markdown("<b>", 10), "&lt;b&gt;");
        assert_eq!(escape_markdown("abcdef", 3), "abc…");
    }

    #[test]
    fn redact_url_hides_only_the_password() {
        let shown = redact_url("postgres://u:secret@h:5432/db");
        assert!(
            !shown.contains("secret") && shown.contains("redacted"),
            "{shown}"
        );
        assert!(
            shown.starts_with("postgres://u:") && shown.ends_with("@h:5432/db"),
            "{shown}"
        );
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
    }
}
