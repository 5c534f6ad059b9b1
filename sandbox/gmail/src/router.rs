//! Request/response types and the dispatch from (method, path) to a handler, with the checks
//! every API call goes through: token (the kit's authority), user, scope, quota.

use std::sync::atomic::Ordering;

use axum::http::{HeaderMap, Method, StatusCode};
use bytes::Bytes;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::api::{self, Cx, Handler, Reply};
use super::auth::{allows, method_scopes, quota_cost};
use super::error::ApiError;
use super::fields::Selection;
use super::{batch, lock, request_check, Inner};
use sandbox_kit::Refusal;

/// One HTTP request (outer, or one part of a batch).
#[derive(Clone)]
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The user's request slots this request holds (`server::entry`): for a batch, how many
    /// of its parts may run; for a call, 0 when it is over the user's concurrency limit.
    /// `None`: not counted (inner requests built by the emulator itself).
    pub slots: Option<usize>,
}

impl Req {
    pub fn new(
        method: Method,
        path: &str,
        query: Option<&str>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Self {
        let query = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            method,
            path: path.to_string(),
            query,
            headers,
            body,
            slots: None,
        }
    }

    /// The first value of a query parameter.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter (`labelIds=A&labelIds=B`; commas also split).
    pub fn q_all(&self, key: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn bearer(&self) -> Option<&str> {
        let h = self.header("authorization")?;
        let (scheme, token) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }
}

/// One HTTP answer.
pub(crate) struct Resp {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Resp {
    pub fn json(status: StatusCode, v: &Value) -> Self {
        let body = serde_json::to_vec_pretty(v).unwrap_or_default();
        Resp {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=UTF-8".into(),
            )],
            body: Bytes::from(body),
        }
    }

    pub fn error(e: &ApiError) -> Self {
        let mut r = Self::json(e.status, &e.body());
        for (k, v) in &e.extra_headers {
            r.headers.push((k.to_string(), v.clone()));
        }
        r
    }

