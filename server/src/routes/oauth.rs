//! The OAuth flow: `POST .../connectors/oauth/initiate`, `GET .../connectors/oauth/callback`
//! (no API token; its query string is never logged), `POST .../connectors/{id}/reauthorize`,
//! and `GET .../connectors/{id}/account` (address and send-as aliases read at consent).

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use api_types::{AccountView, ConsentUrl, InitiateRequest, ReauthorizeRequest};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::oauth::apps::choose;
use crate::oauth::flow::{callback as run_callback, consent_url, Outcome, Pending};
use crate::oauth::provider::scopes_for;
use crate::oauth::redirect::allowed;
use crate::registry::ConnectorType;
use crate::AppState;

const BASE: &str = "/api/v1/integrations/connectors";
pub const CALLBACK_PATH: &str = "/api/v1/integrations/connectors/oauth/callback";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(&format!("{BASE}/oauth/initiate"), web::post().to(initiate))
        .route(CALLBACK_PATH, web::get().to(callback))
        .route(
            &format!("{BASE}/{{id}}/reauthorize"),
            web::post().to(reauthorize),
        )
        .route(&format!("{BASE}/{{id}}/account"), web::get().to(account));
}

/// What the provider appends to the callback URL.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The flow's state (binds the callback to its initiate call).
    pub state: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// The provider's error code when the end user declined or the provider refused.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

fn kind_of<'a>(
    state: &'a AppState,
    t: Option<&str>,
    d: Option<&str>,
) -> ApiResult<&'a ConnectorType> {
    match (t, d) {
        (Some(t), _) => state.registry.get(t),
        (None, Some(d)) => state.registry.by_definition(d),
        (None, None) => None,
    }
    .filter(|k| d.is_none_or(|d| d == k.definition_id))
    .ok_or_else(|| ApiError::invalid("give a known `connector_type` or `definition_id`"))
}

fn readonly(scopes: Option<&str>) -> ApiResult<bool> {
    match scopes.unwrap_or("full") {
        "full" => Ok(false),
        "readonly" => Ok(true),
        _ => Err(ApiError::invalid(
            "`scopes` must be \"full\" or \"readonly\"",
        )),
    }
}

/// Our callback URL: the provider config's `redirect_uri`, else this server's own address.
fn redirect_uri(kind: &ConnectorType, req: &HttpRequest) -> String {
    kind.provider.redirect_uri.clone().unwrap_or_else(|| {
        let c = req.connection_info();
        format!("{}://{}{CALLBACK_PATH}", c.scheme(), c.host())
    })
}

async fn check_redirect(state: &AppState, org: &str, url: &str) -> ApiResult<()> {
    let settings = state.store.org_settings(org).await?;
    if allowed(&settings.redirect_allowlist, url) {
        Ok(())
    } else {
        Err(ApiError::from(
            connector_core::ConnectorError::invalid_params(
                "`redirect_url` is not on the organization's redirect allow-list (scheme, host, port and path prefix must match)",
            )
            .with_details(json!({"path": "redirect_url"})),
        ))
    }
}

fn tenant_of(
    kind: &ConnectorType,
    asked: Option<String>,
    app_tenant: Option<String>,
) -> ApiResult<String> {
    let t = asked
        .or(app_tenant)
        .or_else(|| kind.provider.tenant.clone())
        .unwrap_or_else(|| {
            kind.descriptor
                .oauth
                .default_tenant
                .unwrap_or("common")
                .into()
        });
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(ApiError::invalid(
            "`tenant` must be common, organizations, consumers or a tenant id",
        ));
    }
    Ok(t)
}

