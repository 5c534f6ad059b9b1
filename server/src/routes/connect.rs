//! The connect page (issue 25): `POST /api/v1/integrations/connectors/connect/sessions` (API) and the
//! public, server-rendered pages it links to:
//!
//! - `GET /connect/s/{token}`: the page (provider choice, permissions in plain words);
//! - `POST /connect/s/{token}`: the choice; 303 to the provider's consent page (single use);
//! - `GET /connect/s/{token}/done`: where the OAuth callback sends the end user back; a 303 to the
//!   application's `redirect_url` with `connector_id` or `error`, or in a popup a page that
//!   posts the result to the opener (only to an allowed origin) and closes;
//! - `GET /connect/button.js`, `/connect/assets/*`: the embeddable script, the page's script and
//!   style (no inline script or style: the page's Content-Security-Policy forbids both);
//! - `POST /api/v1/integrations/connectors/{id}/reconnect_link` (API) and `GET /connect/r/{token}`:
//!   a re-authorization link that lasts days and opens a fresh session in reconnect mode
//!   ([`crate::services::reconnect`]).
//!
//! The pages hold no secret, cannot be framed (`frame-ancestors 'none'`, `X-Frame-Options`)
//! and are not cached.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use api_types::{ConnectSession, ConnectSessionRequest, ReconnectLink};
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::routes::oauth::CALLBACK_PATH;
use crate::services::connect::{
    origin_of, permissions, provider_label, Branding, Closed, Session, Start,
};
use crate::services::oauth::with_query;
use crate::services::reconnect::Opened;
use crate::AppState;

pub const SESSIONS_PATH: &str = "/api/v1/integrations/connectors/connect/sessions";
pub const RECONNECT_LINK_PATH: &str = "/api/v1/integrations/connectors/{id}/reconnect_link";
/// The `type` of the message the popup posts to its opener.
pub const MESSAGE_TYPE: &str = "agent-connectors:connect";

const CSS: &str = include_str!("../../assets/connect/connect.css");
const PAGE_JS: &str = include_str!("../../assets/connect/connect.js");
const BUTTON_JS: &str = include_str!("../../assets/connect/button.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(SESSIONS_PATH, web::post().to(create))
        .route("/connect/button.js", web::get().to(button_js))
        .route("/connect/assets/connect.js", web::get().to(page_js))
        .route("/connect/assets/connect.css", web::get().to(css))
        .route("/connect/finished", web::get().to(finished))
        .route("/connect/s/{token}", web::get().to(page))
        .route("/connect/s/{token}", web::post().to(choose))
        .route("/connect/s/{token}/done", web::get().to(done))
        .route("/connect/r/{token}", web::get().to(reconnect))
        .route(RECONNECT_LINK_PATH, web::post().to(reconnect_link));
}

fn base_url(req: &HttpRequest) -> String {
    let c = req.connection_info();
    format!("{}://{}", c.scheme(), c.host())
}

/// Creates a connect session: a single-use URL of the connect page, valid for 15 minutes.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors/connect/sessions",
    operation_id = "create_connect_session",
    tag = "oauth",
    request_body = ConnectSessionRequest,
    responses(
        (status = 200, description = "The connect URL (single use, expires at `expires_at`)", body = ConnectSession),
        (status = 404, description = "`not_found`: unknown `reconnect_connector_id`", body = crate::error::ErrorBody),
    )
)]
async fn create(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<ConnectSessionRequest>,
) -> ApiResult<HttpResponse> {
    let session = state
        .services
        .oauth
        .create_connect_session(&auth.organization_id, body.0, &base_url(&req))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(session))
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=300"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        // The button script is loaded by the organization's own pages.
        .insert_header(("Cross-Origin-Resource-Policy", "cross-origin"))
        .body(body)
}

/// The embeddable connect button: a plain script (no framework) that opens a connect URL in a
/// popup and reports its result to the page with a DOM event.
#[utoipa::path(
    get,
    path = "/connect/button.js",
    operation_id = "connect_button_js",
    tag = "connect",
    responses((status = 200, description = "The script", content_type = "text/javascript", body = String))
)]
async fn button_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", BUTTON_JS)
}

/// The connect page's own script.
#[utoipa::path(
    get,
    path = "/connect/assets/connect.js",
    operation_id = "connect_page_js",
    tag = "connect",
    responses((status = 200, description = "The script", content_type = "text/javascript", body = String))
)]
async fn page_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", PAGE_JS)
}

