//! Two `connectors serve` processes (the built binary) on one PostgreSQL database, as two
//! replicas behind a load balancer: what one creates, the other serves; an idempotency key
//! spans both; a revocation through one is refused by the other as soon as its NOTIFY arrives
//! (it empties the other's verified-token cache); so is a send under a policy set through the other (the same
//! NOTIFY ends the other's cached policy).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::pgdb;

const BIN: &str = env!("CARGO_BIN_EXE_connectors");
const METRICS_TOKEN: &str = "replicas-metrics-token";

struct Replica {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    fn log(&self) -> String {
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

/// `connectors serve` on the database with the shared master key; `--sandbox` on the first.
async fn start(dir: &Path, database_url: &str, master_key: &str, sandbox: bool) -> Replica {
    let port = free_port();
    let log = dir.join("serve.log");
    let mut cmd = Command::new(BIN);
    cmd.arg("serve");
    if sandbox {
        cmd.arg("--sandbox");
    }
    let child = cmd
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "--database-url",
            database_url,
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .env("CONNECTORS_MASTER_KEY", master_key)
        .env("CONNECTORS_METRICS_TOKEN", METRICS_TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let replica = Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    let http = reqwest::Client::new();
    for _ in 0..600 {
        let up = http
            .get(format!("{}/healthz", replica.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up && (!sandbox || dir.join("sandbox.json").exists()) {
            return replica;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("a replica did not start: {}", replica.log());
}

struct Caller {
    http: reqwest::Client,
    token: String,
    org: String,
}

impl Caller {
    /// As the application, with a token issued through `base`.
    async fn issued(base: &str, client_id: &str, secret: &str, org: &str) -> Caller {
        let issued: Value = token(base, client_id, secret).await.json().await.unwrap();
        Caller {
            http: reqwest::Client::new(),
            token: issued["access_token"].as_str().unwrap().to_string(),
            org: org.to_string(),
        }
    }

    async fn execute(&self, base: &str, connector: &str, body: Value) -> (u16, bool, Value) {
        let r = self
            .http
            .post(format!(
                "{base}/api/v1/integrations/connectors/{connector}/execute"
            ))
            .bearer_auth(&self.token)
            .header("X-Organization-Id", &self.org)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let replayed = r
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        (status, replayed, r.json().await.unwrap_or(Value::Null))
    }

    /// A send without an idempotency key through `base`, which the connector's policy judges.
    async fn policy_probe(&self, base: &str, connector: &str, subject: &str) -> (u16, Value) {
        let body = json!({"entity": "messages", "action": "send",
            "params": {"to": ["grace@example.com"], "subject": subject, "text": "policy"}});
        let (status, _, v) = self.execute(base, connector, body).await;
        (status, v)
    }

    /// [`Caller::policy_probe`] until it answers `want`: a policy change through the other
    /// replica is announced by a NOTIFY that arrives a moment after that replica answers, and on
    /// a loaded machine the next request can be faster (up to 20 tries in a second). The last
    /// answer.
    async fn policy_probe_until(
        &self,
        base: &str,
        connector: &str,
        subject: &str,
        want: u16,
    ) -> (u16, Value) {
        let mut last = (0, Value::Null);
        for _ in 0..20 {
            last = self.policy_probe(base, connector, subject).await;
            if last.0 == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        last
    }

    /// Sets the connector's policy through `base` (`null`: removes it).
    async fn set_policy(&self, base: &str, connector: &str, policy: Value) {
        let r = self
            .http
            .put(format!(
                "{base}/api/v1/integrations/connectors/{connector}/policy"
            ))
            .bearer_auth(&self.token)
            .header("X-Organization-Id", &self.org)
            .json(&json!({ "policy": policy }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    /// Sent messages with this subject, read through `base`.
    async fn sent_copies(&self, base: &str, connector: &str, subject: &str) -> usize {
        let (status, _, listed) = self
            .execute(
                base,
                connector,
                json!({"entity": "messages", "action": "list",
                    "params": {"q": format!("in:sent subject:\"{subject}\""), "max_results": 50}}),
            )
            .await;
        assert_eq!(status, 200, "{listed}");
        listed["result"].as_array().map_or(0, Vec::len)
    }
}

async fn token(base: &str, client_id: &str, secret: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/account/applications/token"))
        .json(&json!({"client_id": client_id, "client_secret": secret}))
        .send()
        .await
        .unwrap()
}

fn send_body(key: &str, subject: &str) -> Value {
    json!({"entity": "messages", "action": "send", "idempotency_key": key,
        "params": {"to": ["grace@example.com"], "subject": subject, "text": "from a replica"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_serve_processes_on_one_postgres_database_act_as_one_service() {
    let Some(db) = pgdb::fresh().await else {
        return;
    };
    let master_key = hex::encode(rand::random::<[u8; 32]>());
    let root = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (root.path().join("a"), root.path().join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    // A creates the sandbox organization, application and connectors (its emulators run in
    // its process); B has neither a sandbox nor anything of its own on disk.
    let a = start(&dir_a, db.url(), &master_key, true).await;
    let b = start(&dir_b, db.url(), &master_key, false).await;
    assert!(
        !dir_b.join("master.key").exists() && !dir_b.join("connectors.db").exists(),
        "B keeps nothing on disk"
    );
    let sandbox: Value =
        serde_json::from_str(&std::fs::read_to_string(dir_a.join("sandbox.json")).unwrap())
            .unwrap();
    let client_id = sandbox["client_id"].as_str().unwrap();
    let secret = sandbox["client_secret"].as_str().unwrap();
    let gmail = sandbox["connectors"]["gmail"].as_str().unwrap();

    // A token issued by A is accepted by B, and B executes the connector A created.
    let org = sandbox["organization_id"].as_str().unwrap();
    let caller = Caller::issued(&a.base, client_id, secret, org).await;
    let (status, _, listed) = caller
        .execute(
            &b.base,
            gmail,
            json!({"entity": "messages", "action": "list", "params": {"max_results": 5}}),
        )
        .await;
    assert_eq!(status, 200, "{listed}\nB: {}", b.log());
    assert!(listed["result"][0]["id"].is_string(), "{listed}");
    let listing: Value = caller
        .http
        .get(format!("{}/api/v1/integrations/connectors", b.base))
        .bearer_auth(&caller.token)
        .header("X-Organization-Id", &caller.org)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listing.to_string().contains(gmail), "{listing}");

    // One idempotency key across replicas: sent through A, replayed by B.
    let (status, replayed, first) = caller
        .execute(&a.base, gmail, send_body("order-1", "replica one"))
        .await;
    assert_eq!((status, replayed), (200, false), "{first}");
    let (status, replayed, again) = caller
        .execute(&b.base, gmail, send_body("order-1", "replica one"))
        .await;
    assert_eq!((status, replayed), (200, true), "{again}");
    assert_eq!(again, first);
    assert_eq!(caller.sent_copies(&b.base, gmail, "replica one").await, 1);

    // The same key on both replicas at once: one send, the other gets its answer.
    let (on_a, on_b) = tokio::join!(
        caller.execute(&a.base, gmail, send_body("order-2", "replica race")),
        caller.execute(&b.base, gmail, send_body("order-2", "replica race")),
    );
    assert_eq!((on_a.0, on_b.0), (200, 200), "{} {}", on_a.2, on_b.2);
    assert_ne!(
        on_a.1, on_b.1,
        "one ran the send, the other replayed its answer"
    );
    assert_eq!(on_a.2["result"]["id"], on_b.2["result"]["id"]);
    assert_eq!(caller.sent_copies(&a.base, gmail, "replica race").await, 1);

    // A policy set through A holds on B at once. B keeps the policy in force in memory: a
    // version written behind both backs, unannounced, is not seen...
    assert_eq!(caller.policy_probe(&b.base, gmail, "before").await.0, 200);
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
        sqlx::query(
            "INSERT INTO policies (organization_id, scope, version, policy, updated_by, created_at) \
             VALUES ($1, $2, 1000, '{\"mode\":\"read_only\"}', 'sql', 0)",
        )
        .bind(&caller.org)
        .bind(gmail)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    assert_eq!(caller.policy_probe(&b.base, gmail, "cached").await.0, 200);
    // ...until a change is announced: A's new version (draft only) is B's at once.
    caller
        .set_policy(&a.base, gmail, json!({"mode": "draft_only"}))
        .await;
    let (_, refused) = caller
        .policy_probe_until(&b.base, gmail, "after", 403)
        .await;
    assert!(refused.to_string().contains("may only draft"), "{refused}");
    caller.set_policy(&b.base, gmail, Value::Null).await;
    let (status, _) = caller
        .policy_probe_until(&a.base, gmail, "again", 200)
        .await;
    assert_eq!(status, 200, "the policy removed through B holds on A");

    // An application made by the CLI on the same database; revoked through A, its token is
    // refused by B at once.
    let out = Command::new(BIN)
        .args([
            "apps",
            "create",
            "--org",
            &caller.org,
            "--database-url",
            db.url(),
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app: Value = serde_json::from_slice(&out.stdout).unwrap();
    let app_id = app["client_id"].as_str().unwrap();
    let app_secret = app["client_secret"].as_str().unwrap();
    let second = Caller::issued(&b.base, app_id, app_secret, &caller.org).await;
    let list = json!({"entity": "messages", "action": "list", "params": {"max_results": 1}});
    // Verified by both replicas before the revocation (so neither may keep trusting it).
    assert_eq!(second.execute(&a.base, gmail, list.clone()).await.0, 200);
    assert_eq!(second.execute(&b.base, gmail, list.clone()).await.0, 200);
    // Both use their verified-token cache (no database query on a warm request): the token's
    // row deleted behind their backs, with nothing announced, still works...
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
        let gone = sqlx::query("DELETE FROM app_tokens WHERE token_hash = $1")
            .bind(server::auth::hash_token(&second.token))
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(gone.rows_affected(), 1);
    }
    assert_eq!(second.execute(&b.base, gmail, list.clone()).await.0, 200);
    // ...until a change is announced (the revocation's NOTIFY): then both ask the database.
    let revoked = caller
        .http
        .post(format!(
            "{}/api/v1/account/applications/{app_id}/revoke",
            a.base
        ))
        .bearer_auth(&caller.token)
        .header("X-Organization-Id", &caller.org)
        .send()
        .await
        .unwrap();
    assert!(
        revoked.status().is_success(),
        "{}",
        revoked.text().await.unwrap()
    );
    // The revoking replica refuses at once; the other as soon as the NOTIFY reaches it, which
    // PostgreSQL delivers after the commit, not inside it (milliseconds; two seconds allowed on
    // a loaded machine).
    assert_eq!(second.execute(&a.base, gmail, list.clone()).await.0, 401);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let (status, _, refused) = second.execute(&b.base, gmail, list.clone()).await;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200, "{refused}");
        assert!(
            std::time::Instant::now() < deadline,
            "B still accepts a token revoked through A 2 s later"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(second.execute(&b.base, gmail, list).await.0, 401);

    // One `LISTEN` connection per replica feeds both its caches (tokens and policies).
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(listening, 2, "one listener per replica");
    }

    // Each replica's gauge of connectors by status counts the rows in the shared database.
    for base in [&a.base, &b.base] {
        let text = reqwest::Client::new()
            .get(format!("{base}/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let gauge = text
            .lines()
            .find(|l| {
                l.starts_with("connectors_connectors{")
                    && l.contains("connector_type=\"gmail\"")
                    && l.contains("status=\"active\"")
            })
            .unwrap_or_else(|| panic!("no gmail/active connectors gauge in\n{text}"));
        assert!(gauge.trim_end().ends_with(" 1"), "{gauge}");
    }

    // Nothing secret in either replica's log.
    for log in [a.log(), b.log()] {
        for s in [secret, caller.token.as_str(), &master_key] {
            assert!(!log.contains(s), "a log contains a secret:\n{log}");
        }
    }
    drop((a, b));
}
