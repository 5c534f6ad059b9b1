//! The built-in connector types. The server (its registry, OAuth flow and `[providers.<type>]`
//! config) and the Python bindings loop over [`all`]; nothing else names a provider.
//!
//! Adding a connector type: a crate that exports a
//! [`ProviderDescriptor`](connector_core::ProviderDescriptor), and one line below.

use connector_core::ProviderDescriptor;

/// Every built-in connector type, in the order the API lists them.
pub fn all() -> &'static [&'static ProviderDescriptor] {
    static ALL: &[&ProviderDescriptor] =
        &[&connector_gmail::PROVIDER, &connector_outlook::PROVIDER];
    ALL
}

/// The built-in connector type with this name.
pub fn get(name: &str) -> Option<&'static ProviderDescriptor> {
    connector_core::provider::by_name(all(), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_definition_ids_are_unique_and_specs_compile() {
        let list = all();
        for (i, p) in list.iter().enumerate() {
            for q in &list[i + 1..] {
                assert_ne!(p.name, q.name);
                assert_ne!(p.definition_id, q.definition_id);
            }
            assert!(!(p.spec)().spec().entities.is_empty(), "{}", p.name);
            assert!(!p.scopes.full.is_empty(), "{}", p.name);
        }
        assert_eq!(get("outlook").map(|p| p.name), Some("outlook"));
        assert!(get("nope").is_none());
    }
}
