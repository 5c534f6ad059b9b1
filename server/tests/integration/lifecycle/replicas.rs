//! Several `connectors serve` processes on one database, with the real authorization server
//! (oidc-provider: rotation with reuse detection) or the Gmail emulator's token endpoint.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{json, Value};
use server::config::ServeArgs;
use server::registry::Registry;
use server::{AppState, Config};

use super::issuer::Provider;
use super::support::{self, assert_signed, Receiver};

const BIN: &str = env!("CARGO_BIN_EXE_connectors");
const CONNECTORS: &str = "/api/v1/integrations/connectors";
const SECRET: &str = "whsec_replicas";

/// The shared database of one test (dropped with it).
pub struct Db {
    pub url: String,
    _guard: Box<dyn std::any::Any + Send>,
}

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database all the test's processes share: a fresh PostgreSQL database (None: PostgreSQL
/// unreachable outside CI, skipped loudly), or a SQLite file in `dir`.
pub async fn shared_db(backend: Backend, dir: &Path) -> Option<Db> {
    match backend {
        Backend::Postgres => {
            let db = crate::common::pgdb::fresh().await?;
            Some(Db {
                url: db.url().to_string(),
                _guard: Box::new(db),
            })
        }
        Backend::Sqlite => Some(Db {
            url: format!("sqlite://{}", dir.join("shared.db").display()),
            _guard: Box::new(()),
        }),
    }
}

