//! Gmail's `Message` resource read two ways: as a `serde_json::Value` (batch answers, tests,
//! any JSON at all) and as [`WireMessage`], typed and borrowed from the response bytes
//! (issue 27: parsing messages.get's answer into a `Value` cost ~47,000 instructions per
//! execute, most of it order-preserving maps and their SipHash, and every `part["body"]["data"]`
//! after that hashed two keys again).
//!
//! The decoder reads a message only through [`PartView`] / [`MessageView`], so both forms give
//! the same record. [`WireMessage`] is strict: a field of an unexpected type fails its parse and
//! the caller reads the same bytes as a `Value` instead ([`parse_message`]), whose readers are
//! lenient (a wrong type reads as absent). Where both parse, both views answer every question
//! alike; `tests/integration/payload_direct.rs` holds them to the same record.

use std::borrow::Cow;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// One part of a message's payload tree, as the decoder reads it.
pub trait PartView: Sized {
    type Header: HeaderView;
    fn mime_type(&self) -> Option<&str>;
    fn parts(&self) -> &[Self];
    fn headers(&self) -> &[Self::Header];
    fn body_data(&self) -> Option<&str>;
    fn attachment_id(&self) -> Option<&str>;
    fn body_size(&self) -> Option<u64>;
    fn part_id(&self) -> Option<&str>;
    fn filename(&self) -> Option<&str>;
    /// Whether this is a JSON object (a payload that is not one is no payload).
    fn is_object(&self) -> bool;
}

/// One `{name, value}` header of a part.
pub trait HeaderView {
    fn name(&self) -> Option<&str>;
    fn value(&self) -> Option<&str>;
}

/// A Gmail `Message` resource, as the decoder reads it.
pub trait MessageView {
    type Part: PartView;
    fn id(&self) -> Option<&str>;
    fn thread_id(&self) -> Option<&str>;
    /// `labelIds` as given (any JSON), `None` when absent.
    fn label_ids(&self) -> Option<Value>;
    fn snippet(&self) -> Option<&str>;
    fn history_id(&self) -> Option<&str>;
    /// `internalDate` as epoch milliseconds (Gmail sends a decimal string).
    fn internal_date_ms(&self) -> Option<i64>;
    fn size_estimate(&self) -> Option<i64>;
    /// The payload, when it is an object.
    fn payload(&self) -> Option<&Self::Part>;
    fn raw(&self) -> Option<&str>;
}

impl HeaderView for Value {
    fn name(&self) -> Option<&str> {
        self["name"].as_str()
    }
    fn value(&self) -> Option<&str> {
        self["value"].as_str()
    }
}

impl PartView for Value {
    type Header = Value;
    fn mime_type(&self) -> Option<&str> {
        self["mimeType"].as_str()
    }
    fn parts(&self) -> &[Value] {
        self["parts"].as_array().map(Vec::as_slice).unwrap_or(&[])
    }
    fn headers(&self) -> &[Value] {
        self["headers"].as_array().map(Vec::as_slice).unwrap_or(&[])
    }
    fn body_data(&self) -> Option<&str> {
        self["body"]["data"].as_str()
    }
    fn attachment_id(&self) -> Option<&str> {
        self["body"]["attachmentId"].as_str()
    }
    fn body_size(&self) -> Option<u64> {
        self["body"]["size"].as_u64()
    }
    fn part_id(&self) -> Option<&str> {
        self["partId"].as_str()
    }
    fn filename(&self) -> Option<&str> {
        self["filename"].as_str()
    }
    fn is_object(&self) -> bool {
        Value::is_object(self)
    }
}

impl MessageView for Value {
    type Part = Value;
    fn id(&self) -> Option<&str> {
        self["id"].as_str()
    }
    fn thread_id(&self) -> Option<&str> {
        self["threadId"].as_str()
    }
    fn label_ids(&self) -> Option<Value> {
        self.get("labelIds").cloned()
    }
    fn snippet(&self) -> Option<&str> {
        self["snippet"].as_str()
    }
    fn history_id(&self) -> Option<&str> {
        self["historyId"].as_str()
    }
    fn internal_date_ms(&self) -> Option<i64> {
        match &self["internalDate"] {
            Value::String(s) => s.parse::<i64>().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }
    fn size_estimate(&self) -> Option<i64> {
        self["sizeEstimate"].as_i64()
    }
    fn payload(&self) -> Option<&Value> {
        self.get("payload").filter(|p| p.is_object())
    }
    fn raw(&self) -> Option<&str> {
        self["raw"].as_str()
    }
}

/// A Gmail `Message` resource borrowed from the response bytes. Unknown fields are skipped.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireMessage<'a> {
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub thread_id: Option<Cow<'a, str>>,
    /// Kept as written: the record carries it as given.
    #[serde(borrow, default, deserialize_with = "present_raw")]
    pub label_ids: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub snippet: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub history_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub internal_date: Option<Millis<'a>>,
    #[serde(default)]
    pub size_estimate: Option<i64>,
    #[serde(borrow, default, deserialize_with = "object")]
    pub payload: Option<WirePart<'a>>,
    #[serde(borrow, default)]
    pub raw: Option<Cow<'a, str>>,
}

