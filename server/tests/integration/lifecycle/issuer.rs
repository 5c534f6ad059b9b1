//! The authorization server of a replica test: the real one (oidc-provider under node, rotation
//! with reuse detection: a rotated refresh token presented again revokes the whole grant) behind
//! a proxy that counts the token requests reaching it, or the Gmail emulator's token endpoint
//! (rotation; a reused token is `invalid_grant`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine;
use rand::RngCore;
use sandbox_gmail::{GmailSandbox, SandboxConfig};
use sha2::{Digest, Sha256};

use super::support::{self, SCOPE, USER};
use crate::common::auth_server::{post_form, query, AuthServer, Browser, Endpoints};

pub const CLIENT: (&str, &str) = ("platform-gmail", "platform-gmail-secret");
const GMAIL_API: (&str, &str) = ("gmail-api", "gmail-api-secret");
const CALLBACK: &str = "http://127.0.0.1:9/callback";

pub enum Issuer {
    Emulator,
    Real {
        auth: Box<AuthServer>,
        proxy: CountingProxy,
    },
}

/// The issuer and the Gmail API emulator that trusts it.
pub struct Provider {
    pub issuer: Issuer,
    pub gmail: GmailSandbox,
}

impl Provider {
    pub fn emulator() -> Provider {
        Provider {
            issuer: Issuer::Emulator,
            gmail: support::gmail(),
        }
    }

    /// None: node or oidc-provider unavailable outside CI (a loud note was printed).
    pub fn real() -> Option<Provider> {
        let client = serde_json::json!({"client_id": CLIENT.0, "client_secret": CLIENT.1, "redirect_uris": [CALLBACK]});
        let rs = serde_json::json!({"client_id": GMAIL_API.0, "client_secret": GMAIL_API.1});
        let auth = AuthServer::start(&serde_json::json!({
            "google": {"clients": [client], "introspectors": [rs], "access_token_ttl": 3600},
        }))?;
        let gmail = GmailSandbox::start(SandboxConfig {
            quotas: false,
            introspection_url: Some(auth.google.introspection_url.clone()),
            introspection_client_id: Some(GMAIL_API.0.into()),
            introspection_client_secret: Some(GMAIL_API.1.into()),
            introspection_audience: Some("https://gmail.googleapis.com/".into()),
            ..Default::default()
        })
        .unwrap();
        let token = url::Url::parse(&auth.google.token_url).unwrap();
        let upstream: SocketAddr = format!(
            "{}:{}",
            token.host_str().unwrap(),
            token.port_or_known_default().unwrap()
        )
        .parse()
        .unwrap();
        let proxy = CountingProxy::start(upstream, token.path().to_string());
        Some(Provider {
            issuer: Issuer::Real {
                auth: Box::new(auth),
                proxy,
            },
            gmail,
        })
    }

    pub fn client(&self) -> (&'static str, &'static str) {
        match &self.issuer {
            Issuer::Emulator => ("platform-client", "platform-secret"),
            Issuer::Real { .. } => CLIENT,
        }
    }

    /// The token endpoint the servers use.
    pub fn token_url(&self) -> String {
        match &self.issuer {
            Issuer::Emulator => self.gmail.token_url(),
            Issuer::Real { auth, proxy } => {
                let path = url::Url::parse(&auth.google.token_url)
                    .unwrap()
                    .path()
                    .to_string();
                format!("{}{path}", proxy.base)
            }
        }
    }

    /// Token requests that reached the authorization server so far.
    pub fn token_requests(&self) -> u64 {
        match &self.issuer {
            Issuer::Emulator => self.gmail.stats().token_requests,
            Issuer::Real { proxy, .. } => proxy.count(),
        }
    }

    /// A grant for ada: (access token, refresh token). At the real server: the authorization
    /// code flow with PKCE, consent driven as a browser.
    pub async fn grant(&self) -> (String, String) {
        match &self.issuer {
            Issuer::Emulator => (
                "stale-access-token".into(),
                self.gmail.issue_refresh_token(USER, &[SCOPE]),
            ),
            Issuer::Real { auth, .. } => code_flow(&auth.google).await,
        }
    }

