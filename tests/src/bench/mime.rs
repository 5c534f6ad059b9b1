//! MIME throughput: decoding a generated corpus with the Gmail crate's `decode_mime` and
//! composing messages with attachments with `compose::build`.

use std::time::{Duration, Instant};

use base64::Engine;
use connector_gmail::compose::{self, OutgoingAttachment, OutgoingMessage as Compose};
use connector_gmail::mime::decode_mime;

use super::Samples;

/// Deterministic pseudo-random bytes (a 64-bit LCG; attachments must not compress away).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

fn b64_lines(data: &[u8]) -> String {
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(s.len() + s.len() / 76 * 2 + 2);
    for chunk in s.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

fn headers(subject: &str, ct: &str, cte: &str) -> Vec<u8> {
    format!(
        "From: Ada Lovelace <ada@example.com>\r\nTo: Grace Hopper <grace@example.com>\r\n\
         Subject: {subject}\r\nDate: Tue, 24 Nov 2026 08:00:00 +0000\r\n\
         Message-ID: <{subject}@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: {ct}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
    )
    .into_bytes()
}

fn prose(words: usize) -> String {
    let w = [
        "the",
        "analytical",
        "engine",
        "weaves",
        "algebraic",
        "patterns",
        "just",
        "as",
        "jacquard",
        "loom",
        "flowers",
        "and",
        "leaves",
    ];
    let mut s = String::new();
    for i in 0..words {
        s.push_str(w[i % w.len()]);
        s.push(if i % 12 == 11 { '\n' } else { ' ' });
    }
    s
}

/// The corpus: plain text in UTF-8, ISO-8859-1 (quoted-printable), windows-1252 (8bit) and
/// KOI8-R (base64); an HTML message; multipart/mixed messages with alternative bodies and
/// attachments of 10 KB, 1 MB and (full size only) 10 MB.
pub fn corpus(full: bool) -> Vec<(String, Vec<u8>)> {
    let text = prose(400);
    let mut out = Vec::new();
    let mut m = headers("plain-utf8", "text/plain; charset=utf-8", "8bit");
    m.extend(
        format!("Grüße, Ada — ✓ {text}")
            .replace('\n', "\r\n")
            .bytes(),
    );
    out.push(("plain utf-8".into(), m));

    let mut m = headers(
        "plain-latin1",
        "text/plain; charset=iso-8859-1",
        "quoted-printable",
    );
    m.extend(
        format!("Gr=FC=DFe aus K=F6ln, {text}")
            .replace('\n', "=\r\n")
            .bytes(),
    );
    out.push(("plain iso-8859-1 qp".into(), m));

    let mut m = headers("plain-1252", "text/plain; charset=windows-1252", "8bit");
    m.extend([0x93, b'q', b'u', b'o', b't', b'e', 0x94, b' ', 0x80, b' ']);
    m.extend(text.replace('\n', "\r\n").bytes());
    out.push(("plain windows-1252 8bit".into(), m));

    let mut koi = Vec::new();
    for _ in 0..200 {
        koi.extend([0xD0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4, b' ']); // "привет "
    }
    let mut m = headers("plain-koi8r", "text/plain; charset=koi8-r", "base64");
    m.extend(b64_lines(&koi).bytes());
    out.push(("plain koi8-r base64".into(), m));

    let html = format!(
        "<html><body><h1>Report</h1>{}</body></html>",
        text.split('\n')
            .map(|l| format!("<p>{l}</p>"))
            .collect::<String>()
            .repeat(8)
    );
    let mut m = headers("html", "text/html; charset=utf-8", "base64");
    m.extend(b64_lines(html.as_bytes()).bytes());
    out.push(("html utf-8 base64".into(), m));

    let mut sizes = vec![10 * 1024, 1024 * 1024];
    if full {
        sizes.push(10 * 1024 * 1024);
    }
    for (i, size) in sizes.into_iter().enumerate() {
        let b = format!("b{i}mixed");
        let mut m = headers(
            &format!("attach-{size}"),
            &format!("multipart/mixed; boundary=\"{b}\""),
            "7bit",
        );
        let mut body = format!(
            "--{b}\r\nContent-Type: multipart/alternative; boundary=\"{b}alt\"\r\n\r\n\
             --{b}alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{t}\r\n\
             --{b}alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{t}</p>\r\n--{b}alt--\r\n\
             --{b}\r\nContent-Type: application/pdf; name=\"report-{size}.pdf\"\r\n\
             Content-Disposition: attachment; filename=\"report-{size}.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n",
            t = text.replace('\n', "\r\n")
        );
        body.push_str(&b64_lines(&noise(size, i as u64)));
        body.push_str(&format!("--{b}--\r\n"));
        m.extend(body.bytes());
        out.push((format!("multipart + {} KB attachment", size / 1024), m));
    }
    out
}

/// Timed passes and the bytes each pass handled.
#[derive(Debug)]
pub struct Throughput {
    pub bytes_per_pass: usize,
    pub passes: Samples,
}

impl Throughput {
    /// MB/s (10^6 bytes) at the median pass time.
    pub fn median_mb_s(&self) -> f64 {
        self.bytes_per_pass as f64 / self.passes.median_us()
    }
    /// MB/s at the p99 pass time (the slow tail).
    pub fn p99_mb_s(&self) -> f64 {
        self.bytes_per_pass as f64 / self.passes.p99_us()
    }
}

fn passes(budget: Duration, min: usize, mut f: impl FnMut()) -> Samples {
    f(); // warm-up
    let start = Instant::now();
    let mut s = Samples::default();
    while s.len() < min || start.elapsed() < budget {
        let t = Instant::now();
        f();
        s.push(t.elapsed());
    }
    s
}

/// Decodes the whole corpus per pass.
pub fn decode(full: bool, budget: Duration) -> Throughput {
    let corpus = corpus(full);
    let bytes_per_pass = corpus.iter().map(|(_, m)| m.len()).sum();
    for (name, m) in &corpus {
        let d = decode_mime(m);
        assert!(
            d.text.is_some() || d.html.is_some(),
            "{name} decodes to a body"
        );
    }
    let passes = passes(budget, 5, || {
        for (_, m) in &corpus {
            std::hint::black_box(decode_mime(std::hint::black_box(m)));
        }
    });
    Throughput {
        bytes_per_pass,
        passes,
    }
}

/// The messages composed per pass: text + html bodies with attachments of 10 KB, 1 MB and
/// (full size only) 10 MB. Bytes counted are the input (bodies and attachment bytes).
pub fn compose_inputs(full: bool) -> Vec<Compose> {
    let mut sizes = vec![10 * 1024, 1024 * 1024];
    if full {
        sizes.push(10 * 1024 * 1024);
    }
    sizes
        .into_iter()
        .enumerate()
        .map(|(i, size)| Compose {
            from: Some("Ada Lovelace <ada@example.com>".into()),
            to: vec!["Grace Hopper <grace@example.com>".into()],
            subject: Some(format!("Grüße — report {size}")),
            text: Some(prose(400)),
            html: Some(format!("<p>{}</p>", prose(400))),
            attachments: vec![OutgoingAttachment {
                filename: format!("report-{size}.pdf"),
                mime_type: "application/pdf".into(),
                content: noise(size, 100 + i as u64),
            }],
            ..Compose::default()
        })
        .collect()
}

pub fn compose(full: bool, budget: Duration) -> Throughput {
    let inputs = compose_inputs(full);
    let bytes_per_pass = inputs
        .iter()
        .map(|c| {
            c.text.as_ref().map_or(0, String::len)
                + c.html.as_ref().map_or(0, String::len)
                + c.attachments.iter().map(|a| a.content.len()).sum::<usize>()
        })
        .sum();
    for c in &inputs {
        let raw = compose::build(c).expect("compose");
        let back = decode_mime(&raw);
        assert_eq!(
            back.attachments.len(),
            1,
            "the attachment survives a round trip"
        );
    }
    let passes = passes(budget, 5, || {
        for c in &inputs {
            std::hint::black_box(compose::build(std::hint::black_box(c)).expect("compose"));
        }
    });
    Throughput {
        bytes_per_pass,
        passes,
    }
}