    pub fn empty(status: StatusCode) -> Self {
        Resp {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }
}

/// How many of the user's request slots a request takes while it runs: one per call, one per
/// part of a batch (Gmail runs them in parallel), none for anything else.
pub(crate) fn slots_wanted(req: &Req) -> usize {
    let path = req.path.as_str();
    if path == "/batch" || path == "/batch/gmail/v1" {
        batch::part_count(req)
    } else if path.starts_with("/gmail/v1/users/") || path.starts_with("/upload/gmail/v1/users/") {
        1
    } else {
        0
    }
}

/// Routes any request the server receives.
pub(crate) fn dispatch(inner: &Inner, req: &Req) -> Resp {
    let path = req.path.as_str();
    if path == "/batch" || path == "/batch/gmail/v1" {
        if req.method != Method::POST {
            return Resp::error(&ApiError::method_not_allowed());
        }
        return batch::handle(inner, req);
    }
    if let Some(rest) = path.strip_prefix("/upload/gmail/v1/users/") {
        lock(&inner.stats).upload_requests += 1;
        return api::upload::handle(inner, req, rest);
    }
    if let Some(rest) = path.strip_prefix("/gmail/v1/users/") {
        return api_call(inner, req, rest, None);
    }
    if let Some(rest) = path.strip_prefix("/calendar/v3/") {
        return crate::calendar::handle(inner, req, rest);
    }
    Resp::error(&ApiError::not_found())
}

fn segments(rest: &str) -> Vec<String> {
    rest.split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// Runs one API call: `rest` is the path after `/gmail/v1/users/`. `upload` carries the media
/// of an upload request.
pub(crate) fn api_call(inner: &Inner, req: &Req, rest: &str, upload: Option<api::Upload>) -> Resp {
    // A bad `fields` selection is refused before anything runs.
    let selection = match req
        .q("fields")
        .filter(|f| !f.trim().is_empty())
        .map(Selection::parse)
    {
        Some(Err(msg)) => return Resp::error(&ApiError::invalid_argument(msg)),
        Some(Ok(sel)) => Some(sel),
        None => None,
    };
    match api_call_inner(inner, req, rest, upload) {
        Ok(Reply::Json(status, v)) => match &selection {
            Some(sel) => Resp::json(status, &sel.apply(&v)),
            None => Resp::json(status, &v),
        },
        Ok(Reply::Empty) => Resp::empty(StatusCode::NO_CONTENT),
        Ok(Reply::Raw(r)) => r,
        Err(e) => Resp::error(&e),
    }
}

fn api_call_inner(
    inner: &Inner,
    req: &Req,
    rest: &str,
    upload: Option<api::Upload>,
) -> Result<Reply, ApiError> {
    let grant = req
        .bearer()
        .and_then(|t| inner.kit.authenticate(t).ok())
        .ok_or_else(ApiError::unauthenticated)?;
    let segs = segments(rest);
    let (user_id, tail) = segs.split_first().ok_or_else(ApiError::not_found)?;
    let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
    let (method_id, handler, params): (&str, Handler, Vec<String>) =
        route(&req.method, &tail).ok_or_else(ApiError::not_found)?;
    {
        let mut s = lock(&inner.stats);
        s.api_calls += 1;
        *s.by_method
            .entry(method_id.trim_start_matches("gmail.users.").to_string())
            .or_default() += 1;
    }
    if user_id != "me" && !user_id.eq_ignore_ascii_case(&grant.user) {
        return Err(ApiError::forbidden(format!(
            "Delegation denied for {}",
            grant.user
        )));
    }
    let behaviour = lock(&inner.store).behaviour;
    if upload.is_none() {
        if let Some(limit) = behaviour.json_body_limit.filter(|l| req.body.len() > *l) {
            return Err(ApiError::payload_exceeds(limit));
        }
    }
    let accepted = method_scopes(method_id);
    if !allows(&grant, accepted) {
        return Err(ApiError::insufficient_scope(method_id, accepted));
    }
    if req.slots == Some(0) {
        lock(&inner.stats).rate_limited += 1;
        return Err(ApiError::too_many_concurrent(behaviour.retry_after));
    }
    if let Err(refused) =
        inner
            .kit
            .admit(&grant.user, quota_cost(method_id, behaviour.quota), false)
    {
        lock(&inner.stats).rate_limited += 1;
        let forbidden = inner.quota_forbidden.load(Ordering::SeqCst);
        let header = behaviour.retry_after || matches!(refused, Refusal::Forced(_));
        return Err(ApiError::rate_limited(
            forbidden,
            refused.retry_after(),
            header,
        ));
    }
    let sending = matches!(
        method_id,
        "gmail.users.messages.send" | "gmail.users.drafts.send"
    );
    let send_limit = behaviour
        .daily_send_limit
        .filter(|_| sending && inner.kit.quotas_enabled());
    if let Some(limit) = send_limit {
        if let Some(wait) = inner.daily_sends.over_limit(&grant.user, limit) {
            lock(&inner.stats).rate_limited += 1;
            return Err(ApiError::rate_limited(
                false,
                wait.as_secs().max(1),
                behaviour.retry_after,
            ));
        }
    }
    let mut upload = upload;
    let body = if !request_check::has_request_body(method_id) {
        None
    } else if let Some(up) = upload.as_mut() {
        request_check::normalize(method_id, &mut up.metadata)?;
        None
    } else if req.body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let mut v: Value = serde_json::from_slice(&req.body).map_err(|e| {
            ApiError::invalid_argument(format!("Invalid JSON payload received. {e}"))
        })?;
        request_check::normalize(method_id, &mut v)?;
        Some(v)
    };
    let mut store = lock(&inner.store);
    store.ensure_user(&grant.user);
    let mut cx = Cx {
        body,
        store: &mut store,
        user: grant.user.clone(),
        scopes: grant.scopes.clone(),
        req,
        params,
        upload,
        inner,
    };
    let out = handler(&mut cx);
    if sending && out.is_ok() {
        inner.daily_sends.record(&grant.user);
    }
    out
}

/// (method id, handler, path params) for a path below `users/{userId}/`.
fn route(method: &Method, segs: &[&str]) -> Option<(&'static str, Handler, Vec<String>)> {
    use api::{drafts, history, labels, messages, settings, threads};
    let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let m = method.as_str();
    let r: (&'static str, Handler, Vec<String>) = match (m, segs) {
        ("GET", ["profile"]) => ("gmail.users.getProfile", settings::profile, vec![]),
        ("POST", ["watch"]) => ("gmail.users.watch", settings::watch, vec![]),
        ("POST", ["stop"]) => ("gmail.users.stop", settings::stop, vec![]),
        ("GET", ["messages"]) => ("gmail.users.messages.list", messages::list, vec![]),
        ("POST", ["messages"]) => ("gmail.users.messages.insert", messages::insert, vec![]),
        ("POST", ["messages", "send"]) => ("gmail.users.messages.send", messages::send, vec![]),
        ("POST", ["messages", "import"]) => {
            ("gmail.users.messages.import", messages::import, vec![])
        }
        ("POST", ["messages", "batchModify"]) => (
            "gmail.users.messages.batchModify",
            messages::batch_modify,
            vec![],
        ),
        ("POST", ["messages", "batchDelete"]) => (
            "gmail.users.messages.batchDelete",
            messages::batch_delete,
            vec![],
        ),
        ("GET", ["messages", id]) => ("gmail.users.messages.get", messages::get, p(&[id])),
        ("DELETE", ["messages", id]) => ("gmail.users.messages.delete", messages::delete, p(&[id])),
        ("POST", ["messages", id, "modify"]) => {
            ("gmail.users.messages.modify", messages::modify, p(&[id]))
        }
        ("POST", ["messages", id, "trash"]) => {
            ("gmail.users.messages.trash", messages::trash, p(&[id]))
        }
        ("POST", ["messages", id, "untrash"]) => {
            ("gmail.users.messages.untrash", messages::untrash, p(&[id]))
        }
        ("GET", ["messages", mid, "attachments", aid]) => (
            "gmail.users.messages.attachments.get",
            messages::attachment,
            p(&[mid, aid]),
        ),
        ("GET", ["threads"]) => ("gmail.users.threads.list", threads::list, vec![]),
        ("GET", ["threads", id]) => ("gmail.users.threads.get", threads::get, p(&[id])),
        ("DELETE", ["threads", id]) => ("gmail.users.threads.delete", threads::delete, p(&[id])),
        ("POST", ["threads", id, "modify"]) => {
            ("gmail.users.threads.modify", threads::modify, p(&[id]))
        }
        ("POST", ["threads", id, "trash"]) => {
            ("gmail.users.threads.trash", threads::trash, p(&[id]))
        }
        ("POST", ["threads", id, "untrash"]) => {
            ("gmail.users.threads.untrash", threads::untrash, p(&[id]))
        }
        ("GET", ["labels"]) => ("gmail.users.labels.list", labels::list, vec![]),
        ("POST", ["labels"]) => ("gmail.users.labels.create", labels::create, vec![]),
        ("GET", ["labels", id]) => ("gmail.users.labels.get", labels::get, p(&[id])),
        ("PUT", ["labels", id]) => ("gmail.users.labels.update", labels::update, p(&[id])),
        ("PATCH", ["labels", id]) => ("gmail.users.labels.patch", labels::patch, p(&[id])),
        ("DELETE", ["labels", id]) => ("gmail.users.labels.delete", labels::delete, p(&[id])),
        ("GET", ["drafts"]) => ("gmail.users.drafts.list", drafts::list, vec![]),
        ("POST", ["drafts"]) => ("gmail.users.drafts.create", drafts::create, vec![]),
        ("POST", ["drafts", "send"]) => ("gmail.users.drafts.send", drafts::send, vec![]),
        ("GET", ["drafts", id]) => ("gmail.users.drafts.get", drafts::get, p(&[id])),
        ("PUT", ["drafts", id]) => ("gmail.users.drafts.update", drafts::update, p(&[id])),
        ("DELETE", ["drafts", id]) => ("gmail.users.drafts.delete", drafts::delete, p(&[id])),
        ("GET", ["history"]) => ("gmail.users.history.list", history::list, vec![]),
        ("GET", ["settings", "sendAs"]) => (
            "gmail.users.settings.sendAs.list",
            settings::send_as_list,
            vec![],
        ),
        ("GET", ["settings", "sendAs", e]) => (
            "gmail.users.settings.sendAs.get",
            settings::send_as_get,
            p(&[e]),
        ),
        ("GET", ["settings", "filters"]) => (
            "gmail.users.settings.filters.list",
            settings::filters_list,
            vec![],
        ),
        ("POST", ["settings", "filters"]) => (
            "gmail.users.settings.filters.create",
            settings::filters_create,
            vec![],
        ),
        ("GET", ["settings", "filters", id]) => (
            "gmail.users.settings.filters.get",
            settings::filters_get,
            p(&[id]),
        ),
        ("DELETE", ["settings", "filters", id]) => (
            "gmail.users.settings.filters.delete",
            settings::filters_delete,
            p(&[id]),
        ),
        ("GET", ["settings", "vacation"]) => (
            "gmail.users.settings.getVacation",
            settings::vacation_get,
            vec![],
        ),
        ("PUT", ["settings", "vacation"]) => (
            "gmail.users.settings.updateVacation",
            settings::vacation_update,
            vec![],
        ),
        _ => return None,
    };
    Some(r)
}
