//! Message writes: sendMail, drafts and their send, reply / replyAll / forward (and their
//! create* drafts), update, move, copy, delete. Body property names are matched without regard
//! to case (the SDKs write PascalCase, the documentation camelCase).

use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};

use super::graph::Req;
use super::model::{make_id, Addr, Attachment, Mailbox, Message, Render};
use super::reply::{self, Reply};

/// What `sendMail` takes inline (attachments, decoded) before it refuses the message.
const INLINE_LIMIT: usize = 4 * 1024 * 1024;

/// A message to put in another emulated mailbox's inbox after the request.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub to: String,
    pub msg: Message,
}

/// A property of a JSON object, matched without regard to case.
pub fn prop<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn invalid_recipients() -> Reply {
    reply::error(
        400,
        "ErrorInvalidRecipients",
        "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
    )
}

fn recipients(v: Option<&Value>) -> Result<Vec<Addr>, Reply> {
    let mut out = Vec::new();
    for r in v.and_then(Value::as_array).into_iter().flatten() {
        let e = prop(r, "emailAddress").ok_or_else(invalid_recipients)?;
        let address = prop(e, "address").and_then(Value::as_str).unwrap_or("");
        let valid = address
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !address.contains(' '));
        if !valid {
            return Err(reply::error(
                400,
                "ErrorInvalidRecipients",
                format!("At least one recipient isn't valid.: '{address}'"),
            ));
        }
        let name = prop(e, "name").and_then(Value::as_str).unwrap_or(address);
        out.push(Addr::new(name, address));
    }
    Ok(out)
}

fn attachments(mb: &mut Mailbox, v: Option<&Value>) -> Result<Vec<Attachment>, Reply> {
    let mut out = Vec::new();
    for a in v.and_then(Value::as_array).into_iter().flatten() {
        let bytes = prop(a, "contentBytes")
            .and_then(Value::as_str)
            .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
            .transpose()
            .map_err(|_| reply::error(400, "ErrorInvalidRequest", "contentBytes is not base64."))?
            .unwrap_or_default();
        out.push(Attachment {
            id: mb.next_id("AAMkA", "attachment"),
            name: prop(a, "name")
                .and_then(Value::as_str)
                .unwrap_or("attachment")
                .into(),
            content_type: prop(a, "contentType")
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream")
                .into(),
            is_inline: prop(a, "isInline")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            content_id: prop(a, "contentId")
                .and_then(Value::as_str)
                .map(str::to_string),
            bytes,
            last_modified: Utc::now(),
        });
    }
    Ok(out)
}

fn own_addr(mb: &Mailbox) -> Addr {
    Addr::new(&mb.user.display_name, &mb.user.email)
}

