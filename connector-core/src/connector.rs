//! `execute(entity, action, params)`: find the action, validate params, run the declarative
//! mapping or the named handler through the provider client, shape `{result, metadata}`.

mod compiled;
mod declarative;

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use tracing::Instrument;

use crate::auth::TokenProvider;
use crate::guard::{Guard, Preview};
use crate::http::{HttpConfig, ProviderClient, ProviderRequest, ProviderResponse};
use crate::spec::{ActionSpec, CompatResult, ConnectorSpec, Implementation};
use crate::{ConnectorError, ErrorCode, Result};

pub use crate::wire::snake_case;
pub use compiled::{Accepted, CompiledSpec};
pub use declarative::{build_request, shape_response};

/// What `execute` returns: `result` (a record, or an array of records for list actions) and
/// `metadata` (`next_page_token`, `result_size_estimate`, ...).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Output {
    pub result: Value,
    pub metadata: Map<String, Value>,
}

impl Output {
    pub fn new(result: Value) -> Self {
        Output {
            result,
            metadata: Map::new(),
        }
    }
    /// Wraps the sender-written text of every message in the result (`subject`, `snippet`,
    /// `text`) in fences that carry one fresh nonce, for results handed to a model; the nonce
    /// is in `metadata.fence_nonce` (see [`crate::mail::trust`]).
    pub fn fence_untrusted(mut self) -> Self {
        let nonce = crate::mail::trust::new_nonce();
        crate::mail::trust::fence_records(&mut self.result, &nonce);
        self.metadata
            .insert("fence_nonce".into(), Value::String(nonce));
        self
    }

    pub fn with_meta(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.to_string(), value.into());
        self
    }
}

/// Per-call options.
#[derive(Debug, Clone, Default)]
pub struct ExecuteOptions {
    /// Makes a non-idempotent action (send) exactly-once: see design.md.
    pub idempotency_key: Option<String>,
}

/// What a handler gets for one call.
pub struct CallContext<'a> {
    pub entity: &'a str,
    pub action: &'a str,
    pub spec: &'a ActionSpec,
    pub options: &'a ExecuteOptions,
    client: &'a ProviderClient,
    token: &'a dyn TokenProvider,
    fresh_key: bool,
    memo: Option<&'a CallMemo>,
}

/// What a call's run knows from the steps before it (the guard's admission and the preview).
#[derive(Clone, Copy, Default)]
struct Before<'a> {
    /// `options.idempotency_key` is known never to have been used before
    /// ([`CallContext::lookup_marker`]).
    fresh_key: bool,
    /// What the call's preview kept ([`CallContext::keep`]).
    memo: Option<&'a CallMemo>,
}

/// What the steps of one guarded call share: a provider read its preview made, which its run
/// may reuse instead of reading again (a Gmail reply reads its original once, not twice).
/// Lives for one `execute`.
#[derive(Default)]
pub(crate) struct CallMemo {
    kept: Mutex<Vec<(String, Arc<dyn Any + Send + Sync>)>>,
}

