//! Typed params: each handler's params deserialize into its own struct after the JSON Schema
//! check, so handlers read fields instead of `params.get("x")`, and a field's default is the one
//! the spec declares (checked by [`default_disagreements`]).
//!
//! A value that passes the schema but not the struct (a bug in one of the two) is still an
//! `invalid_params` error naming the field by JSON pointer (`serde_path_to_error`).

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::connector::{ActionHandler, CallContext, Output};
use crate::spec::{ConnectorSpec, Implementation};
use crate::{ConnectorError, Result};

/// Deserializes validated `params` into `T`. A field that does not fit is `invalid_params` with
/// `details.errors[0].pointer` naming it.
pub fn params<T: DeserializeOwned>(what: &str, params: Value) -> Result<T> {
    serde_path_to_error::deserialize(params).map_err(|e| {
        let pointer = pointer(e.path());
        let message = e.inner().to_string();
        let shown = if pointer.is_empty() {
            "(params)"
        } else {
            &pointer
        };
        ConnectorError::invalid_params(format!(
            "invalid params for {what} (fix these and call again): {shown}: {message}"
        ))
        .with_details(json!({"errors": [{"pointer": pointer, "message": message}]}))
    })
}

/// The JSON pointer (RFC 6901) of a `serde_path_to_error` path.
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } => out.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => out.push_str(variant),
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// The params of an action that takes none.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, Serialize)]
pub struct NoParams {}

/// A handler whose params are one typed struct.
#[async_trait]
pub trait TypedHandler: Send + Sync + 'static {
    /// The action's params. `Serialize` lets a test compare its defaults with the spec's.
    type Params: DeserializeOwned + Serialize + Send;

    async fn run(&self, cx: &CallContext<'_>, params: Self::Params) -> Result<Output>;

    /// See [`ActionHandler::preview`].
    async fn preview(
        &self,
        _cx: &CallContext<'_>,
        _params: Self::Params,
    ) -> Result<Option<crate::guard::Preview>> {
        Ok(None)
    }

    /// See [`ActionHandler::exactly_once`].
    fn exactly_once(&self) -> bool {
        false
    }
}

/// Registers a [`TypedHandler`] as an [`ActionHandler`].
pub fn typed<H: TypedHandler>(handler: H) -> std::sync::Arc<dyn ActionHandler> {
    std::sync::Arc::new(Typed(handler))
}

struct Typed<H>(H);

#[async_trait]
impl<H: TypedHandler> ActionHandler for Typed<H> {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output> {
        let what = format!("{}.{}", cx.entity, cx.action);
        let p: H::Params = self::params(&what, params)?;
        self.0.run(cx, p).await
    }

    async fn preview(
        &self,
        cx: &CallContext<'_>,
        params: &Value,
    ) -> Result<Option<crate::guard::Preview>> {
        let what = format!("{}.{}", cx.entity, cx.action);
        let p: H::Params = self::params(&what, params.clone())?;
        self.0.preview(cx, p).await
    }

    fn exactly_once(&self) -> bool {
        self.0.exactly_once()
    }

    fn typed_params(&self, params: Value) -> Option<Result<Value>> {
        Some(
            self::params::<H::Params>("typed params", params).and_then(|p| {
                serde_json::to_value(p)
                    .map_err(|e| ConnectorError::internal(format!("params do not serialize: {e}")))
            }),
        )
    }
}

