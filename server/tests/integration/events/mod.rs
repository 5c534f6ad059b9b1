//! Events (issue 20): mailbox changes in the emulators become exactly one event each in the
//! feed and at the webhook, in order, across duplicates, expired cursors, failing receivers and
//! restarts.

mod calendar;
mod delivery;
mod gmail;
mod gmail_push;
mod outlook;
mod outlook_push;
mod replicas;

use std::time::{Duration, Instant};

use connector_core::Secret;
use sandbox_gmail::GmailSandbox;
use sandbox_outlook::OutlookSandbox;
use serde_json::{json, Value};
use server::config::ProviderConfig;
use server::services::events::Workers;

use crate::common::harness::{harness_with, Harness, Tenant};

pub const USER: &str = "ada@example.com";
pub const CONNECTORS: &str = "/api/v1/integrations/connectors";

pub struct Env {
    pub h: Harness,
    pub t: Tenant,
    pub gmail: GmailSandbox,
    pub outlook: OutlookSandbox,
    pub workers: Option<Workers>,
}

fn provider(base_url: String, token_url: String) -> ProviderConfig {
    ProviderConfig {
        client_id: Some("platform-client".into()),
        client_secret: Some(Secret::new("platform-secret")),
        base_url: Some(base_url),
        token_url: Some(token_url),
        ..Default::default()
    }
}

/// Both emulators (no quotas), a server polling every 150 ms whose webhook retries every
/// 100 ms, an organization; the event loops running.
pub async fn env() -> Env {
    env_with(|_| {}).await
}

pub async fn env_with(tweak: impl FnOnce(&mut server::Config)) -> Env {
    let quiet = || sandbox_gmail::SandboxConfig {
        quotas: false,
        ..Default::default()
    };
    let gmail = GmailSandbox::start(quiet()).unwrap();
    let outlook = OutlookSandbox::start(quiet()).unwrap();
    let (g, o) = (
        provider(gmail.base_url(), gmail.token_url()),
        provider(outlook.base_url(), outlook.token_url()),
    );
    let h = harness_with(move |c| {
        *c.providers.entry("gmail") = g;
        *c.providers.entry("outlook") = o;
        c.events.poll_interval = Duration::from_millis(150);
        c.events.backoff = vec![Duration::from_millis(100)];
        c.events.tick = Duration::from_millis(50);
        // Tests stop the loops mid-work (a stopped server): its leases run out soon.
        c.events.lease = Duration::from_secs(2);
        tweak(c);
    })
    .await;
    let t = h.tenant("acme").await;
    let workers = Some(h.state.services.events.spawn());
    Env {
        h,
        t,
        gmail,
        outlook,
        workers,
    }
}

impl Env {
    /// The app on a real port (push notifications need an endpoint to POST to): its root URL.
    pub fn serve(&self) -> (String, actix_web::dev::ServerHandle) {
        serve_state(&self.h)
    }

    /// A connector of `kind` for the emulators' default user; waits until its first poll has
    /// set the cursor (from then on changes are news).
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
                    "credentials": {"refresh_token": rt}}),
            )
            .await;
        assert_eq!(s.as_u16(), 201, "{v}");
        let id = v["id"].as_str().unwrap().to_string();
        self.wait_cursor(&id).await;
        id
    }

    pub async fn wait_cursor(&self, id: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(c) = self.h.state.store.stream_cursor(id).await.unwrap() {
                return c;
            }
            assert!(Instant::now() < deadline, "no first poll of {id}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn settings(&self, body: Value) {
        let (s, v) = self
            .h
            .send(
                crate::common::harness::Req::new(
                    actix_web::http::Method::PUT,
                    "/api/v1/organization/settings",
                )
                .by(&self.t)
                .json(body),
            )
            .await;
        assert_eq!(s.as_u16(), 200, "{v}");
    }

    pub async fn execute(&self, id: &str, entity: &str, action: &str, params: Value) -> Value {
        let (s, v) = self
            .h
            .post(
                &format!("{CONNECTORS}/{id}/execute"),
                &self.t,
                json!({"entity": entity, "action": action, "params": params}),
            )
            .await;
        assert_eq!(s.as_u16(), 200, "{v}");
        v
    }

    /// One page of the feed.
    pub async fn feed(&self, id: &str, after: &str, wait: u64) -> Value {
        let (s, v) = self
            .h
            .get(
                &format!("{CONNECTORS}/{id}/events?after={after}&wait={wait}"),
                &self.t,
            )
            .await;
        assert_eq!(s.as_u16(), 200, "{v}");
        v
    }

    /// Every event of the connector once `n` are there, and after a quiet while no more: the
    /// check that a change makes exactly one event.
    pub async fn exactly(&self, id: &str, n: usize) -> Vec<Value> {
        // Generous: a poll that fails backs off from 1 s, doubling, and the suite runs on busy
        // machines; the check is that exactly `n` come, not how fast.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut all = Vec::new();
        let mut cursor = "0".to_string();
        while all.len() < n {
            assert!(
                Instant::now() < deadline,
                "{} events of {n}: {all:#?}",
                all.len()
            );
            let page = self.feed(id, &cursor, 1).await;
            cursor = page["next_cursor"].as_str().unwrap().to_string();
            all.extend(page["data"].as_array().unwrap().iter().cloned());
        }
        // Several poll intervals later, nothing more came.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let more = self.feed(id, &cursor, 0).await;
        assert_eq!(
            more["data"],
            json!([]),
            "more events than changes: {all:#?}"
        );
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e["sequence"], json!(i as i64 + 1), "in order without gaps");
            assert_eq!(e["connector_id"], json!(id));
        }
        all
    }
}

/// A harness's app on a real port: its root URL.
pub fn serve_state(h: &Harness) -> (String, actix_web::dev::ServerHandle) {
    let state = h.state.clone();
    let server = actix_web::HttpServer::new(move || server::create_app(state.clone()))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);
    (format!("http://{addr}"), handle)
}

/// The types of a list of events.
pub fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}
