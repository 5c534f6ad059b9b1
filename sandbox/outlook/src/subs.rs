//! Change notifications: `/v1.0/subscriptions` with Graph's validation handshake (the
//! notification URL, and the lifecycle URL when one is given, must echo `validationToken` as
//! text/plain within 10 seconds), renewal (`PATCH`), `reauthorize`, expiry, and notifications
//! of created, updated and deleted messages of a watched folder (or of every folder). How they
//! are POSTed (delays, duplicates, losses, lifecycle events) is [`super::notices`]'s.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::Method;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::auth::Caller;
use super::model::rfc3339;
use super::reply::{self, Reply};
use super::state::{resolve_user, Inner};
use super::writes::prop;

/// Outlook resources allow subscriptions of at most 10,080 minutes (7 days).
const MAX_MINUTES: i64 = 10_080;
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub user: String,
    pub resource: String,
    /// `None`: every folder (`me/messages`).
    pub folder_id: Option<String>,
    pub change_type: String,
    pub notification_url: String,
    pub lifecycle_url: Option<String>,
    pub client_state: Option<String>,
    pub expires: DateTime<Utc>,
    /// Mailbox change sequence up to which notifications were sent.
    pub seen: u64,
    /// A `reauthorizationRequired` was sent and the subscription was not renewed since: its
    /// change notifications are held back.
    pub needs_reauth: bool,
}

impl Subscription {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "resource": self.resource,
            "applicationId": "00000000-0000-0000-0000-0000000e5a4d",
            "changeType": self.change_type,
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "expirationDateTime": rfc3339(self.expires),
            "creatorId": "00000000-0000-0000-0000-00000000c0de",
            "latestSupportedTlsVersion": "v1_2",
            "includeResourceData": false,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "notificationQueryOptions": Value::Null,
            "encryptionCertificate": Value::Null,
            "encryptionCertificateId": Value::Null,
            "notificationUrlAppId": Value::Null,
        })
    }
}

fn bad(message: impl Into<String>) -> Reply {
    reply::error(400, "InvalidRequest", message)
}

/// The expiration granted for a request (Graph's limit; shorter under the test cap).
fn expiry(v: &Value, cap: Duration) -> Result<DateTime<Utc>, Reply> {
    let t = prop(v, "expirationDateTime")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad("expirationDateTime is required (RFC 3339)."))?;
    let now = Utc::now();
    if t <= now || t > now + chrono::Duration::minutes(MAX_MINUTES) {
        return Err(bad(format!(
            "Subscription expiration can only be in the future and at most {MAX_MINUTES} minutes from now."
        )));
    }
    let capped = chrono::Duration::from_std(cap)
        .ok()
        .and_then(|c| now.checked_add_signed(c))
        .unwrap_or(t);
    Ok(t.min(capped))
}

/// `me/mailFolders('inbox')/messages`, `me/mailFolders/inbox/messages`, `users/{id}/messages`
/// -> (user key, folder id).
fn parse_resource(
    inner: &Inner,
    caller: &Caller,
    resource: &str,
) -> Result<(String, Option<String>), Reply> {
    let r = resource
        .trim_start_matches('/')
        .replace("('", "/")
        .replace("')", "");
    let parts: Vec<&str> = r.split('/').filter(|s| !s.is_empty()).collect();
    let (user, rest) = match parts.as_slice() {
        [me, rest @ ..] if me.eq_ignore_ascii_case("me") => (caller.user.clone(), rest.to_vec()),
        [users, id, rest @ ..] if users.eq_ignore_ascii_case("users") => {
            let all = inner.mailboxes.lock().expect("mailboxes");
            (
                resolve_user(&all, id)
                    .ok_or_else(|| bad(format!("Unknown user in resource '{resource}'.")))?,
                rest.to_vec(),
            )
        }
        _ => return Err(bad(format!("Resource '{resource}' is not supported."))),
    };
    let folder = match rest.as_slice() {
        [m] if m.eq_ignore_ascii_case("messages") => None,
        [f, id, m]
            if f.eq_ignore_ascii_case("mailFolders") && m.eq_ignore_ascii_case("messages") =>
        {
            let fid = inner
                .with_mailbox(&user, |mb| mb.folder(id).map(|f| f.id.clone()))
                .flatten()
                .ok_or_else(|| {
                    bad(format!(
                        "Folder '{id}' of resource '{resource}' does not exist."
                    ))
                })?;
            Some(fid)
        }
        _ => return Err(bad(format!("Resource '{resource}' is not supported."))),
    };
    Ok((user, folder))
}

/// Graph's handshake: POST `{url}?validationToken=...`, the answer must echo the token.
async fn validate(http: &reqwest::Client, url: &str) -> Result<(), Reply> {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let answer = http
        .post(url)
        .timeout(VALIDATION_TIMEOUT)
        .query(&[("validationToken", token.as_str())])
        .header("Content-Type", "text/plain; charset=utf-8")
        .send()
        .await;
    let echoed = match answer {
        Ok(r) if r.status().is_success() => r.text().await.ok(),
        _ => None,
    };
    if echoed.as_deref() == Some(token.as_str()) {
        Ok(())
    } else {
        Err(bad("Subscription validation request failed. Response must exactly match validationToken query parameter."))
    }
}

