//! Plain text from HTML bodies (Graph gives one body; agents get `text` and `html`).

/// A plain rendering of HTML: tags dropped, block ends as new lines, common entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while let Some(start) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&rest[..start]);
        }
        let after = &rest[start + 1..];
        let end = after.find('>').map(|e| e + 1).unwrap_or(after.len());
        let tag = after[..end.saturating_sub(1)].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if let Some(until) = skip_until {
            if tag.starts_with('/') && name == until {
                skip_until = None;
            }
        } else if !tag.starts_with('/') && (name == "style" || name == "script" || name == "head") {
            skip_until = Some(match name.as_str() {
                "style" => "style",
                "script" => "script",
                _ => "head",
            });
        } else if matches!(
            name.as_str(),
            "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "table"
        ) && (tag.starts_with('/') || name == "br")
        {
            out.push('\n');
        }
        rest = &after[end.min(after.len())..];
    }
    if skip_until.is_none() {
        out.push_str(rest);
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let lines: Vec<&str> = decoded.lines().map(str::trim_end).collect();
    let mut text = lines.join("\n");
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_drops_tags_and_style() {
        let t = html_to_text(
            "<html><head><style>p{}</style></head><body><p>Hi &amp; bye</p><div>x<br>y</div></body></html>",
        );
        assert_eq!(t, "Hi & bye\nx\ny");
    }
}
