//! Seeds: the demo mailboxes of ada@example.com and grace@example.com, and generated corpora.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::model::{make_id, Addr, Attachment, Category, Mailbox, Message, UserInfo};
use super::Seed;

pub const ADA: &str = "ada@example.com";
pub const GRACE: &str = "grace@example.com";

/// A message to put in a mailbox (seeds and the `deliver` test hook).
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub subject: String,
    /// (name, address)
    pub from: (String, String),
    pub to: Vec<(String, String)>,
    pub cc: Vec<(String, String)>,
    pub body: String,
    pub html: bool,
    pub is_read: bool,
    pub is_draft: bool,
    pub importance: String,
    pub categories: Vec<String>,
    /// (name, content type, bytes, inline)
    pub attachments: Vec<(String, String, Vec<u8>, bool)>,
    /// Joins an existing conversation.
    pub conversation_id: Option<String>,
    pub received: Option<DateTime<Utc>>,
}

impl Default for NewMessage {
    fn default() -> Self {
        NewMessage {
            subject: "Hello".into(),
            from: ("Grace Hopper".into(), GRACE.into()),
            to: vec![("Ada Lovelace".into(), ADA.into())],
            cc: Vec::new(),
            body: "Hello there.".into(),
            html: false,
            is_read: false,
            is_draft: false,
            importance: "normal".into(),
            categories: Vec::new(),
            attachments: Vec::new(),
            conversation_id: None,
            received: None,
        }
    }
}

fn pair(name: &str, addr: &str) -> (String, String) {
    (name.into(), addr.into())
}

/// Stores `msg` in `folder` (id or well-known name) and returns its id.
pub fn deliver(mb: &mut Mailbox, folder: &str, msg: NewMessage) -> Option<String> {
    let folder_id = mb.folder(folder)?.id.clone();
    let id = mb.next_id("AAMkA", "message");
    let conversation_id = msg
        .conversation_id
        .clone()
        .or_else(|| {
            // Replies join the conversation of the same normalized subject.
            let base = normalize_subject(&msg.subject);
            mb.messages
                .values()
                .find(|m| normalize_subject(&m.subject) == base)
                .map(|m| m.conversation_id.clone())
        })
        .unwrap_or_else(|| make_id("AAQkA", &mb.user.email, "conversation", mb.seq + 1));
    let received = msg.received.unwrap_or_else(Utc::now);
    let addr = |(n, a): &(String, String)| Addr::new(n, a);
    let attachments = msg
        .attachments
        .iter()
        .map(|(name, ct, bytes, inline)| Attachment {
            id: mb.next_id("AAMkA", "attachment"),
            name: name.clone(),
            content_type: ct.clone(),
            is_inline: *inline,
            content_id: inline.then(|| format!("{name}@01DC0000.00000000")),
            bytes: bytes.clone(),
            last_modified: received,
        })
        .collect();
    let m = Message {
        id: id.clone(),
        conversation_id,
        internet_message_id: format!(
            "<{}@{}>",
            &make_id("", &mb.user.email, "imid", mb.seq + 1)[..20],
            msg.from.1.split('@').nth(1).unwrap_or("example.com")
        ),
        folder_id,
        subject: msg.subject,
        from: addr(&msg.from),
        to: msg.to.iter().map(addr).collect(),
        cc: msg.cc.iter().map(addr).collect(),
        bcc: Vec::new(),
        reply_to: Vec::new(),
        received,
        sent: received - Duration::seconds(2),
        last_modified: received,
        body_html: msg.html,
        body: msg.body,
        is_read: msg.is_read,
        is_draft: msg.is_draft,
        importance: msg.importance,
        categories: msg.categories,
        flag_status: "notFlagged".into(),
        focused: true,
        attachments,
        seq: 0,
        arrived: 0,
        in_reply_to: None,
        references: Vec::new(),
        change_key: 1,
        extended: Vec::new(),
        custom_headers: Vec::new(),
    };
    mb.put_message(m);
    Some(id)
}