/// One part of [`WireMessage`]'s payload.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WirePart<'a> {
    #[serde(borrow, default)]
    pub part_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub mime_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub filename: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "objects")]
    pub headers: Option<Vec<WireHeader<'a>>>,
    #[serde(borrow, default, deserialize_with = "object")]
    pub body: Option<WireBody<'a>>,
    #[serde(borrow, default, deserialize_with = "objects")]
    pub parts: Option<Vec<WirePart<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct WireHeader<'a> {
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub value: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireBody<'a> {
    #[serde(borrow, default)]
    pub attachment_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(borrow, default)]
    pub data: Option<Cow<'a, str>>,
}

/// `internalDate`: a decimal string (as Gmail sends it) or a number.
#[derive(Debug)]
pub enum Millis<'a> {
    Text(Cow<'a, str>),
    /// A number; `None` when it is not an `i64` (as `Value::as_i64` reads it).
    Number(Option<i64>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Millis<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Millis<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Millis::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Millis::Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Millis::Text(Cow::Owned(s)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Ok(Millis::Number(Some(n)))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(Millis::Number(i64::try_from(n).ok()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Millis::Number(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A struct read from a JSON object only: serde's derived structs also take an array of
/// their fields in order, which the `Value` reading takes for no object at all.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData)).map(Object)
    }
}

fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<Object<T>>::deserialize(d).map(|o| o.map(|o| o.0))
}

fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    Option::<Vec<Object<T>>>::deserialize(d)
        .map(|o| o.map(|v| v.into_iter().map(|o| o.0).collect()))
}

/// A present field kept as its raw JSON, `null` included (`Option<&RawValue>` alone would
/// read `null` as absent).
fn present_raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

impl HeaderView for WireHeader<'_> {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

impl<'a> PartView for WirePart<'a> {
    type Header = WireHeader<'a>;
    fn mime_type(&self) -> Option<&str> {
        self.mime_type.as_deref()
    }
    fn parts(&self) -> &[Self] {
        self.parts.as_deref().unwrap_or(&[])
    }
    fn headers(&self) -> &[WireHeader<'a>] {
        self.headers.as_deref().unwrap_or(&[])
    }
    fn body_data(&self) -> Option<&str> {
        self.body.as_ref()?.data.as_deref()
    }
    fn attachment_id(&self) -> Option<&str> {
        self.body.as_ref()?.attachment_id.as_deref()
    }
    fn body_size(&self) -> Option<u64> {
        self.body.as_ref()?.size
    }
    fn part_id(&self) -> Option<&str> {
        self.part_id.as_deref()
    }
    fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }
    fn is_object(&self) -> bool {
        true
    }
}

impl<'a> MessageView for WireMessage<'a> {
    type Part = WirePart<'a>;
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn thread_id(&self) -> Option<&str> {
        self.thread_id.as_deref()
    }
    fn label_ids(&self) -> Option<Value> {
        // A small array of strings; a value that is no JSON cannot come out of the parse.
        self.label_ids
            .map(|raw| serde_json::from_str(raw.get()).unwrap_or(Value::Null))
    }
    fn snippet(&self) -> Option<&str> {
        self.snippet.as_deref()
    }
    fn history_id(&self) -> Option<&str> {
        self.history_id.as_deref()
    }
    fn internal_date_ms(&self) -> Option<i64> {
        match self.internal_date.as_ref()? {
            Millis::Text(s) => s.parse::<i64>().ok(),
            Millis::Number(n) => *n,
        }
    }
    fn size_estimate(&self) -> Option<i64> {
        self.size_estimate
    }
    fn payload(&self) -> Option<&WirePart<'a>> {
        self.payload.as_ref()
    }
    fn raw(&self) -> Option<&str> {
        self.raw.as_deref()
    }
}

/// A Gmail message read from its JSON bytes: typed and borrowed when its fields have the types
/// Gmail gives them, else as a `Value` (any JSON object decodes; see the module docs).
// Held on the stack for one call: boxing the typed message would cost the allocation it saves.
#[allow(clippy::large_enum_variant)]
pub enum ParsedMessage<'a> {
    Wire(WireMessage<'a>),
    Json(Value),
}

/// Parses messages.get's answer. `Err` only when the bytes are not JSON at all.
pub fn parse_message(bytes: &[u8]) -> Result<ParsedMessage<'_>, serde_json::Error> {
    match serde_json::from_slice::<Object<WireMessage<'_>>>(bytes) {
        Ok(m) => Ok(ParsedMessage::Wire(m.0)),
        Err(_) => serde_json::from_slice::<Value>(bytes).map(ParsedMessage::Json),
    }
}
