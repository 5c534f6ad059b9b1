//! The real-world MIME corpus (tests/corpora/mime): decoding never fails or panics, and agrees
//! with CPython's `email` package on subject, addresses, bodies and attachments, except for the
//! differences recorded with a reason in `mime_corpus_accepted.json`; and no text is lost: every
//! non-blank line of CPython's text appears in ours (whitespace normalized) unless a reason is
//! recorded for that message's `text_lines`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use connector_gmail::mime::{decode_mime, MimeDecoded};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpora/mime")
}

/// CRLF -> LF, trailing whitespace of each line and trailing blank lines dropped.
fn normalize(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().to_string()
}

/// Normalized text; an empty body counts as no body.
fn norm_opt(v: &Value) -> Value {
    match v.as_str().map(normalize) {
        Some(s) if !s.is_empty() => json!(s),
        _ => Value::Null,
    }
}

/// A nested message (`message/*`) has no byte content in CPython's reading (size 0): compare
/// only its type and name there.
fn attachment_key(filename: &Value, mime_type: &str, size: &Value, sha256: &Value) -> Value {
    if mime_type.starts_with("message/") {
        json!({"filename": filename, "mime_type": mime_type})
    } else {
        json!({"filename": filename, "mime_type": mime_type, "size": size, "sha256": sha256})
    }
}

fn emails(list: &[connector_gmail::mime::EmailAddress]) -> Value {
    json!(list.iter().map(|a| a.email.clone()).collect::<Vec<_>>())
}

/// Our reading of one message, in the shape of the expected files.
fn ours(d: &MimeDecoded) -> BTreeMap<&'static str, Value> {
    let attachments: Vec<Value> = d
        .attachments
        .iter()
        .map(|a| {
            attachment_key(
                &json!(a.filename),
                &a.mime_type,
                &json!(a.size),
                &json!(a.data.as_ref().map(|b| format!("{:x}", Sha256::digest(b)))),
            )
        })
        .collect();
    BTreeMap::from([
        ("subject", json!(d.subject.as_deref().map(str::trim))),
        ("from", emails(&d.from_all)),
        ("to", emails(&d.to)),
        ("cc", emails(&d.cc)),
        ("text", norm_opt(&json!(d.text))),
        ("html", norm_opt(&json!(d.html))),
        ("attachments", json!(attachments)),
    ])
}

fn theirs(expected: &Value) -> BTreeMap<&'static str, Value> {
    let attachments: Vec<Value> = expected["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            attachment_key(
                &a["filename"],
                &a["mime_type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                &a["size"],
                &a["sha256"],
            )
        })
        .collect();
    BTreeMap::from([
        (
            "subject",
            json!(expected["subject"].as_str().map(str::trim)),
        ),
        ("from", expected["from"].clone()),
        ("to", expected["to"].clone()),
        ("cc", expected["cc"].clone()),
        ("text", norm_opt(&expected["text"])),
        ("html", norm_opt(&expected["html"])),
        ("attachments", json!(attachments)),
    ])
}

/// Whitespace runs (line breaks included) as one space, trimmed.
fn collapse_ws(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// CPython's text lines that are missing from our text (both whitespace-normalized): text we
/// lose. An empty list when CPython has no text.
fn missing_text_lines(ours: &MimeDecoded, expected: &Value) -> Vec<String> {
    let ours = collapse_ws(ours.text.as_deref().unwrap_or_default());
    expected["text"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .map(collapse_ws)
        .filter(|line| !line.is_empty() && !ours.contains(line.as_str()))
        .collect()
}

#[test]
fn every_corpus_message_decodes_and_agrees_with_the_second_opinion() {
    let dir = corpus_dir();
    let accepted: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/integration/mime_corpus_accepted.json"),
        )
        .expect("accepted differences file"),
    )
    .unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("messages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 88, "the corpus has 88 messages");

    let mut unexpected = Vec::new();
    let mut used = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let raw = std::fs::read(path).unwrap();
        let decoded = std::panic::catch_unwind(|| decode_mime(&raw))
            .unwrap_or_else(|_| panic!("decoding {name} panicked"));
        let stem = name.trim_end_matches(".eml");
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("expected").join(format!("{stem}.json"))).unwrap(),
        )
        .unwrap();
        // No text is lost: every line of CPython's text is in ours, even where the texts
        // differ for a recorded reason (field `text_lines`).
        let missing = missing_text_lines(&decoded, &expected);
        if !missing.is_empty() {
            match accepted[&name]["text_lines"].as_str() {
                Some(reason) if !reason.trim().is_empty() => {
                    used.push((name.clone(), "text_lines"))
                }
                _ => unexpected.push(format!(
                    "{name} text_lines: {} of CPython's text lines are not in ours, e.g. {:?}",
                    missing.len(),
                    missing.iter().take(3).collect::<Vec<_>>()
                )),
            }
        }
        let (mut ours, theirs) = (ours(&decoded), theirs(&expected));
        // By design an HTML-only mail also gets a `text` rendered from its HTML (issue 3);
        // CPython has no text then. Check that ours exists instead of comparing.
        if theirs["text"].is_null() && !theirs["html"].is_null() {
            assert!(
                !ours["text"].is_null(),
                "{name}: HTML-only mail without a text rendering"
            );
            ours.insert("text", Value::Null);
        }
        for (field, want) in &theirs {
            let got = &ours[field];
            if got == want {
                continue;
            }
            match accepted[&name][*field].as_str() {
                Some(reason) if !reason.trim().is_empty() => used.push((name.clone(), *field)),
                _ => unexpected.push(format!(
                    "{name} {field}:\n  ours:   {got}\n  theirs: {want}"
                )),
            }
        }
    }
    // Every recorded difference must still be a difference (no stale excuses).
    let mut stale = Vec::new();
    for (msg, fields) in accepted.as_object().unwrap() {
        if msg.starts_with('_') {
            continue;
        }
        for field in fields.as_object().unwrap().keys() {
            if !used.iter().any(|(m, f)| m == msg && f == field) {
                stale.push(format!("{msg} {field}"));
            }
        }
    }
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "{} unexpected differences:\n{}\n\nstale accepted entries: {stale:?}",
        unexpected.len(),
        unexpected.join("\n")
    );
}
