//! Entry of the emulated Graph API: authentication, user resolution, throttling, latency, and
//! routing of `/v1.0/{me|users/{id}}/...` to the resource modules. `$batch` parts go through the
//! same [`Inner::api`] as top-level requests.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::auth::Caller;
use super::model::{BodyAs, Render};
use super::reply::{self, Reply};
use super::state::{resolve_user, Inner, LoggedRequest};
use super::{admin, batch, folders, messages, uploads, writes};

/// Query options of one request (`$filter`, `$top`, ...), keys without `$`, lower case.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Rejects `$options` this route does not know.
    pub fn check_allowed(&self, allowed: &[&str]) -> Result<(), Reply> {
        for (k, _) in &self.pairs {
            if let Some(opt) = k.strip_prefix('$') {
                if !allowed.iter().any(|a| a.eq_ignore_ascii_case(opt)) {
                    return Err(reply::bad_query(format!(
                        "Query option '${opt}' is not allowed. Make sure that the query option is supported for this request."
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn usize(&self, name: &str) -> Result<Option<usize>, Reply> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
                reply::bad_query(format!("Invalid value '{v}' for query option '${name}'."))
            }),
        }
    }

    pub fn select(&self) -> Option<Vec<String>> {
        self.get("select").map(|s| {
            s.split(',')
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect()
        })
    }

    /// The query string with `name` set to `value` (for `@odata.nextLink`).
    pub fn with(&self, name: &str, value: &str) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        let mut replaced = false;
        for (k, v) in &self.pairs {
            if k.trim_start_matches('$').eq_ignore_ascii_case(name) {
                ser.append_pair(&format!("${name}"), value);
                replaced = true;
            } else {
                ser.append_pair(k, v);
            }
        }
        if !replaced {
            ser.append_pair(&format!("${name}"), value);
        }
        ser.finish()
    }
}

/// Everything a resource handler gets.
pub struct Req<'a> {
    pub method: &'a Method,
    /// Path segments after the user (`["messages", "{id}"]`), percent-decoded.
    pub segs: &'a [String],
    pub query: &'a Query,
    pub render: Render,
    pub page_size: Option<usize>,
    /// `{root}/v1.0/me` or `{root}/v1.0/users/{id}`: the base of links.
    pub link_base: String,
    /// The JSON body (`null` when none).
    pub body: &'a Value,
    /// Mail for other emulated mailboxes, delivered after the request.
    pub outbox: std::cell::RefCell<Vec<writes::Delivery>>,
    /// `http://127.0.0.1:PORT`.
    pub root: String,
    /// The mailbox key of the target user.
    pub user: String,
    /// An upload session opened by this request, stored after it: (token, session).
    pub session: std::cell::RefCell<Option<(String, admin::Session)>>,
    /// The provider behaviours in force.
    pub behaviour: super::Behaviour,
    /// Messages this request accepted for sending, queued for transport after it.
    pub transit: std::cell::RefCell<Vec<super::behaviour::Transit>>,
    /// Ids of the user's messages already in transit when the request came.
    pub sending: Vec<String>,
}

impl Req<'_> {
    /// The link to this resource path with a changed query string.
    pub fn link(&self, query: &str) -> String {
        let path: Vec<String> = self
            .segs
            .iter()
            .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
            .collect();
        format!("{}/{}?{}", self.link_base, path.join("/"), query)
    }
}

pub const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The axum fallback: every request that is not the token endpoint.
pub async fn entry(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let Some(rest) = path.strip_prefix("/v1.0") else {
        return reply::error(
            400,
            "BadRequest",
            "Invalid version: the path must start with /v1.0.",
        )
        .into_response();
    };
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let round_trip = *inner.round_trip.lock().expect("round trip");
    if let Some(d) = round_trip {
        tokio::time::sleep(d).await;
    }
    let caller = match inner.authenticate(&headers).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    if rest == "/$batch" && method == Method::POST {
        return batch::handle(&inner, &caller, &body).await.into_response();
    }
    let json_body = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return reply::error(400, "BadRequest", "Unable to read JSON request payload.")
                    .into_response()
            }
        }
    };
    let prefer = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let reply = inner
        .api(
            &caller,
            &method,
            rest,
            uri.query(),
            &prefer,
            &json_body,
            false,
        )
        .await;
    reply.into_response()
}

struct Slot<'a> {
    inner: &'a Inner,
    mailbox: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.inner.release(&self.mailbox);
    }
}

fn render_from_prefer(prefer: &str) -> (Render, Option<usize>) {
    let mut render = Render::default();
    let mut page = None;
    for part in prefer.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("outlook.body-content-type=") {
            match v.trim_matches('"').to_ascii_lowercase().as_str() {
                "text" => render.body_as = Some(BodyAs::Text),
                "html" => render.body_as = Some(BodyAs::Html),
                _ => {}
            }
        } else if let Some(v) = part.strip_prefix("odata.maxpagesize=") {
            page = v.trim().parse().ok();
        }
    }
    (render, page)
}