fn normalize_subject(s: &str) -> String {
    let mut s = s.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        if let Some(p) = ["re:", "fw:", "fwd:"]
            .iter()
            .find(|p| lower.starts_with(*p))
        {
            s = s[p.len()..].trim_start();
        } else {
            return lower;
        }
    }
}

/// A folder by well-known name, id, or display path (`Inbox/Projects`).
pub fn folder_by_path(mb: &Mailbox, path: &str) -> Option<String> {
    if let Some(f) = mb.folder(path) {
        return Some(f.id.clone());
    }
    let mut parent = mb.root_id.clone();
    for part in path.split('/') {
        parent = mb
            .folders
            .iter()
            .find(|f| f.parent_id == parent && f.display_name.eq_ignore_ascii_case(part))?
            .id
            .clone();
    }
    Some(parent)
}

pub(crate) fn user(email: &str, given: &str, surname: &str, n: u64) -> UserInfo {
    UserInfo {
        id: format!("{:08x}-5e5a-4d6b-9c1f-{:012x}", 0x0a0d_a000u64 + n, n),
        email: email.into(),
        display_name: format!("{given} {surname}"),
        given_name: given.into(),
        surname: surname.into(),
        aliases: vec![format!("{}@example.org", given.to_ascii_lowercase())],
    }
}

fn categories(mb: &mut Mailbox) {
    for (name, color) in [
        ("Red category", "preset0"),
        ("Orange category", "preset1"),
        ("Travel", "preset2"),
        ("Finance", "preset4"),
        ("Blue category", "preset7"),
    ] {
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            mb.categories.len() + 1,
            mb.categories.len() + 1
        );
        mb.categories.push(Category {
            id,
            display_name: name.into(),
            color: color.into(),
        });
    }
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
];

fn at(day: u32, hour: u32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).single()
}