/// The connect page's style sheet.
#[utoipa::path(
    get,
    path = "/connect/assets/connect.css",
    operation_id = "connect_page_css",
    tag = "connect",
    responses((status = 200, description = "The style sheet", content_type = "text/css", body = String))
)]
async fn css() -> HttpResponse {
    asset("text/css; charset=utf-8", CSS)
}

/// HTML-escapes text for element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page with the connect page's headers: strict CSP (no inline script or style, nothing
/// from elsewhere but the logo and, for the form, the providers' consent pages), no framing,
/// no caching, no referrer.
fn html(status: StatusCode, body: String, img: &[String], forms: &[String]) -> HttpResponse {
    let img: String = img.iter().map(|o| format!(" {o}")).collect();
    let forms: String = forms.iter().map(|o| format!(" {o}")).collect();
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'{img}; \
         form-action 'self'{forms}; frame-ancestors 'none'; base-uri 'none'"
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", csp))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

fn document(title: &str, branding: Option<&Branding>, main: &str) -> String {
    let header = match branding {
        Some(b) => {
            let logo = b
                .logo_url
                .as_deref()
                .map(|u| {
                    format!(
                        "<img class=\"logo\" src=\"{}\" alt=\"{} logo\" width=\"48\" height=\"48\">",
                        esc(u),
                        esc(&b.name)
                    )
                })
                .unwrap_or_default();
            format!(
                "<header class=\"org\">{logo}<p class=\"org-name\">{}</p></header>",
                esc(&b.name)
            )
        }
        None => String::new(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"/connect/assets/connect.css\">\n\
         <script src=\"/connect/assets/connect.js\" defer></script>\n</head>\n<body>\n\
         <main id=\"main\">\n{header}\n{main}\n</main>\n</body>\n</html>\n",
        esc(title)
    )
}

/// A page of the connect flow: the frame ([`document`]), branded when `branding` is given (its
/// logo's origin then allowed as an image source), with the page headers ([`html`]); `forms`
/// are the origins its form may submit to besides this server.
fn render(
    status: StatusCode,
    title: &str,
    branding: Option<&Branding>,
    main: &str,
    forms: &[String],
) -> HttpResponse {
    let img: Vec<String> = branding
        .and_then(|b| b.logo_url.as_deref())
        .and_then(origin_of)
        .into_iter()
        .collect();
    html(status, document(title, branding, main), &img, forms)
}

/// A 303 to `to`, neither cached nor telling it where the browser came from.
fn see_other(to: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .finish()
}

fn message_page(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    let main = format!(
        "<h1>{}</h1>\n<p role=\"alert\">{}</p>",
        esc(title),
        esc(text)
    );
    render(status, title, None, &main, &[])
}

fn unknown() -> HttpResponse {
    message_page(
        StatusCode::NOT_FOUND,
        "Link not valid",
        "This connect link is not valid. Start again from the application.",
    )
}

fn internal() -> HttpResponse {
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "An internal error occurred; try again later.",
    )
}

/// `mode=popup` and `origin=...` of the page's query (or form).
fn start_of(pairs: &[(String, String)]) -> (bool, Option<String>) {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    (
        get("mode").as_deref() == Some("popup"),
        get("origin").filter(|o| !o.is_empty()),
    )
}

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// Where the result may be posted: the opener's origin when allowed, else (no origin given)
/// the origin of `redirect_url`; `None`: nowhere.
async fn target_origin(
    state: &AppState,
    session: &Session,
    origin: Option<String>,
) -> Result<Option<String>, connector_core::ConnectorError> {
    match origin {
        Some(o) => {
            state
                .services
                .oauth
                .allowed_origin(&session.organization_id, &o)
                .await
        }
        None => Ok(origin_of(&session.request.redirect_url)),
    }
}

/// The end of a session: a 303 to the application, or in a popup the result page.
fn finish(session: &Session, start: &Start, outcome: &Value, branding: &Branding) -> HttpResponse {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for k in ["connector_id", "error", "error_description"] {
        if let Some(v) = outcome[k].as_str() {
            pairs.push((k, v.to_string()));
        }
    }
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = with_query(&session.request.redirect_url, &borrowed);
    if !start.popup {
        return see_other(back);
    }
    let mut message = json!({"type": MESSAGE_TYPE});
    for (k, v) in &pairs {
        message[*k] = json!(v);
    }
    let ok = outcome["connector_id"].is_string();
    let (title, text) = if ok {
        (
            "Connected".to_string(),
            format!(
                "Your account is connected to {}. You can close this window.",
                branding.name
            ),
        )
    } else {
        (
            "Not connected".to_string(),
            format!(
                "The account was not connected: {}.",
                outcome["error_description"]
                    .as_str()
                    .or(outcome["error"].as_str())
                    .unwrap_or("unknown error")
            ),
        )
    };
    let main = format!(
        "<h1>{}</h1>\n<p role=\"status\">{}</p>\n\
         <div id=\"result\" hidden data-message=\"{}\" data-target-origin=\"{}\" data-back=\"{}\"></div>\n\
         <p><a href=\"{}\">Return to {}</a></p>",
        esc(&title),
        esc(&text),
        esc(&message.to_string()),
        esc(start.target_origin.as_deref().unwrap_or("")),
        esc(&back),
        esc(&back),
        esc(&branding.name),
    );
    render(StatusCode::OK, &title, Some(branding), &main, &[])
}

async fn closed(
    state: &AppState,
    session: &Session,
    why: Closed,
    popup: bool,
    origin: Option<String>,
) -> HttpResponse {
    let target = match target_origin(state, session, origin).await {
        Ok(t) => t,
        Err(_) => return internal(),
    };
    let Ok(branding) = state
        .services
        .oauth
        .branding(&session.organization_id)
        .await
    else {
        return internal();
    };
    finish(
        session,
        &Start {
            popup,
            target_origin: target,
        },
        &json!({"error": why.code(), "error_description": why.description()}),
        &branding,
    )
}

/// The page's query: how it was opened.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct PageQuery {
    /// `popup` when opened by `/connect/button.js` (the result is posted to the opener).
    mode: Option<String>,
    /// The opener's origin; the result is posted only to an origin of the organization's
    /// redirect allow-list.
    origin: Option<String>,
}

