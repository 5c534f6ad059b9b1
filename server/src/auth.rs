//! API applications and bearer tokens.
//!
//! Client secrets are stored as argon2 hashes; bearer tokens are 32 random bytes, stored as
//! their SHA-256 (a fast hash is enough for a high-entropy token). Every protected handler
//! takes an [`Auth`], which requires `Authorization: Bearer` and a matching
//! `X-Organization-Id`.
//!
//! **Verified-token cache.** A verified token's record is kept in memory, keyed by the token's
//! SHA-256, for up to `token_cache_ms` (default [`TOKEN_CACHE_TTL`]), so a warm request asks the
//! database nothing. Revocation still applies on every replica: revoking an application or
//! rotating its secret drops its cached tokens here before the API answers, and tells every
//! other process on the database ([`crate::store::auth`]: PostgreSQL `NOTIFY`, which every server
//! `LISTEN`s for; on SQLite, where one server owns the data directory, a marker file the CLI
//! replaces and the server checks with one `stat`). A PostgreSQL server that is not listening
//! (starting, reconnecting) does not use its cache. Expiry is checked against the cached record
//! on every request, so an expired token is refused at once. `token_cache_ms 0` turns the cache
//! off (a database query per request).

use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use connector_core::{ConnectorError, ErrorCode, Secret};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{db, ApiError};
use crate::store::{now, Application, Store};
use crate::AppState;

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new application's credentials (the secret is shown once).
pub struct NewApplication {
    pub organization_id: String,
    pub client_id: String,
    pub client_secret: Secret,
}

/// Creates an application for an organization.
pub async fn create_application(
    store: &Store,
    organization_id: &str,
) -> anyhow::Result<NewApplication> {
    let client_id = format!("app_{}", uuid::Uuid::new_v4().simple());
    let client_secret = Secret::new(format!("cs_{}", random_token(32)));
    let hash = hash_secret(client_secret.expose())?;
    store
        .create_application(organization_id, &client_id, &hash)
        .await?;
    Ok(NewApplication {
        organization_id: organization_id.to_string(),
        client_id,
        client_secret,
    })
}

/// Argon2id parameters of new client-secret hashes: 4 MiB of memory, 3 passes, 1 lane
/// (about 5 ms of one core). Client secrets are 32 random bytes made by the server, so the
/// hash does not have to slow down guessing (256 bits cannot be guessed); it only has to be
/// one-way, and cheap enough that the checks a stranger can trigger stay bounded. The crate's
/// default (19 MiB, 2 passes) cost ~19 MiB per check. Hashes store their own parameters, so
/// hashes made with older ones still verify, and are re-hashed with these after a successful
/// check. `docs/limits.md` lists the bounds around the checks.
pub const SECRET_MEMORY_KIB: u32 = 4096;
pub const SECRET_PASSES: u32 = 3;
pub const SECRET_LANES: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = argon2::Params::new(SECRET_MEMORY_KIB, SECRET_PASSES, SECRET_LANES, None)
        .expect("valid argon2 parameters");
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

pub fn hash_secret(secret: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the client secret: {e}"))
}

/// Checks a secret against a stored hash, with the parameters the hash names.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Whether a hash was made with the current parameters.
pub fn is_current(hash: &str) -> bool {
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&h) else {
        return false;
    };
    h.algorithm.as_str() == "argon2id"
        && params.m_cost() == SECRET_MEMORY_KIB
        && params.t_cost() == SECRET_PASSES
        && params.p_cost() == SECRET_LANES
}

/// Runs argon2 work (deliberately slow, [`SECRET_MEMORY_KIB`] of memory) off the async workers,
/// on a thread of its own. The server runs mimalloc with a 10 ms purge delay (`main.rs`): freed
/// memory goes back to the OS once 10 ms have passed, at a later allocation of the thread that
/// freed it or when a thread ends. A pooled blocking thread would keep a check's memory
/// resident until it idles out (10 s); this thread hands the result over, waits out the delay
/// and ends, which gives the memory back. Checks are few and bounded
/// (`limits.secret_checks`), so is the thread count. `None`: no thread could be started, or
/// the work panicked.
pub async fn on_own_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    own_thread(work, move |v| {
        let _ = tx.send(v);
    })?;
    rx.await.ok()
}

