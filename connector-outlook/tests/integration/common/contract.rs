//! Checks against Microsoft's own descriptions of Graph (copied into `tests/contracts/`):
//! request URI templates and methods from `graph-mail-requests-metadata.json` and
//! `msgraph_calendar_operations.tsv`, and response field types from `graph-mail-types.json`
//! and `graph-calendar-types.json`.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde_json::{Map, Value};

fn contracts_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/contracts")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(contracts_dir().join(name)).expect("contract file");
    serde_json::from_str(&text).expect("contract JSON")
}

/// One operation of the request metadata.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: String,
    pub uri_template: String,
    /// Path segments of the template; `None` is a `{variable}`.
    segments: Vec<Option<String>>,
    pub query: BTreeSet<String>,
    /// Query parameters the template requires (`?startDateTime={startDateTime}&...`).
    pub required: BTreeSet<String>,
    /// `createMessageFromDiscriminatorValue` -> `Message`.
    pub response_type: Option<String>,
}

impl Operation {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.uri_template)
    }
}

pub struct Operations(pub Vec<Operation>);

/// A request as sent: method, path after the host, query names.
pub struct SentRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Vec<&'a str>,
}

impl Operations {
    pub fn load() -> Operations {
        let ops = load("graph-mail-requests-metadata.json")
            .as_array()
            .expect("array")
            .iter()
            .map(|o| {
                let template = o["uriTemplate"].as_str().expect("uriTemplate").to_string();
                let (path, query) = match template.split_once("{?") {
                    Some((p, q)) => (p.to_string(), q.trim_end_matches('}').to_string()),
                    None => (template.clone(), String::new()),
                };
                let segments = path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            None
                        } else {
                            Some(s.to_string())
                        }
                    })
                    .collect();
                let query = query
                    .split(',')
                    .filter(|q| !q.is_empty())
                    .map(|q| q.replace("%24", "$").trim_end_matches('*').to_string())
                    .collect();
                let response_type = o["responseFactory"].as_str().map(|f| {
                    f.trim_start_matches("create")
                        .trim_end_matches("FromDiscriminatorValue")
                        .to_string()
                });
                Operation {
                    method: o["method"].as_str().expect("method").to_string(),
                    uri_template: template,
                    segments,
                    query,
                    required: BTreeSet::new(),
                    response_type,
                }
            })
            .chain(calendar_operations())
            .collect();
        Operations(ops)
    }

    /// The operation a request matches: same method, same path shape (`/me` is
    /// `/users/{user-id}`; `delta` and `delta()` are the same function call), and only query
    /// options the template lists. `$skiptoken`/`$deltatoken` are allowed on delta functions:
    /// they only ever come from the server's own `@odata.nextLink`/`@odata.deltaLink`.
    pub fn matching(&self, req: &SentRequest<'_>) -> Result<&Operation, String> {
        let path = req.path.strip_prefix("/v1.0").unwrap_or(req.path);
        let mut segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        if segs.first().map(String::as_str) == Some("me") {
            segs[0] = "users".into();
            segs.insert(1, "{me}".into());
        }
        let same_path = |op: &Operation| {
            op.segments.len() == segs.len()
                && op.segments.iter().zip(&segs).all(|(t, s)| match t {
                    None => true,
                    Some(lit) => lit == s || (lit == "delta()" && s == "delta"),
                })
        };
        let candidates: Vec<&Operation> = self
            .0
            .iter()
            .filter(|op| op.method == req.method && same_path(op))
            .collect();
        let op = candidates
            .first()
            .ok_or_else(|| format!("no operation matches {} {}", req.method, req.path))?;
        let is_delta = op.segments.last() == Some(&Some("delta()".to_string()));
        let from_link = req
            .query
            .iter()
            .any(|q| *q == "$skiptoken" || *q == "$deltatoken");
        for r in &op.required {
            if !from_link && !req.query.contains(&r.as_str()) {
                return Err(format!(
                    "{} {} requires the query parameter {r}",
                    op.method, op.uri_template
                ));
            }
        }
        for q in &req.query {
            let allowed =
                op.query.contains(*q) || (is_delta && (*q == "$skiptoken" || *q == "$deltatoken"));
            if !allowed {
                return Err(format!(
                    "query option {q} is not in {} {}",
                    op.method, op.uri_template
                ));
            }
        }
        Ok(op)
    }
}

