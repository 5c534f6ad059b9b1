//! The context store (issue 23): mailboxes replicated into the server's database, kept fresh
//! by the mailbox events, searched with `messages.search`; on SQLite and on PostgreSQL.

mod backfill;
mod config;
mod consistency;
mod search;

use std::time::{Duration, Instant};

use actix_web::http::Method;
use connector_core::Secret;
use sandbox_gmail::GmailSandbox;
use sandbox_gmail::Seed;
use sandbox_outlook::OutlookSandbox;
use serde_json::{json, Value};
use server::config::ProviderConfig;
use server::services::context::{ContextConfig, Worker};
use server::services::events::Workers;

use crate::common::harness::{harness_with, Harness, Req, Tenant};
use crate::common::pgdb::{self, TestDb};

pub const USER: &str = "ada@example.com";
pub const CONNECTORS: &str = "/api/v1/integrations/connectors";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct Env {
    pub h: Harness,
    pub t: Tenant,
    pub gmail: GmailSandbox,
    pub outlook: OutlookSandbox,
    _events: Option<Workers>,
    pub context: Option<Worker>,
    _db: Option<TestDb>,
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

/// A fast context worker for tests.
pub fn fast() -> ContextConfig {
    ContextConfig {
        tick: Duration::from_millis(50),
        discover_every: Duration::from_millis(200),
        lease: Duration::from_secs(2),
        retry: Duration::from_millis(300),
        pages_per_claim: 5,
        wait_for_events: true,
    }
}

/// Both emulators (no quotas, empty), a server on `db` polling every 150 ms, an organization;
/// the events and context loops running. `None` when PostgreSQL is wanted and not reachable
/// outside CI.
pub async fn env(db: Db) -> Option<Env> {
    env_seeded(db, "outlook", Seed::Empty).await
}

/// [`env`] with the emulator of `kind` (`gmail` or `outlook`) seeded with `seed`.
pub async fn env_seeded(db: Db, kind: &str, seed: Seed) -> Option<Env> {
    let pg = match db {
        Db::Postgres => Some(pgdb::fresh().await?),
        Db::Sqlite => None,
    };
    let quiet = |seed| sandbox_gmail::SandboxConfig {
        quotas: false,
        seed,
        ..Default::default()
    };
    let (gmail_seed, outlook_seed) = match kind {
        "gmail" => (seed, Seed::Empty),
        _ => (Seed::Empty, seed),
    };
    let gmail = GmailSandbox::start(quiet(gmail_seed)).unwrap();
    let outlook = OutlookSandbox::start(quiet(outlook_seed)).unwrap();
    let (g, o) = (
        provider(gmail.base_url(), gmail.token_url()),
        provider(outlook.base_url(), outlook.token_url()),
    );
    let url = pg.as_ref().map(|d| d.url().to_string());
    let h = harness_with(move |c| {
        *c.providers.entry("gmail") = g;
        *c.providers.entry("outlook") = o;
        if let Some(url) = url {
            c.database_url = url;
        }
        c.events.poll_interval = Duration::from_millis(150);
        c.events.tick = Duration::from_millis(50);
        c.events.lease = Duration::from_secs(2);
        c.context = fast();
    })
    .await;
    let t = h.tenant("acme").await;
    let events = Some(h.state.services.events.spawn());
    let context = Some(h.state.services.context.spawn());
    Some(Env {
        h,
        t,
        gmail,
        outlook,
        _events: events,
        context,
        _db: pg,
    })
}

impl Env {
    /// A connector of `kind` for the emulators' default user with this replication config.
    pub async fn connector(&self, kind: &str, replication: Value) -> String {
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
                    "credentials": {"refresh_token": rt}, "replication_config": replication}),
            )
            .await;
        assert_eq!(s.as_u16(), 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    pub async fn status(&self, id: &str) -> Value {
        let (s, v) = self
            .h
            .get(&format!("{CONNECTORS}/{id}/status"), &self.t)
            .await;
        assert_eq!(s.as_u16(), 200, "{v}");
        v
    }

    /// Waits until the connector's backfill is complete.
    pub async fn wait_live(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.status(id).await;
            if v["replication"]["state"] == "live" {
                return v;
            }
            assert!(Instant::now() < deadline, "never live: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
        assert_eq!(s.as_u16(), 200, "{entity}.{action} {params}: {v}");
        v
    }

    pub async fn patch(&self, id: &str, body: Value) -> Value {
        let (s, v) = self
            .h
            .send(
                Req::new(Method::PATCH, format!("{CONNECTORS}/{id}"))
                    .by(&self.t)
                    .json(body),
            )
            .await;
        assert_eq!(s.as_u16(), 200, "{v}");
        v
    }

    /// Every id a search finds (all pages), sorted, and the source that answered.
    pub async fn search_ids(&self, id: &str, params: &Value) -> (Vec<String>, String) {
        let mut ids = Vec::new();
        let mut p = params.clone();
        p["max_results"] = json!(100);
        let mut source = String::new();
        for _ in 0..50 {
            let v = self.execute(id, "messages", "search", p.clone()).await;
            source = v["connector_metadata"]["source"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            for h in v["result"].as_array().unwrap() {
                ids.push(h["id"].as_str().unwrap().to_string());
            }
            match v["connector_metadata"]["next_page_token"].as_str() {
                Some(t) => p["page_token"] = json!(t),
                None => break,
            }
        }
        ids.sort();
        ids.dedup();
        (ids, source)
    }

    pub async fn count(&self, id: &str) -> i64 {
        self.h.state.store.context_count(id).await.unwrap()
    }
}
