//! Secrets that print `[redacted]`, and serialize as `[redacted]` too unless the storage that
//! encrypts them opts in ([`expose_for_vault`]).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret string (token, client secret). `Debug`, `Display` and `Serialize` give
/// `[redacted]`; the value is reached only through [`Secret::expose`], or serialized only
/// through [`expose_for_vault`].
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

/// Serializes `[redacted]`: a secret in a response, a log line or an event never shows its value
/// by accident. Storage that encrypts secrets opts in with [`expose_for_vault`].
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

const REDACTED: &str = "[redacted]";

/// Serializers that write secrets' real values, for storage that encrypts what it writes (the
/// server's vault) and nothing else: `#[serde(serialize_with = "expose_for_vault::map")]`.
pub mod expose_for_vault {
    use std::collections::BTreeMap;

    use serde::ser::SerializeMap;
    use serde::{Serialize, Serializer};

    use super::Secret;

    /// One secret's value.
    pub fn secret<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(secret.expose())
    }

    /// A map of secrets, with their values.
    pub fn map<K: Serialize, S: Serializer>(
        map: &BTreeMap<K, Secret>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(map.len()))?;
        for (k, v) in map {
            out.serialize_entry(k, v.expose())?;
        }
        out.end()
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("ya29.very-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "ya29.very-secret");
    }

    #[derive(Serialize)]
    struct Holder {
        token: Secret,
        fields: std::collections::BTreeMap<String, Secret>,
    }

    #[derive(Serialize)]
    struct Vaulted {
        #[serde(serialize_with = "expose_for_vault::secret")]
        token: Secret,
        #[serde(serialize_with = "expose_for_vault::map")]
        fields: std::collections::BTreeMap<String, Secret>,
    }

    #[test]
    fn serializing_a_struct_never_shows_the_value_unless_the_vault_opts_in() {
        let fields = [("refresh_token".to_string(), Secret::new("1//refresh"))].into();
        let plain = serde_json::to_string(&Holder {
            token: Secret::new("ya29.very-secret"),
            fields,
        })
        .unwrap();
        assert!(
            !plain.contains("ya29") && !plain.contains("1//refresh"),
            "{plain}"
        );
        assert!(plain.contains("[redacted]"), "{plain}");
        let fields = [("refresh_token".to_string(), Secret::new("1//refresh"))].into();
        let vaulted = serde_json::to_value(Vaulted {
            token: Secret::new("ya29.very-secret"),
            fields,
        })
        .unwrap();
        assert_eq!(vaulted["token"], "ya29.very-secret");
        assert_eq!(vaulted["fields"]["refresh_token"], "1//refresh");
        let back: Secret = serde_json::from_value(vaulted["token"].clone()).unwrap();
        assert_eq!(back.expose(), "ya29.very-secret");
    }
}