/// The end user's choice on the page.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
struct ChoiceForm {
    /// One of the session's connector types.
    connector_type: String,
    /// `popup` or `redirect`.
    mode: Option<String>,
    /// As the page's `origin`.
    origin: Option<String>,
}

/// The result page's query (`/connect/finished`).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct FinishedQuery {
    connector_id: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The connect page of a session (no API token: the single-use URL is the credential).
#[utoipa::path(
    get,
    path = "/connect/s/{token}",
    operation_id = "connect_page",
    tag = "connect",
    params(("token" = String, Path, description = "The session's token (from `connect_url`)"), PageQuery),
    responses(
        (status = 200, description = "The page; or, in a popup, the result page of a used or expired session", content_type = "text/html", body = String),
        (status = 303, description = "A used (`session_used`) or expired (`session_expired`) session: to `redirect_url` with `error` and `error_description`",
            headers(("Location" = String, description = "The session's redirect_url with the error"))),
        crate::openapi_responses::UnknownLinkPage,
        crate::openapi_responses::InternalErrorPage,
    )
)]
async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    let (popup, origin) = start_of(&query_pairs(&req));
    let session = match state.services.oauth.connect_session(&token).await {
        Ok(Some(s)) => s,
        Ok(None) => return unknown(),
        Err(_) => return internal(),
    };
    if session.start.is_some() {
        return closed(&state, &session, Closed::Used, popup, origin).await;
    }
    if session.expired {
        return closed(&state, &session, Closed::Expired, popup, origin).await;
    }
    let Ok(branding) = state
        .services
        .oauth
        .branding(&session.organization_id)
        .await
    else {
        return internal();
    };
    let reconnect = session.request.reconnect_connector_id.is_some();
    let mut providers = String::new();
    for t in &session.request.connector_types {
        let Some(kind) = state.registry.get(t) else {
            continue;
        };
        let label = provider_label(kind);
        let id = format!("provider-{}", esc(&kind.name));
        let items: String = permissions(kind, &session.request.capabilities)
            .iter()
            .map(|p| format!("<li>{}</li>", esc(p)))
            .collect();
        let verb = if reconnect { "Reconnect" } else { "Connect" };
        providers.push_str(&format!(
            "<section class=\"provider\" aria-labelledby=\"{id}\">\n\
             <h2 id=\"{id}\">{}</h2>\n<p id=\"{id}-what\">{} will be able to:</p>\n\
             <ul aria-labelledby=\"{id}-what\">{items}</ul>\n\
             <button type=\"submit\" name=\"connector_type\" value=\"{}\" \
             aria-describedby=\"{id}-what\">{verb} {}</button>\n</section>\n",
            esc(&label),
            esc(&branding.name),
            esc(&kind.name),
            esc(&label),
        ));
    }
    let (title, intro) = if reconnect {
        (
            "Reconnect your account".to_string(),
            format!(
                "{} lost access to your account. Sign in again to restore it; your settings are kept.",
                branding.name
            ),
        )
    } else if session.request.connector_types.len() > 1 {
        (
            "Connect your email account".to_string(),
            format!(
                "{} asks for access to your mailbox. Choose your provider; you sign in on the provider's own page.",
                branding.name
            ),
        )
    } else {
        (
            "Connect your email account".to_string(),
            format!(
                "{} asks for access to your mailbox. You sign in on the provider's own page.",
                branding.name
            ),
        )
    };
    let target = match &origin {
        Some(o) => format!(
            "<input type=\"hidden\" name=\"origin\" value=\"{}\">",
            esc(o)
        ),
        None => String::new(),
    };
    let cancel_target = if popup {
        match target_origin(&state, &session, origin.clone()).await {
            Ok(t) => t.unwrap_or_default(),
            Err(_) => return internal(),
        }
    } else {
        String::new()
    };
    let cancel = with_query(
        &session.request.redirect_url,
        &[
            ("error", "access_denied"),
            ("error_description", "the end user cancelled"),
        ],
    );
    let main = format!(
        "<h1>{}</h1>\n<p>{}</p>\n\
         <form method=\"post\" action=\"/connect/s/{}\">\n\
         <input type=\"hidden\" name=\"mode\" value=\"{}\">{target}\n{providers}</form>\n\
         <p class=\"note\">You can revoke this access at any time in your account's security settings.</p>\n\
         <p><a href=\"{}\" id=\"cancel\" data-target-origin=\"{}\" data-message=\"{}\">Cancel and return to {}</a></p>",
        esc(&title),
        esc(&intro),
        esc(&token),
        if popup { "popup" } else { "redirect" },
        esc(&cancel),
        esc(&cancel_target),
        esc(&json!({"type": MESSAGE_TYPE, "error": "access_denied", "error_description": "the end user cancelled"}).to_string()),
        esc(&branding.name),
    );
    // The form's navigation goes to the provider's consent page; a consent that approves at
    // once (an emulator, an earlier grant) redirects on through the callback to
    // `redirect_url`, which form-action also covers.
    let mut forms = state
        .services
        .oauth
        .consent_origins(&session.request.connector_types);
    forms.extend(origin_of(&session.request.redirect_url));
    render(StatusCode::OK, &title, Some(&branding), &main, &forms)
}