impl CallContext<'_> {
    /// Sends a request with auth (and one refresh-and-retry on 401) and the retry policy of this
    /// action (or the request's own `idempotent` override). Non-2xx answers come back as errors
    /// with the provider's code kept.
    pub async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse> {
        self.client
            .send(&request, Some(self.token), self.spec.idempotent)
            .await
            .map_err(|e| name_required_scopes(self.entity, self.action, self.spec, e))
    }

    /// The provider client of this connector instance (base URL, shared pool).
    pub fn client(&self) -> &ProviderClient {
        self.client
    }

    /// The base URL requests are relative to.
    pub fn base_url(&self) -> &str {
        &self.client.config().base_url
    }

    /// The token provider (for handlers that must call another endpoint themselves).
    pub fn token_provider(&self) -> &dyn TokenProvider {
        self.token
    }

    /// The marker an exactly-once action looks for before it acts: its idempotency key's,
    /// unless this is known to be the key's first use (the guard's key of an approval used for
    /// the first time), when no earlier attempt can exist to look for.
    pub fn lookup_marker<'m>(&self, marker: Option<&'m str>) -> Option<&'m str> {
        marker.filter(|_| !self.fresh_key)
    }

    /// What an earlier step of this call kept under `key` ([`CallContext::keep`]): the preview's
    /// read, for the run. `None` when nothing was kept (or under another type).
    pub fn recall<T: Clone + Send + Sync + 'static>(&self, key: &str) -> Option<T> {
        let kept = self.memo?.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.downcast_ref::<T>().cloned())
    }

    /// Keeps `value` under `key` for the later steps of this call. Only a call with a preview
    /// step keeps anything; elsewhere this does nothing. Keep only what cannot change between
    /// the steps (a message's thread and headers, not its labels).
    pub fn keep<T: Send + Sync + 'static>(&self, key: &str, value: T) {
        if let Some(memo) = self.memo {
            let mut kept = memo.kept.lock().unwrap_or_else(|e| e.into_inner());
            kept.retain(|(k, _)| k != key);
            kept.push((key.to_string(), Arc::new(value)));
        }
    }
}

/// A `permission_denied` error names the scopes the action accepts (`details.required_scopes`
/// and the message), so the caller knows what to grant.
fn name_required_scopes(
    entity: &str,
    action: &str,
    spec: &ActionSpec,
    mut err: ConnectorError,
) -> ConnectorError {
    if err.code != ErrorCode::PermissionDenied || spec.scopes.is_empty() {
        return err;
    }
    if !err.details.is_object() {
        err.details = Value::Object(Map::new());
    }
    if let Some(d) = err.details.as_object_mut() {
        d.entry("required_scopes")
            .or_insert_with(|| Value::from(spec.scopes.clone()));
    }
    if !err.message.contains(&spec.scopes[0]) {
        err.message = format!(
            "{} {entity}.{action} needs one of these OAuth scopes: {}",
            err.message.trim_end_matches('.'),
            spec.scopes.join(", ")
        );
    }
    err
}

/// Rust code for an action whose spec names a handler.
#[async_trait]
pub trait ActionHandler: Send + Sync {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output>;

    /// For a handler with typed params ([`crate::params::typed`]): `params` read into its struct
    /// and written back, defaults filled in. `None` for an untyped handler.
    fn typed_params(&self, _params: Value) -> Option<Result<Value>> {
        None
    }

    /// For an action with effect `send` whose message is not all in its params (a draft that is
    /// sent, a reply, a forward): the message it would deliver, for the send policies. `None`:
    /// the compose params (`to`, `cc`, `bcc`, ...) say it all.
    async fn preview(&self, _cx: &CallContext<'_>, _params: &Value) -> Result<Option<Preview>> {
        Ok(None)
    }

    /// Whether a call with an idempotency key never takes effect twice, even when repeated
    /// after `outcome_unknown` (it looks for its earlier attempt first). An approved send of
    /// such an action may be retried under its approval after a lost answer.
    fn exactly_once(&self) -> bool {
        false
    }
}

/// One connector instance: a compiled spec, handlers, a provider client and a token provider.
/// Cheap to clone.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    spec: Arc<CompiledSpec>,
    handlers: HashMap<String, Arc<dyn ActionHandler>>,
    client: ProviderClient,
    token: Arc<dyn TokenProvider>,
    guard: Option<Arc<dyn Guard>>,
}

/// Builds a [`Connector`]; see [`Connector::builder`].
pub struct ConnectorBuilder {
    spec: Arc<CompiledSpec>,
    handlers: HashMap<String, Arc<dyn ActionHandler>>,
    http: Option<HttpConfig>,
    reqwest: Option<reqwest::Client>,
    token: Option<Arc<dyn TokenProvider>>,
    guard: Option<Arc<dyn Guard>>,
}