impl Inner {
    /// `/v1.0/subscriptions[/{id}]`.
    pub async fn subscriptions(
        &self,
        caller: &Caller,
        method: &Method,
        segs: &[String],
        body: &Value,
    ) -> Reply {
        match (method.as_str(), segs) {
            ("POST", []) => self.create_subscription(caller, body).await,
            ("GET", []) => {
                let subs = self.subs.lock().expect("subs");
                let value: Vec<Value> = subs
                    .values()
                    .filter(|s| s.user == caller.user)
                    .map(Subscription::to_json)
                    .collect();
                Reply::ok(json!({ "value": value }))
            }
            ("POST", [id, action]) if action.eq_ignore_ascii_case("reauthorize") => {
                let mut subs = self.subs.lock().expect("subs");
                match subs.get_mut(id).filter(|s| s.user == caller.user) {
                    Some(sub) => {
                        sub.needs_reauth = false;
                        Reply::no_content()
                    }
                    None => reply::error(404, "ResourceNotFound", "The object was not found."),
                }
            }
            (m, [id]) => {
                let mut subs = self.subs.lock().expect("subs");
                let now = Utc::now();
                subs.retain(|_, s| s.expires > now);
                let Some(sub) = subs.get_mut(id).filter(|s| s.user == caller.user) else {
                    return reply::error(404, "ResourceNotFound", "The object was not found.");
                };
                match m {
                    "GET" => Reply::ok(sub.to_json()),
                    "PATCH" => match expiry(body, self.notices.settings().max_lifetime) {
                        Ok(t) => {
                            sub.expires = t;
                            sub.needs_reauth = false;
                            Reply::ok(sub.to_json())
                        }
                        Err(e) => e,
                    },
                    "DELETE" => {
                        subs.remove(id);
                        Reply::no_content()
                    }
                    _ => reply::error(405, "Request_BadRequest", "Method not allowed."),
                }
            }
            _ => reply::error(400, "BadRequest", "Unsupported subscriptions request."),
        }
    }

    async fn create_subscription(&self, caller: &Caller, body: &Value) -> Reply {
        let str_prop = |n: &str| prop(body, n).and_then(Value::as_str).map(str::to_string);
        let Some(change_type) = str_prop("changeType") else {
            return bad("changeType is required.");
        };
        if !change_type
            .split(',')
            .all(|c| ["created", "updated", "deleted"].contains(&c.trim()))
        {
            return bad(format!(
                "changeType '{change_type}' is not valid for messages."
            ));
        }
        let Some(url) = str_prop("notificationUrl") else {
            return bad("notificationUrl is required.");
        };
        let Some(resource) = str_prop("resource") else {
            return bad("resource is required.");
        };
        let expires = match expiry(body, self.notices.settings().max_lifetime) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let (user, folder_id) = match parse_resource(self, caller, &resource) {
            Ok(r) => r,
            Err(e) => return e,
        };
        if let Err(e) = validate(&self.kit.http, &url).await {
            return e;
        }
        let lifecycle_url = str_prop("lifecycleNotificationUrl");
        if let Some(l) = &lifecycle_url {
            if let Err(e) = validate(&self.kit.http, l).await {
                return e;
            }
        }
        let seen = self.with_mailbox(&user, |mb| mb.seq).unwrap_or(0);
        let sub = Subscription {
            id: uuid::Uuid::new_v4().to_string(),
            user,
            resource,
            folder_id,
            change_type,
            notification_url: url,
            lifecycle_url,
            client_state: str_prop("clientState"),
            expires,
            seen,
            needs_reauth: false,
        };
        let out = sub.to_json();
        self.subs.lock().expect("subs").insert(sub.id.clone(), sub);
        Reply::json(201, out)
    }

    /// Sends notifications for changes since each subscription's last look (in the
    /// background; see [`super::notices`]). Expired subscriptions are dropped first.
    pub fn notify(&self) {
        let mut batches: Vec<(String, Value)> = Vec::new();
        {
            let mut subs = self.subs.lock().expect("subs");
            let now = Utc::now();
            subs.retain(|_, s| s.expires > now);
            for sub in subs.values_mut() {
                let changes = self.with_mailbox(&sub.user, |mb| {
                    let in_scope = |f: &str| sub.folder_id.as_deref().is_none_or(|w| w == f);
                    let mut out = Vec::new();
                    for m in mb
                        .messages
                        .values()
                        .filter(|m| m.seq > sub.seen && in_scope(&m.folder_id))
                    {
                        let kind = if m.arrived > sub.seen {
                            "created"
                        } else {
                            "updated"
                        };
                        out.push((kind, m.id.clone()));
                    }
                    for t in mb
                        .tombstones
                        .iter()
                        .filter(|t| t.seq > sub.seen && in_scope(&t.folder_id))
                    {
                        out.push(("deleted", t.id.clone()));
                    }
                    (out, mb.seq, mb.user.id.clone())
                });
                let Some((changes, seq, user_id)) = changes else {
                    continue;
                };
                sub.seen = seq;
                if sub.needs_reauth {
                    // Held back until the subscription is renewed: these are lost.
                    continue;
                }
                let value: Vec<Value> = changes
                    .into_iter()
                    .filter(|(kind, _)| sub.change_type.split(',').any(|c| c.trim() == *kind))
                    .map(|(kind, id)| {
                        json!({
                            "subscriptionId": sub.id,
                            "subscriptionExpirationDateTime": rfc3339(sub.expires),
                            "changeType": kind,
                            "resource": format!("Users/{user_id}/Messages/{id}"),
                            "resourceData": {
                                "@odata.type": "#Microsoft.Graph.Message",
                                "@odata.id": format!("Users/{user_id}/Messages/{id}"),
                                "@odata.etag": "W/\"CQAAABYAAAA=\"",
                                "id": id,
                            },
                            "clientState": sub.client_state,
                            "tenantId": super::notices::TENANT_ID,
                        })
                    })
                    .collect();
                if !value.is_empty() && !self.notices.lost() {
                    batches.push((sub.notification_url.clone(), json!({ "value": value })));
                }
            }
        }
        for (url, body) in batches {
            self.notifications.fetch_add(1, Ordering::SeqCst);
            self.notices.send(&self.kit.http, &url, body, true);
        }
    }
}