/// The end user's provider choice: starts the OAuth flow (once per session).
#[utoipa::path(
    post,
    path = "/connect/s/{token}",
    operation_id = "connect_choose",
    tag = "connect",
    params(("token" = String, Path, description = "The session's token")),
    request_body(content = ChoiceForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "In a popup: the result page of a used or expired session", content_type = "text/html", body = String),
        (status = 303, description = "To the provider's consent page; or, for a used or expired session, to `redirect_url` with the error",
            headers(("Location" = String, description = "Where the browser goes next"))),
        (status = 400, description = "No provider chosen, or one the session does not offer: an HTML page", content_type = "text/html", body = String),
        crate::openapi_responses::UnknownLinkPage,
        crate::openapi_responses::InternalErrorPage,
    )
)]
async fn choose(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let (popup, origin) = start_of(&pairs);
    let session = match state.services.oauth.connect_session(&token).await {
        Ok(Some(s)) => s,
        Ok(None) => return unknown(),
        Err(_) => return internal(),
    };
    let Some(kind) = pairs
        .iter()
        .find(|(k, _)| k == "connector_type")
        .map(|(_, v)| v.clone())
    else {
        return message_page(
            StatusCode::BAD_REQUEST,
            "Choose a provider",
            "Choose a provider to connect.",
        );
    };
    let target = match target_origin(&state, &session, origin.clone()).await {
        Ok(t) => t,
        Err(_) => return internal(),
    };
    let base = base_url(&req);
    let callback = format!("{base}{CALLBACK_PATH}");
    let start = Start {
        popup,
        target_origin: target,
    };
    match state
        .services
        .oauth
        .start_connect(&token, &session, &kind, start, &base, &callback)
        .await
    {
        Ok(Ok(to)) => see_other(to),
        Ok(Err(why)) => closed(&state, &session, why, popup, origin).await,
        Err(e) => message_page(StatusCode::BAD_REQUEST, "Cannot connect", &e.message),
    }
}

