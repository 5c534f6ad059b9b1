//! Every emulator response validates against its method's response schema from Google's
//! discovery document (converted to JSON Schema: unknown fields rejected, the fields the
//! connector relies on required), and the validator itself rejects mutated responses.

use std::collections::{BTreeSet, HashMap};

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use jsonschema::Validator;
use sandbox_gmail::{GmailSandbox, SandboxConfig};
use serde_json::{json, Map, Value};

static DISCOVERY: &str = include_str!("../../../../tests/contracts/gmail.v1.json");
static METHODS: &str = include_str!("../../../../tests/contracts/gmail-methods.json");
const API: &str = "/gmail/v1/users/me";

/// Fields required wherever a schema appears.
fn required_everywhere(name: &str) -> &'static [&'static str] {
    match name {
        "Message" => &["id", "threadId"],
        "MessagePart" => &["partId", "mimeType", "headers", "body"],
        "MessagePartHeader" => &["name", "value"],
        "MessagePartBody" => &["size"],
        "Label" => &["id", "name", "type"],
        "Thread" => &["id"],
        "Draft" => &["id", "message"],
        "History" => &["id", "messages"],
        "HistoryMessageAdded" | "HistoryMessageDeleted" => &["message"],
        "HistoryLabelAdded" | "HistoryLabelRemoved" => &["message", "labelIds"],
        "ListMessagesResponse" | "ListThreadsResponse" | "ListDraftsResponse" => {
            &["resultSizeEstimate"]
        }
        "ListHistoryResponse" => &["historyId"],
        "ListLabelsResponse" => &["labels"],
        "ListSendAsResponse" => &["sendAs"],
        "Profile" => &["emailAddress", "messagesTotal", "threadsTotal", "historyId"],
        "SendAs" => &["sendAsEmail", "isPrimary"],
        "Filter" => &["id", "criteria", "action"],
        "WatchResponse" => &["historyId", "expiration"],
        "VacationSettings" => &["enableAutoReply"],
        _ => &[],
    }
}

/// Extra fields required at the top of a method's response.
fn required_for_method(id: &str) -> &'static [&'static str] {
    match id {
        "gmail.users.messages.get" => &[
            "id",
            "threadId",
            "labelIds",
            "snippet",
            "historyId",
            "internalDate",
            "sizeEstimate",
        ],
        "gmail.users.messages.send"
        | "gmail.users.messages.insert"
        | "gmail.users.messages.import"
        | "gmail.users.messages.modify"
        | "gmail.users.messages.trash"
        | "gmail.users.messages.untrash"
        | "gmail.users.drafts.send" => &["id", "threadId", "labelIds"],
        "gmail.users.labels.get" => &[
            "messagesTotal",
            "messagesUnread",
            "threadsTotal",
            "threadsUnread",
        ],
        "gmail.users.threads.get" => &["id", "historyId", "messages"],
        "gmail.users.messages.attachments.get" => &["size", "data"],
        _ => &[],
    }
}

/// Discovery schema -> JSON Schema.
pub(crate) fn convert(s: &Value) -> Value {
    let mut out = Map::new();
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return json!({"$ref": format!("#/$defs/{r}")});
    }
    let ty = s.get("type").and_then(Value::as_str);
    match (ty, s.get("format").and_then(Value::as_str)) {
        (Some("string"), Some("int64" | "uint64")) => {
            out.insert("type".into(), json!("string"));
            out.insert("pattern".into(), json!("^-?[0-9]+$"));
        }
        (Some("string"), Some("byte")) => {
            out.insert("type".into(), json!("string"));
            out.insert("pattern".into(), json!("^[A-Za-z0-9_\\-]*={0,2}$"));
        }
        // Discovery's `any` (Calendar's working-location fields): no constraint.
        (Some("any"), _) => {}
        (Some(t), _) => {
            out.insert("type".into(), json!(t));
        }
        _ => {}
    }
    if let Some(e) = s.get("enum") {
        out.insert("enum".into(), e.clone());
    }
    if let Some(items) = s.get("items") {
        out.insert("items".into(), convert(items));
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        let p: Map<String, Value> = props.iter().map(|(k, v)| (k.clone(), convert(v))).collect();
        out.insert("properties".into(), Value::Object(p));
    }
    if ty == Some("object") {
        let ap = match s.get("additionalProperties") {
            Some(a) => convert(a),
            None => json!(false),
        };
        out.insert("additionalProperties".into(), ap);
    }
    Value::Object(out)
}

