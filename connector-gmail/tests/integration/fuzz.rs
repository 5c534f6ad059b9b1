//! Structure-aware fuzzing of the Gmail connector's parsers with proptest (cargo-fuzz needs a
//! nightly compiler; these run on stable, in CI, as ordinary tests). See docs/fuzzing.md.
//!
//! - MIME decoding: messages generated as trees (multiparts, enclosed messages, charsets,
//!   transfer encodings, folded and encoded headers) and then damaged the ways real mail is
//!   (blank lines missing after headers, line endings mixed, truncated, bytes flipped). Every
//!   input decodes without panicking, and where the body text survives the damage it is not
//!   lost: every line of the first text part is in the decoded text.
//! - The batch response parser: answers in any order, with and without Content-IDs, any status
//!   and Retry-After, damaged parts; each answered slot holds exactly its own answer.
//!
//! The case count defaults to a short CI run; `PROPTEST_CASES=20000 cargo test -p
//! connector-gmail --test integration fuzz:: --release` runs longer. A failing input is saved by proptest in
//! `fuzz.proptest-regressions` (commit it) and gets its own test below.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use connector_gmail::batch;
use connector_gmail::mime::decode_mime;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Value};

/// `PROPTEST_CASES` when set, else `default` (the CI run).
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        // Properties that only apply to some inputs skip the others (`prop_assume!`).
        max_global_rejects: cases.saturating_mul(2).max(1024),
        // A failing input is saved next to this file (`*.proptest-regressions`, committed) and
        // replayed first on every run.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        // Shrinking a big tree can take long; a CI run should stay short.
        max_shrink_iters: 2048,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// MIME

#[derive(Debug, Clone, Copy)]
enum Cte {
    None,
    SevenBit,
    QuotedPrintable,
    Base64,
}

#[derive(Debug, Clone)]
enum Node {
    Leaf {
        ctype: &'static str,
        charset: Option<&'static str>,
        cte: Cte,
        /// `Some(("inline" | "attachment", filename))`.
        disposition: Option<(&'static str, Option<String>)>,
        lines: Vec<String>,
    },
    Multipart {
        subtype: &'static str,
        children: Vec<Node>,
    },
    Message(Box<Node>),
}

/// How the rendered message is damaged.
#[derive(Debug, Clone)]
struct Damage {
    /// Header blocks (by order of writing) whose blank line is left out.
    drop_blank: Vec<bool>,
    crlf: bool,
    /// Fold long header values onto continuation lines.
    fold: bool,
    /// Cut the message to this fraction of its length (per mille), when set.
    truncate: Option<u16>,
    /// (position per mille, byte) replacements.
    flips: Vec<(u16, u8)>,
}

fn words() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z]{1,8}", 1..8).prop_map(|w| w.join(" "))
}

fn leaf() -> impl Strategy<Value = Node> {
    (
        prop_oneof![
            4 => Just("text/plain"),
            2 => Just("text/html"),
            1 => Just("application/pdf"),
            1 => Just("image/png"),
            1 => Just("text/x-unknown"),
        ],
        prop_oneof![
            Just(None),
            Just(Some("utf-8")),
            Just(Some("us-ascii")),
            Just(Some("iso-8859-1")),
            Just(Some("x-no-such-charset")),
        ],
        prop_oneof![
            Just(Cte::None),
            Just(Cte::SevenBit),
            Just(Cte::QuotedPrintable),
            Just(Cte::Base64),
        ],
        prop_oneof![
            3 => Just(None),
            1 => "[a-z]{1,8}\\.(txt|pdf|png)".prop_map(|n| Some(("attachment", Some(n)))),
            1 => "[a-z]{1,8}\\.txt".prop_map(|n| Some(("inline", Some(n)))),
            1 => Just(Some(("inline", None))),
        ],
        prop::collection::vec(words(), 0..6),
    )
        .prop_map(|(ctype, charset, cte, disposition, lines)| Node::Leaf {
            ctype,
            charset,
            cte,
            disposition,
            lines,
        })
}

fn tree() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            3 => (
                prop_oneof![
                    Just("mixed"),
                    Just("alternative"),
                    Just("related"),
                    Just("digest"),
                    Just("report")
                ],
                prop::collection::vec(inner.clone(), 0..4),
            )
                .prop_map(|(subtype, children)| Node::Multipart { subtype, children }),
            1 => inner.prop_map(|n| Node::Message(Box::new(n))),
        ]
    })
}

fn damage() -> impl Strategy<Value = Damage> {
    (
        prop::collection::vec(prop::bool::weighted(0.2), 0..16),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.15, 0u16..1000),
        prop::collection::vec((0u16..1000, any::<u8>()), 0..3),
    )
        .prop_map(|(drop_blank, crlf, fold, truncate, flips)| Damage {
            drop_blank,
            crlf,
            fold,
            truncate,
            flips,
        })
}

struct Writer<'d> {
    out: Vec<u8>,
    eol: &'static str,
    damage: &'d Damage,
    blocks: usize,
    boundaries: usize,
    nonce: u32,
}