/// [`on_own_thread`] for a caller that is not async (the decoy hash made at start).
pub fn on_own_thread_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    own_thread(work, move |v| {
        let _ = tx.send(v);
    })?;
    rx.recv().ok()
}

fn own_thread<T>(
    work: impl FnOnce() -> T + Send + 'static,
    hand_over: impl FnOnce(T) + Send + 'static,
) -> Option<()> {
    /// Longer than the purge delay, so that the thread's end finds the memory due.
    const LINGER: std::time::Duration = std::time::Duration::from_millis(30);
    std::thread::Builder::new()
        .name("secret-check".into())
        .spawn(move || {
            hand_over(work());
            std::thread::sleep(LINGER);
        })
        .ok()
        .map(|_| ())
}

/// An issued bearer token.
pub struct IssuedToken {
    pub access_token: Secret,
    pub expires_in: u64,
}

fn refused() -> ConnectorError {
    ConnectorError::new(
        ErrorCode::Unauthenticated,
        "invalid client_id or client_secret",
    )
}

/// The application whose client credentials these are, or `None`. An unknown or revoked
/// client id is checked against `decoy` (a hash with the current parameters) when given, so
/// it costs what a known one costs. A hash with older parameters is replaced after a
/// successful check.
pub async fn verify_client(
    store: &Store,
    client_id: &str,
    client_secret: &str,
    decoy: Option<&str>,
) -> Result<Option<Application>, ConnectorError> {
    let app = store
        .find_application(client_id)
        .await
        .map_err(db)?
        .filter(|a| !a.revoked);
    let hash = match (&app, decoy) {
        (Some(app), _) => app.secret_hash.clone(),
        (None, Some(decoy)) => decoy.to_string(),
        (None, None) => return Ok(None),
    };
    let secret = client_secret.to_string();
    let ok = on_own_thread(move || verify_secret(&secret, &hash))
        .await
        .unwrap_or(false);
    let Some(app) = app.filter(|_| ok) else {
        return Ok(None);
    };
    if !is_current(&app.secret_hash) {
        let secret = client_secret.to_string();
        if let Some(Ok(new)) = on_own_thread(move || hash_secret(&secret)).await {
            if let Err(e) = store.set_application_secret(&app.id, &new).await {
                tracing::warn!(cause = %e, "re-hashing a client secret failed; the old hash stays");
            }
        }
    }
    Ok(Some(app))
}

/// Stores and returns a new bearer token of `app`.
pub async fn mint_token(
    store: &Store,
    app: &Application,
    ttl_secs: u64,
) -> Result<IssuedToken, ConnectorError> {
    let token = format!("cat_{}", random_token(32));
    store
        .insert_token(&hash_token(&token), app, now() + ttl_secs as i64)
        .await
        .map_err(db)?;
    Ok(IssuedToken {
        access_token: Secret::new(token),
        expires_in: ttl_secs,
    })
}

/// Checks the client credentials and issues a token, without the limits the token endpoint
/// adds ([`crate::services::Applications::issue_token`]). Wrong id and wrong secret look the
/// same.
pub async fn issue_token(
    store: &Store,
    client_id: &str,
    client_secret: &str,
    ttl_secs: u64,
) -> Result<IssuedToken, ConnectorError> {
    let app = verify_client(store, client_id, client_secret, None)
        .await?
        .ok_or_else(refused)?;
    mint_token(store, &app, ttl_secs).await
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub organization_id: String,
    pub application_id: String,
}

/// Paths under `/api/` that need no token.
const PUBLIC_API_PATHS: &[&str] = &[
    "/api/v1/account/applications/token",
    "/api/v1/integrations/connectors/oauth/callback",
];

