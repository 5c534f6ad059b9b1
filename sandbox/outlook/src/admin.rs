//! Writes other than messages: attachments (direct and through upload sessions), mail folders,
//! master categories and mailbox settings.

use base64::Engine;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use super::graph::Req;
use super::model::{rfc3339, Attachment, Category, Mailbox};
use super::reply::{self, Reply};
use super::writes::prop;

/// Largest attachment posted directly (Graph: 3 MB); bigger ones need an upload session.
pub const DIRECT_LIMIT: usize = 3 * 1024 * 1024;
/// Largest attachment of an upload session (150 MB).
pub const SESSION_LIMIT: u64 = 150 * 1024 * 1024;
/// Largest range of one PUT to an upload session (4 MiB).
pub const RANGE_LIMIT: usize = 4 * 1024 * 1024;

pub fn add_attachment(mb: &mut Mailbox, req: &Req<'_>, message_id: &str) -> Reply {
    let Some(mut m) = mb.messages.get(message_id).cloned() else {
        return reply::not_found("message");
    };
    let b = req.body;
    let kind = prop(b, "@odata.type").and_then(Value::as_str).unwrap_or("");
    if !kind.eq_ignore_ascii_case("#microsoft.graph.fileAttachment") {
        return reply::error(
            400,
            "ErrorInvalidRequest",
            "Only #microsoft.graph.fileAttachment is supported by the emulator.",
        );
    }
    let bytes = match prop(b, "contentBytes")
        .and_then(Value::as_str)
        .map(|s| base64::engine::general_purpose::STANDARD.decode(s))
    {
        Some(Ok(bytes)) => bytes,
        _ => return reply::error(400, "ErrorInvalidRequest", "contentBytes must be base64."),
    };
    if bytes.len() > DIRECT_LIMIT {
        return reply::error(
            413,
            "ErrorRequestEntityTooLarge",
            "The attachment is larger than 3 MB: use an upload session (createUploadSession).",
        );
    }
    let a = Attachment {
        id: mb.next_id("AAMkA", "attachment"),
        name: prop(b, "name")
            .and_then(Value::as_str)
            .unwrap_or("attachment")
            .into(),
        content_type: prop(b, "contentType")
            .and_then(Value::as_str)
            .unwrap_or("application/octet-stream")
            .into(),
        is_inline: prop(b, "isInline")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        content_id: prop(b, "contentId")
            .and_then(Value::as_str)
            .map(str::to_string),
        bytes,
        last_modified: Utc::now(),
    };
    let out = a.to_json(false);
    m.attachments.push(a);
    mb.put_message(m);
    Reply::json(201, out)
}

pub fn delete_attachment(mb: &mut Mailbox, message_id: &str, att: &str) -> Reply {
    let Some(mut m) = mb.messages.get(message_id).cloned() else {
        return reply::not_found("message");
    };
    let before = m.attachments.len();
    m.attachments.retain(|a| a.id != att);
    if m.attachments.len() == before {
        return reply::not_found("attachment");
    }
    mb.put_message(m);
    Reply::no_content()
}

/// An upload session in progress.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub message_id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub data: Vec<u8>,
    pub expires: chrono::DateTime<Utc>,
}

/// Checks a createUploadSession body; the caller stores the session.
pub fn new_session(
    mb: &Mailbox,
    req: &Req<'_>,
    user: &str,
    message_id: &str,
) -> Result<Session, Reply> {
    if !mb.messages.contains_key(message_id) {
        return Err(reply::not_found("message"));
    }
    let item = prop(req.body, "AttachmentItem")
        .ok_or_else(|| reply::error(400, "ErrorInvalidRequest", "AttachmentItem is required."))?;
    let size = prop(item, "size").and_then(Value::as_u64).unwrap_or(0);
    if size == 0 || size > SESSION_LIMIT {
        return Err(reply::error(
            400,
            "ErrorAttachmentSizeLimitExceeded",
            "The attachment size must be between 1 byte and 150 MB.",
        ));
    }
    Ok(Session {
        user: user.into(),
        message_id: message_id.into(),
        name: prop(item, "name")
            .and_then(Value::as_str)
            .unwrap_or("attachment")
            .into(),
        content_type: prop(item, "contentType")
            .and_then(Value::as_str)
            .unwrap_or("application/octet-stream")
            .into(),
        size,
        data: Vec::new(),
        expires: Utc::now() + Duration::hours(2),
    })
}

pub fn session_json(s: &Session, upload_url: &str) -> Value {
    json!({
        "uploadUrl": upload_url,
        "expirationDateTime": rfc3339(s.expires),
        "nextExpectedRanges": [format!("{}-", s.data.len())],
    })
}

