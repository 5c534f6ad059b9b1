//! Just enough MIME multipart for batch (`multipart/mixed`) and uploads (`multipart/related`).

/// The `boundary` parameter of a Content-Type value.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// One body part: header fields and content.
pub(crate) struct Part<'a> {
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl Part<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// Splits head and body at the first empty line (CRLF or LF).
pub(crate) fn split_head(data: &[u8]) -> (&[u8], &[u8]) {
    if let Some(rest) = data
        .strip_prefix(b"\r\n")
        .or_else(|| data.strip_prefix(b"\n"))
    {
        return (&[], rest);
    }
    let crlf = find(data, b"\r\n\r\n", 0).map(|p| (p, p + 4));
    let lf = find(data, b"\n\n", 0).map(|p| (p, p + 2));
    let cut = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match cut {
        Some((h, b)) => (&data[..h], &data[b..]),
        None => (data, &[]),
    }
}

/// Parses `Name: value` lines with folding.
pub(crate) fn parse_headers(head: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(head);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// Position of the next delimiter line `--boundary` at or after `from`: at the start of a line
/// and followed by `--`, whitespace or the end (so `--b` does not match inside `--b2`).
fn find_delimiter(body: &[u8], delim: &[u8], mut from: usize) -> Option<usize> {
    while let Some(p) = find(body, delim, from) {
        let line_start = p == 0 || body[p - 1] == b'\n';
        let after = &body[p + delim.len()..];
        let ends = after.is_empty()
            || after.starts_with(b"--")
            || matches!(after[0], b'\r' | b'\n' | b' ' | b'\t');
        if line_start && ends {
            return Some(p);
        }
        from = p + 1;
    }
    None
}

/// The parts between `--boundary` delimiters (preamble and epilogue dropped).
pub(crate) fn split<'a>(body: &'a [u8], boundary: &str) -> Vec<Part<'a>> {
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let Some(mut pos) = find_delimiter(body, &delim, 0) else {
        return parts;
    };
    loop {
        let after = pos + delim.len();
        if body[after..].starts_with(b"--") {
            break;
        }
        let Some(next) = find_delimiter(body, &delim, after) else {
            break;
        };
        let mut chunk = &body[after..next];
        // Drop the rest of the delimiter line and the CRLF that belongs to the next delimiter.
        if let Some(nl) = chunk.iter().position(|b| *b == b'\n') {
            chunk = &chunk[nl + 1..];
        }
        if chunk.ends_with(b"\r\n") {
            chunk = &chunk[..chunk.len() - 2];
        } else if chunk.ends_with(b"\n") {
            chunk = &chunk[..chunk.len() - 1];
        }
        let (head, content) = split_head(chunk);
        parts.push(Part {
            headers: parse_headers(head),
            body: content,
        });
        pos = next;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_must_start_a_line_and_end_the_boundary() {
        let body = b"preamble\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=b2\r\n\r\n--b2\r\ninner\r\n--b2--\r\n--b\r\n\r\nsecond\r\n--b--\r\n";
        let parts = split(body, "b");
        assert_eq!(parts.len(), 2);
        assert!(String::from_utf8_lossy(parts[0].body).contains("--b2--"));
        assert_eq!(parts[0].header("content-type"), Some("message/rfc822"));
        assert_eq!(parts[1].body, b"second");
        assert_eq!(
            boundary("multipart/mixed; boundary=\"x y\""),
            Some("x y".into())
        );
    }
}

/// Fuzzing of the parser that reads callers' batch and upload bodies (docs/fuzzing.md): bodies
/// built from generated parts come back part for part; damaged and arbitrary input never
/// panics.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// RFC 2046 `bchars` (no space, so a trailing-space boundary is not generated).
    fn boundary_text() -> impl Strategy<Value = String> {
        "[0-9A-Za-z'()+_,./:=?-]{1,70}"
    }

    #[derive(Debug, Clone)]
    struct GenPart {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    fn part() -> impl Strategy<Value = GenPart> {
        let header = ("[A-Za-z][A-Za-z0-9-]{0,20}", "([!-~]([ -~]{0,40}[!-~])?)?");
        (
            prop::collection::vec(header, 0..4),
            prop::collection::vec(any::<u8>(), 0..200),
        )
            .prop_map(|(headers, body)| GenPart { headers, body })
    }

    /// The body as a sender would write it, or `None` when the content happens to contain
    /// the delimiter (or, with bare LF, ends in CR: both are ambiguous for any parser).
    fn assemble(
        boundary: &str,
        parts: &[GenPart],
        crlf: bool,
        preamble: &[u8],
        padding: usize,
    ) -> Option<Vec<u8>> {
        let nl: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let delim = format!("--{boundary}");
        let mut out = Vec::new();
        out.extend_from_slice(preamble);
        if !preamble.is_empty() {
            out.extend_from_slice(nl);
        }
        for p in parts {
            let mut line_start = true;
            for (i, b) in p.body.iter().enumerate() {
                if line_start && p.body[i..].starts_with(delim.as_bytes()) {
                    return None;
                }
                line_start = *b == b'\n';
            }
            if !crlf && p.body.last() == Some(&b'\r') {
                return None;
            }
            out.extend_from_slice(delim.as_bytes());
            out.extend(std::iter::repeat_n(b' ', padding));
            out.extend_from_slice(nl);
            for (k, v) in &p.headers {
                out.extend_from_slice(format!("{k}: {v}").as_bytes());
                out.extend_from_slice(nl);
            }
            out.extend_from_slice(nl);
            out.extend_from_slice(&p.body);
            out.extend_from_slice(nl);
        }
        out.extend_from_slice(format!("{delim}--").as_bytes());
        out.extend_from_slice(nl);
        out.extend_from_slice(b"epilogue");
        Some(out)
    }

    proptest! {
        #[test]
        fn generated_bodies_come_back_part_for_part(
            boundary in boundary_text(),
            parts in prop::collection::vec(part(), 1..5),
            crlf in any::<bool>(),
            preamble in "[ -~]{0,30}",
            padding in 0usize..3,
        ) {
            // A preamble line that is itself a delimiter would start the parts early.
            prop_assume!(!preamble.starts_with(&format!("--{boundary}")));
            let Some(body) = assemble(&boundary, &parts, crlf, preamble.as_bytes(), padding) else {
                return Ok(());
            };
            let got = split(&body, &boundary);
            prop_assert_eq!(got.len(), parts.len());
            for (g, want) in got.iter().zip(&parts) {
                prop_assert_eq!(&g.headers, &want.headers);
                prop_assert_eq!(g.body, &want.body[..]);
            }
            let content_type = format!("multipart/related; boundary=\"{boundary}\"");
            prop_assert_eq!(super::boundary(&content_type), Some(boundary.clone()));
        }

        #[test]
        fn truncated_bodies_never_panic_and_never_invent_parts(
            boundary in boundary_text(),
            parts in prop::collection::vec(part(), 1..4),
            crlf in any::<bool>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let Some(body) = assemble(&boundary, &parts, crlf, b"", 0) else {
                return Ok(());
            };
            let body = &body[..cut.index(body.len() + 1)];
            prop_assert!(split(body, &boundary).len() <= parts.len());
        }

        #[test]
        fn arbitrary_input_never_panics(
            body in prop::collection::vec(any::<u8>(), 0..400),
            boundary in "\\PC{0,20}",
            content_type in "\\PC{0,60}",
        ) {
            let _ = split(&body, &boundary);
            let _ = super::boundary(&content_type);
            let (head, _) = split_head(&body);
            let _ = parse_headers(head);
        }
    }
}