/// Whether a path needs the bearer token: everything under `/api/` except the token endpoint
/// and the OAuth callback (`/healthz`, `/readyz`, `/openapi.json` live outside `/api/`).
pub fn requires_auth(path: &str) -> bool {
    path.starts_with("/api/") && !PUBLIC_API_PATHS.contains(&path.trim_end_matches('/'))
}

/// Middleware: authenticates every protected request before any extractor runs (so a bad
/// token is a 401 even when the body is also bad) and stores the [`Auth`] in the request.
pub async fn middleware(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    if requires_auth(req.path()) {
        let result = match req.app_data::<web::Data<AppState>>().cloned() {
            Some(state) => authenticate(&state, req.request()).await,
            None => Err(ApiError::internal("app state missing")),
        };
        match result {
            Ok(auth) => {
                actix_web::HttpMessage::extensions_mut(&req).insert(auth);
            }
            Err(e) => return Ok(req.error_response(e).map_into_right_body()),
        }
    }
    next.call(req).await.map(|r| r.map_into_left_body())
}

/// Default lifetime of a verified token in this process's cache. Changes made elsewhere empty
/// the cache when they are announced ([`crate::store::auth`]), so the lifetime only bounds how
/// long a record lives at all (at most 10 s, `token_cache_ms`).
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);
/// Default lifetime of a connector's row in the execute path's cache (`connector_cache_ms`):
/// changes made through this process apply at once, those made on another replica (PATCH,
/// DELETE, re-authorization, a status set by the health check) within this bound.
pub const CONNECTOR_CACHE_TTL: Duration = Duration::from_secs(1);
async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Auth, ApiError> {
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    let org = req
        .headers()
        .get("X-Organization-Id")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string());
    let token = bearer.filter(|t| !t.is_empty()).ok_or_else(|| {
        ApiError::unauthenticated(
            "missing bearer token: send `Authorization: Bearer <token>` from POST /api/v1/account/applications/token",
        )
    })?;
    let record = state
        .services
        .applications
        .find_token(&hash_token(&token))
        .await?
        .ok_or_else(|| ApiError::unauthenticated("invalid bearer token"))?;
    if record.expires_at <= now() {
        return Err(ApiError::unauthenticated(
            "the bearer token has expired: request a new one",
        ));
    }
    let org = org
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ApiError::unauthenticated("missing X-Organization-Id header"))?;
    if org != record.organization_id {
        return Err(ApiError::from(ConnectorError::new(
            ErrorCode::PermissionDenied,
            "X-Organization-Id does not match the organization of the bearer token",
        )));
    }
    Ok(Auth {
        organization_id: record.organization_id,
        application_id: record.application_id,
    })
}

/// The caller, as authenticated by [`middleware`].
impl FromRequest for Auth {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Auth, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = actix_web::HttpMessage::extensions(req)
            .get::<Auth>()
            .cloned();
        std::future::ready(auth.ok_or_else(|| ApiError::unauthenticated("missing bearer token")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The work runs on a thread of its own (not the caller's, not a pooled one), its result
    /// comes back before the thread lingers, and a panic in it is `None`, not a panic here.
    #[tokio::test(flavor = "current_thread")]
    async fn own_thread_work_runs_apart_and_hands_its_result_back() {
        let caller = std::thread::current().id();
        let (id, name) = on_own_thread(|| {
            let t = std::thread::current();
            (t.id(), t.name().map(str::to_string))
        })
        .await
        .unwrap();
        assert_ne!(id, caller);
        assert_eq!(name.as_deref(), Some("secret-check"));
        let hash = on_own_thread(|| hash_secret("s3cret"))
            .await
            .unwrap()
            .unwrap();
        assert!(on_own_thread(move || verify_secret("s3cret", &hash))
            .await
            .unwrap());
        assert_eq!(on_own_thread(|| -> u8 { panic!("boom") }).await, None);
        assert_eq!(on_own_thread_blocking(|| 7), Some(7));
        assert_eq!(on_own_thread_blocking(|| -> u8 { panic!("boom") }), None);
    }
}
