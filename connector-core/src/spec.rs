//! The connector spec model: what a connector declares about its entities and actions.
//!
//! Specs are data (`specs/<connector>.json`). The types derive [`schemars::JsonSchema`]; the
//! generated meta-schema is checked in at `specs/schema/connector-spec.schema.json`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A whole connector: its auth schema and its entities with their actions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSpec {
    /// Machine name, e.g. `gmail`.
    pub name: String,
    /// Spec version (semver).
    pub version: String,
    /// What the connector is, for humans and LLMs.
    pub description: String,
    /// The credential fields this connector accepts.
    pub auth: AuthSchema,
    /// How paging works in this connector, in words an LLM can follow. Included in tool
    /// descriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination_guidance: Option<String>,
    /// Entities by name (`messages`, `labels`, ...).
    pub entities: BTreeMap<String, EntitySpec>,
    /// Other clients' names for these actions (e.g. Airbyte's), by client: accepted by
    /// `execute`, never listed as tools. See [`CompatSet`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub compat: BTreeMap<String, CompatSet>,
}

/// How one family of clients (e.g. Airbyte's generated connectors) names this connector's
/// actions and params. A rule only ever applies to a name the target action does not declare
/// itself, so it can never change the meaning of a call written with our own names.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatSet {
    /// Where these names come from (package and version, file), for whoever updates them.
    pub source: String,
    /// `entity.action` as the client sends it -> what it means here.
    pub actions: BTreeMap<String, CompatAction>,
}

/// One client-side action name, and how its params map onto ours.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatAction {
    /// Our `entity.action` (may be the same name, when only params differ).
    pub action: String,
    /// Client param name -> how to read it. Names without a rule go through the ordinary
    /// camelCase alias resolution and validation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, CompatParam>,
    /// When the client expects another result than the action's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<CompatResult>,
}

/// Result shapes a compat name can ask for instead of the action's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompatResult {
    /// The call is a health check that runs the action: it answers `{status: "healthy" |
    /// "unhealthy", error, code, checked_entity, checked_action}` and reports a failure
    /// instead of raising it.
    HealthCheck,
}

/// How to read one client param. Exactly one of the fields is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatParam {
    /// Our param of the same value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rename: Option<String>,
    /// Our array param, given as one string joined by this separator (`"INBOX,UNREAD"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_into: Option<SplitInto>,
    /// An object whose fields are our params: field name -> our param.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// A repeat of another client param (e.g. a body `id` beside the path's `labelId`):
    /// accepted when equal to it and dropped, refused when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

/// See [`CompatParam::split_into`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitInto {
    pub param: String,
    pub separator: String,
}

/// Which credential fields exist and which are required.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSchema {
    /// Field name -> description.
    pub fields: BTreeMap<String, AuthField>,
    /// Alternatives: at least one of these groups must be fully present
    /// (e.g. `[["access_token"], ["refresh_token"]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<Vec<String>>,
}

/// One credential field.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthField {
    pub description: String,
    /// Always required, whatever alternative is chosen.
    #[serde(default)]
    pub required: bool,
    /// A secret: never returned by any API and redacted in logs.
    #[serde(default)]
    pub secret: bool,
    /// Default value when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// An entity and its actions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntitySpec {
    pub description: String,
    pub actions: BTreeMap<String, ActionSpec>,
}

/// One action: `execute(entity, action, params)`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// Written for an LLM: what it does, when to use it, how to page.
    pub description: String,
    /// JSON Schema 2020-12 of the params object (`additionalProperties: false`).
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub params: Value,
    /// JSON Schema of `result`.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub result: Value,
    /// How the action runs: a declarative request mapping or a named Rust handler.
    #[serde(flatten)]
    pub implementation: Implementation,
    /// OAuth scopes any one of which lets the action run (the first is the narrowest).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Safe to retry after the request may have reached the provider.
    pub idempotent: bool,
    /// What the action does to the mailbox: the MCP tool annotations (`readOnlyHint`,
    /// `destructiveHint`) and the policies read it. Absent: not declared, treated as the most
    /// dangerous (`delete`) wherever it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    /// Paging, for list actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<PaginationSpec>,
    /// Example calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
}