fn demo_ada(mb: &mut Mailbox) {
    let inbox = mb.folder("inbox").map(|f| f.id.clone()).unwrap_or_default();
    let projects = mb.add_folder("Projects", &inbox);
    mb.add_folder("Apollo", &projects);
    let root = mb.root_id.clone();
    mb.add_folder("Receipts", &root);
    categories(mb);
    let grace = pair("Grace Hopper", GRACE);
    let ada = pair("Ada Lovelace", ADA);
    let linus = pair("Linus Example", "linus@example.org");
    let report = deliver(mb, "inbox", NewMessage {
        subject: "Quarterly report".into(),
        from: grace.clone(),
        to: vec![ada.clone()],
        body: "<html><head><style>p{color:#333}</style></head><body><p>Hi Ada,</p><p>The <b>Q1 numbers</b> are attached &amp; look good.</p><p>Grace</p></body></html>".into(),
        html: true,
        importance: "high".into(),
        categories: vec!["Finance".into()],
        attachments: vec![("report.pdf".into(), "application/pdf".into(), PDF.to_vec(), false)],
        received: at(1, 9),
        ..Default::default()
    });
    let conv = report.and_then(|id| mb.messages.get(&id).map(|m| m.conversation_id.clone()));
    deliver(
        mb,
        "sentitems",
        NewMessage {
            subject: "RE: Quarterly report".into(),
            from: ada.clone(),
            to: vec![grace.clone()],
            body: "Thanks Grace, the numbers look right to me.\n\nAda".into(),
            is_read: true,
            conversation_id: conv.clone(),
            received: at(1, 11),
            ..Default::default()
        },
    );
    deliver(
        mb,
        "inbox",
        NewMessage {
            subject: "RE: Quarterly report".into(),
            from: grace.clone(),
            to: vec![ada.clone()],
            body: "Great, I will send it to the board.\n\nGrace".into(),
            is_read: true,
            conversation_id: conv,
            received: at(1, 14),
            ..Default::default()
        },
    );
    deliver(mb, "inbox", NewMessage {
        subject: "Trip to Lisbon".into(),
        from: pair("Skyways", "bookings@airline.example"),
        to: vec![ada.clone()],
        body: "<html><body><img src=\"cid:logo.png@01DC0000.00000000\"><p>Your flight to Lisbon is confirmed.</p><p>Itinerary attached.</p></body></html>".into(),
        html: true,
        is_read: true,
        categories: vec!["Travel".into()],
        attachments: vec![
            ("itinerary.pdf".into(), "application/pdf".into(), PDF.to_vec(), false),
            ("logo.png".into(), "image/png".into(), PNG.to_vec(), true),
        ],
        received: at(2, 8),
        ..Default::default()
    });
    deliver(
        mb,
        "inbox",
        NewMessage {
            subject: "Lunch tomorrow?".into(),
            from: grace.clone(),
            to: vec![ada.clone()],
            body: "Are you free for lunch tomorrow at noon?".into(),
            received: at(2, 10),
            ..Default::default()
        },
    );
    deliver(
        mb,
        "inbox",
        NewMessage {
            subject: "Weekly digest".into(),
            from: pair("Example News", "news@example.com"),
            to: vec![ada.clone()],
            body: "<p>This week: engines, looms and <i>notes</i>.</p>".into(),
            html: true,
            is_read: true,
            importance: "low".into(),
            received: at(2, 6),
            ..Default::default()
        },
    );
    let apollo = folder_by_path(mb, "Inbox/Projects/Apollo").unwrap_or_default();
    deliver(
        mb,
        &apollo,
        NewMessage {
            subject: "Apollo kickoff".into(),
            from: linus.clone(),
            to: vec![ada.clone()],
            cc: vec![grace.clone()],
            body: "Kickoff is on Monday at 10:00. Agenda to follow.".into(),
            categories: vec!["Red category".into()],
            received: at(2, 12),
            ..Default::default()
        },
    );
    let receipts = folder_by_path(mb, "Receipts").unwrap_or_default();
    deliver(
        mb,
        &receipts,
        NewMessage {
            subject: "Your receipt #1234".into(),
            from: pair("Store", "shop@store.example"),
            to: vec![ada.clone()],
            body: "<table><tr><td>Notebook</td><td>12.00 EUR</td></tr></table>".into(),
            html: true,
            is_read: true,
            received: at(1, 7),
            ..Default::default()
        },
    );
    deliver(
        mb,
        "junkemail",
        NewMessage {
            subject: "You won a prize".into(),
            from: pair("Prize Desk", "winner@spam.example"),
            body: "Click here to claim.".into(),
            received: at(1, 3),
            ..Default::default()
        },
    );
    deliver(
        mb,
        "drafts",
        NewMessage {
            subject: "Notes for Monday".into(),
            from: ada.clone(),
            to: vec![grace.clone()],
            body: "Draft: points for the Apollo kickoff.".into(),
            is_read: true,
            is_draft: true,
            received: at(2, 13),
            ..Default::default()
        },
    );
    deliver(
        mb,
        "deleteditems",
        NewMessage {
            subject: "Old newsletter".into(),
            from: pair("Example News", "news@example.com"),
            body: "Last year's news.".into(),
            is_read: true,
            received: at(1, 1),
            ..Default::default()
        },
    );
    deliver(
        mb,
        "archive",
        NewMessage {
            subject: "2025 planning".into(),
            from: grace,
            to: vec![ada],
            body: "Archived plan.".into(),
            is_read: true,
            received: at(1, 2),
            ..Default::default()
        },
    );
}