/// The calendar operations of `msgraph_calendar_operations.tsv` (url template, method, body
/// type, return type), e.g. `/users/{user%2Did}/calendarView?endDateTime={endDateTime}&startDateTime={startDateTime}{&%24count,...}`.
fn calendar_operations() -> Vec<Operation> {
    let text = std::fs::read_to_string(contracts_dir().join("msgraph_calendar_operations.tsv"))
        .expect("calendar operations");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let template = cols[0].to_string();
            // optional query names: `{?a,b}` or `{&a,b}`; required: `?name={name}&...`
            let (head, optional) = match template.find("{?").or_else(|| template.find("{&")) {
                Some(i) => (&template[..i], template[i + 2..].trim_end_matches('}')),
                None => (template.as_str(), ""),
            };
            let (path, required) = head.split_once('?').unwrap_or((head, ""));
            let segments = path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') {
                        None
                    } else {
                        Some(s.to_string())
                    }
                })
                .collect();
            let optional: BTreeSet<String> = optional
                .split(',')
                .filter(|q| !q.is_empty())
                .map(|q| q.replace("%24", "$").trim_end_matches('*').to_string())
                .collect();
            let required: BTreeSet<String> = required
                .split('&')
                .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_string()))
                .collect();
            let ret = cols.get(3).copied().unwrap_or("None");
            let response_type = ret
                .strip_prefix("Optional[")
                .and_then(|r| r.strip_suffix(']'))
                .map(str::to_string);
            Operation {
                method: cols[1].to_string(),
                uri_template: template.clone(),
                segments,
                query: required.union(&optional).cloned().collect(),
                required,
                response_type,
            }
        })
        .collect()
}

/// Field types of Graph models.
pub struct Types {
    models: Map<String, Value>,
}

impl Types {
    /// The mail models, and the calendar models (`graph-calendar-types.json`) besides.
    pub fn load() -> Types {
        let Value::Object(mut models) = load("graph-mail-types.json") else {
            panic!("types file is an object")
        };
        let Value::Object(calendar) = load("graph-calendar-types.json") else {
            panic!("calendar types file is an object")
        };
        for (k, v) in calendar {
            if !k.starts_with('_') {
                models.entry(k).or_insert(v);
            }
        }
        Types { models }
    }

    pub fn has(&self, name: &str) -> bool {
        self.models.contains_key(name)
    }

    /// Fields of a model and of every base the file describes.
    fn fields(&self, name: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(m) = self.models.get(name) {
            if let Some(bases) = m["bases"].as_str() {
                for b in bases.split(',').map(str::trim) {
                    if self.models.contains_key(b) {
                        out.extend(self.fields(b));
                    }
                }
            }
            if let Some(f) = m["fields"].as_object() {
                for (k, v) in f {
                    out.insert(k.clone(), v.as_str().unwrap_or("").to_string());
                }
            }
        }
        out
    }

    fn is_subtype(&self, sub: &str, base: &str) -> bool {
        sub == base
            || self
                .models
                .get(sub)
                .and_then(|m| m["bases"].as_str())
                .is_some_and(|b| {
                    b.split(',')
                        .map(str::trim)
                        .any(|b| self.models.contains_key(b) && self.is_subtype(b, base))
                })
    }

    fn by_odata_type(&self, odata: &str) -> Option<String> {
        self.models
            .iter()
            .find(|(_, m)| m["odata_type"].as_str() == Some(odata))
            .map(|(k, _)| k.clone())
    }

    /// Checks `value` against model `name` (plus `extra` fields the caller documents); returns
    /// every violation with its JSON path.
    pub fn check(&self, name: &str, value: &Value, extra: &[(&str, &str)]) -> Vec<String> {
        let mut errors = Vec::new();
        self.check_object(name, value, "", extra, &mut errors);
        errors
    }

    fn check_object(
        &self,
        name: &str,
        value: &Value,
        at: &str,
        extra: &[(&str, &str)],
        errors: &mut Vec<String>,
    ) {
        let Some(obj) = value.as_object() else {
            errors.push(format!("{at}: expected an object of {name}, got {value}"));
            return;
        };
        if !self.has(name) {
            errors.push(format!("{at}: model {name} is not in the types file"));
            return;
        }
        let mut model = name.to_string();
        if let Some(t) = obj.get("@odata.type").and_then(Value::as_str) {
            match self.by_odata_type(t) {
                Some(sub) if self.is_subtype(&sub, name) => model = sub,
                Some(sub) => errors.push(format!("{at}: @odata.type {t} ({sub}) is not a {name}")),
                None => {}
            }
        }
        let mut fields = self.fields(&model);
        for (k, t) in extra {
            fields.insert(k.to_string(), t.to_string());
        }
        for (k, v) in obj {
            let path = format!("{at}/{k}");
            match fields.get(k) {
                None => errors.push(format!("{path}: {model} has no field {k}")),
                Some(t) => self.check_value(t, v, &path, errors),
            }
        }
    }

