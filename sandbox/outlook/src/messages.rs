//! Messages: list (with `$filter`, `$search`, `$orderby`, `$select`, `$top`, `$skip`, `$count`,
//! `$expand=attachments`), get, attachments, and per-folder delta.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::graph::Req;
use super::model::{Mailbox, Message};
use super::odata;
use super::reply::{self, Reply};

/// Properties of `microsoft.graph.message` the emulator renders (and so accepts in `$select`,
/// `$filter` and `$orderby`).
const PROPS: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "conversationIndex",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "isRead",
    "isDraft",
    "webLink",
    "inferenceClassification",
    "body",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "flag",
    "attachments",
    "internetMessageHeaders",
    "singleValueExtendedProperties",
];

fn unknown_property(name: &str) -> Reply {
    reply::error(
        400,
        "RequestBroker--ParseUri",
        format!("Could not find a property named '{name}' on type 'microsoft.graph.message'."),
    )
}

fn check_props<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), Reply> {
    for n in names {
        if !PROPS.iter().any(|p| p.eq_ignore_ascii_case(n)) {
            return Err(unknown_property(n));
        }
    }
    Ok(())
}

/// `$expand=attachments` or `attachments($select=a,b)`: `Some(None)` for every property.
fn expand(req: &Req<'_>) -> Result<Option<Option<Vec<String>>>, Reply> {
    let Some(e) = req.query.get("expand") else {
        return Ok(None);
    };
    let e = e.trim();
    if extended_expand(req).is_some() {
        return Ok(None);
    }
    if e.eq_ignore_ascii_case("attachments") {
        return Ok(Some(None));
    }
    if let Some(inner) = e
        .strip_prefix("attachments(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let sel = inner
            .trim()
            .strip_prefix("$select=")
            .ok_or_else(|| reply::bad_query(format!("Unsupported $expand options '{inner}'.")))?;
        return Ok(Some(Some(
            sel.split(',').map(|s| s.trim().to_string()).collect(),
        )));
    }
    Err(reply::bad_query(format!(
        "Parsing OData Select and Expand failed: could not find a property named '{e}'."
    )))
}

fn attachment_json(a: &super::model::Attachment, select: Option<&[String]>) -> Value {
    match select {
        None => a.to_json(true),
        Some(fields) => match a.to_json(true) {
            Value::Object(m) => Value::Object(odata::select(m, fields)),
            v => v,
        },
    }
}

/// `$expand=singleValueExtendedProperties($filter=id eq '...')` (or without the filter):
/// `Some(Some(id))` / `Some(None)`.
fn extended_expand(req: &Req<'_>) -> Option<Option<String>> {
    let e = req.query.get("expand")?.trim();
    const NAME: &str = "singleValueExtendedProperties";
    if e.len() < NAME.len() || !e[..NAME.len()].eq_ignore_ascii_case(NAME) {
        return None;
    }
    let rest = e[NAME.len()..].trim();
    let id = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|r| r.trim().strip_prefix("$filter="))
        .and_then(|f| {
            let (_, v) = f.split_once(" eq ")?;
            Some(v.trim().trim_matches('\'').replace("''", "'"))
        });
    Some(id)
}

/// One message as the request asks for it.
fn render(m: &Message, req: &Req<'_>) -> Result<Value, Reply> {
    let mut obj = m.to_json(req.render);
    if let Some(only) = extended_expand(req) {
        let props: Vec<Value> = m
            .extended
            .iter()
            .filter(|(id, _)| only.as_ref().is_none_or(|o| o.eq_ignore_ascii_case(id)))
            .map(|(id, value)| json!({"id": id, "value": value}))
            .collect();
        if !props.is_empty() {
            obj.insert("singleValueExtendedProperties".into(), Value::Array(props));
        }
    }
    if let Some(sel) = expand(req)? {
        obj.insert(
            "attachments".into(),
            Value::Array(
                m.attachments
                    .iter()
                    .map(|a| attachment_json(a, sel.as_deref()))
                    .collect(),
            ),
        );
    }
    if let Some(fields) = req.query.select() {
        check_props(fields.iter().map(String::as_str))?;
        if fields
            .iter()
            .any(|f| f.eq_ignore_ascii_case("internetMessageHeaders"))
        {
            obj.insert("internetMessageHeaders".into(), m.headers_json());
        }
        let mut fields = fields;
        if extended_expand(req).is_some() {
            fields.push("singleValueExtendedProperties".into());
        } else if req.query.get("expand").is_some() {
            fields.push("attachments".into());
        }
        obj = odata::select(obj, &fields);
    }
    Ok(Value::Object(obj))
}