/// What an action does to the provider's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Reads only; nothing changes.
    Read,
    /// Adds something (creates a draft, a label, a subscription) and changes or removes
    /// nothing that exists.
    Create,
    /// Delivers mail (or an invitation) to recipients: adds and cannot be taken back. The send
    /// policies ([`crate::guard`]) judge every action with this effect.
    Send,
    /// Changes or replaces something that exists (labels of a message, a draft, settings).
    Update,
    /// Removes something (delete, trash, move out of a folder).
    Delete,
}

impl Effect {
    /// `true` for [`Effect::Read`].
    pub fn is_read_only(self) -> bool {
        self == Effect::Read
    }

    /// Whether the action may destroy or overwrite existing data (MCP's `destructiveHint`):
    /// `update` and `delete`; reads and additions do not.
    pub fn is_destructive(self) -> bool {
        matches!(self, Effect::Update | Effect::Delete)
    }
}

/// Either `"request": {...}` or `"handler": "name"`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Implementation {
    /// Runs without Rust code from this mapping.
    Request(RequestMapping),
    /// The name of a Rust handler registered by the connector crate.
    Handler(String),
}

/// HTTP methods a mapping may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// A declarative provider request.
///
/// `path` is relative to the connector's base URL and may hold `{param}` placeholders named
/// after params (snake_case); their values are percent-encoded. `query` and `body` map a param
/// name to its wire name. Arrays in `query` become repeated keys.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestMapping {
    pub method: HttpMethod,
    /// e.g. `/gmail/v1/users/me/labels/{label_id}`.
    pub path: String,
    /// param name -> query key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Constant query pairs always sent (e.g. `format=full`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fixed_query: BTreeMap<String, String>,
    /// param name -> JSON body field (dotted paths like `a.b` nest).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub body: BTreeMap<String, String>,
    /// A param whose value is sent as the whole JSON body (merged under `body` fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_param: Option<String>,
    /// How to shape the response.
    #[serde(default)]
    pub response: ResponseMapping,
}

/// Where the result, the next page token and other metadata live in the response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseMapping {
    /// JSON pointer of the result (`/labels`); the whole body when absent. For list actions a
    /// missing array becomes `[]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// JSON pointer of the next page token (`/nextPageToken`), returned as
    /// `metadata.next_page_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Other metadata: metadata key -> JSON pointer (`result_size_estimate` ->
    /// `/resultSizeEstimate`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Rename keys of the result record(s) from wire camelCase to snake_case, recursively
    /// (OData annotations such as `@odata.context` are dropped).
    #[serde(default)]
    pub snake_case_keys: bool,
    /// A fixed result instead of the answer's body, for answers without one (e.g.
    /// `{"ok": true}` after a delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_result: Option<Box<Value>>,
}

/// How an action pages.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaginationSpec {
    /// The param that takes the token (`page_token`).
    pub token_param: String,
    /// The param that sets the page size (`max_results`, `top`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_param: Option<String>,
    /// The metadata key holding the next token (`next_page_token`).
    pub next_token_metadata: String,
}

/// An example call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub description: String,
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub params: Value,
}

impl ConnectorSpec {
    /// Parses a spec from JSON text, naming the JSON path of any error.
    pub fn from_json(text: &str) -> crate::Result<ConnectorSpec> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            crate::ConnectorError::internal(format!(
                "connector spec does not parse at `{}`: {}",
                e.path(),
                e.inner()
            ))
        })
    }

    /// The meta-schema of spec files.
    pub fn meta_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(ConnectorSpec)).expect("schema serializes")
    }

    pub fn action(&self, entity: &str, action: &str) -> Option<&ActionSpec> {
        self.entities.get(entity)?.actions.get(action)
    }
}
