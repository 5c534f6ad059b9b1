//! The built-in connector types. The server (its registry, OAuth flow and `[providers.<type>]`
//! config) and the Python bindings loop over [`all`]; nothing else names a provider.
//!
//! Adding a connector type: a crate that exports a
//! [`ProviderDescriptor`](connector_core::ProviderDescriptor), and one line below.

use connector_core::ProviderDescriptor;
use sandbox_kit::{Emulator, SandboxConfig};

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

/// Starts an emulator of one provider API (`connectors serve --sandbox`, `connectors sandbox`,
/// Python's sandbox).
pub type StartEmulator = fn(SandboxConfig) -> std::io::Result<Box<dyn Emulator>>;

/// The emulator of each built-in connector type, by type name, in the order of [`all`]. The
/// connector crates hold no emulator code, so this list lives here beside theirs.
pub fn emulators() -> &'static [(&'static str, StartEmulator)] {
    static ALL: &[(&str, StartEmulator)] = &[
        (connector_gmail::PROVIDER.name, |cfg| {
            Ok(Box::new(sandbox_gmail::GmailSandbox::start(cfg)?))
        }),
        (connector_outlook::PROVIDER.name, |cfg| {
            Ok(Box::new(sandbox_outlook::OutlookSandbox::start(cfg)?))
        }),
    ];
    ALL
}

/// The emulator of the connector type `name`, if this build has one.
pub fn emulator(name: &str) -> Option<StartEmulator> {
    emulators()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, start)| *start)
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

    #[test]
    fn every_connector_type_has_an_emulator_that_says_which_it_is() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _guard = rt.enter();
        let names: Vec<_> = emulators().iter().map(|(n, _)| *n).collect();
        let types: Vec<_> = all().iter().map(|p| p.name).collect();
        assert_eq!(names, types);
        for p in all() {
            let start = emulator(p.name).expect("an emulator");
            let sb = start(SandboxConfig::default()).expect("it starts");
            assert_eq!(sb.provider(), p.name);
        }
        assert!(emulator("nope").is_none());
    }
}
