//! The emulator's in-memory mailboxes and how their items look on the wire.

use std::collections::HashMap;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use connector_core::text::html_to_text;

/// Folders every mailbox has, by well-known name and display name.
pub const WELL_KNOWN: &[(&str, &str)] = &[
    ("inbox", "Inbox"),
    ("sentitems", "Sent Items"),
    ("drafts", "Drafts"),
    ("deleteditems", "Deleted Items"),
    ("archive", "Archive"),
    ("junkemail", "Junk Email"),
    ("outbox", "Outbox"),
];

/// An address as Graph writes it: `{"emailAddress":{"name","address"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Addr {
    pub name: String,
    pub address: String,
}

impl Addr {
    pub fn new(name: &str, address: &str) -> Addr {
        Addr {
            name: name.into(),
            address: address.into(),
        }
    }
    pub fn to_json(&self) -> Value {
        json!({"emailAddress": {"name": self.name, "address": self.address}})
    }
}

#[derive(Debug, Clone)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Folder {
    pub id: String,
    pub display_name: String,
    pub parent_id: String,
    pub well_known: Option<String>,
    pub hidden: bool,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub is_inline: bool,
    pub content_id: Option<String>,
    pub bytes: Vec<u8>,
    pub last_modified: DateTime<Utc>,
}

impl Attachment {
    /// The fileAttachment; `contentBytes` only when `with_content`.
    pub fn to_json(&self, with_content: bool) -> Value {
        let mut v = json!({
            "@odata.type": "#microsoft.graph.fileAttachment",
            "id": self.id,
            "lastModifiedDateTime": rfc3339(self.last_modified),
            "name": self.name,
            "contentType": self.content_type,
            "size": self.bytes.len() + 200,
            "isInline": self.is_inline,
            "contentId": self.content_id,
            "contentLocation": Value::Null,
        });
        if with_content {
            v["contentBytes"] =
                json!(base64::engine::general_purpose::STANDARD.encode(&self.bytes));
        }
        v
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub internet_message_id: String,
    pub folder_id: String,
    pub subject: String,
    pub from: Addr,
    pub to: Vec<Addr>,
    pub cc: Vec<Addr>,
    pub bcc: Vec<Addr>,
    pub reply_to: Vec<Addr>,
    pub received: DateTime<Utc>,
    pub sent: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub body_html: bool,
    pub body: String,
    pub is_read: bool,
    pub is_draft: bool,
    pub importance: String,
    pub categories: Vec<String>,
    pub flag_status: String,
    pub focused: bool,
    pub attachments: Vec<Attachment>,
    /// Change sequence of the mailbox at the last change (for delta).
    pub seq: u64,
    /// Change sequence at which the message arrived in its folder (for notifications).
    pub arrived: u64,
    /// Internet Message-ID of the message this one answers, and the thread's earlier ids.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub change_key: u64,
    /// Single-value extended properties: (id as the client named it, value). Kept through
    /// sending; rendered only when asked (`$expand`, `$filter`).
    pub extended: Vec<(String, String)>,
    /// Custom Internet headers the client set (`internetMessageHeaders`, `x-` names only). A
    /// reply or forward starts with none of the original's.
    pub custom_headers: Vec<(String, String)>,
}

/// How a message should be rendered.
#[derive(Debug, Clone, Copy, Default)]
pub struct Render {
    /// `Prefer: outlook.body-content-type="text"` or `"html"`.
    pub body_as: Option<BodyAs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyAs {
    Text,
    Html,
}

impl Message {
    /// The Internet headers Graph gives with `$select=internetMessageHeaders`.
    pub fn headers_json(&self) -> Value {
        let addr = |a: &Addr| format!("{} <{}>", a.name, a.address);
        let mut h = vec![
            json!({"name": "Message-ID", "value": self.internet_message_id}),
            json!({"name": "Subject", "value": self.subject}),
            json!({"name": "From", "value": addr(&self.from)}),
            json!({"name": "Date", "value": self.sent.to_rfc2822()}),
        ];
        if !self.to.is_empty() {
            let to: Vec<String> = self.to.iter().map(addr).collect();
            h.push(json!({"name": "To", "value": to.join(", ")}));
        }
        if let Some(r) = &self.in_reply_to {
            h.push(json!({"name": "In-Reply-To", "value": r}));
        }
        if !self.references.is_empty() {
            h.push(json!({"name": "References", "value": self.references.join(" ")}));
        }
        for (name, value) in &self.custom_headers {
            h.push(json!({"name": name, "value": value}));
        }
        Value::Array(h)
    }

