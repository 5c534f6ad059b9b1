//! Random mailbox changes (new mail, relabels, moves, deletions, thread replies) while the
//! events flow; then the store's answers and the provider's own search agree on a set of
//! queries. On both providers and both databases.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sandbox_outlook::NewMessage;
use serde_json::{json, Value};

use super::{env, Db, Env, USER};

/// Words that are not part of one another nor of any name or address below.
const WORDS: &[&str] = &[
    "zephyr", "quokka", "marimba", "obsidian", "tundra", "saffron", "gazebo", "nimbus",
];
const SENDERS: &[(&str, &str)] = &[
    ("Grace Hopper", "grace@example.com"),
    ("Linus Torvald", "linus@example.org"),
    ("Katherine Johnson", "kj@example.net"),
];
/// 2026-01-01T00:00:00Z.
const BASE_S: i64 = 1_767_225_600;
const DAY_S: i64 = 86_400;

struct Mail {
    n: usize,
    sender: usize,
    subject: String,
    body: String,
    bob: bool,
    carol: bool,
    attachment: bool,
    day: i64,
    reply_to: Option<usize>,
}

fn random_mail(rng: &mut StdRng, n: usize, reply_to: Option<usize>) -> Mail {
    let w = |rng: &mut StdRng| WORDS[rng.gen_range(0..WORDS.len())];
    Mail {
        n,
        sender: rng.gen_range(0..SENDERS.len()),
        subject: format!("{} {}", w(rng), w(rng)),
        body: format!("Notes on {} and {}.", w(rng), w(rng)),
        bob: rng.gen_bool(0.4),
        carol: rng.gen_bool(0.3),
        attachment: rng.gen_bool(0.3),
        day: rng.gen_range(0..60),
        reply_to,
    }
}

fn rfc2822(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .to_rfc2822()
}

fn gmail_raw(m: &Mail, subject_of: &dyn Fn(usize) -> String) -> Vec<u8> {
    let (name, addr) = SENDERS[m.sender];
    let mut to = "Ada Lovelace <ada@example.com>".to_string();
    if m.bob {
        to.push_str(", Bob Builder <bob@example.com>");
    }
    let mut h = format!("From: {name} <{addr}>\r\nTo: {to}\r\n");
    if m.carol {
        h.push_str("Cc: Carol Shaw <carol@example.com>\r\n");
    }
    let subject = match m.reply_to {
        Some(r) => format!("Re: {}", subject_of(r)),
        None => m.subject.clone(),
    };
    h.push_str(&format!(
        "Subject: {subject}\r\nDate: {}\r\nMessage-ID: <m{}@example.com>\r\n",
        rfc2822(BASE_S + m.day * DAY_S + m.n as i64),
        m.n
    ));
    if let Some(r) = m.reply_to {
        h.push_str(&format!(
            "In-Reply-To: <m{r}@example.com>\r\nReferences: <m{r}@example.com>\r\n"
        ));
    }
    h.push_str("MIME-Version: 1.0\r\n");
    if m.attachment {
        h.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report-{}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
            m.body, m.n
        ));
    } else {
        h.push_str(&format!(
            "Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
            m.body
        ));
    }
    h.into_bytes()
}

/// The queries both answers must agree on.
fn queries(thread_id: Option<&str>) -> Vec<Value> {
    let after = chrono::DateTime::from_timestamp(BASE_S + 20 * DAY_S, 0)
        .unwrap()
        .to_rfc3339();
    let before = chrono::DateTime::from_timestamp(BASE_S + 40 * DAY_S, 0)
        .unwrap()
        .to_rfc3339();
    let mut q = vec![
        json!({}),
        json!({"text": "zephyr"}),
        json!({"text": "quokka saffron"}),
        json!({"from": "grace@example.com"}),
        json!({"from": "linus"}),
        json!({"to": "bob@example.com"}),
        json!({"cc": "carol"}),
        json!({"subject": "marimba"}),
        json!({"is_read": false}),
        json!({"has_attachment": true}),
        json!({"after": after, "before": before}),
        json!({"text": "tundra", "is_read": true}),
        json!({"from": "kj@example.net", "has_attachment": false}),
    ];
    if let Some(t) = thread_id {
        q.push(json!({"thread_id": t}));
    }
    q
}