impl Inner {
    /// One API request (top level or a `$batch` part). `path` starts after `/v1.0`.
    #[allow(clippy::too_many_arguments)]
    pub async fn api(
        &self,
        caller: &Caller,
        method: &Method,
        path: &str,
        raw_query: Option<&str>,
        prefer: &str,
        body: &Value,
        in_batch: bool,
    ) -> Reply {
        let query = Query::parse(raw_query);
        let reply = self
            .api_inner(caller, method, path, &query, prefer, body)
            .await;
        if method != Method::GET && reply.status < 300 {
            self.notify();
        }
        if reply.status == 429 {
            self.throttled.fetch_add(1, Ordering::SeqCst);
        }
        self.record(|| LoggedRequest {
            method: method.to_string(),
            path: format!("/v1.0{path}"),
            query: query.pairs.clone(),
            in_batch,
            status: reply.status,
            response: reply.body_json(),
        });
        reply
    }

    async fn api_inner(
        &self,
        caller: &Caller,
        method: &Method,
        path: &str,
        query: &Query,
        prefer: &str,
        body: &Value,
    ) -> Reply {
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        if segs.first().map(String::as_str) == Some("subscriptions") {
            return self.subscriptions(caller, method, &segs[1..], body).await;
        }
        let (user_key, link_user, rest) = match segs.first().map(String::as_str) {
            Some("me") => (caller.user.clone(), "me".to_string(), &segs[1..]),
            Some("users") if segs.len() >= 2 => {
                let all = self.mailboxes.lock().expect("mailboxes");
                match resolve_user(&all, &segs[1]) {
                    Some(k) => (k, format!("users/{}", segs[1]), &segs[2..]),
                    None => {
                        return reply::error(
                            404,
                            "ErrorInvalidUser",
                            format!("The requested user '{}' is invalid.", segs[1]),
                        )
                    }
                }
            }
            Some(other) => {
                return reply::error(
                    400,
                    "BadRequest",
                    format!("Resource not found for the segment '{other}'."),
                )
            }
            None => return reply::error(400, "BadRequest", "Invalid request."),
        };
        let own = user_key == caller.user;
        let needed = if let Some(s) = super::calendar::scopes(rest, method, own) {
            s
        } else if method == Method::GET {
            required_scopes(rest, own)
        } else {
            write_scopes(rest, own)
        };
        if !caller.has_any(needed) {
            return reply::access_denied();
        }
        if let Err((retry_after, reason)) = self.acquire(&user_key) {
            return reply::throttled(reason, retry_after);
        }
        let _slot = Slot {
            inner: self,
            mailbox: user_key.clone(),
        };
        self.kit.call_latency().await;
        let (render, page_size) = render_from_prefer(prefer);
        let req = Req {
            method,
            segs: rest,
            query,
            render,
            page_size,
            link_base: format!("{}/v1.0/{}", self.root, link_user),
            body,
            outbox: Default::default(),
            root: self.root.clone(),
            user: user_key.clone(),
            session: Default::default(),
            behaviour: *self.behaviour.lock().expect("behaviour"),
            transit: Default::default(),
            sending: self
                .transit
                .lock()
                .expect("transit")
                .iter()
                .filter(|t| t.user == user_key)
                .map(|t| t.id.clone())
                .collect(),
        };
        let reply = match self.calendar(&req, prefer) {
            Some(r) => r,
            None => self
                .with_mailbox(&user_key, |mb| route(mb, &req))
                .unwrap_or_else(|| reply::error(404, "ErrorInvalidUser", "The mailbox is gone.")),
        };
        if let Some((token, session)) = req.session.take() {
            self.sessions
                .lock()
                .expect("sessions")
                .insert(token, session);
        }
        let accepted = req.transit.take();
        if !accepted.is_empty() {
            self.transit.lock().expect("transit").extend(accepted);
        }
        let deliveries = req.outbox.take();
        if !deliveries.is_empty() {
            let mut all = self.mailboxes.lock().expect("mailboxes");
            for d in deliveries {
                if let Some(key) = resolve_user(&all, &d.to) {
                    if let Some(mb) = all.get_mut(&key) {
                        writes::deliver(mb, d.msg, req.behaviour.conversation_id_changes);
                    }
                }
            }
        }
        reply
    }
}

/// Scopes of writes: sending needs Mail.Send, other mail changes Mail.ReadWrite.
fn write_scopes(rest: &[String], own: bool) -> &'static [&'static str] {
    let last = rest
        .last()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    let first = rest.first().map(String::as_str).unwrap_or("");
    match (first, last.as_str(), own) {
        (_, "sendmail" | "send" | "reply" | "replyall" | "forward", true) => &["Mail.Send"],
        (_, "sendmail" | "send" | "reply" | "replyall" | "forward", false) => &["Mail.Send.Shared"],
        ("mailboxSettings" | "outlook", _, true) => &["MailboxSettings.ReadWrite"],
        (_, _, true) => &["Mail.ReadWrite"],
        (_, _, false) => &["Mail.ReadWrite.Shared"],
    }
}