impl ConnectorBuilder {
    /// The send policies and approvals every call of this instance meets (see
    /// [`crate::guard`]). Without one, every call runs.
    pub fn guard(mut self, guard: Arc<dyn Guard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Registers the Rust handler a spec action names with `"handler": name`.
    pub fn handler(mut self, name: impl Into<String>, handler: Arc<dyn ActionHandler>) -> Self {
        self.handlers.insert(name.into(), handler);
        self
    }

    /// Client settings (base URL, timeouts, retry policy, concurrency limit). Required.
    pub fn http(mut self, config: HttpConfig) -> Self {
        self.http = Some(config);
        self
    }

    /// Shares an existing reqwest pool (build it without redirects:
    /// [`ProviderClient::build_reqwest`]).
    pub fn reqwest_client(mut self, client: reqwest::Client) -> Self {
        self.reqwest = Some(client);
        self
    }

    /// Where access tokens come from. Required.
    pub fn token_provider(mut self, token: Arc<dyn TokenProvider>) -> Self {
        self.token = Some(token);
        self
    }

    /// Fails when the spec names a handler that was not registered, or a setting is missing.
    pub fn build(self) -> Result<Connector> {
        let missing: Vec<&str> = self
            .spec
            .handler_names()
            .into_iter()
            .filter(|h| !self.handlers.contains_key(*h))
            .collect();
        if !missing.is_empty() {
            return Err(ConnectorError::internal(format!(
                "the {} spec names handlers that are not registered: {}",
                self.spec.spec().name,
                missing.join(", ")
            )));
        }
        let http = self.http.ok_or_else(|| {
            ConnectorError::internal("a connector needs an HttpConfig (base URL): call .http(...)")
        })?;
        let token = self.token.ok_or_else(|| {
            ConnectorError::internal(
                "a connector needs a token provider: call .token_provider(...)",
            )
        })?;
        let client = match self.reqwest {
            Some(c) => ProviderClient::with_client(http, c)?,
            None => ProviderClient::new(http)?,
        };
        Ok(Connector {
            inner: Arc::new(Inner {
                spec: self.spec,
                handlers: self.handlers,
                client,
                token,
                guard: self.guard,
            }),
        })
    }
}

impl Connector {
    pub fn builder(spec: Arc<CompiledSpec>) -> ConnectorBuilder {
        ConnectorBuilder {
            spec,
            handlers: HashMap::new(),
            http: None,
            reqwest: None,
            token: None,
            guard: None,
        }
    }

    pub async fn execute(&self, entity: &str, action: &str, params: Value) -> Result<Output> {
        self.execute_with(entity, action, params, ExecuteOptions::default())
            .await
    }

    pub async fn execute_with(
        &self,
        entity: &str,
        action: &str,
        params: Value,
        options: ExecuteOptions,
    ) -> Result<Output> {
        let started = std::time::Instant::now();
        // Boxed: the handler's future is large; callers' futures hold a pointer instead.
        let result = Box::pin(self.run(entity, action, params, &options));
        // Entity and action come from the caller: the log carries at most a short prefix.
        let (entity, action) = (log_excerpt(entity), log_excerpt(action));
        let result = result
            .instrument(tracing::info_span!(
                "execute",
                connector = %self.inner.spec.spec().name,
                entity,
                action
            ))
            .await;
        match &result {
            Ok(_) => tracing::debug!(
                connector = %self.inner.spec.spec().name, entity, action,
                elapsed_ms = started.elapsed().as_millis() as u64, "execute ok"
            ),
            Err(e) => tracing::info!(
                connector = %self.inner.spec.spec().name, entity, action, code = %e.code,
                elapsed_ms = started.elapsed().as_millis() as u64, "execute failed"
            ),
        }
        result
    }