fn folder_id(mb: &Mailbox, f: &str) -> Result<String, Reply> {
    mb.folder(f)
        .map(|f| f.id.clone())
        .ok_or_else(|| reply::not_found("folder"))
}

pub fn list(mb: &Mailbox, req: &Req<'_>, folder: Option<&str>) -> Reply {
    match list_inner(mb, req, folder) {
        Ok(r) | Err(r) => r,
    }
}

fn list_inner(mb: &Mailbox, req: &Req<'_>, folder: Option<&str>) -> Result<Reply, Reply> {
    let q = req.query;
    q.check_allowed(&[
        "filter", "search", "select", "orderby", "top", "skip", "count", "expand",
    ])?;
    let folder_id = folder.map(|f| folder_id(mb, f)).transpose()?;
    let top = q
        .usize("top")?
        .or(req.page_size)
        .unwrap_or(10)
        .clamp(1, 1000);
    let skip = q.usize("skip")?.unwrap_or(0);
    let search = q.get("search");
    let orderby = q.get("orderby");
    for (opt, name) in [("orderby", "$orderBy"), ("filter", "$filter")] {
        if search.is_some() && q.get(opt).is_some() {
            return Err(reply::error(
                400,
                "ErrorInvalidUrlQuery",
                format!("The query parameter '{name}' is not supported with '$search'."),
            ));
        }
    }
    let filter = match q.get("filter") {
        Some(f) => {
            let e = odata::parse_filter(f).map_err(|e| {
                reply::error(
                    400,
                    "ErrorInvalidUrlQuery",
                    format!("Invalid filter clause: {e}"),
                )
            })?;
            for p in odata::paths(&e) {
                check_props(p.first().map(String::as_str))?;
            }
            Some(e)
        }
        None => None,
    };
    let keys = match orderby {
        Some(o) => {
            let keys = odata::parse_orderby(o)
                .map_err(|e| reply::error(400, "ErrorInvalidUrlQuery", e))?;
            for (p, _) in &keys {
                check_props(p.first().map(String::as_str))?;
            }
            if let Some(f) = &filter {
                if !odata::orderby_leads_filter(&keys, f) {
                    return Err(reply::error(
                        400,
                        "InefficientFilter",
                        "The restriction or sort order is too complex for this operation.",
                    ));
                }
            }
            keys
        }
        None => vec![(vec!["receivedDateTime".to_string()], true)],
    };
    let in_folder = mb
        .messages
        .values()
        .filter(|m| folder_id.as_ref().is_none_or(|f| &m.folder_id == f));
    let default_order = orderby.is_none() || keys == [(vec!["receivedDateTime".to_string()], true)];
    let items: Vec<&Message> = if filter.is_none() && search.is_none() && default_order {
        // The common case, without rendering every message: newest first.
        let mut items: Vec<&Message> = in_folder.collect();
        items.sort_by(|a, b| b.received.cmp(&a.received).then_with(|| a.id.cmp(&b.id)));
        items
    } else {
        // Only the properties the query names are rendered, unless one is outside the index.
        let mut named: Vec<String> = filter
            .as_ref()
            .map(odata::paths)
            .unwrap_or_default()
            .into_iter()
            .chain(keys.iter().map(|(p, _)| p.clone()))
            .filter_map(|p| p.first().cloned())
            .collect();
        if search.is_some() {
            named.extend(
                ["subject", "from", "body", "toRecipients", "ccRecipients"].map(String::from),
            );
        }
        let sample = mb.messages.values().next();
        let full = sample.is_some_and(|m| named.iter().any(|n| m.prop_json(n).is_none()));
        let mut items: Vec<(&Message, Value)> = in_folder
            .map(|m| {
                let v = if full {
                    Value::Object(m.to_json(Default::default()))
                } else {
                    Value::Object(
                        named
                            .iter()
                            .filter_map(|n| m.prop_json(n).map(|v| (n.clone(), v)))
                            .collect(),
                    )
                };
                (m, v)
            })
            .filter(|(m, v)| {
                filter.as_ref().is_none_or(|e| odata::eval(e, v))
                    && search.is_none_or(|s| {
                        let names: Vec<String> =
                            m.attachments.iter().map(|a| a.name.clone()).collect();
                        odata::search_matches(s, v, &names)
                    })
            })
            .collect();
        items.sort_by(|a, b| odata::order_cmp(&a.1, &b.1, &keys).then_with(|| a.0.id.cmp(&b.0.id)));
        items.into_iter().map(|(m, _)| m).collect()
    };
    let total = items.len();
    let page = items
        .iter()
        .skip(skip)
        .take(top)
        .map(|m| render(m, req))
        .collect::<Result<Vec<_>, _>>()?;
    let mut body = Map::new();
    if q.get("count")
        .is_some_and(|c| c.eq_ignore_ascii_case("true"))
    {
        body.insert("@odata.count".into(), json!(total));
    }
    body.insert("value".into(), Value::Array(page));
    if skip + top < total {
        let mut q2 = q.clone();
        if q2.get("top").is_none() {
            q2.pairs.push(("$top".into(), top.to_string()));
        }
        body.insert(
            "@odata.nextLink".into(),
            json!(req.link(&q2.with("skip", &(skip + top).to_string()))),
        );
    }
    Ok(Reply::ok(Value::Object(body)))
}