/// Who answers the provider's side.
enum Provider<'a> {
    /// A connector of the server without replication.
    Server(&'a str),
    /// The connector library on the emulator (Gmail: its quota pacer set high, as the test
    /// reads more hits per minute than a user's 2026 quota allows).
    Library(&'a connector_core::Connector),
}

async fn provider_ids(e: &Env, p: &Provider<'_>, q: &Value) -> Vec<String> {
    match p {
        Provider::Server(id) => {
            let (ids, src) = e.search_ids(id, q).await;
            assert_eq!(src, "provider", "{q}");
            ids
        }
        Provider::Library(c) => {
            let mut ids = Vec::new();
            let mut q = q.clone();
            q["max_results"] = json!(100);
            loop {
                let out = c.execute("messages", "search", q.clone()).await.unwrap();
                assert_eq!(out.metadata["source"], "provider");
                for h in out.result.as_array().unwrap() {
                    ids.push(h["id"].as_str().unwrap().to_string());
                }
                match out.metadata.get("next_page_token").and_then(Value::as_str) {
                    Some(t) => q["page_token"] = json!(t),
                    None => break,
                }
            }
            ids.sort();
            ids.dedup();
            ids
        }
    }
}

/// Until the store and the provider agree on every query (or a minute passed).
async fn agree(e: &Env, store: &str, provider: Provider<'_>, qs: &[Value]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut diffs = Vec::new();
        for q in qs {
            let (s, src) = e.search_ids(store, q).await;
            assert_eq!(src, "store", "{q}");
            let p = provider_ids(e, &provider, q).await;
            if s != p {
                diffs.push(format!("{q}: store {s:?} provider {p:?}"));
            }
        }
        if diffs.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "disagree:\n{}", diffs.join("\n"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn gmail_consistency(db: Db) {
    let Some(e) = env(db).await else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(23);
    let mut mails: Vec<Mail> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let subject_of = |mails: &Vec<Mail>, r: usize| mails[r].subject.clone();
    for n in 0..30 {
        let m = random_mail(&mut rng, n, None);
        let mut labels = vec!["INBOX"];
        if rng.gen_bool(0.5) {
            labels.push("UNREAD");
        }
        let raw = gmail_raw(&m, &|r| subject_of(&mails, r));
        ids.push(e.gmail.insert_message(USER, &raw, &labels));
        mails.push(m);
    }
    let store = e
        .connector("gmail", json!({"enabled": true, "bodies": "text"}))
        .await;
    let provider = e.connector("gmail", json!({})).await;
    e.wait_live(&store).await;
    assert_eq!(e.count(&store).await, 30);

    // Changes while the events flow.
    let mut replied = None;
    for step in 0..40 {
        let n = mails.len();
        match rng.gen_range(0..6) {
            0 => {
                let m = random_mail(&mut rng, n, None);
                let raw = gmail_raw(&m, &|r| subject_of(&mails, r));
                ids.push(e.gmail.insert_message(USER, &raw, &["INBOX", "UNREAD"]));
                mails.push(m);
            }
            1 => {
                let r = rng.gen_range(0..30);
                let m = random_mail(&mut rng, n, Some(r));
                let raw = gmail_raw(&m, &|r| subject_of(&mails, r));
                let id = e.gmail.insert_message(USER, &raw, &["INBOX"]);
                let v = e
                    .execute(
                        &provider,
                        "messages",
                        "get",
                        json!({"message_id": id, "format": "minimal"}),
                    )
                    .await;
                replied = v["result"]["thread_id"].as_str().map(str::to_string);
                ids.push(id);
                mails.push(m);
            }
            2 => {
                let id = &ids[rng.gen_range(0..ids.len())];
                let (add, remove) = if rng.gen_bool(0.5) {
                    (vec!["UNREAD"], vec![])
                } else {
                    (vec![], vec!["UNREAD"])
                };
                let _ =
                    e.h.post(
                        &format!("{}/{provider}/execute", super::CONNECTORS),
                        &e.t,
                        json!({"entity": "messages", "action": "modify", "params":
                            {"message_id": id, "add_label_ids": add, "remove_label_ids": remove}}),
                    )
                    .await;
            }
            3 => {
                // Moved out of sight: to the trash (searched by neither by default).
                let id = &ids[rng.gen_range(0..ids.len())];
                let _ = e
                    .h
                    .post(
                        &format!("{}/{provider}/execute", super::CONNECTORS),
                        &e.t,
                        json!({"entity": "messages", "action": "trash", "params": {"message_id": id}}),
                    )
                    .await;
            }
            4 => {
                let id = &ids[rng.gen_range(0..ids.len())];
                let _ = e
                    .h
                    .post(
                        &format!("{}/{provider}/execute", super::CONNECTORS),
                        &e.t,
                        json!({"entity": "messages", "action": "delete", "params": {"message_id": id}}),
                    )
                    .await;
            }
            _ => {
                let id = &ids[rng.gen_range(0..ids.len())];
                let _ = e
                    .h
                    .post(
                        &format!("{}/{provider}/execute", super::CONNECTORS),
                        &e.t,
                        json!({"entity": "messages", "action": "modify", "params":
                            {"message_id": id, "add_label_ids": ["STARRED"], "remove_label_ids": ["INBOX"]}}),
                    )
                    .await;
            }
        }
        if step % 8 == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let thread = replied;
    let mut qs = queries(thread.as_deref());
    qs.push(json!({"label": "STARRED"}));
    qs.push(json!({"label": "INBOX", "is_read": false}));
    let lib = connector_gmail::connector_with_options(
        std::sync::Arc::new(connector_core::StaticToken(connector_core::Secret::new(
            "any",
        ))),
        connector_core::HttpConfig::new(e.gmail.base_url()),
        connector_gmail::GmailOptions {
            quota_units_per_minute: 100_000_000,
            ..Default::default()
        },
    )
    .unwrap();
    agree(&e, &store, Provider::Library(&lib), &qs).await;
}

fn outlook_mail(m: &Mail, conversation: Option<String>) -> NewMessage {
    let (name, addr) = SENDERS[m.sender];
    let mut to = vec![("Ada Lovelace".to_string(), USER.to_string())];
    if m.bob {
        to.push(("Bob Builder".into(), "bob@example.com".into()));
    }
    NewMessage {
        subject: m.subject.clone(),
        from: (name.into(), addr.into()),
        to,
        cc: if m.carol {
            vec![("Carol Shaw".into(), "carol@example.com".into())]
        } else {
            Vec::new()
        },
        body: m.body.clone(),
        is_read: m.n.is_multiple_of(2),
        attachments: if m.attachment {
            vec![(
                format!("report-{}.pdf", m.n),
                "application/pdf".into(),
                b"%PDF".to_vec(),
                false,
            )]
        } else {
            Vec::new()
        },
        conversation_id: conversation,
        received: chrono::DateTime::from_timestamp(BASE_S + m.day * DAY_S + m.n as i64, 0),
        ..Default::default()
    }
}

async fn outlook_consistency(db: Db) {
    let Some(e) = env(db).await else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(20);
    let mut ids: Vec<String> = Vec::new();
    for n in 0..30 {
        let m = random_mail(&mut rng, n, None);
        ids.push(
            e.outlook
                .deliver(USER, "inbox", outlook_mail(&m, None))
                .unwrap(),
        );
    }
    // Inbox and Archive replicated: a move between them is seen by the inbox's delta and the
    // message read again where it went.
    let store = e
        .connector(
            "outlook",
            json!({"enabled": true, "bodies": "text", "labels": ["inbox", "archive"]}),
        )
        .await;
    let provider = e.connector("outlook", json!({})).await;
    e.wait_live(&store).await;
    assert_eq!(e.count(&store).await, 30);

    let mut conversation = None;
    // Outlook's events follow the inbox and Sent Items: mail is changed while in the inbox.
    let mut archived = std::collections::HashSet::new();
    for step in 0..40 {
        let n = 30 + step;
        match rng.gen_range(0..5) {
            0 => {
                let m = random_mail(&mut rng, n, None);
                ids.push(
                    e.outlook
                        .deliver(USER, "inbox", outlook_mail(&m, None))
                        .unwrap(),
                );
            }
            1 => {
                let r = &ids[rng.gen_range(0..ids.len())];
                let conv = e
                    .outlook
                    .message_json(USER, r)
                    .and_then(|v| v["conversationId"].as_str().map(str::to_string));
                let m = random_mail(&mut rng, n, None);
                if let Some(id) = e
                    .outlook
                    .deliver(USER, "inbox", outlook_mail(&m, conv.clone()))
                {
                    ids.push(id);
                    conversation = conv;
                }
            }
            2 => {
                let id = &ids[rng.gen_range(0..ids.len())];
                if !archived.contains(id) {
                    e.outlook.set_read(USER, id, rng.gen_bool(0.5));
                }
            }
            3 => {
                let id = ids[rng.gen_range(0..ids.len())].clone();
                if !archived.contains(&id) && e.outlook.move_message(USER, &id, "archive") {
                    archived.insert(id);
                }
            }
            _ => {
                let id = &ids[rng.gen_range(0..ids.len())];
                if !archived.contains(id) {
                    e.outlook.delete_message(USER, id);
                }
            }
        }
        if step % 8 == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut qs: Vec<Value> = queries(conversation.as_deref())
        .into_iter()
        .map(|mut q| {
            // The provider's search covers every folder; compare folder by folder.
            q["label"] = json!("inbox");
            q
        })
        .collect();
    qs.push(json!({"label": "archive"}));
    qs.push(json!({"label": "archive", "text": "gazebo"}));
    agree(&e, &store, Provider::Server(&provider), &qs).await;
}

#[actix_web::test]
async fn gmail_store_and_provider_search_agree_after_random_changes_on_sqlite() {
    gmail_consistency(Db::Sqlite).await;
}

#[actix_web::test]
async fn gmail_store_and_provider_search_agree_after_random_changes_on_postgres() {
    gmail_consistency(Db::Postgres).await;
}

#[actix_web::test]
async fn outlook_store_and_provider_search_agree_after_random_changes_on_sqlite() {
    outlook_consistency(Db::Sqlite).await;
}

#[actix_web::test]
async fn outlook_store_and_provider_search_agree_after_random_changes_on_postgres() {
    outlook_consistency(Db::Postgres).await;
}