    async fn run(
        &self,
        entity: &str,
        action: &str,
        params: Value,
        options: &ExecuteOptions,
    ) -> Result<Output> {
        let inner = &*self.inner;
        // `null` (Python's None, an agent's omitted params) means no params.
        let params = if params.is_null() {
            Value::Object(Map::new())
        } else {
            params
        };
        let accepted = inner.spec.accept(entity, action, params)?;
        let (entity, action, spec, params) = (
            accepted.entity,
            accepted.action,
            accepted.spec,
            accepted.params,
        );
        let output = match &inner.guard {
            None => {
                self.dispatch(entity, action, spec, params, options, Before::default())
                    .await
            }
            Some(guard) => {
                self.guarded(guard.as_ref(), entity, action, spec, params, options)
                    .await
            }
        };
        match accepted.result {
            None => output,
            Some(CompatResult::HealthCheck) => Ok(health_check(entity, action, output)),
        }
    }

    /// [`Self::dispatch`] behind the guard: the call is admitted (or refused, or sent for
    /// approval) first, and settled after.
    async fn guarded(
        &self,
        guard: &dyn Guard,
        entity: &str,
        action: &str,
        spec: &ActionSpec,
        params: Value,
        options: &ExecuteOptions,
    ) -> Result<Output> {
        let kind = crate::guard::CallKind::of(spec.effect);
        // No policy (the common case): nothing to admit or settle, and no preview to build.
        let policy = match kind {
            crate::guard::CallKind::Read => None,
            _ => guard.policy().await?,
        };
        let Some(policy) = policy else {
            return self
                .dispatch(entity, action, spec, params, options, Before::default())
                .await;
        };
        let mut as_send = None;
        // What the preview reads from the provider, for the run to reuse.
        let memo = CallMemo::default();
        let preview = if kind == crate::guard::CallKind::Send {
            // Only a rule that reads the message needs it (the sender's mode and the send
            // limits judge the call alone).
            if policy.reads_message() {
                self.preview(entity, action, spec, &params, options, &memo)
                    .await?
            } else {
                None
            }
        } else if kind == crate::guard::CallKind::Write
            && crate::calendar::may_notify(entity, action)
        {
            // A calendar write that makes the provider email people is a send for the policy
            // (docs/guardrails.md, "Calendar invitations").
            let invitation = self.invitation(entity, action, &params, options).await?;
            if invitation.is_some() {
                let mut send = spec.clone();
                send.effect = Some(crate::spec::Effect::Send);
                as_send = Some(send);
            }
            invitation
        } else {
            None
        };
        let judged = as_send.as_ref().unwrap_or(spec);
        let mut admission =
            crate::guard::admit_under(guard, &policy, entity, action, judged, preview).await?;
        if let Implementation::Handler(name) = &spec.implementation {
            let exactly_once = self
                .inner
                .handlers
                .get(name)
                .is_some_and(|h| h.exactly_once());
            admission.set_exactly_once(exactly_once);
        }
        let keyed;
        let options = match admission.idempotency_key() {
            Some(key) => {
                keyed = ExecuteOptions {
                    idempotency_key: Some(key),
                };
                &keyed
            }
            None => options,
        };
        let output = self
            .dispatch(
                entity,
                action,
                spec,
                params,
                options,
                Before {
                    fresh_key: admission.fresh_key(),
                    memo: Some(&memo),
                },
            )
            .await;
        if let Err(e) = admission.settle(guard, &output).await {
            tracing::warn!(code = %e.code, "settling a guarded call failed");
        }
        output
    }

    /// The mail a calendar write would make the provider send ([`crate::calendar::invitation`])
    /// (asked only when a policy is in force). An update, delete or answer reads the event first (one
    /// `events.get`) to know its attendees and organizer; an event that cannot be read is left
    /// to the call itself (which then fails the same way).
    async fn invitation(
        &self,
        entity: &str,
        action: &str,
        params: &Value,
        options: &ExecuteOptions,
    ) -> Result<Option<Preview>> {
        let existing = if crate::calendar::needs_existing(action) {
            let mut get = serde_json::json!({"event_id": params["event_id"]});
            if let Some(c) = params.get("calendar_id") {
                get["calendar_id"] = c.clone();
            }
            match self.inner.spec.accept(entity, "get", get) {
                Ok(a) => self
                    .dispatch(
                        a.entity,
                        a.action,
                        a.spec,
                        a.params,
                        options,
                        Before::default(),
                    )
                    .await
                    .ok()
                    .map(|out| out.result),
                Err(_) => None,
            }
        } else {
            None
        };
        Ok(crate::calendar::invitation(
            action,
            params,
            existing.as_ref(),
        ))
    }