impl Writer<'_> {
    fn line(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(self.eol.as_bytes());
    }

    fn header(&mut self, name: &str, value: &str) {
        if self.damage.fold && value.len() > 12 {
            // Fold at a space: the continuation line starts with whitespace.
            if let Some(i) = value[6..].find(' ').map(|i| i + 6) {
                self.line(&format!("{name}: {}", &value[..i]));
                self.line(&format!("\t{}", &value[i + 1..]));
                return;
            }
        }
        self.line(&format!("{name}: {value}"));
    }

    /// Ends a header block: the blank line, unless the damage leaves it out.
    fn end_headers(&mut self) {
        let drop = self
            .damage
            .drop_blank
            .get(self.blocks)
            .copied()
            .unwrap_or(false);
        self.blocks += 1;
        if !drop {
            self.line("");
        }
    }

    fn node(&mut self, node: &Node) {
        match node {
            Node::Leaf {
                ctype,
                charset,
                cte,
                disposition,
                lines,
            } => {
                let ct = match charset {
                    Some(c) => format!("{ctype}; charset={c}"),
                    None => (*ctype).to_string(),
                };
                self.header("Content-Type", &ct);
                if let Some((kind, name)) = disposition {
                    match name {
                        Some(n) => {
                            self.header("Content-Disposition", &format!("{kind}; filename=\"{n}\""))
                        }
                        None => self.header("Content-Disposition", kind),
                    }
                }
                match cte {
                    Cte::None => {}
                    Cte::SevenBit => self.header("Content-Transfer-Encoding", "7bit"),
                    Cte::QuotedPrintable => {
                        self.header("Content-Transfer-Encoding", "quoted-printable")
                    }
                    Cte::Base64 => self.header("Content-Transfer-Encoding", "base64"),
                }
                self.end_headers();
                let text = lines.join(self.eol);
                match cte {
                    Cte::Base64 => {
                        let enc = STANDARD.encode(text.as_bytes());
                        for chunk in enc.as_bytes().chunks(76) {
                            self.line(std::str::from_utf8(chunk).unwrap());
                        }
                    }
                    _ => {
                        for l in lines {
                            self.line(l);
                        }
                    }
                }
            }
            Node::Multipart { subtype, children } => {
                self.boundaries += 1;
                let boundary = format!("b{}z{:x}", self.boundaries, self.nonce);
                self.header(
                    "Content-Type",
                    &format!("multipart/{subtype}; boundary=\"{boundary}\""),
                );
                self.end_headers();
                for child in children {
                    self.line(&format!("--{boundary}"));
                    self.node(child);
                }
                self.line(&format!("--{boundary}--"));
            }
            Node::Message(inner) => {
                self.header("Content-Type", "message/rfc822");
                self.end_headers();
                self.header("Subject", "enclosed message");
                self.header("From", "inner@example.com");
                self.node(inner);
            }
        }
    }
}

/// The message bytes, and the lines of the text body when the damage leaves it readable: the
/// first leaf (depth first, not inside an enclosed message) when it is an inline text/plain
/// part without a file name.
fn render(
    root: &Node,
    subject: &str,
    damage: &Damage,
    nonce: u32,
) -> (Vec<u8>, Option<Vec<String>>) {
    let mut w = Writer {
        out: Vec::new(),
        eol: if damage.crlf { "\r\n" } else { "\n" },
        damage,
        blocks: 0,
        boundaries: 0,
        nonce,
    };
    w.header("From", "Ada Lovelace <ada@example.com>");
    w.header("To", "grace@example.com, \"Hopper, Grace\" <g@example.com>");
    w.header("Subject", subject);
    w.header("MIME-Version", "1.0");
    w.node(root);
    let mut out = w.out;
    let damaged_bytes = damage.truncate.is_some() || !damage.flips.is_empty();
    if let Some(t) = damage.truncate {
        out.truncate(out.len() * t as usize / 1000);
    }
    for (at, byte) in &damage.flips {
        if !out.is_empty() {
            let i = (out.len() - 1) * *at as usize / 1000;
            out[i] = *byte;
        }
    }
    let expected = if damaged_bytes {
        None
    } else {
        first_text(root).filter(|l| !l.is_empty())
    };
    (out, expected)
}

