//! Micro-benchmarks of the per-call hot paths (issue 12): spec lookup, params validation
//! (compiled once), and MIME decode of a `messages.get` payload.
//!
//! `cargo bench -p connector-gmail --bench hot_paths`

use std::hint::black_box;

use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;

fn spec_lookup(c: &mut Criterion) {
    let spec = connector_gmail::spec();
    c.bench_function("spec lookup messages.get", |b| {
        b.iter(|| black_box(spec.lookup(black_box("messages"), black_box("get")).is_ok()))
    });
    c.bench_function("spec() accessor (OnceLock + Arc clone)", |b| {
        b.iter(|| black_box(connector_gmail::spec()))
    });
}

fn validation(c: &mut Criterion) {
    let spec = connector_gmail::spec();
    let get = json!({"message_id": "18c2f0a1b2c3d4e5", "format": "full"});
    c.bench_function("validate messages.get params", |b| {
        b.iter(|| black_box(spec.validate("messages", "get", black_box(&get)).is_ok()))
    });
    let ids: Vec<String> = (0..1000).map(|i| format!("18c2f0a1b2c3{i:04x}")).collect();
    let many = json!({"message_ids": ids});
    c.bench_function("validate messages.get_many params (1000 ids)", |b| {
        b.iter(|| {
            black_box(
                spec.validate("messages", "get_many", black_box(&many))
                    .is_ok(),
            )
        })
    });
    let bad = json!({"message_id": "x", "fromat": "full"});
    c.bench_function("validate with a typo (error path)", |b| {
        b.iter(|| black_box(spec.validate("messages", "get", black_box(&bad)).is_err()))
    });
}

fn message(attachment: usize) -> Vec<u8> {
    let text = "the analytical engine weaves algebraic patterns\r\n".repeat(40);
    let data: Vec<u8> = (0..attachment).map(|i| (i * 7 % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "From: Ada <ada@example.com>\r\nTo: Grace <grace@example.com>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\
         Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

fn mime_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_mime");
    for size in [0usize, 64 * 1024, 1024 * 1024] {
        let raw = message(size);
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_function(format!("multipart, {} KB attachment", size / 1024), |b| {
            b.iter(|| black_box(connector_gmail::mime::decode_mime(black_box(&raw))))
        });
    }
    g.finish();
}

criterion_group!(benches, spec_lookup, validation, mime_decode);
criterion_main!(benches);
