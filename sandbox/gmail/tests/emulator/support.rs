//! Shared helpers of the emulator tests.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use sandbox_gmail::{GmailSandbox, SandboxConfig, Seed};
use serde_json::Value;

pub const API: &str = "/gmail/v1/users/me";

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Client {
    pub fn new(sb: &GmailSandbox, token: &str) -> Self {
        Client {
            http: reqwest::Client::new(),
            base: sb.base_url(),
            token: token.to_string(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Like [`Client::get`], taking the path by value (for futures that outlive a borrow).
    pub async fn get_owned(&self, path: String) -> (u16, Value) {
        self.get(&path).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Ids of messages.list for a query string.
    pub async fn ids(&self, query: &str) -> Vec<String> {
        let (s, v) = self.get(&format!("{API}/messages?{query}")).await;
        assert_eq!(s, 200, "{query}: {v}");
        v["messages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| m["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn start(cfg: SandboxConfig) -> GmailSandbox {
    GmailSandbox::start(cfg).expect("sandbox starts")
}

pub fn demo() -> GmailSandbox {
    start(SandboxConfig::default())
}

/// The id of ada's message whose raw bytes contain `needle`.
pub fn id_of(sb: &GmailSandbox, needle: &str) -> String {
    let mb = sb.mailbox("ada@example.com").unwrap();
    mb.messages
        .iter()
        .find(|m| String::from_utf8_lossy(&m.raw).contains(needle))
        .unwrap_or_else(|| panic!("no message contains {needle}"))
        .id
        .clone()
}

pub fn subjects_of(sb: &GmailSandbox, ids: &[String]) -> Vec<String> {
    let mb = sb.mailbox("ada@example.com").unwrap();
    ids.iter()
        .map(|id| {
            let raw = String::from_utf8_lossy(&mb.message(id).unwrap().raw).into_owned();
            raw.lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// The demo seed without quotas.
pub fn start_unmetered() -> GmailSandbox {
    GmailSandbox::start(SandboxConfig {
        seed: Seed::Demo,
        quotas: false,
        ..Default::default()
    })
    .unwrap()
}

pub async fn call(
    sb: &GmailSandbox,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", sb.base_url()))
        .bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let s = r.status().as_u16();
    let t = r.text().await.unwrap();
    (s, serde_json::from_str(&t).unwrap_or(Value::Null))
}

pub fn b64(s: &str) -> String {
    URL_SAFE.encode(s.replace('\n', "\r\n"))
}

pub fn raw_of(sb: &GmailSandbox, user: &str, id: &str) -> String {
    String::from_utf8_lossy(&sb.mailbox(user).unwrap().message(id).unwrap().raw).into_owned()
}

/// A token for grace: with no rules, every bearer is ada, so issue one through the token endpoint.
pub async fn grace_token(sb: &GmailSandbox) -> String {
    let rt = sb.issue_refresh_token(
        "grace@example.com",
        &["https://mail.google.com/", "gmail.settings.basic"],
    );
    let v: Value = reqwest::Client::new()
        .post(sb.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", "c"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_string()
}