/// One PUT of bytes `start..=end` of `total`: in order, at most 4 MiB. `Ok(true)` when complete.
pub fn accept_range(s: &mut Session, range: Option<&str>, bytes: &[u8]) -> Result<bool, Reply> {
    let bad = |m: &str| reply::error(400, "ErrorInvalidContentRange", m.to_string());
    let range = range.ok_or_else(|| bad("Content-Range is required."))?;
    let spec = range
        .trim()
        .strip_prefix("bytes ")
        .ok_or_else(|| bad("Content-Range must be 'bytes start-end/total'."))?;
    let (span, total) = spec
        .split_once('/')
        .ok_or_else(|| bad("Content-Range must name the total."))?;
    let (start, end) = span
        .split_once('-')
        .ok_or_else(|| bad("Content-Range must be 'bytes start-end/total'."))?;
    let (start, end, total): (u64, u64, u64) = match (start.parse(), end.parse(), total.parse()) {
        (Ok(a), Ok(b), Ok(t)) => (a, b, t),
        _ => return Err(bad("Content-Range numbers do not parse.")),
    };
    if total != s.size {
        return Err(bad("The total does not match the session's size."));
    }
    if start != s.data.len() as u64 || end < start || end >= total {
        return Err(bad(&format!(
            "Expected a range starting at {}.",
            s.data.len()
        )));
    }
    if bytes.len() as u64 != end - start + 1 {
        return Err(bad("The body length does not match Content-Range."));
    }
    if bytes.len() > RANGE_LIMIT {
        return Err(reply::error(
            413,
            "ErrorRequestEntityTooLarge",
            "A range may carry at most 4 MiB.",
        ));
    }
    s.data.extend_from_slice(bytes);
    Ok(s.data.len() as u64 == s.size)
}

/// Turns a finished session into an attachment of its message.
pub fn finish_session(mb: &mut Mailbox, s: Session) -> Option<String> {
    let mut m = mb.messages.get(&s.message_id).cloned()?;
    let id = mb.next_id("AAMkA", "attachment");
    m.attachments.push(Attachment {
        id: id.clone(),
        name: s.name,
        content_type: s.content_type,
        is_inline: false,
        content_id: None,
        bytes: s.data,
        last_modified: Utc::now(),
    });
    mb.put_message(m);
    Some(id)
}