/// Every top-level param of every handler action whose typed struct's default differs from the
/// default the spec declares (or has one the spec does not declare), as readable lines. Empty
/// when they agree.
///
/// For each action the struct reads the smallest valid params (its required fields only, taken
/// from the action's examples or made up from their schemas); each param the caller left out
/// must then read back as the spec's `default`, or as absent (`null`, or `[]` for a list) when
/// the spec declares none.
pub fn default_disagreements(
    spec: &ConnectorSpec,
    handlers: &[(&str, std::sync::Arc<dyn ActionHandler>)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (entity, e) in &spec.entities {
        for (action, a) in &e.actions {
            let Implementation::Handler(name) = &a.implementation else {
                continue;
            };
            let Some((_, handler)) = handlers.iter().find(|(n, _)| n == name) else {
                out.push(format!(
                    "{entity}.{action}: handler `{name}` is not registered"
                ));
                continue;
            };
            let minimal = minimal_params(&a.params, &a.examples);
            let Some(typed) = handler.typed_params(Value::Object(minimal.clone())) else {
                continue;
            };
            let typed = match typed {
                Ok(v) => v,
                Err(e) => {
                    out.push(format!(
                        "{entity}.{action}: minimal params {} do not read: {}",
                        Value::Object(minimal),
                        e.message
                    ));
                    continue;
                }
            };
            let props = a.params.get("properties").and_then(Value::as_object);
            for (param, schema) in props.into_iter().flatten() {
                if minimal.contains_key(param) {
                    continue;
                }
                let declared = schema.get("default").cloned().unwrap_or(Value::Null);
                let read = match typed.get(param) {
                    // An absent list is an empty list: no default to declare.
                    Some(Value::Array(a)) if a.is_empty() && declared.is_null() => Value::Null,
                    Some(v) => v.clone(),
                    None => Value::Null,
                };
                if declared != read {
                    out.push(format!(
                        "{entity}.{action}: `{param}` defaults to {read} in the struct but {declared} in the spec"
                    ));
                }
            }
            for (param, schema) in props.into_iter().flatten() {
                out.extend(item_disagreements(
                    &format!("{entity}.{action}"),
                    handler.as_ref(),
                    &minimal,
                    param,
                    schema,
                ));
            }
        }
    }
    out
}

/// For a list of objects whose items declare defaults (`attachments[].mime_type`): one minimal
/// item, read through the struct, must carry those defaults.
fn item_disagreements(
    what: &str,
    handler: &dyn ActionHandler,
    minimal: &Map<String, Value>,
    param: &str,
    schema: &Value,
) -> Vec<String> {
    let Some(items) = schema.get("items") else {
        return Vec::new();
    };
    let declared: Vec<(&String, &Value)> = items
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(field, s)| Some((field, s.get("default")?)))
        .collect();
    if declared.is_empty() {
        return Vec::new();
    }
    let item = minimal_params(items, &[]);
    let mut params = minimal.clone();
    params.insert(param.to_string(), json!([Value::Object(item.clone())]));
    let read = match handler.typed_params(Value::Object(params)) {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            return vec![format!(
                "{what}: `{param}` with one item does not read: {}",
                e.message
            )]
        }
        None => return Vec::new(),
    };
    declared
        .into_iter()
        .filter(|(field, _)| !item.contains_key(*field))
        .filter_map(|(field, default)| {
            let got = read.pointer(&format!("/{param}/0/{field}")).cloned().unwrap_or(Value::Null);
            (got != *default).then(|| {
                format!("{what}: `{param}[].{field}` defaults to {got} in the struct but {default} in the spec")
            })
        })
        .collect()
}

/// The required params only: from the first example that has them all, else made up from each
/// one's schema.
fn minimal_params(schema: &Value, examples: &[crate::spec::Example]) -> Map<String, Value> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let from_example = examples.iter().find_map(|ex| {
        let p = ex.params.as_object()?;
        required
            .iter()
            .map(|r| Some((r.to_string(), p.get(*r)?.clone())))
            .collect::<Option<Map<String, Value>>>()
    });
    if let Some(m) = from_example {
        return m;
    }
    required
        .iter()
        .map(|r| {
            let s = schema.pointer(&format!("/properties/{r}"));
            (r.to_string(), sample(s.unwrap_or(&Value::Null)))
        })
        .collect()
}