/// One `connectors serve` process; killed (SIGKILL) when dropped.
pub struct Proc {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test's world: the emulator, the database, the master key, an organization with an
/// application token, and an in-process view of the same database (for setup and checks).
pub struct World {
    pub provider: Provider,
    pub db: Db,
    pub master_key: String,
    pub state: AppState,
    pub org: String,
    pub token: String,
    pub client_id: String,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl World {
    pub async fn new(provider: Provider, backend: Backend) -> Option<World> {
        let dir = tempfile::tempdir().unwrap();
        let db = shared_db(backend, dir.path()).await?;
        let master_key = server::vault::MasterKey::generate();
        let config = Config::resolve(ServeArgs {
            data_dir: Some(dir.path().join("setup")),
            database_url: Some(db.url.clone()),
            master_key: Some(master_key.clone()),
            ..Default::default()
        })
        .unwrap();
        let registry = Registry::builtin(&config.providers);
        let state = AppState::with_registry(config, registry).await.unwrap();
        let org = state.store.create_org("acme").await.unwrap();
        let app = server::auth::create_application(&state.store, &org.id)
            .await
            .unwrap();
        let token = server::auth::issue_token(
            &state.store,
            &app.client_id,
            app.client_secret.expose(),
            3600,
        )
        .await
        .unwrap_or_else(|_| panic!("token"));
        Some(World {
            provider,
            db,
            master_key,
            state,
            org: org.id,
            token: token.access_token.expose().to_string(),
            client_id: app.client_id,
            dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
        })
    }

    /// Starts a server; `env` adds or overrides variables.
    pub async fn serve(&self, name: &str, env: &[(&str, String)]) -> Proc {
        let port = free_port();
        let data_dir = self.dir.path().join(name);
        std::fs::create_dir_all(&data_dir).unwrap();
        let log = self.dir.path().join(format!("{name}.log"));
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .env("CONNECTORS_BIND", format!("127.0.0.1:{port}"))
            .env("CONNECTORS_DATA_DIR", &data_dir)
            .env("CONNECTORS_DATABASE_URL", &self.db.url)
            .env("CONNECTORS_MASTER_KEY", &self.master_key)
            .env("CONNECTORS_GMAIL_CLIENT_ID", self.provider.client().0)
            .env("CONNECTORS_GMAIL_CLIENT_SECRET", self.provider.client().1)
            .env("CONNECTORS_GMAIL_BASE_URL", self.provider.gmail.base_url())
            .env("CONNECTORS_GMAIL_TOKEN_URL", self.provider.token_url())
            .env("CONNECTORS_HEALTH_CHECK_INTERVAL_SECS", "0")
            // The refresh counts these tests make are not to be disturbed by mailbox polls.
            .env("CONNECTORS_POLL_INTERVAL_MS", "0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let proc = Proc {
            child: cmd.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self
                .http
                .get(format!("{}/readyz", proc.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return proc;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server {name} did not start: {}", proc.log_text());
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        p: &Proc,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", p.base))
            .bearer_auth(&self.token)
            .header("X-Organization-Id", &self.org)
    }

    /// A Gmail connector made through `p` whose stored access token has expired; its id and
    /// the refresh token it was given.
    pub async fn expired_connector(&self, p: &Proc) -> (String, String) {
        let (at, rt) = self.provider.grant().await;
        let r = self
            .request(reqwest::Method::POST, p, CONNECTORS)
            .json(&json!({"customer_name": "cust", "connector_type": "gmail",
                "credentials": {"access_token": at, "refresh_token": rt}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let v: Value = r.json().await.unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        self.expire(&id).await;
        (id, rt)
    }

    pub async fn expire(&self, id: &str) {
        support::expire_stored(&self.state.store, &self.state.vault, &self.org, id).await;
    }

    pub async fn stored(&self, id: &str) -> server::credentials::StoredCredentials {
        support::stored(&self.state.store, &self.state.vault, &self.org, id).await
    }

    pub async fn status(&self, id: &str) -> String {
        self.state
            .store
            .get_connector(&self.org, id)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    pub async fn execute(&self, p: &Proc, id: &str) -> (u16, Value) {
        let r = self
            .request(
                reqwest::Method::POST,
                p,
                &format!("{CONNECTORS}/{id}/execute"),
            )
            .json(&json!({"entity": "messages", "action": "list", "params": {"max_results": 1}}))
            .send()
            .await;
        match r {
            Ok(r) => {
                let s = r.status().as_u16();
                (s, r.json().await.unwrap_or(Value::Null))
            }
            Err(e) => (0, json!({"transport_error": e.to_string()})),
        }
    }

    /// Checks the stored refresh token is the newest one: the original is dead, the stored one
    /// is live (this rotates it once more: call it last).
    pub async fn assert_newest_refresh_token(&self, id: &str, original: &str) {
        let stored = self.stored(id).await;
        let newest = stored.get("refresh_token").unwrap().expose().to_string();
        assert_ne!(newest, original, "the rotated refresh token was stored");
        assert!(
            self.provider.refresh_works(&newest).await,
            "the stored refresh token is the live one"
        );
        assert!(!self.provider.refresh_works(original).await);
    }
}

async fn stampede(w: World) {
    let procs = [
        w.serve("a", &[]).await,
        w.serve("b", &[]).await,
        w.serve("c", &[]).await,
    ];
    let (id, original) = w.expired_connector(&procs[0]).await;
    let before = w.provider.token_requests();
    let results = join_all((0..300).map(|i| w.execute(&procs[i % 3], &id))).await;
    let failed: Vec<_> = results.iter().filter(|(s, _)| *s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of 300 failed, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    assert_eq!(
        w.provider.token_requests() - before,
        1,
        "exactly one refresh reached the token endpoint"
    );
    for p in &procs {
        let log = p.log_text();
        assert!(!log.contains("invalid_grant"), "{log}");
    }
    assert_eq!(w.status(&id).await, "active");
    w.assert_newest_refresh_token(&id, &original).await;
}

async fn killed_holder(w: World, hold: Duration, expect_lock_timeouts: bool) {
    // The doomed server's token endpoint never answers: it takes the lock, sends its token
    // request there and waits inside it (its refresh timeout is far above `hold`).
    let stall = support::StalledTokenEndpoint::start();
    let mut doomed = w
        .serve("doomed", &[("CONNECTORS_GMAIL_TOKEN_URL", stall.url())])
        .await;
    let a = w.serve("a", &[]).await;
    let b = w.serve("b", &[]).await;
    let (id, original) = w.expired_connector(&a).await;
    let before = w.provider.token_requests();

    // The doomed server takes the lock and stops in its token request.
    let doomed_call = {
        let req = w
            .request(
                reqwest::Method::POST,
                &doomed,
                &format!("{CONNECTORS}/{id}/execute"),
            )
            .json(&json!({"entity": "messages", "action": "list", "params": {}}));
        tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stall.was_called() {
        assert!(
            Instant::now() < deadline,
            "the lock was not taken: {}",
            doomed.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Others queue up behind the lock meanwhile.
    let waiting = {
        let calls: Vec<_> = (0..20)
            .map(|i| {
                let req = w
                    .request(
                        reqwest::Method::POST,
                        if i % 2 == 0 { &a } else { &b },
                        &format!("{CONNECTORS}/{id}/execute"),
                    )
                    .json(&json!({"entity": "messages", "action": "list", "params": {}}));
                tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) })
            })
            .collect();
        calls
    };
    // Held longer than PostgreSQL's lock timeout (5 s): waiters give up, re-read, try again.
    tokio::time::sleep(hold).await;
    assert_eq!(w.provider.token_requests(), before, "the holder is paused");
    assert!(
        waiting.iter().all(|c| !c.is_finished()),
        "the others wait for the lock"
    );
    // SIGKILL: no clean shutdown, the connection just dies.
    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();
    assert!(doomed_call.await.unwrap().is_err(), "the doomed call died");

    for c in waiting {
        assert_eq!(c.await.unwrap().unwrap(), 200);
    }
    assert_eq!(
        w.provider.token_requests() - before,
        1,
        "the survivors refreshed once"
    );
    // Nothing half-written: the stored credential decrypts and is active.
    assert_eq!(w.status(&id).await, "active");
    w.assert_newest_refresh_token(&id, &original).await;
    for p in [&a, &b] {
        assert!(!p.log_text().contains("invalid_grant"));
    }
    if expect_lock_timeouts {
        let logs = a.log_text() + &b.log_text();
        assert!(
            logs.contains("refresh lock busy; re-reading"),
            "a waiter hit the lock timeout and retried: {logs}"
        );
    }
}

async fn revoked_grant(w: World) {
    let health = [
        ("CONNECTORS_HEALTH_CHECK_INTERVAL_SECS", "1".to_string()),
        ("CONNECTORS_HEALTH_CHECK_IDLE_SECS", "2".to_string()),
    ];
    let procs = [
        w.serve("a", &health).await,
        w.serve("b", &health).await,
        w.serve("c", &health).await,
    ];
    let hooks = Receiver::start();
    let r = w
        .request(
            reqwest::Method::PUT,
            &procs[0],
            "/api/v1/organization/settings",
        )
        .json(&json!({"webhook_url": hooks.url, "webhook_secret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (id, _) = w.expired_connector(&procs[1]).await;

    // No user call: the health checks refresh the idle connector on their own.
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.provider.token_requests() < 2 {
        assert!(Instant::now() < deadline, "no health check refresh");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(w.status(&id).await, "active");

    // The user revokes the grant at the provider (the live refresh token: it rotates under us).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rt = w.stored(&id).await;
        if w.provider
            .revoke(rt.get("refresh_token").unwrap().expose())
            .await
        {
            break;
        }
        assert!(Instant::now() < deadline, "could not revoke the live token");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = hooks
        .wait_for("needs_reauth", Duration::from_secs(30))
        .await;
    assert_signed(&got, SECRET);
    let body = got.json();
    assert_eq!(body["connector_id"], id.as_str());
    assert_eq!(body["previous_status"], "active");
    assert_eq!(w.status(&id).await, "needs_reauth");
    // The user's call fails fast, and no replica sent a second event.
    let (s, v) = w.execute(&procs[2], &id).await;
    assert_eq!(s, 424, "{v}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let needs = hooks
        .received()
        .into_iter()
        .filter(|r| r.json()["status"] == "needs_reauth")
        .count();
    assert_eq!(needs, 1);

    // Re-authorization: `active`.
    let (_, rt) = w.provider.grant().await;
    let r = w
        .request(
            reqwest::Method::PATCH,
            &procs[2],
            &format!("{CONNECTORS}/{id}"),
        )
        .json(&json!({"credentials": {"refresh_token": rt}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let got = hooks.wait_for("active", Duration::from_secs(30)).await;
    assert_signed(&got, SECRET);
    assert_eq!(got.json()["previous_status"], "needs_reauth");
    let (s, v) = w.execute(&procs[0], &id).await;
    assert_eq!(s, 200, "{v}");

    // The credential endpoint: refused for an application the organization did not allow.
    let r = w
        .request(
            reqwest::Method::GET,
            &procs[1],
            &format!("/connectors/{id}/credential"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "permission_denied", "{v}");
    let r = w
        .request(
            reqwest::Method::PUT,
            &procs[0],
            "/api/v1/organization/settings",
        )
        .json(&json!({"raw_credential_apps": [w.client_id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = w
        .request(
            reqwest::Method::GET,
            &procs[2],
            &format!("{CONNECTORS}/{id}/credential"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    let token = v["access_token"].as_str().unwrap();
    let api = w
        .http
        .get(format!(
            "{}/gmail/v1/users/me/profile",
            w.provider.gmail.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(api.status().is_success(), "the token works at the provider");
    // Each read is logged, never with the token.
    let logs: String = procs.iter().map(|p| p.log_text()).collect();
    assert!(logs.contains("raw credential read"), "{logs}");
    assert!(!logs.contains(token));
}

/// The proofs: one PostgreSQL database, the real authorization server (rotation + reuse
/// detection).
mod postgres_real_as {
    use super::*;

    const HOLD: Duration = Duration::from_secs(7);
    const LOCK_TIMEOUTS: bool = true;

    async fn world() -> Option<World> {
        // Database first: its skip note is the one to see when PostgreSQL is missing.
        let probe = crate::common::pgdb::fresh().await?;
        drop(probe);
        World::new(Provider::real()?, Backend::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn three_servers_make_one_refresh_for_300_concurrent_executes() {
        let Some(w) = world().await else { return };
        stampede(w).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_server_killed_while_holding_the_refresh_lock_stops_no_one() {
        let Some(w) = world().await else { return };
        killed_holder(w, HOLD, LOCK_TIMEOUTS).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_revoked_grant_is_found_by_the_health_check_and_reported_by_signed_webhooks() {
        let Some(w) = world().await else { return };
        revoked_grant(w).await;
    }
}

/// The same on one SQLite file (several processes on one host), with the Gmail emulator's
/// token endpoint (no node needed).
mod sqlite_emulator {
    use super::*;

    /// Under SQLite's 10 s busy timeout: the waiters simply wait.
    const HOLD: Duration = Duration::from_secs(2);
    const LOCK_TIMEOUTS: bool = false;

    async fn world() -> Option<World> {
        World::new(Provider::emulator(), Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn three_servers_make_one_refresh_for_300_concurrent_executes() {
        let Some(w) = world().await else { return };
        stampede(w).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_server_killed_while_holding_the_refresh_lock_stops_no_one() {
        let Some(w) = world().await else { return };
        killed_holder(w, HOLD, LOCK_TIMEOUTS).await;
    }
}
