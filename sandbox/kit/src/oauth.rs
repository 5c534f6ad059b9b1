//! The OAuth endpoints every emulator serves, in its provider's shapes: the token endpoint
//! (`refresh_token` and `authorization_code` grants, client credentials in the form or as HTTP
//! Basic) and the consent screen: approved at once (or denied, when told to), or, in the
//! interactive mode, a page on which a person accepts or cancels, and with Google's granular
//! consent unticks scopes (`GET` shows it, `POST` to the same path is the decision).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
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
        router = router.route(path, get(authorize).post(decide));
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

/// A consent request that passed the checks.
struct Asked {
    redirect_uri: String,
    scopes: Vec<String>,
    code_challenge: Option<String>,
}

/// Checks a consent request as the provider does; a failure is already the answer.
fn check(kit: &Kit, q: &HashMap<String, String>) -> Result<Asked, Box<Response>> {
    let profile = kit.profile;
    let state = q.get("state");
    let redirect_uri = q.get("redirect_uri").filter(|r| !r.is_empty());
    let fail = |f: AuthorizeFailure| {
        Box::new(match ((profile.authorize_error)(f), redirect_uri) {
            (AuthorizeError::Page(r), _) => r,
            (AuthorizeError::Redirect(pairs), Some(to)) => redirect(to, &pairs, state),
            (AuthorizeError::Redirect(_), None) => StatusCode::BAD_REQUEST.into_response(),
        })
    };
    let Some(to) = redirect_uri else {
        return Err(fail(AuthorizeFailure::MissingRedirectUri));
    };
    if q.get("client_id").is_none_or(|c| c.is_empty()) {
        return Err(fail(AuthorizeFailure::MissingClientId));
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err(fail(AuthorizeFailure::UnsupportedResponseType));
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in q
        .get("scope")
        .map(|s| {
            s.split_whitespace()
                .map(profile.normalize_scope)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
    {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    if scopes.is_empty() {
        return Err(fail(AuthorizeFailure::MissingScope));
    }
    let code_challenge = match (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(c), Some("S256")) => Some(c.clone()),
        (Some(_), _) => return Err(fail(AuthorizeFailure::UnsupportedChallengeMethod)),
        (None, _) => None,
    };
    Ok(Asked {
        redirect_uri: to.clone(),
        scopes,
        code_challenge,
    })
}

/// Back to the client with `error=access_denied` (in the provider's words).
fn denied(kit: &Kit, asked: &Asked, q: &HashMap<String, String>) -> Response {
    let pairs: Vec<(&str, String)> = kit
        .profile
        .denied_params
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    redirect(&asked.redirect_uri, &pairs, q.get("state"))
}

/// Issues a code for `scopes` (as `login_hint` when it names an emulated user, else the
/// default user); 302 back to `redirect_uri` with `code` and `state`.
fn approve(kit: &Kit, asked: Asked, scopes: Vec<String>, q: &HashMap<String, String>) -> Response {
    let profile = kit.profile;
    let mut auth = kit.auth();
    let user = q
        .get("login_hint")
        .and_then(|h| kit.directory.resolve(h))
        .unwrap_or_else(|| auth.default_user.clone());
    // Whether a refresh token comes is decided by what was asked (Microsoft's `offline_access`
    // is not one of the consent's choices).
    let refresh = (profile.wants_refresh_token)(q, &asked.scopes);
    let code = auth.add_code(PendingCode {
        grant: Grant {
            user,
            scopes: Some(scopes.clone()),
        },
        redirect_uri: asked.redirect_uri.clone(),
        code_challenge: asked.code_challenge,
        refresh,
        expires: Instant::now() + Duration::from_secs(600),
    });
    drop(auth);
    let mut pairs = vec![("code", code)];
    pairs.extend((profile.consent_params)(&scopes));
    redirect(&asked.redirect_uri, &pairs, q.get("state"))
}

/// The consent screen: approved at once, or denied when told to; in the interactive mode the
/// provider's consent page.
async fn authorize(
    State(kit): State<Arc<Kit>>,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let asked = match check(&kit, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (deny, interactive) = {
        let auth = kit.auth();
        (auth.deny_consent, auth.interactive_consent)
    };
    if deny {
        return denied(&kit, &asked, &q);
    }
    if interactive {
        return consent_page(&kit, uri.path(), &asked, &q);
    }
    let scopes = asked.scopes.clone();
    approve(&kit, asked, scopes, &q)
}

/// The person's decision on the consent page: `decision=accept|cancel`, the request's own
/// parameters, and (granular consent) a `granted` field per ticked scope.
async fn decide(State(kit): State<Arc<Kit>>, body: Bytes) -> Response {
    let mut q: HashMap<String, String> = HashMap::new();
    let mut ticked: Vec<String> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "granted" => ticked.push(v.into_owned()),
            _ => {
                q.insert(k.into_owned(), v.into_owned());
            }
        }
    }
    let asked = match check(&kit, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match q.get("decision").map(String::as_str) {
        Some("accept") => {
            let scopes: Vec<String> = if kit.profile.consent_screen.granular {
                asked
                    .scopes
                    .iter()
                    .filter(|s| ticked.contains(s))
                    .cloned()
                    .collect()
            } else {
                asked.scopes.clone()
            };
            approve(&kit, asked, scopes, &q)
        }
        Some("cancel") => denied(&kit, &asked, &q),
        _ => (StatusCode::BAD_REQUEST, "decision must be accept or cancel").into_response(),
    }
}

/// HTML-escapes text for element content and double-quoted attributes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The provider's consent page: who asks, the scopes (each with a checkbox on a granular
/// screen), and the accept and cancel buttons, in a form that posts back here.
fn consent_page(kit: &Kit, path: &str, asked: &Asked, q: &HashMap<String, String>) -> Response {
    let screen = kit.profile.consent_screen;
    let client = q.get("client_id").map(String::as_str).unwrap_or("");
    let mut keys: Vec<&String> = q.keys().collect();
    keys.sort();
    let hidden: String = keys
        .iter()
        .map(|k| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                esc(k),
                esc(&q[*k])
            )
        })
        .collect();
    let items: String = asked
        .scopes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if screen.granular {
                format!(
                    "<li><input type=\"checkbox\" id=\"scope-{i}\" name=\"granted\" value=\"{0}\" checked> \
                     <label for=\"scope-{i}\">{0}</label></li>\n",
                    esc(s)
                )
            } else {
                format!("<li>{}</li>\n", esc(s))
            }
        })
        .collect();
    let user = q
        .get("login_hint")
        .and_then(|h| kit.directory.resolve(h))
        .unwrap_or_else(|| kit.auth().default_user.clone());
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n\
         <p>The application <strong>{client}</strong> wants to access your account \
         <strong>{user}</strong> ({name} emulator).</p>\n\
         <form method=\"post\" action=\"{action}\">\n{hidden}\
         <fieldset>\n<legend>{legend}</legend>\n<ul>\n{items}</ul>\n</fieldset>\n\
         <button type=\"submit\" name=\"decision\" value=\"cancel\">{cancel}</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"accept\">{accept}</button>\n\
         </form>\n</main>\n</body>\n</html>\n",
        title = esc(screen.title),
        client = esc(client),
        user = esc(&user),
        name = esc(kit.profile.name),
        action = esc(path),
        legend = if screen.granular {
            "Select what the application can access"
        } else {
            "This application will be able to"
        },
        cancel = esc(screen.cancel),
        accept = esc(screen.accept),
    );
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    r
}
