//! Guardrails (issue 22) through `create_app` on both emulators: every policy rule and every
//! path of an approval, for Gmail and Outlook alike (core judges, so the rules are the same;
//! these tests prove the server stores, applies and reports them on each provider).

mod approvals;
mod derived;
mod invitations;
mod policies;

use actix_web::http::{Method, StatusCode};
use sandbox_gmail::GmailSandbox;
use sandbox_outlook::OutlookSandbox;
use serde_json::{json, Value};

use crate::common::harness::{harness_with, Harness, Req, Tenant, CONNECTORS};

pub const USER: &str = "ada@example.com";
pub const KINDS: [&str; 2] = ["gmail", "outlook"];

pub struct Env {
    pub h: Harness,
    pub t: Tenant,
    pub gmail: GmailSandbox,
    pub outlook: OutlookSandbox,
}

pub async fn env() -> Env {
    let quiet = || sandbox_gmail::SandboxConfig {
        quotas: false,
        ..Default::default()
    };
    let gmail = GmailSandbox::start(quiet()).unwrap();
    let outlook = OutlookSandbox::start(quiet()).unwrap();
    let (gb, gt, ob, ot) = (
        gmail.base_url(),
        gmail.token_url(),
        outlook.base_url(),
        outlook.token_url(),
    );
    let h = harness_with(move |c| {
        c.providers.entry("gmail").base_url = Some(gb);
        c.providers.entry("gmail").token_url = Some(gt);
        c.providers.entry("outlook").base_url = Some(ob);
        c.providers.entry("outlook").token_url = Some(ot);
    })
    .await;
    let t = h.tenant("acme").await;
    Env {
        h,
        t,
        gmail,
        outlook,
    }
}

impl Env {
    /// A connector of `kind` for the emulators' user.
    pub async fn connector(&self, kind: &str) -> String {
        let rt = match kind {
            "gmail" => self
                .gmail
                .issue_refresh_token(USER, &["https://mail.google.com/"]),
            _ => self
                .outlook
                .issue_refresh_token(USER, connector_outlook::SCOPES),
        };
        let (s, v) = self
            .h
            .post(
                CONNECTORS,
                &self.t,
                json!({"customer_name": "cust", "connector_type": kind,
                    "credentials": {"refresh_token": rt, "client_id": "cid", "client_secret": "cs"}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    pub async fn run(
        &self,
        id: &str,
        entity: &str,
        action: &str,
        params: Value,
    ) -> (StatusCode, Value) {
        self.run_by(&self.t, id, entity, action, params).await
    }

    pub async fn run_by(
        &self,
        t: &Tenant,
        id: &str,
        entity: &str,
        action: &str,
        params: Value,
    ) -> (StatusCode, Value) {
        self.h
            .post(
                &format!("{CONNECTORS}/{id}/execute"),
                t,
                json!({"entity": entity, "action": action, "params": params}),
            )
            .await
    }

    /// `messages.send` (the same params on both providers).
    pub async fn send(&self, id: &str, params: Value) -> (StatusCode, Value) {
        self.run(id, "messages", "send", params).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.h
            .send(Req::new(Method::PUT, path).by(&self.t).json(body))
            .await
    }

    pub async fn set_policy(&self, id: &str, policy: Value) -> Value {
        let (s, v) = self
            .put(
                &format!("{CONNECTORS}/{id}/policy"),
                json!({"policy": policy}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// How many messages with this subject went out (Sent mail; Outlook's transport finished).
    pub fn sent(&self, kind: &str, subject: &str) -> usize {
        match kind {
            "gmail" => self
                .gmail
                .mailbox(USER)
                .unwrap()
                .messages
                .iter()
                .filter(|m| m.label_ids.iter().any(|l| l == "SENT"))
                .filter(|m| String::from_utf8_lossy(&m.raw).contains(subject))
                .count(),
            _ => {
                self.outlook.finish_transport();
                self.outlook
                    .messages_in(USER, "sentitems")
                    .iter()
                    .filter(|m| m["subject"].as_str() == Some(subject))
                    .count()
            }
        }
    }
}

/// Asserts a refusal by the policy: this status and code, `details.rule` and an
/// `allowed_by` that says what would allow it.
#[track_caller]
pub fn assert_refused(got: &(StatusCode, Value), status: u16, rule: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    let d = &got.1["error"]["details"];
    assert_eq!(d["rule"], rule, "{}", got.1);
    assert!(
        d["allowed_by"].as_str().is_some_and(|s| !s.is_empty()),
        "{}",
        got.1
    );
    assert!(
        got.1["error"]["message"].as_str().unwrap().contains(rule),
        "the message names the rule: {}",
        got.1
    );
}