struct Contracts {
    defs: Map<String, Value>,
    /// method id -> response schema name.
    responses: HashMap<String, Option<String>>,
}

impl Contracts {
    fn load() -> Self {
        let doc: Value = serde_json::from_str(DISCOVERY).unwrap();
        let mut defs = Map::new();
        for (name, s) in doc["schemas"].as_object().unwrap() {
            let mut c = convert(s);
            let req = required_everywhere(name);
            if !req.is_empty() {
                c["required"] = json!(req);
            }
            defs.insert(name.clone(), c);
        }
        let methods: Value = serde_json::from_str(METHODS).unwrap();
        let responses = methods["methods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["id"].as_str().unwrap().to_string(),
                    m["response"].as_str().map(str::to_string),
                )
            })
            .collect();
        Contracts { defs, responses }
    }

    fn validator(&self, method: &str) -> Validator {
        let name = self.responses[method]
            .clone()
            .unwrap_or_else(|| panic!("{method} has no response schema"));
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": self.defs,
            "allOf": [{"$ref": format!("#/$defs/{name}")}],
            "required": required_for_method(method),
        });
        jsonschema::validator_for(&schema).expect("schema compiles")
    }

    fn check(&self, method: &str, v: &Value) -> Result<(), String> {
        let val = self.validator(method);
        let errors: Vec<String> = val
            .iter_errors(v)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

struct Run {
    sb: GmailSandbox,
    http: reqwest::Client,
    contracts: Contracts,
    checked: BTreeSet<String>,
}

impl Run {
    fn new() -> Self {
        let sb = GmailSandbox::start(SandboxConfig {
            quotas: false,
            ..Default::default()
        })
        .unwrap();
        Run {
            sb,
            http: reqwest::Client::new(),
            contracts: Contracts::load(),
            checked: BTreeSet::new(),
        }
    }

    /// Calls the emulator and validates a 2xx answer against `method`'s response schema.
    async fn call(&mut self, method: &str, verb: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.sb.base_url(), path);
        let mut rb = self
            .http
            .request(verb.parse().unwrap(), url)
            .bearer_auth("t");
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        self.checked.insert(method.to_string());
        if self.contracts.responses[method].is_none() {
            assert!(
                text.is_empty(),
                "{method} answers an empty body, got {text}"
            );
            return Value::Null;
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        if let Err(e) = self.contracts.check(method, &v) {
            panic!("{method} {path}: response does not match the discovery schema: {e}\n{v}");
        }
        v
    }

    async fn get(&mut self, method: &str, path: &str) -> Value {
        self.call(method, "GET", path, None).await
    }
}

fn raw(s: &str) -> String {
    URL_SAFE.encode(s.replace('\n', "\r\n"))
}

#[tokio::test]
async fn every_response_matches_its_discovery_schema() {
    let mut r = Run::new();
    r.get("gmail.users.getProfile", &format!("{API}/profile"))
        .await;
    let list = r
        .get(
            "gmail.users.messages.list",
            &format!("{API}/messages?includeSpamTrash=true&maxResults=500"),
        )
        .await;
    let ids: Vec<String> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    r.get(
        "gmail.users.messages.list",
        &format!("{API}/messages?q=nothing-matches-this"),
    )
    .await;
    r.get(
        "gmail.users.messages.list",
        &format!("{API}/messages?maxResults=2"),
    )
    .await;
    let mut attachments = Vec::new();
    for id in &ids {
        for format in ["full", "metadata", "minimal", "raw"] {
            let m = r
                .get(
                    "gmail.users.messages.get",
                    &format!("{API}/messages/{id}?format={format}"),
                )
                .await;
            if format == "full" {
                collect_attachments(&m["payload"], &mut |a| attachments.push((id.clone(), a)));
            }
        }
    }
    assert!(attachments.len() >= 3);
    for (id, a) in &attachments {
        r.get(
            "gmail.users.messages.attachments.get",
            &format!("{API}/messages/{id}/attachments/{a}"),
        )
        .await;
    }
    let threads = r
        .get("gmail.users.threads.list", &format!("{API}/threads"))
        .await;
    for t in threads["threads"].as_array().unwrap() {
        let t = t["id"].as_str().unwrap();
        for format in ["full", "metadata", "minimal"] {
            r.get(
                "gmail.users.threads.get",
                &format!("{API}/threads/{t}?format={format}"),
            )
            .await;
        }
    }
    let labels = r
        .get("gmail.users.labels.list", &format!("{API}/labels"))
        .await;
    for l in labels["labels"].as_array().unwrap() {
        r.get(
            "gmail.users.labels.get",
            &format!("{API}/labels/{}", l["id"].as_str().unwrap()),
        )
        .await;
    }
    let drafts = r
        .get("gmail.users.drafts.list", &format!("{API}/drafts"))
        .await;
    let draft_id = drafts["drafts"][0]["id"].as_str().unwrap().to_string();
    r.get(
        "gmail.users.drafts.get",
        &format!("{API}/drafts/{draft_id}"),
    )
    .await;
    r.get(
        "gmail.users.settings.sendAs.list",
        &format!("{API}/settings/sendAs"),
    )
    .await;
    r.get(
        "gmail.users.settings.sendAs.get",
        &format!("{API}/settings/sendAs/ada@example.com"),
    )
    .await;
    let filters = r
        .get(
            "gmail.users.settings.filters.list",
            &format!("{API}/settings/filters"),
        )
        .await;
    let fid = filters["filter"][0]["id"].as_str().unwrap().to_string();
    r.get(
        "gmail.users.settings.filters.get",
        &format!("{API}/settings/filters/{fid}"),
    )
    .await;
    r.get(
        "gmail.users.settings.getVacation",
        &format!("{API}/settings/vacation"),
    )
    .await;

    // Writes.
    let start = r.sb.history_id("ada@example.com");
    let sent = r
        .call(
            "gmail.users.messages.send",
            "POST",
            &format!("{API}/messages/send"),
            Some(json!({"raw": raw("To: grace@example.com\nSubject: contract\n\nhello\n")})),
        )
        .await;
    let sent_id = sent["id"].as_str().unwrap().to_string();
    let ins = r
        .call("gmail.users.messages.insert", "POST", &format!("{API}/messages"), Some(json!({"raw": raw("From: a@example.net\nSubject: ins\n\nx\n"), "labelIds": ["INBOX"]})))
        .await;
    let ins_id = ins["id"].as_str().unwrap().to_string();
    r.call(
        "gmail.users.messages.import",
        "POST",
        &format!("{API}/messages/import"),
        Some(json!({"raw": raw("From: b@example.net\nSubject: imp\n\ny\n")})),
    )
    .await;
    r.call(
        "gmail.users.messages.modify",
        "POST",
        &format!("{API}/messages/{ins_id}/modify"),
        Some(json!({"addLabelIds": ["STARRED"]})),
    )
    .await;
    r.call(
        "gmail.users.messages.trash",
        "POST",
        &format!("{API}/messages/{ins_id}/trash"),
        None,
    )
    .await;
    r.call(
        "gmail.users.messages.untrash",
        "POST",
        &format!("{API}/messages/{ins_id}/untrash"),
        None,
    )
    .await;
    r.call(
        "gmail.users.messages.batchModify",
        "POST",
        &format!("{API}/messages/batchModify"),
        Some(json!({"ids": [ins_id, sent_id], "addLabelIds": ["IMPORTANT"]})),
    )
    .await;
    r.get(
        "gmail.users.history.list",
        &format!("{API}/history?startHistoryId={start}"),
    )
    .await;
    let label = r.call("gmail.users.labels.create", "POST", &format!("{API}/labels"), Some(json!({"name": "Contract", "labelListVisibility": "labelShow", "messageListVisibility": "show"}))).await;
    let lid = label["id"].as_str().unwrap().to_string();
    r.call("gmail.users.labels.update", "PUT", &format!("{API}/labels/{lid}"), Some(json!({"id": lid, "name": "Contract2", "labelListVisibility": "labelShow", "messageListVisibility": "show"}))).await;
    r.call(
        "gmail.users.labels.patch",
        "PATCH",
        &format!("{API}/labels/{lid}"),
        Some(json!({"color": {"textColor": "#000000", "backgroundColor": "#ffffff"}})),
    )
    .await;
    let thread_id = sent["threadId"].as_str().unwrap().to_string();
    r.call(
        "gmail.users.threads.modify",
        "POST",
        &format!("{API}/threads/{thread_id}/modify"),
        Some(json!({"addLabelIds": [lid]})),
    )
    .await;
    r.call(
        "gmail.users.threads.trash",
        "POST",
        &format!("{API}/threads/{thread_id}/trash"),
        None,
    )
    .await;
    r.call(
        "gmail.users.threads.untrash",
        "POST",
        &format!("{API}/threads/{thread_id}/untrash"),
        None,
    )
    .await;
    let d = r
        .call(
            "gmail.users.drafts.create",
            "POST",
            &format!("{API}/drafts"),
            Some(json!({"message": {"raw": raw("To: grace@example.com\nSubject: d\n\nv1\n")}})),
        )
        .await;
    let did = d["id"].as_str().unwrap().to_string();
    r.call("gmail.users.drafts.update", "PUT", &format!("{API}/drafts/{did}"), Some(json!({"id": did, "message": {"raw": raw("To: grace@example.com\nSubject: d\n\nv2\n")}}))).await;
    r.call(
        "gmail.users.drafts.send",
        "POST",
        &format!("{API}/drafts/send"),
        Some(json!({"id": did})),
    )
    .await;
    let d2 = r
        .call(
            "gmail.users.drafts.create",
            "POST",
            &format!("{API}/drafts"),
            Some(json!({"message": {"raw": raw("Subject: gone\n\nx\n")}})),
        )
        .await;
    r.call(
        "gmail.users.drafts.delete",
        "DELETE",
        &format!("{API}/drafts/{}", d2["id"].as_str().unwrap()),
        None,
    )
    .await;
    let f = r.call("gmail.users.settings.filters.create", "POST", &format!("{API}/settings/filters"), Some(json!({"criteria": {"from": "x@example.net"}, "action": {"addLabelIds": ["STARRED"]}}))).await;
    r.call(
        "gmail.users.settings.filters.delete",
        "DELETE",
        &format!("{API}/settings/filters/{}", f["id"].as_str().unwrap()),
        None,
    )
    .await;
    r.call("gmail.users.settings.updateVacation", "PUT", &format!("{API}/settings/vacation"), Some(json!({"enableAutoReply": true, "responseSubject": "Away", "startTime": 1_800_000_000_000_i64, "endTime": "1800000100000"}))).await;
    r.call(
        "gmail.users.watch",
        "POST",
        &format!("{API}/watch"),
        Some(json!({"topicName": "projects/p/topics/t", "labelIds": ["INBOX"]})),
    )
    .await;
    r.call("gmail.users.stop", "POST", &format!("{API}/stop"), None)
        .await;
    r.call(
        "gmail.users.labels.delete",
        "DELETE",
        &format!("{API}/labels/{lid}"),
        None,
    )
    .await;
    r.call(
        "gmail.users.threads.delete",
        "DELETE",
        &format!("{API}/threads/{thread_id}"),
        None,
    )
    .await;
    r.call(
        "gmail.users.messages.delete",
        "DELETE",
        &format!("{API}/messages/{ins_id}"),
        None,
    )
    .await;
    let last = r.sb.mailbox("ada@example.com").unwrap().messages[0]
        .id
        .clone();
    r.call(
        "gmail.users.messages.batchDelete",
        "POST",
        &format!("{API}/messages/batchDelete"),
        Some(json!({"ids": [last]})),
    )
    .await;
    r.get(
        "gmail.users.history.list",
        &format!("{API}/history?startHistoryId={start}&maxResults=3"),
    )
    .await;

    // Every method the emulator serves was exercised and validated.
    let served: BTreeSet<String> =
        r.sb.stats()
            .by_method
            .keys()
            .map(|k| format!("gmail.users.{k}"))
            .collect();
    assert_eq!(served, r.checked);
    assert_eq!(r.checked.len(), 42, "{:?}", r.checked);
}

fn collect_attachments(part: &Value, f: &mut impl FnMut(String)) {
    if let Some(a) = part["body"]["attachmentId"].as_str() {
        f(a.to_string());
    }
    for p in part["parts"].as_array().into_iter().flatten() {
        collect_attachments(p, f);
    }
}

#[tokio::test]
async fn the_validator_rejects_mutated_responses() {
    let mut r = Run::new();
    let id = r.sb.mailbox("ada@example.com").unwrap().messages[0]
        .id
        .clone();
    let good = r
        .get(
            "gmail.users.messages.get",
            &format!("{API}/messages/{id}?format=full"),
        )
        .await;
    let c = &r.contracts;
    assert!(c.check("gmail.users.messages.get", &good).is_ok());

    let mut unknown = good.clone();
    unknown["surprise"] = json!(1);
    assert!(c
        .check("gmail.users.messages.get", &unknown)
        .unwrap_err()
        .contains("surprise"));

    let mut nested_unknown = good.clone();
    nested_unknown["payload"]["headers"][0]["extra"] = json!("x");
    assert!(c
        .check("gmail.users.messages.get", &nested_unknown)
        .is_err());

    let mut wrong_type = good.clone();
    wrong_type["historyId"] = json!(12345);
    assert!(c.check("gmail.users.messages.get", &wrong_type).is_err());

    let mut not_digits = good.clone();
    not_digits["internalDate"] = json!("yesterday");
    assert!(c.check("gmail.users.messages.get", &not_digits).is_err());

    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("labelIds");
    assert!(c
        .check("gmail.users.messages.get", &missing)
        .unwrap_err()
        .contains("labelIds"));

    let mut bad_data = good.clone();
    bad_data["payload"]["body"]["data"] = json!("not base64url!");
    if good["payload"]["body"].get("data").is_some() {
        assert!(c.check("gmail.users.messages.get", &bad_data).is_err());
    }

    let list = json!({"messages": [{"id": "1", "threadId": 2}], "resultSizeEstimate": 1});
    assert!(c.check("gmail.users.messages.list", &list).is_err());
    let label =
        json!({"id": "Label_1", "name": "x", "type": "user", "labelListVisibility": "sometimes"});
    assert!(
        c.check("gmail.users.labels.list", &json!({"labels": [label]}))
            .is_err(),
        "enum values are enforced"
    );
}

#[tokio::test]
async fn batch_parts_match_their_schemas_too() {
    let r = Run::new();
    let ids: Vec<String> =
        r.sb.mailbox("ada@example.com")
            .unwrap()
            .messages
            .iter()
            .map(|m| m.id.clone())
            .collect();
    let mut calls: Vec<(&str, String)> = ids
        .iter()
        .map(|id| {
            (
                "gmail.users.messages.get",
                format!("{API}/messages/{id}?format=metadata&metadataHeaders=Subject"),
            )
        })
        .collect();
    calls.push(("gmail.users.labels.get", format!("{API}/labels/INBOX")));
    calls.push(("gmail.users.getProfile", format!("{API}/profile")));
    let mut body = String::new();
    for (i, (_, path)) in calls.iter().enumerate() {
        body.push_str(&format!("--B\r\nContent-Type: application/http\r\nContent-ID: <c{i}>\r\n\r\nGET {path} HTTP/1.1\r\n\r\n"));
    }
    body.push_str("--B--\r\n");
    let resp = r
        .http
        .post(format!("{}/batch/gmail/v1", r.sb.base_url()))
        .bearer_auth("t")
        .header("content-type", "multipart/mixed; boundary=B")
        .body(body)
        .send()
        .await
        .unwrap();
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    let boundary = ct.split("boundary=").nth(1).unwrap().to_string();
    let text = resp.text().await.unwrap();
    let parts: Vec<&str> = text
        .split(&format!("--{boundary}"))
        .filter(|p| p.contains("HTTP/1.1"))
        .collect();
    assert_eq!(parts.len(), calls.len());
    for part in parts {
        let id: usize = part
            .split("Content-ID: <response-c")
            .nth(1)
            .unwrap()
            .split('>')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let http = part.split_once("\r\n\r\n").unwrap().1;
        assert!(http.starts_with("HTTP/1.1 200 OK"), "{http}");
        let json = http.split_once("\r\n\r\n").unwrap().1.trim_end();
        let v: Value = serde_json::from_str(json).unwrap();
        if let Err(e) = r.contracts.check(calls[id].0, &v) {
            panic!("batched {}: {e}", calls[id].1);
        }
    }
}

#[tokio::test]
async fn real_world_messages_render_within_the_schema() {
    let mut r = Run::new();
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/mime/messages");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        ids.push(r.sb.insert_message("ada@example.com", &bytes, &["INBOX"]));
    }
    for id in &ids {
        for format in ["full", "metadata"] {
            r.get(
                "gmail.users.messages.get",
                &format!("{API}/messages/{id}?format={format}"),
            )
            .await;
        }
    }
    r.get(
        "gmail.users.threads.list",
        &format!("{API}/threads?maxResults=500"),
    )
    .await;
}
