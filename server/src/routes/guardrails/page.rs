//! The page a signed approval link opens: the exact message (escaped) and two buttons. Showing
//! it changes nothing (link previews and scanners fetch links); only the form's POST decides,
//! once.

use std::fmt::Write;

use actix_web::{web, HttpResponse};
use api_types::guardrails::ApprovalView;
use serde::Deserialize;

use crate::error::ApiResult;
use crate::routes::connect::esc;
use crate::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The signed token of the link.
    token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DecisionForm {
    decision: Decision,
}

/// What the person decided.
#[derive(Deserialize, utoipa::ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

/// The page of a signed approval link (no API token: the link is the credential): the exact
/// message and two buttons. Opening it decides nothing.
#[utoipa::path(
    get,
    path = "/approvals/decide",
    operation_id = "approval_link_page",
    tag = "guardrails",
    params(TokenQuery),
    responses(
        (status = 200, description = "The approval page", content_type = "text/html", body = String),
        (status = 400, description = "`invalid_params`: no token, or a decision that is not approve or reject", body = crate::error::ErrorBody),
        (status = 401, description = "`unauthenticated`: the link is not valid or has expired", body = crate::error::ErrorBody),
    )
)]
pub async fn show(
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> ApiResult<HttpResponse> {
    let (view, reviewer) = state.services.guardrails.by_link(&query.token).await?;
    Ok(html(&page(&view, &reviewer, &query.token)))
}

/// The decision of the link's page: once (only a pending approval can be decided).
#[utoipa::path(
    post,
    path = "/approvals/decide",
    operation_id = "approval_link_decide",
    tag = "guardrails",
    params(TokenQuery),
    request_body(content = DecisionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Decided", content_type = "text/html", body = String),
        (status = 400, description = "`invalid_params`: no token, or a decision that is not approve or reject", body = crate::error::ErrorBody),
        (status = 401, description = "`unauthenticated`: the link is not valid or has expired", body = crate::error::ErrorBody),
        (status = 409, description = "`conflict`: decided already", body = crate::error::ErrorBody),
    )
)]
pub async fn decide(
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
    form: web::Form<DecisionForm>,
) -> ApiResult<HttpResponse> {
    let approve = form.decision == Decision::Approve;
    let view = state
        .services
        .guardrails
        .decide_by_link(&query.token, approve)
        .await?;
    Ok(html(&format!(
        "<!doctype html><meta charset=utf-8><title>Approval {}</title><p>The message was <b>{}</b>. You can close this page.</p>",
        esc(&view.id),
        esc(&view.status)
    )))
}

fn html(body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .body(body.to_string())
}

fn page(v: &ApprovalView, reviewer: &str, token: &str) -> String {
    let p = &v.preview;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><meta charset=utf-8><title>Approve this message?</title>\
         <h1>Approve this message?</h1><p>For {}. Why: {}. Status: <b>{}</b>; expires {}.</p><table>",
        esc(reviewer),
        esc(&v.reason),
        esc(&v.status),
        esc(&v.expires_at)
    );
    let row = |out: &mut String, k: &str, v: &str| {
        let _ = write!(out, "<tr><th align=left>{k}</th><td>{}</td></tr>", esc(v));
    };
    row(
        &mut out,
        "From",
        p.from.as_deref().unwrap_or("(the mailbox)"),
    );
    row(&mut out, "To", &p.to.join(", "));
    row(&mut out, "Cc", &p.cc.join(", "));
    row(&mut out, "Bcc", &p.bcc.join(", "));
    row(&mut out, "Subject", p.subject.as_deref().unwrap_or(""));
    for a in &p.attachments {
        let line = format!(
            "{} ({}, {} bytes, sha256 {})",
            a.filename,
            a.mime_type,
            a.size,
            a.sha256.as_deref().unwrap_or("unknown")
        );
        row(&mut out, "Attachment", &line);
    }
    if let Some(note) = &p.note {
        row(&mut out, "Note", note);
    }
    let _ = write!(
        out,
        "</table><pre style=\"white-space:pre-wrap;border:1px solid #999;padding:8px\">{}</pre>",
        esc(&p.text)
    );
    if v.status == "pending" {
        let action = format!("?token={}", esc(token));
        let _ = write!(
            out,
            "<form method=post action=\"{action}\"><button name=decision value=approve>Approve and send</button> \
             <button name=decision value=reject>Reject</button></form>"
        );
    }
    out
}