/// Any one of these scopes lets a request through.
fn required_scopes(rest: &[String], own: bool) -> &'static [&'static str] {
    let first = rest.first().map(String::as_str).unwrap_or("");
    match (first, own) {
        ("", true) => &[
            "User.Read",
            "User.ReadWrite",
            "User.ReadBasic.All",
            "User.Read.All",
            "User.ReadWrite.All",
        ],
        ("", false) => &["User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All"],
        ("mailboxSettings" | "outlook", true) => {
            &["MailboxSettings.Read", "MailboxSettings.ReadWrite"]
        }
        ("mailboxSettings" | "outlook", false) => &["MailboxSettings.ReadWrite.All"],
        ("mailFolders", true) if rest.len() <= 3 && !rest.contains(&"messages".to_string()) => {
            &["Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"]
        }
        (_, true) => &["Mail.Read", "Mail.ReadWrite"],
        (_, false) => &["Mail.Read.Shared", "Mail.ReadWrite.Shared"],
    }
}

fn route(mb: &mut super::model::Mailbox, req: &Req<'_>) -> Reply {
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let get = req.method == Method::GET;
    let post = req.method == Method::POST;
    match segs.as_slice() {
        [] if get => folders::profile(mb, req),
        ["mailboxSettings"] if get => folders::settings(mb, req),
        ["outlook", "masterCategories"] if get => folders::categories(mb, req),
        ["outlook", "masterCategories", id] if get => folders::category(mb, req, id),
        ["mailFolders"] if get => folders::list(mb, req, None),
        ["mailFolders", f] if get => folders::get(mb, req, f),
        ["mailFolders", f, "childFolders"] if get => folders::list(mb, req, Some(f)),
        ["mailFolders", _, "childFolders", c] if get => folders::get(mb, req, c),
        ["messages"] if get => messages::list(mb, req, None),
        ["messages", "delta" | "delta()"] if get => reply::error(
            400,
            "ErrorInvalidRequest",
            "Change tracking of messages works per folder: use /mailFolders/{id}/messages/delta.",
        ),
        ["messages", id] if get => messages::get(mb, req, id, None),
        ["messages", id, "attachments"] if get => messages::attachments(mb, req, id),
        ["messages", id, "attachments", a] if get => messages::attachment(mb, req, id, a),
        ["mailFolders", f, "messages"] if get => messages::list(mb, req, Some(f)),
        ["mailFolders", f, "messages", "delta" | "delta()"] if get => messages::delta(mb, req, f),
        ["mailFolders", f, "messages", id] if get => messages::get(mb, req, id, Some(f)),
        ["sendMail"] if post => writes::send_mail(mb, req),
        ["messages"] if post => writes::create(mb, req, None),
        ["mailFolders", f, "messages"] if post => writes::create(mb, req, Some(f)),
        ["messages", id] if req.method == Method::PATCH => writes::update(mb, req, id),
        ["messages", id] if req.method == Method::DELETE => writes::delete(mb, id, false),
        ["messages", id, "permanentDelete"] if post => writes::delete(mb, id, true),
        ["messages", id, "move"] if post => writes::relocate(mb, req, id, false),
        ["messages", id, "copy"] if post => writes::relocate(mb, req, id, true),
        ["messages", id, "send"] if post => writes::send_draft(mb, req, id),
        ["messages", id, "attachments"] if post => admin::add_attachment(mb, req, id),
        ["messages", id, "attachments", "createUploadSession"] if post => {
            uploads::open_session(mb, req, id)
        }
        ["messages", id, "attachments", a] if req.method == Method::DELETE => {
            admin::delete_attachment(mb, id, a)
        }
        ["mailFolders"] if post => admin::create_folder(mb, req, None),
        ["mailFolders", f, "childFolders"] if post => admin::create_folder(mb, req, Some(f)),
        ["mailFolders", f] if req.method == Method::PATCH => admin::update_folder(mb, req, f),
        ["mailFolders", f] if req.method == Method::DELETE => admin::delete_folder(mb, f),
        ["outlook", "masterCategories"] if post => admin::create_category(mb, req),
        ["outlook", "masterCategories", id] if req.method == Method::DELETE => {
            admin::delete_category(mb, id)
        }
        ["mailboxSettings"] if req.method == Method::PATCH => admin::update_settings(mb, req),
        ["messages", id, action] if post && is_respond(action) => {
            writes::respond_action(mb, req, id, action)
        }
        ["sendMail"]
        | []
        | ["mailboxSettings"]
        | ["outlook", "masterCategories", ..]
        | ["mailFolders", ..]
        | ["messages", ..] => reply::error(
            405,
            "Request_BadRequest",
            format!(
                "The {} method is not supported on this resource by the emulator.",
                req.method
            ),
        ),
        [first, ..] => reply::error(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{first}'."),
        ),
    }
}

fn is_respond(action: &str) -> bool {
    [
        "reply",
        "replyAll",
        "forward",
        "createReply",
        "createReplyAll",
        "createForward",
    ]
    .iter()
    .any(|a| a.eq_ignore_ascii_case(action))
}