/// A new message from a Graph message body (draft unless sent right away).
pub fn message_from_json(mb: &mut Mailbox, v: &Value, folder_id: &str) -> Result<Message, Reply> {
    let now = Utc::now();
    let from = match prop(v, "from").and_then(|f| prop(f, "emailAddress")) {
        Some(e) => {
            let addr = prop(e, "address").and_then(Value::as_str).unwrap_or("");
            let own = addr.eq_ignore_ascii_case(&mb.user.email)
                || mb.user.aliases.iter().any(|a| a.eq_ignore_ascii_case(addr));
            if !own {
                return Err(reply::error(
                    403,
                    "ErrorSendAsDenied",
                    "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.",
                ));
            }
            Addr::new(
                prop(e, "name").and_then(Value::as_str).unwrap_or(addr),
                addr,
            )
        }
        None => own_addr(mb),
    };
    let body = prop(v, "body");
    let html = body
        .and_then(|b| prop(b, "contentType"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("html"));
    let imid = prop(v, "internetMessageId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "<{}@{}>",
                &make_id("", &mb.user.email, "imid", mb.seq + 1)[..20],
                mb.user.email.split('@').nth(1).unwrap_or("example.com")
            )
        });
    let id = mb.next_id("AAMkA", "message");
    Ok(Message {
        id,
        conversation_id: make_id("AAQkA", &imid, "conversation", 0),
        internet_message_id: imid,
        folder_id: folder_id.into(),
        subject: prop(v, "subject")
            .and_then(Value::as_str)
            .unwrap_or("")
            .into(),
        from,
        to: recipients(prop(v, "toRecipients"))?,
        cc: recipients(prop(v, "ccRecipients"))?,
        bcc: recipients(prop(v, "bccRecipients"))?,
        reply_to: recipients(prop(v, "replyTo"))?,
        received: now,
        sent: now,
        last_modified: now,
        body_html: html,
        body: body
            .and_then(|b| prop(b, "content"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .into(),
        is_read: true,
        is_draft: true,
        importance: prop(v, "importance")
            .and_then(Value::as_str)
            .unwrap_or("normal")
            .to_ascii_lowercase(),
        categories: prop(v, "categories")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        flag_status: "notFlagged".into(),
        focused: true,
        attachments: attachments(mb, prop(v, "attachments"))?,
        seq: 0,
        arrived: 0,
        in_reply_to: None,
        references: Vec::new(),
        change_key: 1,
        extended: extended_properties(prop(v, "singleValueExtendedProperties"))?,
        custom_headers: custom_headers(prop(v, "internetMessageHeaders"))?,
    })
}

/// `internetMessageHeaders: [{name, value}]` of a message body. Graph takes only custom headers
/// (names starting `x-`, any case) and refuses the whole request otherwise.
fn custom_headers(v: Option<&Value>) -> Result<Vec<(String, String)>, Reply> {
    let mut out = Vec::new();
    for h in v.and_then(Value::as_array).into_iter().flatten() {
        let (Some(name), Some(value)) = (
            prop(h, "name").and_then(Value::as_str),
            prop(h, "value").and_then(Value::as_str),
        ) else {
            return Err(reply::error(
                400,
                "InvalidInternetMessageHeader",
                "An Internet message header needs a name and a string value.",
            ));
        };
        let custom = name.len() > 2 && name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("x-"));
        if !custom {
            return Err(reply::error(
                400,
                "InvalidInternetMessageHeader",
                format!(
                    "The internet message header name '{name}' should start with 'x-' or 'X-'."
                ),
            ));
        }
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

/// `singleValueExtendedProperties: [{id, value}]` of a message body.
fn extended_properties(v: Option<&Value>) -> Result<Vec<(String, String)>, Reply> {
    let mut out = Vec::new();
    for p in v.and_then(Value::as_array).into_iter().flatten() {
        let (Some(id), Some(value)) = (
            prop(p, "id").and_then(Value::as_str),
            prop(p, "value").and_then(Value::as_str),
        ) else {
            return Err(reply::error(
                400,
                "ErrorInvalidExtendedProperty",
                "A single-value extended property needs an id and a string value.",
            ));
        };
        out.push((id.to_string(), value.to_string()));
    }
    Ok(out)
}

/// Sets or replaces extended properties by id (ids compare without regard to case).
fn merge_extended(into: &mut Vec<(String, String)>, add: Vec<(String, String)>) {
    for (id, value) in add {
        into.retain(|(k, _)| !k.eq_ignore_ascii_case(&id));
        into.push((id, value));
    }
}

fn folder_id(mb: &Mailbox, name: &str) -> String {
    mb.folder(name).map(|f| f.id.clone()).unwrap_or_default()
}

/// Sends `m`: a copy in Sent Items (when asked) and one in each emulated recipient's inbox,
/// at once or, with a transport delay, after it (the message waits in Drafts, then the Outbox;
/// see [`crate::Behaviour`]). Unless the behaviour keeps it, the message gets an
/// `internetMessageId` of the transport's own.
fn send(mb: &mut Mailbox, req: &Req<'_>, mut m: Message, save: bool) -> Result<(), Reply> {
    if m.to.is_empty() && m.cc.is_empty() && m.bcc.is_empty() {
        return Err(invalid_recipients());
    }
    if !req.behaviour.keep_internet_message_id {
        let n = mb.seq + 1;
        let token = make_id("", &m.id, "transport-imid", n);
        let token: String = token
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(24)
            .collect();
        m.internet_message_id = format!(
            "<{}@PH0PR11MB{}.namprd11.prod.outlook.com>",
            token,
            n % 10_000
        );
    }
    let delay = req.behaviour.transport_delay;
    if !delay.is_zero() {
        let now = std::time::Instant::now();
        m.folder_id = folder_id(mb, "drafts");
        m.is_draft = true;
        req.transit.borrow_mut().push(crate::behaviour::Transit {
            user: req.user.clone(),
            id: m.id.clone(),
            save,
            outbox_at: now + delay / 2,
            sent_at: now + delay,
            new_conversation: req.behaviour.conversation_id_changes,
        });
        mb.put_message(m);
        return Ok(());
    }
    m.is_draft = false;
    m.is_read = true;
    m.sent = Utc::now();
    m.received = m.sent;
    for r in m.to.iter().chain(&m.cc).chain(&m.bcc) {
        req.outbox.borrow_mut().push(Delivery {
            to: r.address.to_ascii_lowercase(),
            msg: m.clone(),
        });
    }
    if save {
        m.folder_id = folder_id(mb, "sentitems");
        mb.put_message(m);
    }
    Ok(())
}

pub fn send_mail(mb: &mut Mailbox, req: &Req<'_>) -> Reply {
    let Some(msg) = prop(req.body, "message") else {
        return reply::error(
            400,
            "ErrorInvalidRequest",
            "The message property is required.",
        );
    };
    let save = prop(req.body, "saveToSentItems")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let drafts = folder_id(mb, "drafts");
    if req.behaviour.inline_attachment_limit {
        let inline: usize = prop(msg, "attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| prop(a, "contentBytes").and_then(Value::as_str))
            .map(|b| b.len() / 4 * 3)
            .sum();
        if inline > INLINE_LIMIT {
            return reply::error(
                413,
                "ErrorRequestEntityTooLarge",
                "The attachments of this message exceed 4 MB. Attach large files to a draft with an upload session, then send the draft.",
            );
        }
    }
    match message_from_json(mb, msg, &drafts).and_then(|m| send(mb, req, m, save)) {
        Ok(()) => Reply::accepted(),
        Err(e) => e,
    }
}

pub fn create(mb: &mut Mailbox, req: &Req<'_>, folder: Option<&str>) -> Reply {
    let fid = match folder {
        Some(f) => match mb.folder(f) {
            Some(f) => f.id.clone(),
            None => return reply::not_found("folder"),
        },
        None => folder_id(mb, "drafts"),
    };
    match message_from_json(mb, req.body, &fid) {
        Ok(m) => {
            let out = Value::Object(m.to_json(Render::default()));
            mb.put_message(m);
            Reply::json(201, out)
        }
        Err(e) => e,
    }
}

fn existing(mb: &Mailbox, id: &str) -> Result<Message, Reply> {
    mb.messages
        .get(id)
        .cloned()
        .ok_or_else(|| reply::not_found("message"))
}

pub fn update(mb: &mut Mailbox, req: &Req<'_>, id: &str) -> Reply {
    let mut m = match existing(mb, id) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let b = req.body;
    if let Some(r) = prop(b, "isRead").and_then(Value::as_bool) {
        m.is_read = r;
    }
    if let Some(c) = prop(b, "categories").and_then(Value::as_array) {
        m.categories = c
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
    }
    if let Some(i) = prop(b, "importance").and_then(Value::as_str) {
        if !["low", "normal", "high"].contains(&i.to_ascii_lowercase().as_str()) {
            return reply::error(
                400,
                "ErrorInvalidRequest",
                format!("'{i}' is not an importance."),
            );
        }
        m.importance = i.to_ascii_lowercase();
    }
    if let Some(f) = prop(b, "flag")
        .and_then(|f| prop(f, "flagStatus"))
        .and_then(Value::as_str)
    {
        m.flag_status = f.into();
    }
    if let Some(ext) = prop(b, "singleValueExtendedProperties") {
        match extended_properties(Some(ext)) {
            Ok(add) => merge_extended(&mut m.extended, add),
            Err(e) => return e,
        }
    }
    let draft_fields = [
        "subject",
        "body",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
    ];
    if draft_fields.iter().any(|f| prop(b, f).is_some()) {
        if !m.is_draft {
            return reply::error(
                400,
                "ErrorInvalidPropertyUpdateSentMessage",
                "Update operation is invalid for property of a sent message.",
            );
        }
        let fresh = match message_from_json(mb, &merge_draft(&m, b), &m.folder_id.clone()) {
            Ok(f) => f,
            Err(e) => return e,
        };
        m.subject = fresh.subject;
        m.body = fresh.body;
        m.body_html = fresh.body_html;
        m.to = fresh.to;
        m.cc = fresh.cc;
        m.bcc = fresh.bcc;
    }
    let out = Value::Object(m.to_json(Render::default()));
    mb.put_message(m);
    Reply::ok(out)
}

fn merge_draft(m: &Message, patch: &Value) -> Value {
    let mut v = Value::Object(m.to_json(Render::default()));
    if let (Some(o), Some(p)) = (v.as_object_mut(), patch.as_object()) {
        for (k, val) in p {
            o.retain(|key, _| !key.eq_ignore_ascii_case(k));
            o.insert(k.clone(), val.clone());
        }
        o.remove("from");
        o.remove("attachments");
    }
    v
}

/// move / copy: a new id in the destination (Graph gives new ids across folders).
pub fn relocate(mb: &mut Mailbox, req: &Req<'_>, id: &str, keep_original: bool) -> Reply {
    let dest = prop(req.body, "destinationId")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(dest_id) = mb.folder(dest).map(|f| f.id.clone()) else {
        return reply::error(400, "ErrorInvalidIdMalformed", "Id is malformed.");
    };
    let mut m = match existing(mb, id) {
        Ok(m) => m,
        Err(e) => return e,
    };
    if !keep_original {
        mb.remove_message(id);
    }
    m.id = mb.next_id("AAMkA", "message");
    m.folder_id = dest_id;
    let out = Value::Object(m.to_json(Render::default()));
    mb.put_message(m);
    Reply::json(201, out)
}

pub fn delete(mb: &mut Mailbox, id: &str, permanent: bool) -> Reply {
    let m = match existing(mb, id) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let deleted = folder_id(mb, "deleteditems");
    mb.remove_message(id);
    if !permanent && m.folder_id != deleted {
        let mut m = m;
        m.id = mb.next_id("AAMkA", "message");
        m.folder_id = deleted;
        mb.put_message(m);
    }
    Reply::no_content()
}

/// `Reply`, `ReplyAll` or `Forward` of `original`, as a draft (not yet stored).
fn respond(
    mb: &mut Mailbox,
    req: &Req<'_>,
    original: &Message,
    kind: &str,
) -> Result<Message, Reply> {
    let me = own_addr(mb);
    let prefix = if kind == "forward" { "FW: " } else { "RE: " };
    let drafts = folder_id(mb, "drafts");
    let extra = prop(req.body, "message").cloned().unwrap_or(json!({}));
    let mut m = message_from_json(mb, &extra, &drafts)?;
    let comment = prop(req.body, "comment")
        .and_then(Value::as_str)
        .unwrap_or("");
    m.subject = format!(
        "{prefix}{}",
        original
            .subject
            .trim_start_matches("RE: ")
            .trim_start_matches("FW: ")
    );
    m.conversation_id = original.conversation_id.clone();
    if kind != "forward" {
        m.in_reply_to = Some(original.internet_message_id.clone());
        m.references = original.references.clone();
        m.references.push(original.internet_message_id.clone());
    }
    let quoted = if original.body_html {
        connector_core::text::html_to_text(&original.body)
    } else {
        original.body.clone()
    };
    m.body_html = false;
    m.body = format!(
        "{comment}\n\n-----Original Message-----\nFrom: {} <{}>\nSubject: {}\n\n{quoted}",
        original.from.name, original.from.address, original.subject
    );
    match kind {
        "reply" | "replyall" => {
            if m.to.is_empty() {
                m.to = if original.reply_to.is_empty() {
                    vec![original.from.clone()]
                } else {
                    original.reply_to.clone()
                };
            }
            if kind == "replyall" {
                let own = |a: &Addr| a.address.eq_ignore_ascii_case(&me.address);
                m.to.extend(
                    original
                        .to
                        .iter()
                        .filter(|a| !own(a) && !m.to.contains(a))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                m.cc.extend(original.cc.iter().filter(|a| !own(a)).cloned());
            }
        }
        _ => {
            m.to.extend(recipients(prop(req.body, "toRecipients"))?);
            let mut copies = original.attachments.clone();
            for a in &mut copies {
                a.id = mb.next_id("AAMkA", "attachment");
            }
            m.attachments = copies;
            if !req.behaviour.forward_drops_headers {
                for (name, value) in &original.custom_headers {
                    if !m
                        .custom_headers
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case(name))
                    {
                        m.custom_headers.push((name.clone(), value.clone()));
                    }
                }
            }
        }
    }
    Ok(m)
}

/// reply / replyAll / forward (sent now) and createReply / createReplyAll / createForward
/// (a draft, answered with 201).
pub fn respond_action(mb: &mut Mailbox, req: &Req<'_>, id: &str, action: &str) -> Reply {
    let original = match existing(mb, id) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let lower = action.to_ascii_lowercase();
    let (kind, draft) = match lower.strip_prefix("create") {
        Some(k) => (k.to_string(), true),
        None => (lower.clone(), false),
    };
    let m = match respond(mb, req, &original, &kind) {
        Ok(m) => m,
        Err(e) => return e,
    };
    if draft {
        let out = Value::Object(m.to_json(Render::default()));
        mb.put_message(m);
        return Reply::json(201, out);
    }
    match send(mb, req, m, true) {
        Ok(()) => Reply::accepted(),
        Err(e) => e,
    }
}

/// POST /messages/{id}/send: a draft goes out (a new id in Sent Items).
pub fn send_draft(mb: &mut Mailbox, req: &Req<'_>, id: &str) -> Reply {
    let m = match existing(mb, id) {
        Ok(m) => m,
        Err(e) => return e,
    };
    if !m.is_draft {
        return reply::error(400, "ErrorInvalidRequest", "Only a draft can be sent.");
    }
    if m.to.is_empty() && m.cc.is_empty() && m.bcc.is_empty() {
        return invalid_recipients();
    }
    if req.behaviour.transport_delay.is_zero() {
        mb.remove_message(id);
        let mut m = m;
        m.id = mb.next_id("AAMkA", "message");
        return match send(mb, req, m, true) {
            Ok(()) => Reply::accepted(),
            Err(e) => e,
        };
    }
    // In transit the draft keeps its id until it reaches Sent Items.
    if mb_in_transit(req, id) {
        return reply::error(
            400,
            "ErrorInvalidRequest",
            "The message has been submitted and is being sent.",
        );
    }
    match send(mb, req, m, true) {
        Ok(()) => Reply::accepted(),
        Err(e) => e,
    }
}

/// Whether message `id` is already on its way (queued before or by this request).
fn mb_in_transit(req: &Req<'_>, id: &str) -> bool {
    req.sending.iter().any(|s| s == id) || req.transit.borrow().iter().any(|t| t.id == id)
}

/// Puts a sent message in a recipient's inbox. With `new_conversation`, a reply or forward
/// gets a conversation id of its own in this mailbox.
pub fn deliver(mb: &mut Mailbox, mut m: Message, new_conversation: bool) {
    let answer = m.in_reply_to.is_some()
        || ["re:", "fw:", "fwd:"]
            .iter()
            .any(|p| m.subject.to_ascii_lowercase().starts_with(p));
    if new_conversation && answer {
        m.conversation_id = make_id("AAQkA", &m.internet_message_id, "conversation", mb.seq + 1);
    }
    m.id = mb.next_id("AAMkA", "message");
    m.folder_id = folder_id(mb, "inbox");
    m.is_read = false;
    m.is_draft = false;
    m.received = Utc::now();
    m.bcc.clear();
    for a in &mut m.attachments {
        a.id = mb.next_id("AAMkA", "attachment");
    }
    mb.put_message(m);
}