fn find<'m>(mb: &'m Mailbox, id: &str, folder: Option<&str>) -> Result<&'m Message, Reply> {
    if id.len() < 16
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=+/".contains(c))
    {
        return Err(reply::error(
            400,
            "ErrorInvalidIdMalformed",
            "Id is malformed.",
        ));
    }
    let m = mb
        .messages
        .get(id)
        .ok_or_else(|| reply::not_found("message"))?;
    if let Some(f) = folder {
        if m.folder_id != folder_id(mb, f)? {
            return Err(reply::not_found("message"));
        }
    }
    Ok(m)
}

pub fn get(mb: &Mailbox, req: &Req<'_>, id: &str, folder: Option<&str>) -> Reply {
    let r = req
        .query
        .check_allowed(&["select", "expand"])
        .and_then(|_| find(mb, id, folder))
        .and_then(|m| render(m, req));
    match r {
        Ok(v) => Reply::ok(v),
        Err(e) => e,
    }
}

pub fn attachments(mb: &Mailbox, req: &Req<'_>, id: &str) -> Reply {
    let r = req
        .query
        .check_allowed(&["select", "top", "skip", "count"])
        .and_then(|_| find(mb, id, None));
    match r {
        Ok(m) => {
            let sel = req.query.select();
            let value: Vec<Value> = m
                .attachments
                .iter()
                .map(|a| attachment_json(a, sel.as_deref()))
                .collect();
            Reply::ok(json!({ "value": value }))
        }
        Err(e) => e,
    }
}