pub fn create_folder(mb: &mut Mailbox, req: &Req<'_>, parent: Option<&str>) -> Reply {
    let parent_id = match parent {
        None => mb.root_id.clone(),
        Some(p) => match mb.folder(p) {
            Some(f) => f.id.clone(),
            None => return reply::not_found("folder"),
        },
    };
    let Some(name) = prop(req.body, "displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
    else {
        return reply::error(400, "ErrorInvalidRequest", "displayName is required.");
    };
    if mb
        .folders
        .iter()
        .any(|f| f.parent_id == parent_id && f.display_name.eq_ignore_ascii_case(name))
    {
        return reply::error(
            409,
            "ErrorFolderExists",
            "A folder with the specified name already exists.",
        );
    }
    let id = mb.add_folder(name, &parent_id);
    if prop(req.body, "isHidden").and_then(Value::as_bool) == Some(true) {
        if let Some(f) = mb.folders.iter_mut().find(|f| f.id == id) {
            f.hidden = true;
        }
    }
    let f = mb.folders.iter().find(|f| f.id == id).cloned();
    Reply::json(201, f.map(|f| mb.folder_json(&f)).unwrap_or_default())
}

pub fn update_folder(mb: &mut Mailbox, req: &Req<'_>, id: &str) -> Reply {
    let Some(fid) = mb.folder(id).map(|f| f.id.clone()) else {
        return reply::not_found("folder");
    };
    if let Some(name) = prop(req.body, "displayName").and_then(Value::as_str) {
        if let Some(f) = mb.folders.iter_mut().find(|f| f.id == fid) {
            if f.well_known.is_some() {
                return reply::error(
                    403,
                    "ErrorCannotRenameDistinguishedFolder",
                    "A distinguished folder cannot be renamed.",
                );
            }
            f.display_name = name.into();
        }
    }
    let f = mb.folders.iter().find(|f| f.id == fid).cloned();
    Reply::ok(f.map(|f| mb.folder_json(&f)).unwrap_or_default())
}

pub fn delete_folder(mb: &mut Mailbox, id: &str) -> Reply {
    let Some(f) = mb.folder(id).cloned() else {
        return reply::not_found("folder");
    };
    if f.well_known.is_some() {
        return reply::error(
            403,
            "ErrorDeleteDistinguishedFolder",
            "Distinguished folders cannot be deleted.",
        );
    }
    let mut doomed = vec![f.id.clone()];
    let mut i = 0;
    while i < doomed.len() {
        let kids: Vec<String> = mb
            .folders
            .iter()
            .filter(|c| c.parent_id == doomed[i])
            .map(|c| c.id.clone())
            .collect();
        doomed.extend(kids);
        i += 1;
    }
    let messages: Vec<String> = mb
        .messages
        .values()
        .filter(|m| doomed.contains(&m.folder_id))
        .map(|m| m.id.clone())
        .collect();
    for m in messages {
        mb.remove_message(&m);
    }
    mb.folders.retain(|f| !doomed.contains(&f.id));
    Reply::no_content()
}

pub fn create_category(mb: &mut Mailbox, req: &Req<'_>) -> Reply {
    let Some(name) = prop(req.body, "displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return reply::error(400, "ErrorInvalidRequest", "displayName is required.");
    };
    if mb
        .categories
        .iter()
        .any(|c| c.display_name.eq_ignore_ascii_case(name))
    {
        return reply::error(
            409,
            "ErrorDuplicateCategory",
            "A category with this name already exists.",
        );
    }
    let n = mb.categories.len() + 1 + mb.seq as usize;
    let c = Category {
        id: format!("{n:08x}-0000-4000-8000-{n:012x}"),
        display_name: name.into(),
        color: prop(req.body, "color")
            .and_then(Value::as_str)
            .unwrap_or("none")
            .into(),
    };
    let out = c.to_json();
    mb.categories.push(c);
    Reply::json(201, out)
}

pub fn delete_category(mb: &mut Mailbox, id: &str) -> Reply {
    let before = mb.categories.len();
    mb.categories.retain(|c| c.id != id);
    if mb.categories.len() == before {
        return reply::not_found("category");
    }
    Reply::no_content()
}

pub fn update_settings(mb: &mut Mailbox, req: &Req<'_>) -> Reply {
    fn merge(into: &mut Value, patch: &Value) {
        match (into.as_object_mut(), patch.as_object()) {
            (Some(o), Some(p)) => {
                for (k, v) in p {
                    let key = o
                        .keys()
                        .find(|x| x.eq_ignore_ascii_case(k))
                        .cloned()
                        .unwrap_or_else(|| k.clone());
                    match o.get_mut(&key) {
                        Some(existing) if existing.is_object() && v.is_object() => {
                            merge(existing, v)
                        }
                        _ => {
                            o.insert(key, v.clone());
                        }
                    }
                }
            }
            _ => *into = patch.clone(),
        }
    }
    if !req.body.is_object() {
        return reply::error(400, "ErrorInvalidRequest", "A JSON object is required.");
    }
    merge(&mut mb.settings, req.body);
    Reply::ok(mb.settings.clone())
}

/// Fuzzing of upload-session range parsing (docs/fuzzing.md): a file sent in ranges of any
/// size arrives intact; a wrong or garbled `Content-Range` is a 400 that leaves the session as
/// it was; nothing panics.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn session(size: u64) -> Session {
        Session {
            user: "u".into(),
            message_id: "m".into(),
            name: "f".into(),
            content_type: "application/octet-stream".into(),
            size,
            data: Vec::new(),
            expires: Utc::now() + Duration::hours(2),
        }
    }

    proptest! {
        #[test]
        fn a_file_sent_in_ranges_of_any_size_arrives_intact(
            file in prop::collection::vec(any::<u8>(), 1..3000),
            cuts in prop::collection::vec(1usize..700, 1..20),
        ) {
            let mut s = session(file.len() as u64);
            let mut at = 0;
            let mut cuts = cuts.into_iter().cycle();
            while at < file.len() {
                let n = cuts.next().unwrap().min(file.len() - at);
                let range = format!("bytes {}-{}/{}", at, at + n - 1, file.len());
                let done = accept_range(&mut s, Some(&range), &file[at..at + n]).is_ok_and(|d| d);
                at += n;
                prop_assert_eq!(done, at == file.len());
            }
            prop_assert_eq!(&s.data, &file);
        }

        #[test]
        fn a_wrong_range_is_refused_and_changes_nothing(
            file in prop::collection::vec(any::<u8>(), 2..500),
            first in 1usize..250,
            start_shift in -3i64..3,
            end_shift in -3i64..3,
            total_shift in -2i64..2,
        ) {
            prop_assume!(start_shift != 0 || end_shift != 0 || total_shift != 0);
            let first = first.min(file.len() - 1);
            let mut s = session(file.len() as u64);
            accept_range(&mut s, Some(&format!("bytes 0-{}/{}", first - 1, file.len())), &file[..first]).unwrap();
            let n = (file.len() - first).min(100);
            let start = first as i64 + start_shift;
            let end = (first + n) as i64 - 1 + end_shift;
            let total = file.len() as i64 + total_shift;
            let range = format!("bytes {start}-{end}/{total}");
            let bytes = &file[first..first + n];
            let got = accept_range(&mut s, Some(&range), bytes);
            prop_assert!(got.is_err(), "{range} was accepted");
            prop_assert_eq!(&s.data, &file[..first].to_vec());
        }

        #[test]
        fn garbled_ranges_never_panic_and_never_store(
            range in prop_oneof![
                "\\PC{0,40}",
                "bytes [0-9]{0,25}-[0-9]{0,25}/[0-9]{0,25}",
                "bytes -?[0-9]{1,3}--?[0-9]{1,3}/[0-9*]{1,3}",
            ],
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut s = session(10_000);
            let before = s.data.len();
            if accept_range(&mut s, Some(&range), &body).is_err() {
                prop_assert_eq!(s.data.len(), before);
            }
        }
    }
}