/// A plain landing page for a `redirect_url` (the sandbox's): says how the flow ended.
#[utoipa::path(
    get,
    path = "/connect/finished",
    operation_id = "connect_finished",
    tag = "connect",
    params(FinishedQuery),
    responses((status = 200, description = "The page", content_type = "text/html", body = String))
)]
async fn finished(req: HttpRequest) -> HttpResponse {
    let q = query_pairs(&req);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let main = match (get("connector_id"), get("error")) {
        (Some(id), _) => format!(
            "<h1>Connected</h1>\n<p role=\"status\">The account is connected. You can close this window.</p>\n<p>Connector id: <code id=\"connector-id\">{}</code></p>",
            esc(id)
        ),
        (None, Some(e)) => format!(
            "<h1>Not connected</h1>\n<p role=\"alert\">The account was not connected (<code id=\"error\">{}</code>): {}</p>",
            esc(e),
            esc(get("error_description").unwrap_or(""))
        ),
        (None, None) => "<h1>Nothing to show</h1>\n<p>This page shows the end of a connect flow.</p>".to_string(),
    };
    render(StatusCode::OK, "Connect", None, &main, &[])
}

/// Where the OAuth callback sends the end user back: the outcome recorded by the callback.
#[utoipa::path(
    get,
    path = "/connect/s/{token}/done",
    operation_id = "connect_done",
    tag = "connect",
    params(("token" = String, Path, description = "The session's token")),
    responses(
        (status = 200, description = "In a popup: the result page, which posts the result to the opener (only to an allowed origin) and closes", content_type = "text/html", body = String),
        (status = 303, description = "To `redirect_url` with `connector_id`, or `error` and `error_description`",
            headers(("Location" = String, description = "The session's redirect_url with the outcome"))),
        (status = 400, description = "The flow has not finished: an HTML page", content_type = "text/html", body = String),
        crate::openapi_responses::UnknownLinkPage,
        crate::openapi_responses::InternalErrorPage,
    )
)]
async fn done(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let session = match state.services.oauth.connect_session(&token).await {
        Ok(Some(s)) => s,
        Ok(None) => return unknown(),
        Err(_) => return internal(),
    };
    let (Some(start), Some(outcome)) = (&session.start, &session.outcome) else {
        return message_page(
            StatusCode::BAD_REQUEST,
            "Not finished",
            "This connection has not finished. Start again from the application.",
        );
    };
    let Ok(branding) = state
        .services
        .oauth
        .branding(&session.organization_id)
        .await
    else {
        return internal();
    };
    finish(&session, start, outcome, &branding)
}

/// A re-authorization link for a connector in `needs_reauth`: send `reconnect_url` to the end
/// user (it is also in the connector's `connector.status_changed` event). It opens the connect
/// page in reconnect mode, works for 7 days, and stops working once the connector is active
/// again or deleted.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors/{id}/reconnect_link",
    operation_id = "create_reconnect_link",
    tag = "connect",
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 200, description = "The link", body = ReconnectLink),
        crate::openapi_responses::ConnectorNotFound,
        (status = 409, description = "`conflict`: the connector is not in `needs_reauth`", body = crate::error::ErrorBody),
    )
)]
async fn reconnect_link(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let link = state
        .services
        .oauth
        .reconnect_link(&auth.organization_id, &id, &base_url(&req))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(link))
}

/// Opens a re-authorization link: a fresh connect session in reconnect mode (no API token: the
/// link is the credential). The page's `mode` and `origin` are passed on.
#[utoipa::path(
    get,
    path = "/connect/r/{token}",
    operation_id = "connect_reconnect",
    tag = "connect",
    params(("token" = String, Path, description = "The link's token (from `reconnect_url`)"), PageQuery),
    responses(
        (status = 303, description = "To the connect page of a fresh session in reconnect mode",
            headers(("Location" = String, description = "The session's connect URL"))),
        (status = 404, description = "Unknown link, or no longer needed (the connector is active again or deleted): an HTML page", content_type = "text/html", body = String),
        (status = 410, description = "Expired link: an HTML page", content_type = "text/html", body = String),
        crate::openapi_responses::InternalErrorPage,
    )
)]
async fn reconnect(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    match state
        .services
        .oauth
        .open_reconnect_link(&token, &base_url(&req))
        .await
    {
        Ok(Opened::Session(url)) => {
            let (popup, origin) = start_of(&query_pairs(&req));
            let mut pairs: Vec<(&str, &str)> = Vec::new();
            if popup {
                pairs.push(("mode", "popup"));
            }
            if let Some(o) = &origin {
                pairs.push(("origin", o));
            }
            let to = if pairs.is_empty() {
                url
            } else {
                with_query(&url, &pairs)
            };
            see_other(to)
        }
        Ok(Opened::Unknown) => message_page(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This reconnect link is not valid any more: the account may be connected already. \
             If the application still asks you to reconnect, start again from there.",
        ),
        Ok(Opened::Expired) => message_page(
            StatusCode::GONE,
            "Link expired",
            "This reconnect link has expired. Start again from the application.",
        ),
        Err(_) => internal(),
    }
}