    /// The message a send would deliver: the handler's preview, else the compose params'.
    async fn preview(
        &self,
        entity: &str,
        action: &str,
        spec: &ActionSpec,
        params: &Value,
        options: &ExecuteOptions,
        memo: &CallMemo,
    ) -> Result<Option<Preview>> {
        let inner = &*self.inner;
        if let Implementation::Handler(name) = &spec.implementation {
            if let Some(handler) = inner.handlers.get(name) {
                let cx = CallContext {
                    entity,
                    action,
                    spec,
                    options,
                    client: &inner.client,
                    token: inner.token.as_ref(),
                    fresh_key: false,
                    memo: Some(memo),
                };
                if let Some(p) = handler.preview(&cx, params).await? {
                    return Ok(Some(p));
                }
            }
        }
        Ok(Preview::from_params(params))
    }

    /// Runs the action, with what the steps before it learned ([`Before`]).
    async fn dispatch(
        &self,
        entity: &str,
        action: &str,
        spec: &ActionSpec,
        params: Value,
        options: &ExecuteOptions,
        before: Before<'_>,
    ) -> Result<Output> {
        let inner = &*self.inner;
        let cx = CallContext {
            entity,
            action,
            spec,
            options,
            client: &inner.client,
            token: inner.token.as_ref(),
            fresh_key: before.fresh_key,
            memo: before.memo,
        };
        match &spec.implementation {
            Implementation::Handler(name) => {
                let handler = inner.handlers.get(name).ok_or_else(|| {
                    ConnectorError::new(
                        ErrorCode::Internal,
                        format!("no handler `{name}` is registered for {entity}.{action}"),
                    )
                })?;
                handler.call(&cx, params).await
            }
            Implementation::Request(mapping) => {
                let params = declarative::with_declared_defaults(&spec.params, params);
                let request = build_request(mapping, &params)?;
                let response = cx.send(request).await?;
                shape_response(spec, mapping, &response)
            }
        }
    }

    pub fn spec(&self) -> &ConnectorSpec {
        self.inner.spec.spec()
    }

    /// This instance (same spec, handlers, client and tokens) held to `guard`'s policies.
    pub fn with_guard(&self, guard: Arc<dyn Guard>) -> Connector {
        let inner = &*self.inner;
        Connector {
            inner: Arc::new(Inner {
                spec: inner.spec.clone(),
                handlers: inner.handlers.clone(),
                client: inner.client.clone(),
                token: inner.token.clone(),
                guard: Some(guard),
            }),
        }
    }

    /// The compiled spec (validators included).
    pub fn compiled(&self) -> &Arc<CompiledSpec> {
        &self.inner.spec
    }

    /// The provider client of this instance.
    pub fn client(&self) -> &ProviderClient {
        &self.inner.client
    }

    /// The token provider of this instance.
    pub fn token_provider(&self) -> &Arc<dyn TokenProvider> {
        &self.inner.token
    }
}

/// At most 64 bytes of a caller-given name (cut at a character boundary), for logs.
fn log_excerpt(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The answer of a health check that ran `entity.action` (see [`CompatResult::HealthCheck`]).
fn health_check(entity: &str, action: &str, output: Result<Output>) -> Output {
    let mut result = json!({"checked_entity": entity, "checked_action": action});
    match output {
        Ok(_) => result["status"] = json!("healthy"),
        Err(e) => {
            result["status"] = json!("unhealthy");
            result["error"] = json!(e.message);
            result["code"] = json!(e.code.as_str());
        }
    }
    Output::new(result)
}
