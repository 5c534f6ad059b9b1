//! Shared pieces: the Gmail emulator with rotation, stored-credential surgery through the
//! library (same database and master key as the servers), and a webhook receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sandbox_gmail::{GmailSandbox, SandboxConfig, TokenRule};
use server::credentials::StoredCredentials;
use server::store::Store;
use server::vault::Vault;

pub const USER: &str = "ada@example.com";
pub const SCOPE: &str = "https://mail.google.com/";

/// The Gmail emulator: refresh tokens rotate on every refresh (the old one dies at once, so a
/// reuse is `invalid_grant`), and only tokens it issued are accepted (a rule is configured, so
/// unknown bearer tokens are not the default user).
pub fn gmail() -> GmailSandbox {
    GmailSandbox::start(SandboxConfig {
        quotas: false,
        rotate_refresh_tokens: Some(true),
        tokens: vec![TokenRule::new("rule-only-token", USER, &[SCOPE])],
        ..Default::default()
    })
    .unwrap()
}

/// The stored credentials of a connector.
pub async fn stored(store: &Store, vault: &Vault, org: &str, id: &str) -> StoredCredentials {
    let row = store.get_connector(org, id).await.unwrap().unwrap();
    let plain = vault.decrypt(org, &row.credentials).await.unwrap();
    StoredCredentials::from_json(&plain).unwrap()
}

/// Moves the stored access token's expiry into the past (as if it had expired an hour ago).
pub async fn expire_stored(store: &Store, vault: &Vault, org: &str, id: &str) {
    let mut c = stored(store, vault, org, id).await;
    c.expires_at = Some(chrono::Utc::now().timestamp() - 60);
    let (blob, key_id) = vault.encrypt(org, &c.to_json()).await.unwrap();
    store
        .store_refreshed_credentials(id, &blob, &key_id, None)
        .await
        .unwrap();
}

/// Whether the token endpoint accepts this refresh token now (it rotates it when it does:
/// call this last).
pub async fn refresh_token_works(token_url: &str, refresh_token: &str) -> bool {
    let r = reqwest::Client::new()
        .post(token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", "platform-client"),
            ("client_secret", "platform-secret"),
        ])
        .send()
        .await
        .unwrap();
    r.status().is_success()
}

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on a thread: answers every request 200 and keeps it.
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/connectors", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = Vec::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap_or(0);
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let len = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                sink.lock().unwrap().push(Received { headers, body });
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Receiver { url, got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until an event with this status arrives (and returns it).
    pub async fn wait_for(&self, status: &str, within: Duration) -> Received {
        let deadline = Instant::now() + within;
        loop {
            if let Some(r) = self
                .received()
                .into_iter()
                .find(|r| r.json()["status"] == status)
            {
                let body = r.json();
                crate::common::conformance::validate_at(
                    crate::common::conformance::document(),
                    "/webhooks/connector.status_changed/post/requestBody/content/application~1json/schema",
                    &body,
                )
                .unwrap_or_else(|e| panic!("the webhook body does not match /openapi.json: {e}"));
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no `{status}` webhook within {within:?}; got {:?}",
                self.received().iter().map(|r| r.json()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Checks the signature header the way a receiver would.
pub fn assert_signed(r: &Received, secret: &str) {
    let header = r
        .header("X-Connectors-Signature")
        .expect("the webhook is signed");
    let now = chrono::Utc::now().timestamp();
    assert!(
        server::lifecycle::webhook::verify(secret.as_bytes(), header, &r.body, now, 300),
        "signature {header} does not verify"
    );
    assert!(!server::lifecycle::webhook::verify(
        b"wrong secret",
        header,
        &r.body,
        now,
        300
    ));
    // Independent check of the documented format: t=<unix>,v1=<hex HMAC-SHA256("t.body")>.
    use hmac::Mac;
    let (t, v1) = header.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&r.body);
    assert_eq!(hex::encode(mac.finalize().into_bytes()), v1);
}

/// A token endpoint that accepts requests and never answers: a server refreshing against it
/// holds the connector's refresh lock inside its token request until it times out or dies.
pub struct StalledTokenEndpoint {
    url: String,
    called: Arc<std::sync::atomic::AtomicBool>,
}

impl StalledTokenEndpoint {
    pub fn start() -> StalledTokenEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let called = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = called.clone();
        std::thread::spawn(move || {
            // Connections are kept open (never answered) for the life of the test process.
            let mut open = Vec::new();
            for stream in listener.incoming().map_while(Result::ok) {
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
                open.push(stream);
            }
        });
        StalledTokenEndpoint { url, called }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Whether a token request has arrived.
    pub fn was_called(&self) -> bool {
        self.called.load(std::sync::atomic::Ordering::SeqCst)
    }
}
