//! Repairs a message's header/body layout before mail-parser reads it, so that malformed mail
//! keeps its text the way mature decoders (CPython's `email`) keep it.
//!
//! mail-parser needs the blank line that ends each header block; without it the body is read
//! as headers and lost. This pass walks the message line by line, following the boundaries the
//! multiparts declare, and inserts the missing blank line where a header block runs into a line
//! that is not a header:
//!
//! - a message or part whose body follows its headers with no blank line (CPython:
//!   `MissingHeaderBodySeparatorDefect`); the body starts at the first line that is neither a
//!   header nor a folded continuation, or at the folded lines just before it (a first body line
//!   indented like a folded header is body text, not part of the last header);
//! - a part with no headers at all whose first line is body text;
//! - a message with no header at all (plain text): all of it is the body.
//!
//! Each repair is reported as a warning. Well-formed input is returned unchanged (borrowed).

use std::borrow::Cow;

use mail_parser::{MessageParser, MimeHeaders};

/// The message bytes to parse (repaired when needed) and what was repaired.
pub(crate) fn repair(raw: &[u8]) -> (Cow<'_, [u8]>, Vec<String>) {
    let lines = split_lines(raw);
    let mut inserts: Vec<usize> = Vec::new(); // line indexes a blank line goes before
    let mut warnings = Vec::new();
    let mut boundaries: Vec<Vec<u8>> = Vec::new();
    let mut block = Block::new(Level::Top, 0);
    let mut in_headers = true;
    // Reported once the top headers are read, unless the message turns out to have none.
    let mut orphan_fold: Option<String> = None;

    for (i, line) in lines.iter().enumerate() {
        let content = trim_eol(line);
        if !in_headers {
            if is_delimiter(content, &boundaries) {
                block = Block::new(Level::Part, i + 1);
                in_headers = true;
            }
            continue;
        }
        if content.is_empty() {
            if block.level == Level::Top && block.headers == 0 && block.junk {
                inserts.push(0);
                warnings.push(NO_HEADERS.into());
                orphan_fold = None;
            }
            in_headers = false;
            block.end(&mut boundaries, &mut in_headers);
            continue;
        }
        if content[0] == b' ' || content[0] == b'\t' {
            if block.current.is_none() && block.level == Level::Top && i == block.start {
                orphan_fold = Some(format!(
                    "the message starts with a folded line that belongs to no header ({:?}); it was ignored",
                    excerpt(content)
                ));
            }
            if let Some(h) = block.current.as_mut() {
                h.extend_from_slice(line);
                block.fold_run.get_or_insert(i);
            }
            continue;
        }
        if is_header_line(content) || (i == 0 && content.starts_with(b"From ")) {
            block.push_header(line, i);
            continue;
        }
        // A line that is neither a header nor a continuation, before any blank line.
        if block.headers == 0 && block.level == Level::Top {
            // Garbage before the real headers (mail-parser skips it) or a message with no
            // headers at all: decided once the whole block is seen.
            block.junk = true;
            continue;
        }
        if is_delimiter(content, &boundaries) || is_close_delimiter(content, &boundaries) {
            // An empty part (two boundaries in a row): nothing to repair.
            in_headers = false;
            block.end(&mut boundaries, &mut in_headers);
            if !in_headers && is_delimiter(content, &boundaries) {
                block = Block::new(Level::Part, i + 1);
                in_headers = true;
            }
            continue;
        }
        if !block.opens_own_multipart(content) && stray_line(&lines[i + 1..]) {
            // Real headers go on after it up to the blank line: a stray line inside the
            // headers, which mail-parser skips (CPython would end the headers here and read
            // every later header as body).
            warnings.push(format!(
                "line {} is inside the headers but is not a header ({:?}); it was skipped",
                i + 1,
                excerpt(content)
            ));
            continue;
        }
        // Folded lines just before the body are taken as its first lines (an indented first
        // body line), except where they are a MIME header's parameters (found by fuzzing:
        // `Content-Type: multipart/mixed;` folded before `boundary=...` and then the first
        // delimiter).
        if block.opens_own_multipart(content) || block.current_is_mime_header() {
            block.fold_run = None;
        }
        let at = block.fold_run.unwrap_or(i);
        inserts.push(at);
        warnings.push(match (block.level, block.headers) {
            (_, 0) => format!(
                "a MIME part has no headers and no blank line before its text (line {}); its text was kept as the body",
                at + 1
            ),
            (Level::Top, _) => format!(
                "the message has no blank line between its headers and its body; the body was read from line {} ({:?})",
                at + 1,
                excerpt(trim_eol(lines[at]))
            ),
            (_, _) => format!(
                "a MIME part has no blank line between its headers and its body; its body was read from line {} ({:?})",
                at + 1,
                excerpt(trim_eol(lines[at]))
            ),
        });
        if let Some(run) = block.fold_run {
            // The folded lines moved to the body no longer belong to the last header.
            if let Some(h) = block.current.as_mut() {
                let keep: usize = lines[block.current_line..run].iter().map(|l| l.len()).sum();
                h.truncate(keep);
            }
        }
        in_headers = false;
        block.end(&mut boundaries, &mut in_headers);
        // The line that ended the headers may itself be a boundary (a part with no body).
        if !in_headers && is_delimiter(content, &boundaries) {
            block = Block::new(Level::Part, i + 1);
            in_headers = true;
        }
    }
    if in_headers && block.level == Level::Top && block.headers == 0 && block.junk {
        inserts.push(0);
        warnings.push(NO_HEADERS.into());
        orphan_fold = None;
    }
    if let Some(w) = orphan_fold {
        warnings.insert(0, w);
    }
    if inserts.is_empty() {
        return (Cow::Borrowed(raw), warnings);
    }
    inserts.sort_unstable();
    let mut out = Vec::with_capacity(raw.len() + inserts.len() * 2);
    let mut next = inserts.iter().peekable();
    for (i, line) in lines.iter().enumerate() {
        while next.peek().is_some_and(|&&at| at == i) {
            next.next();
            // Line endings as the message writes them (split_inclusive: every line before
            // `i` ends with LF).
            let crlf = i
                .checked_sub(1)
                .map_or(line.ends_with(b"\r\n"), |p| lines[p].ends_with(b"\r\n"));
            out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        out.extend_from_slice(line);
    }
    (Cow::Owned(out), warnings)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    Part,
}

/// One header block being read.
struct Block {
    level: Level,
    /// Index of the block's first line.
    start: usize,
    headers: usize,
    /// The header being read (with its continuation lines) and the line it started on.
    current: Option<Vec<u8>>,
    current_line: usize,
    /// First line of the current header's trailing run of folded lines.
    fold_run: Option<usize>,
    /// The block's Content-Type header, when seen.
    content_type: Option<Vec<u8>>,
    /// Lines before any header that are not headers.
    junk: bool,
}

impl Block {
    fn new(level: Level, start: usize) -> Block {
        Block {
            level,
            start,
            headers: 0,
            current: None,
            current_line: start,
            fold_run: None,
            content_type: None,
            junk: false,
        }
    }

    fn push_header(&mut self, line: &[u8], index: usize) {
        self.finish_header();
        self.headers += 1;
        self.current = Some(line.to_vec());
        self.current_line = index;
        self.fold_run = None;
    }

    fn finish_header(&mut self) {
        if let Some(h) = self.current.take() {
            let name_end = h.iter().position(|&b| b == b':').unwrap_or(0);
            if trim_end_ws(&h[..name_end]).eq_ignore_ascii_case(b"content-type") {
                self.content_type = Some(h);
            }
        }
    }

    /// The header block ends: a multipart declares a boundary to watch for; an enclosed
    /// message starts a new header block right away.
    fn end(&mut self, boundaries: &mut Vec<Vec<u8>>, in_headers: &mut bool) {
        self.finish_header();
        let Some(ct) = self.content_type.take() else {
            return;
        };
        match parse_content_type(&ct) {
            Some((kind, _, Some(b))) if kind == "multipart" && !b.is_empty() => boundaries.push(b),
            Some((kind, Some(sub), _)) if kind == "message" && sub == "rfc822" => {
                *self = Block::new(Level::Part, usize::MAX);
                *in_headers = true;
            }
            _ => {}
        }
    }

    /// Is the header being read a `Content-*` header (whose folded lines are parameters)?
    fn current_is_mime_header(&self) -> bool {
        self.current
            .as_deref()
            .is_some_and(|h| h.len() >= 8 && h[..8].eq_ignore_ascii_case(b"content-"))
    }

    /// Is `line` the first delimiter of the multipart this block declares (its headers ran
    /// straight into the first boundary)?
    fn opens_own_multipart(&self, line: &[u8]) -> bool {
        if !line.starts_with(b"--") {
            return false;
        }
        let current_ct = self.current.as_deref().filter(|h| {
            let name_end = h.iter().position(|&b| b == b':').unwrap_or(0);
            trim_end_ws(&h[..name_end]).eq_ignore_ascii_case(b"content-type")
        });
        current_ct
            .or(self.content_type.as_deref())
            .and_then(parse_content_type)
            .and_then(|(_, _, b)| b)
            .is_some_and(|b| is_delimiter(line, &[b]))
    }
}

/// (type, subtype, boundary) of a `Content-Type:` header line, read by mail-parser.
fn parse_content_type(header: &[u8]) -> Option<(String, Option<String>, Option<Vec<u8>>)> {
    let mut head = header.to_vec();
    head.extend_from_slice(b"\r\n\r\n");
    std::panic::catch_unwind(|| {
        MessageParser::new().parse_headers(&head).and_then(|m| {
            let ct = m.content_type()?;
            Some((
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().map(str::to_ascii_lowercase),
                ct.attribute("boundary").map(|b| b.as_bytes().to_vec()),
            ))
        })
    })
    .ok()
    .flatten()
}

/// After a line that is not a header: do real headers (and folded lines) go on up to a blank
/// line?
fn stray_line(rest: &[&[u8]]) -> bool {
    let mut saw_header = false;
    for line in rest {
        let content = trim_eol(line);
        if content.is_empty() {
            return saw_header;
        }
        if content[0] == b' ' || content[0] == b'\t' {
            continue;
        }
        if !is_header_line(content) {
            return false;
        }
        saw_header = true;
    }
    false
}

const NO_HEADERS: &str = "the message has no headers; all of it was read as the body";

/// `--boundary` of an enclosing multipart (the closing `--boundary--` is not one).
fn is_delimiter(line: &[u8], boundaries: &[Vec<u8>]) -> bool {
    trim_end_ws(line)
        .strip_prefix(b"--")
        .is_some_and(|rest| boundaries.iter().any(|b| rest == b.as_slice()))
}

/// `--boundary--` of an enclosing multipart.
fn is_close_delimiter(line: &[u8], boundaries: &[Vec<u8>]) -> bool {
    trim_end_ws(line)
        .strip_prefix(b"--")
        .and_then(|rest| rest.strip_suffix(b"--"))
        .is_some_and(|rest| boundaries.iter().any(|b| rest == b.as_slice()))
}

/// `name:` with a printable-ASCII field name (obsolete whitespace before the colon allowed).
fn is_header_line(line: &[u8]) -> bool {
    let name_len = line
        .iter()
        .position(|&b| !(b'!'..=b'~').contains(&b) || b == b':')
        .unwrap_or(line.len());
    if name_len == 0 {
        return false;
    }
    let rest = &line[name_len..];
    let after_ws = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(rest.len());
    rest.get(after_ws) == Some(&b':')
}

/// Lines with their endings.
fn split_lines(raw: &[u8]) -> Vec<&[u8]> {
    raw.split_inclusive(|&b| b == b'\n').collect()
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_end_ws(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |p| p + 1);
    &s[..end]
}

fn excerpt(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.into_owned(),
    }
}