/// Starts the OAuth flow; the connector is created when the provider redirects back.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors/oauth/initiate",
    operation_id = "oauth_initiate",
    tag = "oauth",
    request_body = InitiateRequest,
    responses(
        (status = 200, description = "The consent URL", body = ConsentUrl),
        (status = 404, description = "`not_found`: unknown `oauth_app_id`", body = crate::error::ErrorBody),
    )
)]
async fn initiate(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<InitiateRequest>,
) -> ApiResult<HttpResponse> {
    let r = body.0;
    if r.customer_name.trim().is_empty() {
        return Err(ApiError::invalid("`customer_name` must not be empty"));
    }
    let org = &auth.organization_id;
    let kind = kind_of(
        &state,
        r.connector_type.as_deref(),
        r.definition_id.as_deref(),
    )?;
    check_redirect(&state, org, &r.redirect_url).await?;
    let chosen = choose(&state, org, kind, r.oauth_app_id.as_deref()).await?;
    let tenant = tenant_of(kind, r.tenant, chosen.tenant.clone())?;
    let pending = Pending {
        customer_name: r.customer_name,
        connector_type: kind.name.clone(),
        redirect_url: r.redirect_url,
        redirect_uri: redirect_uri(kind, &req),
        name: r.name,
        replication_config: r
            .replication_config
            .map(|c| serde_json::to_value(c).expect("serializes")),
        scopes: scopes_for(kind, readonly(r.scopes.as_deref())?),
        tenant: if kind.has_tenants() {
            tenant
        } else {
            "common".into()
        },
        oauth_app_id: chosen.app_id.clone(),
        connector_id: None,
    };
    let url = consent_url(&state, org, kind, &chosen, &pending).await?;
    Ok(HttpResponse::Ok().json(ConsentUrl {
        consent_url: url,
        connector_id: None,
    }))
}

/// Starts the OAuth flow again for an existing connector.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors/{id}/reauthorize",
    operation_id = "oauth_reauthorize",
    tag = "oauth",
    params(("id" = String, Path, description = "Connector id")),
    request_body = ReauthorizeRequest,
    responses(
        (status = 200, description = "The consent URL", body = ConsentUrl),
    )
)]
async fn reauthorize(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: ApiJson<ReauthorizeRequest>,
) -> ApiResult<HttpResponse> {
    let org = &auth.organization_id;
    let row = state
        .store
        .get_connector(org, &id)
        .await?
        .ok_or_else(ApiError::connector_not_found)?;
    let kind = kind_of(&state, Some(&row.connector_type), None)?;
    let r = body.0;
    check_redirect(&state, org, &r.redirect_url).await?;
    let link = state.store.link_of(&row.id).await?;
    let app_id = link.and_then(|l| l.2);
    let chosen = choose(&state, org, kind, app_id.as_deref()).await?;
    let tenant = tenant_of(kind, r.tenant, chosen.tenant.clone())?;
    let pending = Pending {
        customer_name: row.customer_name.clone(),
        connector_type: kind.name.clone(),
        redirect_url: r.redirect_url,
        redirect_uri: redirect_uri(kind, &req),
        name: None,
        replication_config: None,
        scopes: scopes_for(kind, readonly(r.scopes.as_deref())?),
        tenant: if kind.has_tenants() {
            tenant
        } else {
            "common".into()
        },
        oauth_app_id: chosen.app_id.clone(),
        connector_id: Some(row.id.clone()),
    };
    let url = consent_url(&state, org, kind, &chosen, &pending).await?;
    Ok(HttpResponse::Ok().json(ConsentUrl {
        consent_url: url,
        connector_id: Some(row.id),
    }))
}

/// Where the provider redirects the end user. No API token (the `state` binds it to its
/// initiate call); its query string is never logged.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/oauth/callback",
    operation_id = "oauth_callback",
    tag = "oauth",
    params(CallbackQuery),
    responses(
        (status = 302, description = "To the caller's `redirect_url` with `?connector_id=...`, or `?error=...&error_description=...` when the flow failed",
            headers(("Location" = String, description = "The caller's redirect_url with the outcome"))),
        (status = 400, description = "Unknown, used or tampered `state`: a plain-text page", content_type = "text/plain", body = String),
        (status = 500, description = "Internal error: a plain-text page", content_type = "text/plain", body = String),
    )
)]
async fn callback(
    state: web::Data<AppState>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    match run_callback(&state, &query).await {
        Outcome::Redirect(to) => HttpResponse::Found()
            .insert_header(("Location", to))
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Outcome::Page(status, text) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
        )
        .insert_header(("Cache-Control", "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(format!("Authorization failed.\n\n{text}\n")),
    }
}

/// The account (address, aliases) an OAuth connector was authorized for.
#[utoipa::path(
    get,
    path = "/api/v1/integrations/connectors/{id}/account",
    operation_id = "get_connector_account",
    tag = "oauth",
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
    )
)]
async fn account(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    state
        .store
        .get_connector(&auth.organization_id, &id)
        .await?
        .ok_or_else(ApiError::connector_not_found)?;
    let (account, aliases, app) = state
        .store
        .link_of(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("this connector was not made by the OAuth flow"))?;
    Ok(HttpResponse::Ok().json(AccountView {
        connector_id: id.into_inner(),
        account,
        aliases,
        oauth_app_id: app,
    }))
}