pub fn attachment(mb: &Mailbox, req: &Req<'_>, id: &str, att: &str) -> Reply {
    let r = req
        .query
        .check_allowed(&["select", "expand"])
        .and_then(|_| find(mb, id, None));
    match r {
        Ok(m) => match m.attachments.iter().find(|a| a.id == att) {
            Some(a) => Reply::ok(attachment_json(a, req.query.select().as_deref())),
            None => reply::not_found("attachment"),
        },
        Err(e) => e,
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn unb64(s: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()?;
    String::from_utf8(raw).ok()
}

/// A round of delta: changes in (since, upto] of one folder, paged.
struct Round {
    folder: String,
    since: u64,
    upto: u64,
    offset: usize,
    epoch: u64,
    page: usize,
    select: String,
}

fn sync_state_gone() -> Reply {
    reply::error(
        410,
        "SyncStateNotFound",
        "The sync state generation is not found or has expired. Start a full synchronization without a delta token.",
    )
}

fn parse_round(mb: &Mailbox, req: &Req<'_>, folder: &str) -> Result<Round, Reply> {
    let q = req.query;
    let bad = || {
        reply::error(
            400,
            "ErrorInvalidSyncStateData",
            "The sync state data is invalid.",
        )
    };
    // The page size of this request (Prefer: odata.maxpagesize) wins over the token's.
    let asked = q.usize("top")?.or(req.page_size).map(|n| n.clamp(1, 1000));
    let page_default = asked.unwrap_or(10);
    if let Some(tok) = q.get("skiptoken") {
        let s = unb64(tok).ok_or_else(bad)?;
        let p: Vec<&str> = s.splitn(8, '|').collect();
        if p.len() != 8 || p[0] != "s" {
            return Err(bad());
        }
        let n = |i: usize| p[i].parse::<u64>().map_err(|_| bad());
        return Ok(Round {
            folder: p[1].into(),
            since: n(2)?,
            upto: n(3)?,
            offset: n(4)? as usize,
            epoch: n(5)?,
            page: asked.unwrap_or(n(6)? as usize),
            select: p[7].into(),
        });
    }
    let select = q.select().map(|s| s.join(",")).unwrap_or_default();
    if let Some(tok) = q.get("deltatoken") {
        let s = unb64(tok).ok_or_else(bad)?;
        let p: Vec<&str> = s.splitn(6, '|').collect();
        if p.len() != 6 || p[0] != "d" {
            return Err(bad());
        }
        let n = |i: usize| p[i].parse::<u64>().map_err(|_| bad());
        return Ok(Round {
            folder: p[1].into(),
            since: n(2)?,
            upto: mb.seq,
            offset: 0,
            epoch: n(3)?,
            page: asked.unwrap_or(n(4)? as usize),
            select: p[5].into(),
        });
    }
    Ok(Round {
        folder: folder.into(),
        since: 0,
        upto: mb.seq,
        offset: 0,
        epoch: mb.delta_epoch,
        page: page_default,
        select,
    })
}

/// Whether folder `fid` has changed after change sequence `upto`.
fn moved_on(mb: &Mailbox, fid: &str, upto: u64) -> bool {
    mb.messages
        .values()
        .any(|m| m.folder_id == fid && m.seq > upto)
        || mb
            .tombstones
            .iter()
            .any(|t| t.folder_id == fid && t.seq > upto)
}

pub fn delta(mb: &Mailbox, req: &Req<'_>, folder: &str) -> Reply {
    match delta_inner(mb, req, folder) {
        Ok(r) | Err(r) => r,
    }
}

fn delta_inner(mb: &Mailbox, req: &Req<'_>, folder: &str) -> Result<Reply, Reply> {
    req.query.check_allowed(&[
        "select",
        "top",
        "skiptoken",
        "deltatoken",
        "filter",
        "orderby",
    ])?;
    let fid = folder_id(mb, folder)?;
    let round = parse_round(mb, req, &fid)?;
    if round.epoch != mb.delta_epoch {
        return Err(sync_state_gone());
    }
    // A page link of a round is a snapshot of the folder; once the folder moves on it expires.
    let page_link = req.query.get("skiptoken").is_some();
    if page_link && req.behaviour.delta_page_links_expire && moved_on(mb, &fid, round.upto) {
        return Err(sync_state_gone());
    }
    if round.folder != fid {
        return Err(reply::error(
            400,
            "ErrorInvalidSyncStateData",
            "The sync state belongs to another folder.",
        ));
    }
    let fields: Vec<String> = round
        .select
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    check_props(fields.iter().map(String::as_str))?;
    // (seq, message or removed id), rendered only for the page
    let mut entries: Vec<(u64, Result<&Message, String>)> = mb
        .messages
        .values()
        .filter(|m| m.folder_id == fid && m.seq > round.since && m.seq <= round.upto)
        .map(|m| (m.seq, Ok(m)))
        .collect();
    if round.since > 0 {
        let mut seen = std::collections::HashSet::new();
        for t in mb.tombstones.iter().rev() {
            let here = mb.messages.get(&t.id).is_some_and(|m| m.folder_id == fid);
            if t.folder_id == fid
                && t.seq > round.since
                && t.seq <= round.upto
                && !here
                && seen.insert(t.id.clone())
            {
                entries.push((t.seq, Err(t.id.clone())));
            }
        }
    }
    entries.sort_by_key(|(seq, _)| *seq);
    let end = (round.offset + round.page).min(entries.len());
    let value: Vec<Value> = entries[round.offset.min(end)..end]
        .iter()
        .map(|(_, e)| match e {
            Ok(m) => {
                let obj = m.to_json(req.render);
                Value::Object(if fields.is_empty() { obj } else { odata::select(obj, &fields) })
            }
            Err(id) => json!({"@odata.type": "#microsoft.graph.message", "id": id, "@removed": {"reason": "deleted"}}),
        })
        .collect();
    let base = req.link("");
    let base = base.trim_end_matches('?');
    let mut body = Map::new();
    body.insert("value".into(), Value::Array(value));
    if end < entries.len() {
        let tok = b64(&format!(
            "s|{}|{}|{}|{}|{}|{}|{}",
            round.folder, round.since, round.upto, end, round.epoch, round.page, round.select
        ));
        body.insert(
            "@odata.nextLink".into(),
            json!(format!("{base}?$skiptoken={tok}")),
        );
    } else {
        let tok = b64(&format!(
            "d|{}|{}|{}|{}|{}",
            round.folder, round.upto, round.epoch, round.page, round.select
        ));
        body.insert(
            "@odata.deltaLink".into(),
            json!(format!("{base}?$deltatoken={tok}")),
        );
    }
    Ok(Reply::ok(Value::Object(body)))
}