fn first_text(node: &Node) -> Option<Vec<String>> {
    match node {
        Node::Leaf {
            ctype: "text/plain",
            disposition: None | Some(("inline", None)),
            charset,
            lines,
            ..
        } if *charset != Some("x-no-such-charset") => Some(lines.clone()),
        Node::Leaf { .. } | Node::Message(_) => None,
        Node::Multipart { children, .. } => children.first().and_then(first_text),
    }
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

proptest! {
    #![proptest_config(config(160))]

    #[test]
    fn generated_mail_decodes_and_keeps_its_text(
        root in tree(),
        subject in prop_oneof![
            words(),
            Just("=?utf-8?B?w6l0w6k=?= =?iso-8859-1?Q?caf=E9?=".to_string()),
            Just("=?x-bad?Q?broken".to_string()),
        ],
        damage in damage(),
        nonce in any::<u32>(),
    ) {
        let (raw, expected) = render(&root, &subject, &damage, nonce);
        let d = decode_mime(&raw);
        if let Some(lines) = expected {
            let text = collapse_ws(d.text.as_deref().unwrap_or_default());
            for line in &lines {
                prop_assert!(
                    text.contains(&collapse_ws(line)),
                    "line {line:?} lost; text {:?}; warnings {:?}; raw {:?}",
                    d.text, d.warnings, String::from_utf8_lossy(&raw)
                );
            }
            if damage.truncate.is_none() && damage.flips.is_empty() {
                prop_assert_eq!(d.from.as_ref().map(|a| a.email.as_str()), Some("ada@example.com"));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_decode_without_panicking(raw in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_mime(&raw);
    }
}

// ---------------------------------------------------------------------------------------------
// Batch responses

#[derive(Debug, Clone)]
struct Answer {
    /// The request this answers (written as its Content-ID when `with_id`).
    index: usize,
    with_id: bool,
    status: u16,
    retry_after: Option<u8>,
    body: Value,
    lf_only: bool,
}

fn answers(n: usize) -> impl Strategy<Value = Vec<Answer>> {
    let one = (
        any::<bool>(),
        prop_oneof![
            Just(200u16),
            Just(404),
            Just(429),
            Just(500),
            Just(503),
            100u16..600
        ],
        prop::option::of(0u8..120),
        prop_oneof![
            "[a-zA-Z0-9]{1,12}".prop_map(|id| json!({"id": id, "threadId": "t"})),
            Just(json!({"error": {"code": 429, "message": "rate limit", "errors": []}})),
            Just(Value::Null),
        ],
        any::<bool>(),
    );
    (
        Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
        prop::collection::vec(one, n),
    )
        .prop_map(|(order, parts)| {
            order
                .into_iter()
                .zip(parts)
                .map(
                    |(index, (with_id, status, retry_after, body, lf_only))| Answer {
                        index,
                        with_id,
                        status,
                        retry_after,
                        body,
                        lf_only,
                    },
                )
                .collect()
        })
}

fn render_batch(boundary: &str, answers: &[Answer]) -> Vec<u8> {
    let mut out = String::new();
    for a in answers {
        let eol = if a.lf_only { "\n" } else { "\r\n" };
        out.push_str(&format!(
            "--{boundary}{eol}Content-Type: application/http{eol}"
        ));
        if a.with_id {
            out.push_str(&format!("Content-ID: <response-item-{}>{eol}", a.index));
        }
        out.push_str(&format!("{eol}HTTP/1.1 {} Status{eol}", a.status));
        out.push_str(&format!(
            "Content-Type: application/json; charset=UTF-8{eol}"
        ));
        if let Some(s) = a.retry_after {
            out.push_str(&format!("Retry-After: {s}{eol}"));
        }
        out.push_str(eol);
        if !a.body.is_null() {
            out.push_str(&a.body.to_string());
        }
        out.push_str(eol);
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
}

proptest! {
    #![proptest_config(config(200))]

    /// Every part with a Content-ID lands in its own slot with its own status, body and
    /// Retry-After; a part without one fills the slot after the previous part's.
    #[test]
    fn batch_answers_land_in_their_own_slots(
        (n, answers) in (1usize..12).prop_flat_map(|n| (Just(n), answers(n))),
        boundary in "[A-Za-z0-9_'()+,.=-]{1,40}",
    ) {
        let body = render_batch(&boundary, &answers);
        let slots = batch::parse(&format!("multipart/mixed; boundary=\"{boundary}\""), &body, n);
        prop_assert_eq!(slots.len(), n);
        let targets = slot_targets(&answers);
        for (pos, (a, index)) in answers.iter().zip(&targets).enumerate() {
            // A later part answering the same slot (order fallback) wins; check that one.
            if *index >= n || targets[pos + 1..].contains(index) {
                continue;
            }
            let got = slots[*index].as_ref().expect("an answered slot");
            prop_assert_eq!(got.status, a.status);
            prop_assert_eq!(&got.body, &a.body);
            prop_assert_eq!(
                got.retry_after,
                a.retry_after.map(|s| std::time::Duration::from_secs(u64::from(s).min(60)))
            );
        }
    }

    #[test]
    fn damaged_batch_answers_never_panic(
        (n, answers) in (0usize..6).prop_flat_map(|n| (Just(n), answers(n))),
        boundary in "[A-Za-z0-9]{1,10}",
        cut in 0usize..2000,
        junk in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut body = render_batch(&boundary, &answers);
        body.truncate(cut.min(body.len()));
        body.extend_from_slice(&junk);
        let slots = batch::parse(&format!("multipart/mixed; boundary={boundary}"), &body, n);
        prop_assert_eq!(slots.len(), n);
    }
}

/// The slot each answer fills: its Content-ID's index, or the one after the previous part's.
fn slot_targets(answers: &[Answer]) -> Vec<usize> {
    let mut next = 0usize;
    answers
        .iter()
        .map(|a| {
            let index = if a.with_id { a.index } else { next };
            next = index + 1;
            index
        })
        .collect()
}
