//! The real OAuth authorization server of the tests: the npm package `oidc-provider`, run by
//! node from `server/tests/oidc/provider.mjs` (its header documents the config and the
//! interaction endpoints), plus a browser that drives its consent.
//!
//! Used by the `oidc_flow` and `lifecycle::issuer` suites:
//!
//! ```ignore
//! use crate::common::auth_server;
//! let Some(auth) = auth_server::AuthServer::start(&serde_json::json!({"google": {"clients": [...]}})) else {
//!     return; // node_modules missing outside CI: skipped loudly
//! };
//! ```
//!
//! The node process lives as long as the [`AuthServer`]: dropping it kills the process, and
//! the process also exits by itself when this test process dies (its stdin closes).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// The URLs of one provider instance (`google` or `microsoft`).
#[derive(Debug, Clone, Deserialize)]
pub struct Endpoints {
    pub authorize_url: String,
    pub token_url: String,
    pub introspection_url: String,
    pub revocation_url: String,
}

#[derive(Deserialize)]
struct Started {
    google: Endpoints,
    microsoft: Endpoints,
}

/// A running authorization server (both instances). Dropping it kills the node process.
pub struct AuthServer {
    pub google: Endpoints,
    pub microsoft: Endpoints,
    child: Child,
    _stdin: ChildStdin,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `server/tests/oidc`, where package.json, the lock file and provider.mjs live.
pub fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Fails under CI, else prints a loud note; returns None so the test can return early.
fn unavailable(why: &str) -> Option<AuthServer> {
    if in_ci() {
        panic!("the OAuth authorization server cannot run: {why} (CI is set; scripts/ci/oidc.sh installs it)");
    }
    eprintln!(
        "\n!!! SKIPPED: the OAuth authorization server (oidc-provider) cannot run: {why}.\n!!! Install it with `npm ci` in {} (scripts/ci/oidc.sh).\n",
        oidc_dir().display()
    );
    None
}

/// Installs node_modules once per test process (outside CI only) when they are missing.
fn ensure_installed() -> Result<(), String> {
    static INSTALL: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALL
        .get_or_init(|| {
            let dir = oidc_dir();
            if dir.join("node_modules/oidc-provider/package.json").exists() {
                return Ok(());
            }
            if in_ci() {
                return Err(format!(
                    "{}/node_modules is missing (run scripts/ci/oidc.sh)",
                    dir.display()
                ));
            }
            eprintln!("installing oidc-provider: npm ci in {} ...", dir.display());
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .output()
                .map_err(|e| format!("npm could not be run ({e})"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "npm ci failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        })
        .clone()
}

impl AuthServer {
    /// Starts both instances with `config` (see provider.mjs: `{"google": {"clients": [...],
    /// "introspectors": [...], "access_token_ttl": s}, "microsoft": {...}}`). None when the
    /// server cannot run outside CI (a loud note is printed); panics under CI.
    pub fn start(config: &Value) -> Option<AuthServer> {
        if let Err(why) = ensure_installed() {
            return unavailable(&why);
        }
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
        let spawned = Command::new(&node)
            .arg("provider.mjs")
            .arg(config.to_string())
            .current_dir(oidc_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => return unavailable(&format!("`{node}` could not be started ({e})")),
        };
        let stdin = child.stdin.take().expect("piped stdin");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let l = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                l.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        let l = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && line.trim_start().starts_with('{') {
                    sent = tx.send(line).is_ok();
                } else {
                    l.lock().unwrap().push_str(&format!("{line}\n"));
                }
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the authorization server did not start within 30 s; its output:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let started: Started = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the authorization server printed {line:?}: {e}"));
        Some(AuthServer {
            google: started.google,
            microsoft: started.microsoft,
            child,
            _stdin: stdin,
        })
    }
}

/// An HTTP client that follows no redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A form POST (to a token or revocation endpoint); returns the status and the JSON body.
pub async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http().post(url).form(form).send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// RFC 7662 introspection as the client `id` (HTTP Basic).
pub async fn introspect(endpoints: &Endpoints, id: &str, secret: &str, token: &str) -> Value {
    let resp = http()
        .post(&endpoints.introspection_url)
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "introspection answered");
    resp.json().await.unwrap()
}

/// Authorizes `client` for `login` at one instance (PKCE S256, every asked scope granted) and
/// redeems the code: the token response (`access_token`, `refresh_token` when the instance
/// issues one, `scope`, `expires_in`). For tests that need the server's tokens without going
/// through our OAuth flow (e.g. to create a connector from credentials). `extra` adds
/// authorization parameters: `[("access_type", "offline"), ("prompt", "consent")]` for a
/// Google-style refresh token; Microsoft-style needs `offline_access` in `scope`.
pub async fn grant_tokens(
    at: &Endpoints,
    (client_id, client_secret): (&str, &str),
    redirect_uri: &str,
    scope: &str,
    extra: &[(&str, &str)],
    login: &str,
) -> Value {
    use base64::Engine;
    use sha2::Digest;
    let verifier =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let mut url = url::Url::parse(&at.authorize_url).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", "grant_tokens")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra);
    let back = Browser::default()
        .authorize(url.as_str(), &[("login", login)], redirect_uri)
        .await;
    let code = query(&back)
        .remove("code")
        .unwrap_or_else(|| panic!("no code in {back}"));
    let (status, tokens) = post_form(
        &at.token_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "token exchange: {tokens}");
    tokens
}

/// A browser: a cookie jar (one per consent; oidc-provider keeps its interaction state in
/// cookies) over a client that follows no redirects, so every hop is seen.
#[derive(Default)]
pub struct Browser {
    cookies: HashMap<String, String>,
    /// The interaction steps seen (`GET /interaction/{uid}` answers), in order.
    pub steps: Vec<Value>,
}

impl Browser {
    fn keep_cookies(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all("set-cookie") {
            let Ok(v) = v.to_str() else { continue };
            let pair = v.split(';').next().unwrap_or_default();
            if let Some((k, val)) = pair.split_once('=') {
                if val.is_empty() || v.to_ascii_lowercase().contains("max-age=0") {
                    self.cookies.remove(k.trim());
                } else {
                    self.cookies.insert(k.trim().to_string(), val.to_string());
                }
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> reqwest::Response {
        let req = if self.cookies.is_empty() {
            req
        } else {
            req.header("cookie", self.cookie_header())
        };
        let resp = req.send().await.unwrap();
        self.keep_cookies(&resp);
        resp
    }

    /// Opens `consent_url` and goes through the authorization server's interactions, answering
    /// each with `answer` (`login`, `grant_scopes`, `deny`: see provider.mjs), until the server
    /// redirects to a URL that starts with `until` (the client's redirect URI); returns it.
    pub async fn authorize(
        &mut self,
        consent_url: &str,
        answer: &[(&str, &str)],
        until: &str,
    ) -> String {
        let client = http();
        let mut url = url::Url::parse(consent_url).unwrap();
        for _ in 0..20 {
            if url.as_str().starts_with(until) {
                return url.to_string();
            }
            let resp = if url.path().starts_with("/interaction/") {
                let step = self.send(client.get(url.clone())).await;
                assert_eq!(step.status().as_u16(), 200, "interaction {url}");
                self.steps.push(step.json().await.unwrap());
                self.send(client.post(url.clone()).form(answer)).await
            } else {
                self.send(client.get(url.clone())).await
            };
            let status = resp.status().as_u16();
            let Some(loc) = resp.headers().get("location") else {
                panic!(
                    "{url} answered {status} without a redirect: {}",
                    resp.text().await.unwrap_or_default()
                );
            };
            url = url.join(loc.to_str().unwrap()).unwrap();
        }
        panic!("more than 20 redirects from {consent_url}");
    }
}

/// The query parameters of a URL.
pub fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}