    pub fn has_attachments(&self) -> bool {
        self.attachments.iter().any(|a| !a.is_inline)
    }

    fn body_json(&self, render: Render) -> Value {
        match (self.body_html, render.body_as) {
            (true, Some(BodyAs::Text)) => {
                json!({"contentType": "text", "content": html_to_text(&self.body)})
            }
            (false, Some(BodyAs::Html)) => json!({
                "contentType": "html",
                "content": format!("<html><body><div>{}</div></body></html>", escape_html(&self.body).replace('\n', "<br>")),
            }),
            (true, _) => json!({"contentType": "html", "content": self.body}),
            (false, _) => json!({"contentType": "text", "content": self.body}),
        }
    }

    pub fn preview(&self) -> String {
        let text = if self.body_html {
            html_to_text(&self.body)
        } else {
            self.body.clone()
        };
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        flat.chars().take(255).collect()
    }

    /// One wire property by name (case-insensitive), for `$filter`, `$orderby` and `$search`
    /// without rendering the whole message. `None` for a property outside this index.
    pub fn prop_json(&self, name: &str) -> Option<Value> {
        let addrs = |list: &[Addr]| Value::Array(list.iter().map(Addr::to_json).collect());
        Some(match name.to_ascii_lowercase().as_str() {
            "id" => json!(self.id),
            "createddatetime" | "receiveddatetime" => json!(rfc3339(self.received)),
            "lastmodifieddatetime" => json!(rfc3339(self.last_modified)),
            "sentdatetime" => json!(rfc3339(self.sent)),
            "categories" => json!(self.categories),
            "hasattachments" => json!(self.has_attachments()),
            "internetmessageid" => json!(self.internet_message_id),
            "subject" => json!(self.subject),
            "importance" => json!(self.importance),
            "parentfolderid" => json!(self.folder_id),
            "conversationid" => json!(self.conversation_id),
            "isread" => json!(self.is_read),
            "isdraft" => json!(self.is_draft),
            "inferenceclassification" => json!(if self.focused { "focused" } else { "other" }),
            "sender" | "from" => self.from.to_json(),
            "torecipients" => addrs(&self.to),
            "ccrecipients" => addrs(&self.cc),
            "bccrecipients" => addrs(&self.bcc),
            "flag" => json!({"flagStatus": self.flag_status}),
            "body" => json!({"content": self.body}),
            "singlevalueextendedproperties" => self.extended_json(),
            _ => return None,
        })
    }

    /// `singleValueExtendedProperties` as Graph renders them.
    pub fn extended_json(&self) -> Value {
        Value::Array(
            self.extended
                .iter()
                .map(|(id, value)| json!({"id": id, "value": value}))
                .collect(),
        )
    }

