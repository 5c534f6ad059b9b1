//! The OAuth endpoints every emulator serves, in its provider's shapes: the token endpoint
//! (`refresh_token` and `authorization_code` grants, client credentials in the form or as HTTP
//! Basic) and the consent screen, approved at once (or denied, when told to).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde_json::Value;

use crate::authority::{Grant, PendingCode};
use crate::profile::{AuthorizeError, AuthorizeFailure};
use crate::Kit;

/// A router serving the token endpoint at `token_path` and the consent screen at each of
/// `authorize_paths` (axum path syntax, e.g. `/{tenant}/oauth2/v2.0/token`).
pub fn routes(kit: Arc<Kit>, token_path: &str, authorize_paths: &[&str]) -> Router {
    let mut router = Router::new().route(token_path, post(token));
    for path in authorize_paths {
        router = router.route(path, get(authorize));
    }
    router.with_state(kit)
}

/// A JSON answer with the given status.
pub fn json_response(status: u16, body: &Value) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        serde_json::to_vec_pretty(body).unwrap_or_default(),
    )
        .into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

async fn token(State(kit): State<Arc<Kit>>, headers: HeaderMap, body: Bytes) -> Response {
    kit.count_token_request();
    let mut form: HashMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // Client credentials may come as HTTP Basic auth (RFC 6749 2.3.1) instead of in the form.
    if let Some((id, secret)) = basic_credentials(&headers) {
        form.entry("client_id".into()).or_insert(id);
        form.entry("client_secret".into()).or_insert(secret);
    }
    let answer = kit.auth().token(&form);
    let mut r = match answer {
        Ok(issued) => json_response(200, &(kit.profile.token_body)(&issued)),
        Err(failure) => {
            let (status, body) = (kit.profile.token_error)(failure);
            json_response(status, &body)
        }
    };
    for (k, v) in kit.profile.token_headers {
        r.headers_mut().insert(*k, HeaderValue::from_static(v));
    }
    r
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let h = headers.get("authorization")?.to_str().ok()?;
    let (scheme, value) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}

fn redirect(to: &str, pairs: &[(&str, String)], state: Option<&String>) -> Response {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    if let Some(state) = state {
        out.append_pair("state", state);
    }
    let sep = if to.contains('?') { '&' } else { '?' };
    let location = format!("{to}{sep}{}", out.finish());
    (
        StatusCode::FOUND,
        [(axum::http::header::LOCATION, location)],
    )
        .into_response()
}

/// The consent screen: approved at once, as `login_hint` when it names an emulated user, else
/// the default user; 302 back to `redirect_uri` with `code` and `state`.
async fn authorize(
    State(kit): State<Arc<Kit>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let profile = kit.profile;
    let state = q.get("state");
    let redirect_uri = q.get("redirect_uri").filter(|r| !r.is_empty());
    let fail = |f: AuthorizeFailure| match ((profile.authorize_error)(f), redirect_uri) {
        (AuthorizeError::Page(r), _) => r,
        (AuthorizeError::Redirect(pairs), Some(to)) => redirect(to, &pairs, state),
        (AuthorizeError::Redirect(_), None) => StatusCode::BAD_REQUEST.into_response(),
    };
    let Some(to) = redirect_uri else {
        return fail(AuthorizeFailure::MissingRedirectUri);
    };
    if q.get("client_id").is_none_or(|c| c.is_empty()) {
        return fail(AuthorizeFailure::MissingClientId);
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return fail(AuthorizeFailure::UnsupportedResponseType);
    }
    let scopes: Vec<String> = q
        .get("scope")
        .map(|s| s.split_whitespace().map(profile.normalize_scope).collect())
        .unwrap_or_default();
    if scopes.is_empty() {
        return fail(AuthorizeFailure::MissingScope);
    }
    let code_challenge = match (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(c), Some("S256")) => Some(c.clone()),
        (Some(_), _) => return fail(AuthorizeFailure::UnsupportedChallengeMethod),
        (None, _) => None,
    };
    let mut auth = kit.auth();
    if auth.deny_consent {
        let pairs: Vec<(&str, String)> = profile
            .denied_params
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect();
        return redirect(to, &pairs, state);
    }
    let user = q
        .get("login_hint")
        .and_then(|h| kit.directory.resolve(h))
        .unwrap_or_else(|| auth.default_user.clone());
    let refresh = (profile.wants_refresh_token)(&q, &scopes);
    let code = auth.add_code(PendingCode {
        grant: Grant {
            user,
            scopes: Some(scopes.clone()),
        },
        redirect_uri: to.clone(),
        code_challenge,
        refresh,
        expires: Instant::now() + Duration::from_secs(600),
    });
    drop(auth);
    let mut pairs = vec![("code", code)];
    pairs.extend((profile.consent_params)(&scopes));
    redirect(to, &pairs, state)
}
