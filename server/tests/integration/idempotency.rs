//! Idempotency keys on execute, through `create_app` against the Gmail emulator; on SQLite,
//! and the claim races again on PostgreSQL (a database of its own per test).

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{test, web};
use sandbox_gmail::{Fault, FaultKind, GmailSandbox, SandboxConfig, Seed};
use serde_json::{json, Value};
use server::registry::Registry;
use server::{create_app, AppState, Config};

use crate::common::{conformance, pgdb};

struct Env {
    sb: GmailSandbox,
    state: web::Data<AppState>,
    org: String,
    token: String,
    connector: String,
    _dir: tempfile::TempDir,
    _pg: Option<pgdb::TestDb>,
}

struct Answer {
    status: StatusCode,
    replayed: Option<String>,
    body: Value,
}

/// How long a request waits for a running one with the same key: far above the overlaps the tests make on purpose, short
/// enough to test the 409 that ends the wait.
const WAIT: Duration = Duration::from_secs(4);

async fn env() -> Env {
    env_on(None).await
}

/// The same on PostgreSQL; `None` (skipped loudly) when it is not reachable outside CI.
async fn pg_env() -> Option<Env> {
    let db = pgdb::fresh().await?;
    Some(env_on(Some(db)).await)
}

async fn env_on(pg: Option<pgdb::TestDb>) -> Env {
    let sb = GmailSandbox::start(SandboxConfig {
        seed: Seed::Empty,
        quotas: false,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    config.idempotency_wait = WAIT;
    if let Some(db) = &pg {
        config.database_url = db.url().to_string();
    }
    config.providers.entry("gmail").base_url = Some(sb.base_url());
    config.providers.entry("gmail").token_url = Some(sb.token_url());
    let registry = Registry::builtin(&config.providers);
    let state = web::Data::new(AppState::with_registry(config, registry).await.unwrap());
    let org = state.store.create_org("acme").await.unwrap();
    let app = server::auth::create_application(&state.store, &org.id)
        .await
        .unwrap();
    let mut env = Env {
        sb,
        state,
        org: org.id,
        token: String::new(),
        connector: String::new(),
        _dir: dir,
        _pg: pg,
    };
    let tok = call(
        &env,
        "POST",
        "/api/v1/account/applications/token",
        Some(json!({"client_id": app.client_id, "client_secret": app.client_secret.expose()})),
    )
    .await;
    assert_eq!(tok.status, StatusCode::OK, "{}", tok.body);
    env.token = tok.body["access_token"].as_str().unwrap().to_string();
    let rt = env
        .sb
        .issue_refresh_token("ada@example.com", connector_gmail::SCOPES_FULL);
    let created = call(
        &env,
        "POST",
        "/api/v1/integrations/connectors",
        Some(json!({"customer_name": "alice", "connector_type": "gmail",
            "credentials": {"refresh_token": rt, "client_id": "cid", "client_secret": "cs"}})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    env.connector = created.body["id"].as_str().unwrap().to_string();
    env
}

async fn call(env: &Env, method: &str, path: &str, body: Option<Value>) -> Answer {
    let app = test::init_service(create_app(env.state.clone())).await;
    let mut req = test::TestRequest::default()
        .method(method.parse().unwrap())
        .uri(path);
    if !env.token.is_empty() {
        req = req
            .insert_header(("Authorization", format!("Bearer {}", env.token)))
            .insert_header(("X-Organization-Id", env.org.clone()));
    }
    let sent = body
        .as_ref()
        .map(|b| b.to_string().into_bytes())
        .unwrap_or_default();
    if let Some(b) = body {
        req = req.set_json(b);
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let status = resp.status();
    let seen = conformance::Seen::of(&resp);
    let replayed = resp
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = test::read_body(resp).await;
    seen.check(&bytes);
    conformance::check_accepted_request(&seen, &sent);
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        replayed,
        body,
    }
}

async fn send(env: &Env, key: &str, subject: &str) -> Answer {
    let path = format!("/api/v1/integrations/connectors/{}/execute", env.connector);
    call(
        env,
        "POST",
        &path,
        Some(
            json!({"entity": "messages", "action": "send", "idempotency_key": key,
            "params": {"to": ["grace@example.com"], "subject": subject, "text": "hello"}}),
        ),
    )
    .await
}

fn sends(env: &Env) -> u64 {
    env.sb
        .stats()
        .by_method
        .get("messages.send")
        .copied()
        .unwrap_or(0)
}

fn copies(env: &Env, subject: &str) -> usize {
    env.sb
        .mailbox("ada@example.com")
        .unwrap()
        .messages
        .iter()
        .filter(|m| String::from_utf8_lossy(&m.raw).contains(subject))
        .count()
}

#[actix_web::test]
async fn a_repeat_replays_the_stored_answer_without_calling_the_provider() {
    let env = env().await;
    let first = send(&env, "order-1", "replayed subject").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.replayed, None);
    let requests = env.sb.stats().http_requests;
    assert_eq!(sends(&env), 1);

    let again = send(&env, "order-1", "replayed subject").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.replayed.as_deref(), Some("true"));
    assert_eq!(again.body, first.body, "the stored answer, byte for byte");
    assert_eq!(
        env.sb.stats().http_requests,
        requests,
        "no provider request on replay"
    );
    assert_eq!(copies(&env, "replayed subject"), 1);

    // The stored answer is encrypted: the message id is not in the table in clear.
    let id = first.body["result"]["id"].as_str().unwrap();
    let blob: Vec<u8> = sqlx::query_scalar("SELECT response FROM idempotency_keys")
        .fetch_one(env.state.store.pool())
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&blob).contains(id));

    // Another key is another send.
    let other = send(&env, "order-2", "replayed subject").await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.replayed, None);
    assert_ne!(other.body["result"]["id"], first.body["result"]["id"]);
    assert_eq!(sends(&env), 2);
}