fn demo_grace(mb: &mut Mailbox) {
    categories(mb);
    let grace = pair("Grace Hopper", GRACE);
    let ada = pair("Ada Lovelace", ADA);
    deliver(
        mb,
        "sentitems",
        NewMessage {
            subject: "Quarterly report".into(),
            from: grace.clone(),
            to: vec![ada.clone()],
            body: "<p>Hi Ada,</p><p>The <b>Q1 numbers</b> are attached.</p>".into(),
            html: true,
            is_read: true,
            importance: "high".into(),
            attachments: vec![(
                "report.pdf".into(),
                "application/pdf".into(),
                PDF.to_vec(),
                false,
            )],
            received: at(1, 9),
            ..Default::default()
        },
    );
    deliver(
        mb,
        "inbox",
        NewMessage {
            subject: "RE: Quarterly report".into(),
            from: ada,
            to: vec![grace],
            body: "Thanks Grace, the numbers look right to me.\n\nAda".into(),
            received: at(1, 11),
            ..Default::default()
        },
    );
    deliver(
        mb,
        "inbox",
        NewMessage {
            subject: "Welcome to Example".into(),
            from: pair("IT", "it@example.com"),
            to: vec![pair("Grace Hopper", GRACE)],
            body: "Your mailbox is ready.".into(),
            is_read: true,
            received: at(1, 0),
            ..Default::default()
        },
    );
}

/// `n` generated messages in ada's inbox: conversations of three, every 10th with an
/// attachment, every 7th categorized, two thirds read.
fn corpus(mb: &mut Mailbox, n: usize) {
    let base = at(1, 0).unwrap_or_else(Utc::now);
    let senders = [
        pair("Grace Hopper", GRACE),
        pair("Linus Example", "linus@example.org"),
        pair("Example News", "news@example.com"),
        pair("Katherine Johnson", "katherine@example.net"),
    ];
    let mut conv = String::new();
    for i in 0..n {
        if i % 3 == 0 {
            conv = make_id("AAQkA", &mb.user.email, "gen-conversation", i as u64);
        }
        deliver(
            mb,
            "inbox",
            NewMessage {
                subject: format!("Generated message {i}"),
                from: senders[i % senders.len()].clone(),
                to: vec![pair("Ada Lovelace", ADA)],
                body: format!("Body of generated message {i}."),
                is_read: i % 3 != 0,
                importance: if i % 11 == 0 { "high" } else { "normal" }.into(),
                categories: if i % 7 == 0 {
                    vec!["Finance".into()]
                } else {
                    Vec::new()
                },
                attachments: if i % 10 == 0 {
                    vec![(
                        format!("file-{i}.txt"),
                        "text/plain".into(),
                        format!("attachment {i}").into_bytes(),
                        false,
                    )]
                } else {
                    Vec::new()
                },
                conversation_id: Some(conv.clone()),
                received: Some(base - Duration::minutes(i as i64)),
                ..Default::default()
            },
        );
    }
}

pub fn build(seed: &Seed) -> HashMap<String, Mailbox> {
    let mut ada = Mailbox::new(user(ADA, "Ada", "Lovelace", 1));
    let mut grace = Mailbox::new(user(GRACE, "Grace", "Hopper", 2));
    match seed {
        Seed::Empty => {
            categories(&mut ada);
            categories(&mut grace);
        }
        Seed::Demo => {
            demo_ada(&mut ada);
            demo_grace(&mut grace);
        }
        Seed::Count(n) => {
            let inbox = ada
                .folder("inbox")
                .map(|f| f.id.clone())
                .unwrap_or_default();
            let projects = ada.add_folder("Projects", &inbox);
            ada.add_folder("Apollo", &projects);
            let root = ada.root_id.clone();
            ada.add_folder("Receipts", &root);
            categories(&mut ada);
            categories(&mut grace);
            corpus(&mut ada, *n);
        }
    }
    let mut all = HashMap::from([(ADA.to_string(), ada), (GRACE.to_string(), grace)]);
    if matches!(seed, Seed::Demo) {
        crate::calendar::seed_demo(&mut all);
    }
    all
}