    /// Whether a refresh with this token succeeds now (it rotates the token when it does).
    pub async fn refresh_works(&self, refresh_token: &str) -> bool {
        let (id, secret) = self.client();
        let (status, _) = post_form(
            &self.direct_token_url(),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", id),
                ("client_secret", secret),
            ],
        )
        .await;
        status == 200
    }

    fn direct_token_url(&self) -> String {
        match &self.issuer {
            Issuer::Emulator => self.gmail.token_url(),
            Issuer::Real { auth, .. } => auth.google.token_url.clone(),
        }
    }

    /// The user revokes the grant at the provider; whether the token was live.
    pub async fn revoke(&self, refresh_token: &str) -> bool {
        match &self.issuer {
            Issuer::Emulator => self.gmail.revoke_refresh_token(refresh_token),
            Issuer::Real { auth, .. } => {
                if !self.introspect_active(&auth.google, refresh_token).await {
                    return false;
                }
                let (status, body) = post_form(
                    &auth.google.revocation_url,
                    &[
                        ("token", refresh_token),
                        ("token_type_hint", "refresh_token"),
                        ("client_id", CLIENT.0),
                        ("client_secret", CLIENT.1),
                    ],
                )
                .await;
                assert_eq!(status, 200, "revocation: {body}");
                !self.introspect_active(&auth.google, refresh_token).await
            }
        }
    }

    async fn introspect_active(&self, at: &Endpoints, token: &str) -> bool {
        crate::common::auth_server::introspect(at, GMAIL_API.0, GMAIL_API.1, token).await["active"]
            == true
    }
}

async fn code_flow(at: &Endpoints) -> (String, String) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let verifier = b64.encode(raw);
    let challenge = b64.encode(Sha256::digest(verifier.as_bytes()));
    let consent = url::Url::parse_with_params(
        &at.authorize_url,
        &[
            ("client_id", CLIENT.0),
            ("redirect_uri", CALLBACK),
            ("response_type", "code"),
            ("scope", SCOPE),
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("state", "s"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    let back = Browser::default()
        .authorize(consent.as_str(), &[("login", USER)], CALLBACK)
        .await;
    let code = query(&back)
        .remove("code")
        .unwrap_or_else(|| panic!("no code: {back}"));
    let (status, body) = post_form(
        &at.token_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", CLIENT.0),
            ("client_secret", CLIENT.1),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "code exchange: {body}");
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"]
            .as_str()
            .expect("access_type=offline gives a refresh token")
            .to_string(),
    )
}

/// An HTTP/1.1 proxy on a thread that forwards everything to `upstream` (one request per
/// connection, `Connection: close`) and counts the POSTs to `count_path`.
pub struct CountingProxy {
    pub base: String,
    count: Arc<AtomicU64>,
}

impl CountingProxy {
    pub fn start(upstream: SocketAddr, count_path: String) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicU64::new(0));
        let counter = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (counter, path) = (counter.clone(), count_path.clone());
                std::thread::spawn(move || {
                    let _ = forward(stream, upstream, &path, &counter);
                });
            }
        });
        CountingProxy { base, count }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}

fn forward(
    mut client: TcpStream,
    upstream: SocketAddr,
    count_path: &str,
    counter: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut first = String::new();
    if reader.read_line(&mut first)? == 0 {
        return Ok(());
    }
    let mut head = first.clone();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("connection:") || lower.starts_with("host:") {
            continue;
        }
        head.push_str(&line);
    }
    head.push_str(&format!("Host: {upstream}\r\nConnection: close\r\n\r\n"));
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let mut parts = first.split_whitespace();
    if parts.next() == Some("POST") && parts.next().is_some_and(|p| p.starts_with(count_path)) {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(head.as_bytes())?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    // The client must not reuse this connection: say so in the answer's head.
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head_text = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut out: String = head_text
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    out.push_str("\r\nConnection: close");
    client.write_all(out.as_bytes())?;
    client.write_all(&answer[split..])?;
    client.flush()
}