    /// The whole Graph message (attachments not expanded).
    pub fn to_json(&self, render: Render) -> Map<String, Value> {
        let addrs = |list: &[Addr]| Value::Array(list.iter().map(Addr::to_json).collect());
        let v = json!({
            "@odata.type": "#microsoft.graph.message",
            "id": self.id,
            "createdDateTime": rfc3339(self.received),
            "lastModifiedDateTime": rfc3339(self.last_modified),
            "changeKey": format!("CQAAABYAAAD{:08}", self.change_key),
            "categories": self.categories,
            "receivedDateTime": rfc3339(self.received),
            "sentDateTime": rfc3339(self.sent),
            "hasAttachments": self.has_attachments(),
            "internetMessageId": self.internet_message_id,
            "subject": self.subject,
            "bodyPreview": self.preview(),
            "importance": self.importance,
            "parentFolderId": self.folder_id,
            "conversationId": self.conversation_id,
            "conversationIndex": base64::engine::general_purpose::STANDARD.encode(&Sha256::digest(self.conversation_id.as_bytes())[..22]),
            "isDeliveryReceiptRequested": false,
            "isReadReceiptRequested": false,
            "isRead": self.is_read,
            "isDraft": self.is_draft,
            "webLink": format!("https://outlook.office365.com/owa/?ItemID={}&exvsurl=1&viewmodel=ReadMessageItem", percent_encoding::utf8_percent_encode(&self.id, percent_encoding::NON_ALPHANUMERIC)),
            "inferenceClassification": if self.focused { "focused" } else { "other" },
            "body": self.body_json(render),
            "sender": self.from.to_json(),
            "from": self.from.to_json(),
            "toRecipients": addrs(&self.to),
            "ccRecipients": addrs(&self.cc),
            "bccRecipients": addrs(&self.bcc),
            "replyTo": addrs(&self.reply_to),
            "flag": {"flagStatus": self.flag_status},
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!("message renders as an object"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Category {
    pub id: String,
    pub display_name: String,
    pub color: String,
}

impl Category {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "displayName": self.display_name, "color": self.color})
    }
}

/// A message that left a folder (deleted or moved), for delta.
#[derive(Debug, Clone)]
pub struct Tombstone {
    pub id: String,
    pub folder_id: String,
    pub seq: u64,
}

/// One user's mailbox.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub user: UserInfo,
    pub folders: Vec<Folder>,
    pub root_id: String,
    pub messages: HashMap<String, Message>,
    pub categories: Vec<Category>,
    pub settings: Value,
    /// Change counter; every change to a message takes the next value.
    pub seq: u64,
    pub tombstones: Vec<Tombstone>,
    /// Delta tokens of an older epoch are expired (410).
    pub delta_epoch: u64,
    /// Calendars and events (see [`crate::calendar`]).
    pub calendar: crate::calendar::Store,
    counter: u64,
}

impl Mailbox {
    pub fn new(user: UserInfo) -> Mailbox {
        let root_id = make_id("AQMkA", &user.email, "folder", 0);
        let mut mb = Mailbox {
            settings: default_settings(),
            calendar: crate::calendar::Store::new(&user.email, &user.display_name),
            user,
            folders: Vec::new(),
            root_id: root_id.clone(),
            messages: HashMap::new(),
            categories: Vec::new(),
            seq: 0,
            tombstones: Vec::new(),
            delta_epoch: 1,
            counter: 0,
        };
        for (wk, name) in WELL_KNOWN {
            let id = mb.next_id("AQMkA", "folder");
            mb.folders.push(Folder {
                id,
                display_name: name.to_string(),
                parent_id: root_id.clone(),
                well_known: Some(wk.to_string()),
                hidden: false,
            });
        }
        mb
    }