/// A value that fits a simple schema.
fn sample(schema: &Value) -> Value {
    if let Some(v) = schema.get("enum").and_then(|e| e.get(0)) {
        return v.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") | Some("number") => {
            json!(schema.get("minimum").and_then(Value::as_i64).unwrap_or(1))
        }
        Some("boolean") => json!(false),
        Some("array") => {
            let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1);
            let item = sample(schema.get("items").unwrap_or(&Value::Null));
            Value::Array(vec![item; n as usize])
        }
        Some("object") => Value::Object(minimal_params(schema, &[])),
        _ => json!("x@example.com"),
    }
}

/// Serde helpers for integers written as JSON numbers with a zero fraction: JSON Schema's
/// `integer` counts `5.0` as the integer 5, so a body valid against a documented `integer` is
/// taken as one (`#[serde(deserialize_with = "connector_core::params::integral::option")]`).
/// Fractions, negatives and numbers over 2^53 ([`integral::MAX`]) are refused.
pub mod integral {
    use serde::de::{Deserializer, Error, Visitor};

    /// The largest integer taken: 2^53, the last one every JSON reader holds exactly (documents
    /// publish it as `maximum`).
    pub const MAX: u64 = 1 << 53;

    struct U64;

    impl Visitor<'_> for U64 {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a non-negative integer")
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<u64, E> {
            if v > MAX {
                return Err(E::custom(format!(
                    "{v} is over {MAX}; write a smaller number"
                )));
            }
            Ok(v)
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<u64, E> {
            let v = u64::try_from(v)
                .map_err(|_| E::custom(format!("{v} is negative; write 0 or more")))?;
            self.visit_u64(v)
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<u64, E> {
            if v.fract() == 0.0 && (0.0..=MAX as f64).contains(&v) {
                Ok(v as u64)
            } else {
                Err(E::custom(format!(
                    "{v} is not a non-negative integer; write a whole number"
                )))
            }
        }
    }

    /// A `u64`, also from an integral float.
    pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(U64)
    }