#[actix_web::test]
async fn the_same_key_with_other_params_is_a_conflict() {
    let env = env().await;
    assert_eq!(send(&env, "k", "first params").await.status, StatusCode::OK);
    let reused = send(&env, "k", "other params").await;
    assert_eq!(reused.status, StatusCode::CONFLICT, "{}", reused.body);
    assert_eq!(reused.body["error"]["code"], "conflict");
    assert_eq!(reused.body["error"]["details"]["reason"], "key_reused");
    assert_eq!(sends(&env), 1);
    assert_eq!(copies(&env, "other params"), 0);
}

#[actix_web::test]
async fn concurrent_requests_with_one_key_make_one_provider_send() {
    concurrent_requests_make_one_send(env().await).await;
}

#[actix_web::test]
async fn concurrent_requests_with_one_key_make_one_provider_send_on_postgres() {
    let Some(env) = pg_env().await else { return };
    concurrent_requests_make_one_send(env).await;
}

async fn concurrent_requests_make_one_send(env: Env) {
    // Slow provider: the requests overlap.
    env.sb.inject_fault(Fault::new(
        "POST",
        "/messages/send",
        FaultKind::Delay(Duration::from_millis(600)),
    ));
    let answers = futures::future::join_all((0..4).map(|_| send(&env, "same", "concurrent"))).await;
    for a in &answers {
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    assert_eq!(sends(&env), 1, "exactly one provider send");
    assert_eq!(copies(&env, "concurrent"), 1);
    let replayed = answers
        .iter()
        .filter(|a| a.replayed.as_deref() == Some("true"))
        .count();
    assert_eq!(replayed, 3, "the waiters got the first answer");
    let id = &answers[0].body["result"]["id"];
    assert!(answers.iter().all(|a| &a.body["result"]["id"] == id));
}

#[actix_web::test]
async fn definitive_errors_are_stored_and_replayed() {
    let env = env().await;
    let path = format!("/api/v1/integrations/connectors/{}/execute", env.connector);
    let body = json!({"entity": "messages", "action": "get", "idempotency_key": "g1",
        "params": {"message_id": "18c0000000000abc"}});
    let first = call(&env, "POST", &path, Some(body.clone())).await;
    assert_eq!(first.status, StatusCode::NOT_FOUND, "{}", first.body);
    let requests = env.sb.stats().http_requests;
    let again = call(&env, "POST", &path, Some(body)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.replayed.as_deref(), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(env.sb.stats().http_requests, requests);
}

#[actix_web::test]
async fn transient_failures_release_the_key() {
    let env = env().await;
    let path = format!("/api/v1/integrations/connectors/{}/execute", env.connector);
    let body = json!({"entity": "messages", "action": "list", "idempotency_key": "t1",
        "params": {"max_results": 5}});
    env.sb
        .inject_fault(Fault::new("GET", "/messages", FaultKind::Status(503)).times(50));
    let first = call(&env, "POST", &path, Some(body.clone())).await;
    assert_eq!(first.status.as_u16(), 503, "{}", first.body);
    assert_eq!(first.body["error"]["code"], "provider_unavailable");
    env.sb.clear_faults();
    let before = env.sb.stats().api_calls;
    let retry = call(&env, "POST", &path, Some(body)).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    assert_eq!(retry.replayed, None, "ran again, not replayed");
    assert!(
        env.sb.stats().api_calls > before,
        "the provider was called again"
    );
}

#[actix_web::test]
async fn a_lost_response_retried_with_the_same_key_sends_exactly_once() {
    let env = env().await;
    env.sb.inject_fault(Fault::new(
        "POST",
        "/messages/send",
        FaultKind::LoseResponse,
    ));
    let first = send(&env, "lost-1", "exactly once").await;
    assert_eq!(first.status.as_u16(), 504, "{}", first.body);
    assert_eq!(first.body["error"]["code"], "outcome_unknown");
    assert_eq!(copies(&env, "exactly once"), 1, "the send did happen");

    let retry = send(&env, "lost-1", "exactly once").await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    assert_eq!(retry.replayed, None, "outcome_unknown is not stored");
    assert_eq!(retry.body["connector_metadata"]["deduplicated"], true);
    assert_eq!(copies(&env, "exactly once"), 1, "exactly one sent copy");
    assert_eq!(
        sends(&env),
        1,
        "the retry found the sent copy instead of sending"
    );

    // From now on the answer is stored.
    let third = send(&env, "lost-1", "exactly once").await;
    assert_eq!(third.replayed.as_deref(), Some("true"));
    assert_eq!(third.body, retry.body);
}

/// events.create follows the mail rule (issue 24): its answer lost, a retry with the same key
/// finds the event by the id the key gave it instead of creating a second one.
#[actix_web::test]
async fn a_lost_event_create_retried_with_the_same_key_creates_one_event() {
    let env = env().await;
    env.sb.inject_fault(Fault::new(
        "POST",
        "/calendar/v3/calendars/primary/events",
        FaultKind::LoseResponse,
    ));
    let path = format!("/api/v1/integrations/connectors/{}/execute", env.connector);
    let body = json!({"entity": "events", "action": "create", "idempotency_key": "meet-1",
        "params": {"summary": "Once", "attendees": ["grace@example.com"],
            "start": {"date_time": "2026-07-01T10:00:00", "time_zone": "Europe/Paris"},
            "end": {"date_time": "2026-07-01T11:00:00", "time_zone": "Europe/Paris"}}});
    let first = call(&env, "POST", &path, Some(body.clone())).await;
    assert_eq!(first.status.as_u16(), 504, "{}", first.body);
    assert_eq!(first.body["error"]["code"], "outcome_unknown");
    let retry = call(&env, "POST", &path, Some(body.clone())).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    assert_eq!(retry.body["connector_metadata"]["deduplicated"], true);
    let inserts = env.sb.stats().by_method["calendar.events.insert"];
    assert_eq!(inserts, 1, "the retry found the event instead of inserting");
    let listed = call(
        &env,
        "POST",
        &path,
        Some(json!({"entity": "events", "action": "list",
            "params": {"time_min": "2026-07-01T00:00:00Z", "time_max": "2026-07-02T00:00:00Z"}})),
    )
    .await;
    let events = listed.body["result"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{}", listed.body);
    assert_eq!(events[0]["id"], retry.body["result"]["id"]);
}

#[actix_web::test]
async fn keys_are_scoped_to_the_connector_and_validated() {
    let env = env().await;
    assert_eq!(
        send(&env, "scoped", "scope one").await.status,
        StatusCode::OK
    );
    let long = "x".repeat(256);
    let bad = send(&env, &long, "too long").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert_eq!(bad.body["error"]["code"], "invalid_params");
    // Deleting the connector drops its keys.
    let path = format!("/api/v1/integrations/connectors/{}", env.connector);
    let deleted = call(&env, "DELETE", &path, None).await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys")
        .fetch_one(env.state.store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// The claim row a request with this key and these send params would make.
fn slot_of(env: &Env, key: &str) -> server::store::IdempotencySlot {
    use sha2::Digest;
    server::store::IdempotencySlot {
        organization_id: env.org.clone(),
        connector_id: env.connector.clone(),
        key_hash: hex::encode(sha2::Sha256::digest(key.as_bytes())),
    }
}

fn send_hash(subject: &str) -> String {
    let params = json!({"to": ["grace@example.com"], "subject": subject, "text": "hello"});
    server::idempotency::Fingerprint {
        entity: "messages",
        action: "send",
        params: &params,
    }
    .hash()
}

#[actix_web::test]
async fn a_repeat_waits_a_bounded_time_for_a_running_first_request_then_gets_409() {
    let env = env().await;
    // The first request is still at the provider when the wait of the repeat ends.
    env.sb.inject_fault(Fault::new(
        "POST",
        "/messages/send",
        FaultKind::Delay(WAIT + Duration::from_secs(3)),
    ));
    let started = Instant::now();
    let first = send(&env, "slow-1", "slow send");
    let repeat = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let a = send(&env, "slow-1", "slow send").await;
        (a, started.elapsed())
    };
    let (first, (repeat, waited)) = futures::future::join(first, repeat).await;
    assert_eq!(repeat.status, StatusCode::CONFLICT, "{}", repeat.body);
    assert_eq!(repeat.body["error"]["code"], "conflict");
    assert_eq!(repeat.body["error"]["details"]["reason"], "in_progress");
    assert_eq!(repeat.replayed, None);
    assert!(
        waited >= WAIT && waited < WAIT + Duration::from_secs(3),
        "the repeat waited {waited:?}, the bound is {WAIT:?}"
    );
    // The first request was not disturbed, sent once, and its answer is now replayed.
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.replayed, None);
    assert_eq!(sends(&env), 1);
    let later = send(&env, "slow-1", "slow send").await;
    assert_eq!(later.replayed.as_deref(), Some("true"));
    assert_eq!(later.body, first.body);
    assert_eq!(copies(&env, "slow send"), 1);
}

#[actix_web::test]
async fn a_claim_left_by_a_crashed_request_is_taken_over() {
    stale_claim_is_taken_over(env().await).await;
}

#[actix_web::test]
async fn a_claim_left_by_a_crashed_request_is_taken_over_on_postgres() {
    let Some(env) = pg_env().await else { return };
    stale_claim_is_taken_over(env).await;
}

async fn stale_claim_is_taken_over(env: Env) {
    let store = &env.state.store;
    let now = server::store::now();
    // A request (on this or another replica) claimed "crashed-1" and died: its lease ended.
    let stale = slot_of(&env, "crashed-1");
    let hash = send_hash("after a crash");
    assert!(store
        .claim_idempotency_key(&stale, &hash, now - 400, now - 5, now + 86_000)
        .await
        .unwrap());
    // Another claimed "running-1" and still holds its lease: a repeat waits, then 409.
    let live = slot_of(&env, "running-1");
    let live_hash = send_hash("still running");
    assert!(store
        .claim_idempotency_key(&live, &live_hash, now, now + 300, now + 86_400)
        .await
        .unwrap());

    let started = Instant::now();
    let taken = send(&env, "crashed-1", "after a crash").await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.body);
    assert_eq!(taken.replayed, None, "ran, not replayed");
    assert!(
        started.elapsed() < WAIT,
        "took over at once, without waiting"
    );
    assert_eq!(sends(&env), 1);
    assert_eq!(copies(&env, "after a crash"), 1);
    match store.idempotency_entry(&stale).await.unwrap() {
        Some(server::store::IdempotencyEntry::Done { request_hash, .. }) => {
            assert_eq!(request_hash, hash)
        }
        other => panic!("the answer was not stored: {other:?}"),
    }
    let again = send(&env, "crashed-1", "after a crash").await;
    assert_eq!(again.replayed.as_deref(), Some("true"));
    assert_eq!(again.body, taken.body);

    // Other params under the stale key are still a reuse, not a takeover.
    let reused = send(&env, "crashed-1", "different").await;
    assert_eq!(reused.status, StatusCode::CONFLICT);
    assert_eq!(reused.body["error"]["details"]["reason"], "key_reused");

    let blocked = send(&env, "running-1", "still running").await;
    assert_eq!(blocked.status, StatusCode::CONFLICT, "{}", blocked.body);
    assert_eq!(blocked.body["error"]["details"]["reason"], "in_progress");
    assert_eq!(sends(&env), 1, "a live claim is never run twice");
}