    /// A fresh, stable id with a Graph-like look (base64 with `-`/`_`, ending in `=`).
    pub fn next_id(&mut self, prefix: &str, kind: &str) -> String {
        self.counter += 1;
        make_id(prefix, &self.user.email, kind, self.counter)
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Resolves a folder id or a well-known name (case-insensitive).
    pub fn folder(&self, id_or_name: &str) -> Option<&Folder> {
        let lower = id_or_name.to_ascii_lowercase();
        if lower == "msgfolderroot" {
            return None;
        }
        self.folders
            .iter()
            .find(|f| f.id == id_or_name || f.well_known.as_deref() == Some(lower.as_str()))
    }

    pub fn is_root(&self, id_or_name: &str) -> bool {
        id_or_name == self.root_id || id_or_name.eq_ignore_ascii_case("msgfolderroot")
    }

    pub fn add_folder(&mut self, name: &str, parent_id: &str) -> String {
        let id = self.next_id("AQMkA", "folder");
        self.folders.push(Folder {
            id: id.clone(),
            display_name: name.into(),
            parent_id: parent_id.into(),
            well_known: None,
            hidden: false,
        });
        id
    }

    pub fn folder_json(&self, f: &Folder) -> Value {
        let total = self
            .messages
            .values()
            .filter(|m| m.folder_id == f.id)
            .count();
        let unread = self
            .messages
            .values()
            .filter(|m| m.folder_id == f.id && !m.is_read)
            .count();
        let children = self.folders.iter().filter(|c| c.parent_id == f.id).count();
        json!({
            "id": f.id,
            "displayName": f.display_name,
            "parentFolderId": f.parent_id,
            "childFolderCount": children,
            "unreadItemCount": unread,
            "totalItemCount": total,
            "isHidden": f.hidden,
        })
    }

    /// Stores a message (new or changed) with the next change sequence.
    pub fn put_message(&mut self, mut m: Message) {
        let seq = self.next_seq();
        if let Some(old) = self.messages.get(&m.id) {
            if old.folder_id != m.folder_id {
                self.tombstones.push(Tombstone {
                    id: m.id.clone(),
                    folder_id: old.folder_id.clone(),
                    seq,
                });
            }
            m.change_key = old.change_key + 1;
            m.arrived = if old.folder_id == m.folder_id {
                old.arrived
            } else {
                seq
            };
        } else {
            m.arrived = seq;
        }
        m.seq = seq;
        m.last_modified = Utc::now().max(m.received);
        self.messages.insert(m.id.clone(), m);
    }

    pub fn remove_message(&mut self, id: &str) -> Option<Message> {
        let m = self.messages.remove(id)?;
        let seq = self.next_seq();
        self.tombstones.push(Tombstone {
            id: m.id.clone(),
            folder_id: m.folder_id.clone(),
            seq,
        });
        Some(m)
    }

    pub fn profile_json(&self) -> Value {
        let u = &self.user;
        let mut proxies = vec![format!("SMTP:{}", u.email)];
        proxies.extend(u.aliases.iter().map(|a| format!("smtp:{a}")));
        json!({
            "id": u.id,
            "displayName": u.display_name,
            "givenName": u.given_name,
            "surname": u.surname,
            "mail": u.email,
            "userPrincipalName": u.email,
            "businessPhones": [],
            "jobTitle": Value::Null,
            "mobilePhone": Value::Null,
            "officeLocation": Value::Null,
            "preferredLanguage": "en-US",
            "proxyAddresses": proxies,
        })
    }
}

fn default_settings() -> Value {
    json!({
        "archiveFolder": "",
        "timeZone": "UTC",
        "dateFormat": "yyyy-MM-dd",
        "timeFormat": "HH:mm",
        "userPurpose": "user",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        "automaticRepliesSetting": {
            "status": "disabled",
            "externalAudience": "all",
            "internalReplyMessage": "",
            "externalReplyMessage": "",
            "scheduledStartDateTime": {"dateTime": "2026-01-01T00:00:00.0000000", "timeZone": "UTC"},
            "scheduledEndDateTime": {"dateTime": "2026-01-02T00:00:00.0000000", "timeZone": "UTC"}
        },
        "language": {"locale": "en-US", "displayName": "English (United States)"},
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "09:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": "UTC"}
        }
    })
}

pub fn make_id(prefix: &str, owner: &str, kind: &str, n: u64) -> String {
    let digest = Sha256::digest(format!("{owner}/{kind}/{n}").as_bytes());
    let mut raw = digest.to_vec();
    raw.extend_from_slice(&digest[..14]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
    format!("{prefix}{}", b64.replace('/', "-").replace('+', "_"))
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_graph_ids() {
        let id = make_id("AAMkA", "ada@example.com", "message", 1);
        assert!(id.starts_with("AAMkA") && id.ends_with('='));
        assert!(!id.contains('/') && !id.contains('+'));
        assert_ne!(id, make_id("AAMkA", "ada@example.com", "message", 2));
    }
}