    /// An optional `u64` (null or absent is `None`), also from an integral float.
    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        struct Opt;
        impl<'de> Visitor<'de> for Opt {
            type Value = Option<u64>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a non-negative integer or null")
            }
            fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                u64(d).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Serialize)]
    struct P {
        id: String,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    struct Item {
        size: u32,
    }

    #[test]
    fn integral_floats_are_integers_and_the_rest_is_refused() {
        #[derive(serde::Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "super::integral::option")]
            n: Option<u64>,
        }
        let n = |v: Value| serde_json::from_value::<T>(json!({ "n": v })).map(|t| t.n);
        assert_eq!(n(json!(5)).unwrap(), Some(5));
        assert_eq!(n(json!(435936.0)).unwrap(), Some(435_936));
        assert_eq!(n(Value::Null).unwrap(), None);
        assert_eq!(serde_json::from_value::<T>(json!({})).unwrap().n, None);
        assert_eq!(n(json!(super::integral::MAX)).unwrap(), Some(1 << 53));
        let over = [json!(5.5), json!(-1), json!(-1.0), json!(1e300), json!("5")];
        for bad in over
            .into_iter()
            .chain([json!((1u64 << 53) + 1), json!(u64::MAX)])
        {
            assert!(n(bad.clone()).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn a_field_that_does_not_fit_is_invalid_params_with_its_pointer() {
        let e = params::<P>(
            "m.get",
            json!({"id": "a", "items": [{"size": 1}, {"size": "big"}]}),
        )
        .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidParams);
        assert_eq!(e.details["errors"][0]["pointer"], "/items/1/size");
        assert!(e.message.contains("m.get"), "{}", e.message);
        assert!(e.message.contains("/items/1/size"), "{}", e.message);
        let e = params::<P>("m.get", json!({})).unwrap_err();
        assert_eq!(e.details["errors"][0]["pointer"], "");
        assert!(e.message.contains("missing field `id`"), "{}", e.message);
    }

    #[test]
    fn pointer_segments_are_escaped() {
        let e = params::<std::collections::BTreeMap<String, u8>>("x", json!({"a/b~": "no"}))
            .unwrap_err();
        assert_eq!(e.details["errors"][0]["pointer"], "/a~1b~0");
    }

    struct WithDefaults;

    #[derive(Deserialize, Serialize)]
    struct WithDefaultsParams {
        id: String,
        #[serde(default = "ten")]
        top: u32,
        #[serde(default)]
        flag: bool,
        #[serde(default)]
        tags: Vec<String>,
        note: Option<String>,
        #[serde(default)]
        parts: Vec<Part>,
    }

    #[derive(Deserialize, Serialize)]
    struct Part {
        name: String,
        #[serde(default = "three")]
        size: u32,
    }

    fn three() -> u32 {
        3
    }

    fn ten() -> u32 {
        10
    }

    #[async_trait]
    impl TypedHandler for WithDefaults {
        type Params = WithDefaultsParams;
        async fn run(&self, _: &CallContext<'_>, _: WithDefaultsParams) -> Result<Output> {
            unreachable!("only read, never run")
        }
    }

    fn spec_with(props: Value) -> ConnectorSpec {
        serde_json::from_value(json!({
            "name": "t", "version": "1.0.0", "description": "t", "auth": {"fields": {}},
            "entities": {"things": {"description": "t", "actions": {"list": {
                "description": "t", "handler": "things_list", "idempotent": true,
                "result": {"type": "array"},
                "params": {"type": "object", "additionalProperties": false,
                           "required": ["id"], "properties": props}}}}}
        }))
        .unwrap()
    }

    #[test]
    fn struct_defaults_are_checked_against_the_spec() {
        let handlers = [("things_list", typed(WithDefaults))];
        let agreeing = spec_with(json!({"id": {"type": "string"},
            "top": {"type": "integer", "default": 10}, "flag": {"type": "boolean", "default": false},
            "tags": {"type": "array"}, "note": {"type": "string"}}));
        assert_eq!(
            default_disagreements(&agreeing, &handlers),
            Vec::<String>::new()
        );

        let other = spec_with(json!({"id": {"type": "string"},
            "top": {"type": "integer", "default": 25}, "flag": {"type": "boolean"},
            "tags": {"type": "array"}, "note": {"type": "string", "default": "n"}}));
        let d = default_disagreements(&other, &handlers);
        assert_eq!(d.len(), 3, "{d:#?}");
        let has = |s: &str| d.iter().any(|l| l.contains(s));
        assert!(
            has("`flag` defaults to false in the struct but null"),
            "{d:#?}"
        );
        assert!(
            has("`note` defaults to null in the struct but \"n\""),
            "{d:#?}"
        );
        assert!(has("`top` defaults to 10 in the struct but 25"), "{d:#?}");
        assert_eq!(
            default_disagreements(&other, &[]).len(),
            1,
            "unregistered handler"
        );

        let parts = |default: u32| {
            spec_with(json!({"id": {"type": "string"},
                "top": {"type": "integer", "default": 10}, "flag": {"type": "boolean", "default": false},
                "parts": {"type": "array", "items": {"type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"},
                                   "size": {"type": "integer", "default": default}}}}}))
        };
        assert_eq!(
            default_disagreements(&parts(3), &handlers),
            Vec::<String>::new()
        );
        let d = default_disagreements(&parts(7), &handlers);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(
            d[0].contains("`parts[].size` defaults to 3 in the struct but 7"),
            "{d:#?}"
        );
    }

    #[test]
    fn samples_fit_their_schema() {
        let schema = json!({"type": "object", "required": ["a", "b", "c"], "properties": {
            "a": {"type": "integer", "minimum": 3}, "b": {"enum": ["x", "y"]},
            "c": {"type": "array", "minItems": 2, "items": {"type": "boolean"}}}});
        assert_eq!(
            Value::Object(minimal_params(&schema, &[])),
            json!({"a": 3, "b": "x", "c": [false, false]})
        );
    }
}