    fn check_value(&self, ty: &str, v: &Value, at: &str, errors: &mut Vec<String>) {
        if v.is_null() {
            return; // the SDK deserializers accept null for every field
        }
        let inner = |prefix: &str| {
            ty.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix('>'))
                .map(str::to_string)
        };
        let ok = match ty {
            "str" => v.is_string(),
            "bool" => v.is_boolean(),
            "int" => v.is_i64() || v.is_u64(),
            "float" => v.is_number(),
            "datetime" => v
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            "bytes" => v
                .as_str()
                .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok()),
            "date" => v
                .as_str()
                .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
            "time" => v
                .as_str()
                .is_some_and(|s| chrono::NaiveTime::parse_from_str(s, "%H:%M:%S%.f").is_ok()),
            _ => {
                if let Some(e) = inner("enum<") {
                    let allowed = self
                        .models
                        .get(&e)
                        .and_then(|m| m["enum"].as_array())
                        .map(|a| a.iter().any(|x| x == v))
                        .unwrap_or(true);
                    v.is_string() && allowed
                } else if let Some(t) = inner("object<") {
                    if self.has(&t) {
                        self.check_object(&t, v, at, &[], errors);
                        true
                    } else {
                        // a model the file does not describe: only its shape is checked
                        v.is_object()
                    }
                } else if let Some(t) = inner("collection_of_objects<") {
                    match v.as_array() {
                        Some(items) => {
                            for (i, item) in items.iter().enumerate() {
                                if self.has(&t) {
                                    self.check_object(&t, item, &format!("{at}/{i}"), &[], errors);
                                } else if !item.is_object() {
                                    errors.push(format!("{at}/{i}: expected an object"));
                                }
                            }
                            true
                        }
                        None => false,
                    }
                } else if let Some(e) = inner("collection_of_enums<") {
                    let allowed = self.models.get(&e).and_then(|m| m["enum"].as_array());
                    v.as_array().is_some_and(|a| {
                        a.iter()
                            .all(|x| x.is_string() && allowed.is_none_or(|al| al.contains(x)))
                    })
                } else if let Some(t) = inner("collection_of_primitives<") {
                    v.as_array().is_some_and(|a| {
                        a.iter().all(|x| match t.as_str() {
                            "str" => x.is_string(),
                            "int" => x.is_i64(),
                            "bool" => x.is_boolean(),
                            _ => true,
                        })
                    })
                } else {
                    errors.push(format!("{at}: unsupported type {ty}"));
                    true
                }
            }
        };
        if !ok {
            errors.push(format!("{at}: expected {ty}, got {v}"));
        }
    }
}

/// What an operation's response must look like: a model of the types file, or a collection
/// of one (for the factories the file has no model for, see the reasons).
pub enum Expect {
    Model(String, Vec<(&'static str, &'static str)>),
    /// A delta page of this model (see [`check_delta_page`]).
    Delta(&'static str),
    /// Not checkable: the types file has no model (reason given).
    Unchecked(&'static str),
}

pub fn expected_response(op: &Operation) -> Expect {
    let Some(ty) = op.response_type.as_deref() else {
        return Expect::Unchecked("the operation returns no body");
    };
    match ty {
        // The file has BaseDeltaFunctionResponse; a message delta page is that plus `value`
        // of messages, where a removed item carries `@removed` (Graph's delta annotation).
        "DeltaGetResponse" if op.uri_template.contains("/messages/delta") => {
            Expect::Delta("Message")
        }
        // The same for events (calendarView / events / instances delta).
        "DeltaGetResponse" => Expect::Delta("Event"),
        // getSchedule answers `{"value": [scheduleInformation]}`.
        "GetSchedulePostResponse" => Expect::Model(
            "BaseCollectionPaginationCountResponse".into(),
            vec![("value", "collection_of_objects<ScheduleInformation>")],
        ),
        // Same pattern as MessageCollectionResponse, for OutlookCategory.
        "OutlookCategoryCollectionResponse" => Expect::Model(
            "BaseCollectionPaginationCountResponse".into(),
            vec![("value", "collection_of_objects<OutlookCategory>")],
        ),
        "User" => Expect::Unchecked("the types file has no User model"),
        other => Expect::Model(other.to_string(), Vec::new()),
    }
}

/// A delta page item: a `model` (Message, Event), or `{@odata.type, id, @removed}`.
pub fn check_delta_page(types: &Types, page: &Value, model: &str) -> Vec<String> {
    let mut errors = types.check("BaseDeltaFunctionResponse", &strip(page, "value"), &[]);
    for (i, item) in page["value"].as_array().into_iter().flatten().enumerate() {
        let mut extra = Vec::new();
        if item.get("@removed").is_some() {
            if item["@removed"]["reason"].as_str() != Some("deleted")
                && item["@removed"]["reason"].as_str() != Some("changed")
            {
                errors.push(format!("/value/{i}/@removed: bad reason"));
            }
            extra.push(("@removed", "object<Removed>"));
        }
        for e in types.check(model, item, &extra) {
            errors.push(format!("/value/{i}{e}"));
        }
    }
    errors
}

fn strip(v: &Value, key: &str) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove(key);
    }
    v
}

/// Checks one answer of an operation: an error body is an ODataError; a success body is the
/// operation's response model. `Err(reason)` when the file cannot check it.
pub fn check_response(
    types: &Types,
    op: &Operation,
    status: u16,
    body: &Value,
) -> Result<Vec<String>, &'static str> {
    if status >= 400 {
        return Ok(types.check("ODataError", body, &[]));
    }
    match expected_response(op) {
        Expect::Model(name, extra) => Ok(types.check(&name, body, &extra)),
        Expect::Delta(model) => Ok(check_delta_page(types, body, model)),
        Expect::Unchecked(reason) => Err(reason),
    }
}
