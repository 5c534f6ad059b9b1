//! Seeds: a realistic demo mailbox for ada@example.com and grace@example.com, or a synthetic
//! corpus of any size.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use serde_json::json;

use super::mime::{Envelope, Index};
use super::store::{Store, User};
use super::{Seed, DEFAULT_USER};

pub(crate) const GRACE: &str = "grace@example.com";

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

pub(crate) fn seed(store: &mut Store, seed: &Seed) {
    for (email, name) in [(DEFAULT_USER, "Ada Lovelace"), (GRACE, "Grace Hopper")] {
        store
            .users
            .entry(email.to_string())
            .or_insert_with(|| User::new(email, name));
    }
    match seed {
        Seed::Empty => {}
        Seed::Demo => demo(store),
        Seed::Count(n) => count(store, *n),
    }
}

fn crlf(lines: &[&str]) -> Vec<u8> {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n");
    s.into_bytes()
}

fn add(store: &mut Store, user: &str, raw: &[u8], labels: &[&str]) -> String {
    let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
    store.add_raw(
        user,
        Bytes::copy_from_slice(raw),
        &labels,
        None,
        None,
        false,
    )
}

fn wrap76(s: &str) -> String {
    s.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn demo(store: &mut Store) {
    {
        let ada = store.ensure_user(DEFAULT_USER);
        for name in ["Work", "Finance", "Travel/Japan"] {
            let _ = ada.create_label(name);
        }
        ada.labels.get_mut("Label_1").expect("created").color =
            Some(json!({"textColor": "#ffffff", "backgroundColor": "#16a765"}));
        ada.send_as.push(json!({
            "sendAsEmail": "ada.lovelace@analytical.example",
            "displayName": "Ada Lovelace",
            "replyToAddress": "",
            "signature": "<div>Ada Lovelace, Analytical Engines Ltd.</div>",
            "isPrimary": false,
            "isDefault": false,
            "treatAsAlias": true,
            "verificationStatus": "accepted",
        }));
        ada.filters.push(json!({
            "id": "ANe1Bm0000000001",
            "criteria": {"from": "news@example.com"},
            "action": {"addLabelIds": ["CATEGORY_PROMOTIONS"], "removeLabelIds": ["INBOX"]},
        }));
        ada.next_filter = 2;
        ada.vacation = json!({
            "enableAutoReply": false,
            "responseSubject": "Out of office",
            "responseBodyPlainText": "I am travelling until Monday.",
            "restrictToContacts": false,
            "restrictToDomain": false,
        });
        let grace = store.ensure_user(GRACE);
        let _ = grace.create_label("Navy");
    }

    // Thread: project kickoff, three messages between Grace and Ada.
    let k1 = crlf(&[
        "From: Grace Hopper <grace@example.com>",
        "To: Ada Lovelace <ada@example.com>",
        "Subject: Project kickoff",
        "Date: Mon, 02 Nov 2026 09:15:00 +0000",
        "Message-ID: <kickoff-1@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 7bit",
        "",
        "Hi Ada,",
        "",
        "Shall we start the compiler project next week? I have a draft plan.",
        "",
        "Grace",
    ]);
    add(
        store,
        DEFAULT_USER,
        &k1,
        &["INBOX", "IMPORTANT", "CATEGORY_PERSONAL", "Label_1"],
    );
    add(store, GRACE, &k1, &["SENT"]);
    let k2 = crlf(&[
        "From: Ada Lovelace <ada@example.com>",
        "To: Grace Hopper <grace@example.com>",
        "Subject: Re: Project kickoff",
        "Date: Mon, 02 Nov 2026 11:40:00 +0000",
        "Message-ID: <kickoff-2@example.com>",
        "In-Reply-To: <kickoff-1@example.com>",
        "References: <kickoff-1@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "",
        "Grace, yes! Tuesday works for me. Please send the plan.",
        "",
        "> Shall we start the compiler project next week?",
    ]);
    add(store, DEFAULT_USER, &k2, &["SENT", "Label_1"]);
    add(store, GRACE, &k2, &["INBOX", "CATEGORY_PERSONAL"]);
    let k3 = crlf(&[
        "From: Grace Hopper <grace@example.com>",
        "To: Ada Lovelace <ada@example.com>",
        "Subject: Re: Project kickoff",
        "Date: Tue, 03 Nov 2026 08:05:00 +0000",
        "Message-ID: <kickoff-3@example.com>",
        "In-Reply-To: <kickoff-2@example.com>",
        "References: <kickoff-1@example.com> <kickoff-2@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; boundary=\"kick-3\"",
        "",
        "--kick-3",
        "Content-Type: text/plain; charset=UTF-8",
        "",
        "Plan attached. See you Tuesday.",
        "--kick-3",
        "Content-Type: application/pdf; name=\"plan.pdf\"",
        "Content-Disposition: attachment; filename=\"plan.pdf\"",
        "Content-Transfer-Encoding: base64",
        "",
        &wrap76(&STANDARD.encode(PDF)),
        "--kick-3--",
    ]);
    add(
        store,
        DEFAULT_USER,
        &k3,
        &[
            "INBOX",
            "UNREAD",
            "IMPORTANT",
            "CATEGORY_PERSONAL",
            "Label_1",
        ],
    );
    add(store, GRACE, &k3, &["SENT"]);

    // Attachments: a PDF and a PNG, plus multipart/alternative text.
    let report = crlf(&[
        "From: Bob Builder <bob@example.org>",
        "To: ada@example.com",
        "Cc: Grace Hopper <grace@example.com>",
        "Subject: Quarterly report",
        "Date: Wed, 04 Nov 2026 14:30:00 +0000",
        "Message-ID: <report-q3@example.org>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; boundary=\"outer\"",
        "",
        "This is a multi-part message in MIME format.",
        "--outer",
        "Content-Type: multipart/alternative; boundary=\"alt\"",
        "",
        "--alt",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Hello Ada, the Q3 report and the revenue chart are attached. Revenue grew 12=",
        "% quarter on quarter.",
        "--alt",
        "Content-Type: text/html; charset=UTF-8",
        "",
        "<html><body><p>Hello Ada, the <b>Q3 report</b> and the revenue chart are attached.</p></body></html>",
        "--alt--",
        "--outer",
        "Content-Type: application/pdf; name=\"q3-report.pdf\"",
        "Content-Disposition: attachment; filename=\"q3-report.pdf\"",
        "Content-Transfer-Encoding: base64",
        "",
        &wrap76(&STANDARD.encode(PDF)),
        "--outer",
        "Content-Type: image/png; name=\"chart.png\"",
        "Content-Disposition: inline; filename=\"chart.png\"",
        "Content-ID: <chart@example.org>",
        "Content-Transfer-Encoding: base64",
        "",
        PNG_B64,
        "--outer--",
    ]);
    add(
        store,
        DEFAULT_USER,
        &report,
        &["INBOX", "STARRED", "CATEGORY_UPDATES", "Label_2"],
    );
    add(store, GRACE, &report, &["INBOX", "CATEGORY_UPDATES"]);

    // ISO-8859-1, quoted-printable, encoded-word subject and name.
    let cafe = crlf(&[
        "From: =?ISO-8859-1?Q?Fran=E7ois_Dubois?= <francois@example.fr>",
        "To: Ada Lovelace <ada@example.com>",
        "Subject: =?ISO-8859-1?Q?R=E9servation_au_caf=E9?=",
        "Date: Thu, 05 Nov 2026 17:00:00 +0100",
        "Message-ID: <cafe-42@example.fr>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=ISO-8859-1",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Bonjour Ada,",
        "",
        "Votre r=E9servation au caf=E9 est confirm=E9e pour vendredi =E0 19h.",
        "=C0 bient=F4t, Fran=E7ois",
    ]);
    add(
        store,
        DEFAULT_USER,
        &cafe,
        &["INBOX", "UNREAD", "CATEGORY_PERSONAL"],
    );

    // ISO-2022-JP, base64.
    let jis = crlf(&[
        "From: =?ISO-2022-JP?B?GyRCRURDZhsoQiAbJEJCQE86GyhC?= <tanaka@example.jp>",
        "To: ada@example.com",
        "Subject: =?ISO-2022-JP?B?GyRCQkckQTlnJG8kOyRON28bKEI=?=",
        "Date: Fri, 06 Nov 2026 10:00:00 +0900",
        "Message-ID: <meeting-7@example.jp>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=ISO-2022-JP",
        "Content-Transfer-Encoding: base64",
        "",
        "GyRCRURDZiRHJDkhI01oPTUkTkJHJEE5ZyRvJDskTjdvJEckNE8iTW0kNyReJDckPyEjGyhCDQob",
        "JEI7cU5BJHJFOklVJCQkPyQ3JF4kOSEjGyhCDQo=",
    ]);
    add(
        store,
        DEFAULT_USER,
        &jis,
        &["INBOX", "CATEGORY_PERSONAL", "Label_3"],
    );

    // Shift_JIS, base64.
    let sjis = crlf(&[
        "From: accounts@example.co.jp",
        "To: ada@example.com",
        "Subject: =?Shift_JIS?B?kL+LgY+RgsyCspGXlXQ=?=",
        "Date: Sat, 07 Nov 2026 09:30:00 +0900",
        "Message-ID: <invoice-2026-11@example.co.jp>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=Shift_JIS",
        "Content-Transfer-Encoding: base64",
        "",
        "gqiQophigsmCyILBgsSCqILogtyCt4FCkL+LgY+RgvCCqJGXguiCtYLcgreBQg0K",
    ]);
    add(
        store,
        DEFAULT_USER,
        &sjis,
        &["INBOX", "CATEGORY_UPDATES", "Label_2", "Label_3"],
    );

    // windows-1252, quoted-printable.
    let order = crlf(&[
        "From: Shop <orders@shop.example>",
        "To: ada@example.com",
        "Subject: Your order =?windows-1252?Q?=93Deluxe_Notebook=94?=",
        "Date: Sun, 08 Nov 2026 12:00:00 +0000",
        "Message-ID: <order-1001@shop.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=windows-1252",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Thanks for your order =93Deluxe Notebook=94 =96 total =8042.00.",
        "We=92ll ship it soon.",
    ]);
    add(
        store,
        DEFAULT_USER,
        &order,
        &["INBOX", "CATEGORY_UPDATES", "Label_2"],
    );

    // HTML only.
    let news = crlf(&[
        "From: Example News <news@example.com>",
        "To: ada@example.com",
        "Subject: Weekly digest: engines and looms",
        "Date: Mon, 09 Nov 2026 06:00:00 +0000",
        "Message-ID: <digest-45@news.example.com>",
        "List-Id: Example News <digest.news.example.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/html; charset=UTF-8",
        "",
        "<html><head><style>p{color:#333}</style></head><body><h1>This week</h1>",
        "<p>The <a href=\"https://news.example.com/looms\">Jacquard loom</a> inspired punched cards.</p>",
        "<p>Unsubscribe <a href=\"https://news.example.com/u\">here</a>.</p></body></html>",
    ]);
    add(
        store,
        DEFAULT_USER,
        &news,
        &["CATEGORY_PROMOTIONS", "UNREAD"],
    );

    // UTF-8 multipart/alternative with emoji and a base64 encoded-word subject.
    let lunch = crlf(&[
        "From: Grace Hopper <grace@example.com>",
        "To: Ada Lovelace <ada@example.com>",
        "Subject: =?UTF-8?B?THVuY2g/IPCfjZw=?=",
        "Date: Tue, 10 Nov 2026 11:00:00 +0000",
        "Message-ID: <lunch-1@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/alternative; boundary=\"b1\"",
        "",
        "--b1",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Ramen at noon? Café Zürich also works. 🍜",
        "--b1",
        "Content-Type: text/html; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "<p>Ramen at noon? <i>Café Zürich</i> also works. 🍜</p>",
        "--b1--",
    ]);
    add(
        store,
        DEFAULT_USER,
        &lunch,
        &["INBOX", "UNREAD", "STARRED", "CATEGORY_PERSONAL"],
    );
    add(store, GRACE, &lunch, &["SENT"]);

    // Spam and trash.
    let spam = crlf(&[
        "From: Prize Office <winner@lottery.example>",
        "To: ada@example.com",
        "Subject: You won a prize!!!",
        "Date: Wed, 11 Nov 2026 03:00:00 +0000",
        "Message-ID: <prize-999@lottery.example>",
        "Content-Type: text/plain; charset=UTF-8",
        "",
        "Send us your bank details to claim your prize.",
    ]);
    add(store, DEFAULT_USER, &spam, &["SPAM", "UNREAD"]);
    let old = crlf(&[
        "From: Example News <news@example.com>",
        "To: ada@example.com",
        "Subject: Old digest",
        "Date: Sun, 01 Nov 2026 06:00:00 +0000",
        "Message-ID: <digest-44@news.example.com>",
        "Content-Type: text/plain; charset=UTF-8",
        "",
        "Last week's digest.",
    ]);
    add(store, DEFAULT_USER, &old, &["TRASH", "CATEGORY_PROMOTIONS"]);

    // A draft reply in the kickoff thread.
    let draft = crlf(&[
        "From: Ada Lovelace <ada@example.com>",
        "To: Grace Hopper <grace@example.com>",
        "Subject: Re: Project kickoff",
        "Date: Thu, 12 Nov 2026 18:00:00 +0000",
        "Message-ID: <draft-1@example.com>",
        "In-Reply-To: <kickoff-3@example.com>",
        "References: <kickoff-1@example.com> <kickoff-2@example.com> <kickoff-3@example.com>",
        "Content-Type: text/plain; charset=UTF-8",
        "",
        "Notes for Grace: read the plan, bring questions about the linker.",
    ]);
    let mid = add(store, DEFAULT_USER, &draft, &["DRAFT"]);
    let did = store.new_draft_id();
    store.ensure_user(DEFAULT_USER).drafts.insert(did, mid);

    // Something only Grace has.
    let navy = crlf(&[
        "From: Admiral <admiral@navy.example>",
        "To: Grace Hopper <grace@example.com>",
        "Subject: COBOL committee",
        "Date: Fri, 13 Nov 2026 15:00:00 +0000",
        "Message-ID: <cobol-1@navy.example>",
        "Content-Type: text/plain; charset=UTF-8",
        "",
        "The committee meets on Monday.",
    ]);
    add(
        store,
        GRACE,
        &navy,
        &["INBOX", "UNREAD", "IMPORTANT", "Label_1"],
    );
}

/// `n` synthetic messages for ada in threads of up to five, newest first by date.
fn count(store: &mut Store, n: usize) {
    let base = chrono::Utc::now().timestamp_millis() - (n as i64 + 1) * 60_000;
    let senders = [
        "alice", "bob", "carol", "dave", "erin", "frank", "judy", "mallory", "oscar", "peggy",
    ];
    for i in 0..n {
        let id = store.new_id();
        let root = i - i % 5;
        let sender = senders[i % senders.len()];
        let date = base + i as i64 * 60_000;
        let date_str = chrono::DateTime::from_timestamp_millis(date)
            .unwrap_or_default()
            .to_rfc2822();
        let msgid = format!("synthetic-{i}@sandbox.example");
        let mut raw = format!(
            "From: {sender} <{sender}@example.org>\r\nTo: Ada Lovelace <ada@example.com>\r\nSubject: {}Synthetic message {root}\r\nDate: {date_str}\r\nMessage-ID: <{msgid}>\r\n",
            if i == root { "" } else { "Re: " }
        );
        let mut env = Envelope {
            message_id: Some(msgid),
            ..Default::default()
        };
        if i != root {
            let parent = format!("synthetic-{}@sandbox.example", i - 1);
            raw.push_str(&format!(
                "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
            ));
            env.in_reply_to = vec![parent];
        }
        let body = format!(
            "Message {i} from {sender}. Topic word{} and number {i}.",
            i % 97
        );
        raw.push_str(&format!(
            "Content-Type: text/plain; charset=UTF-8\r\n\r\n{body}\r\n"
        ));
        let mut labels = vec!["INBOX".to_string(), "CATEGORY_PERSONAL".to_string()];
        if i % 3 == 0 {
            labels.push("UNREAD".into());
        }
        if i % 17 == 0 {
            labels.push("STARRED".into());
        }
        // The search index is known here: no need to parse 10,000 messages on the first query.
        let index = Index {
            snippet: body.clone(),
            body: body.to_lowercase(),
            from: format!("{sender} <{sender}@example.org>"),
            to: "ada lovelace <ada@example.com>".into(),
            subject: format!(
                "{}synthetic message {root}",
                if i == root { "" } else { "re: " }
            ),
            message_id: env.message_id.clone().unwrap_or_default(),
            ..Default::default()
        };
        store.ensure_user(DEFAULT_USER).insert(
            id,
            Bytes::from(raw),
            &labels,
            date,
            None,
            &env,
            false,
            Some(index),
        );
    }
}
