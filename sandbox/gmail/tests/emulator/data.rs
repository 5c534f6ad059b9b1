//! The emulator's own copies of Google's discovery document and the flattened method list
//! (`sandbox/gmail/data/`, compiled into the emulator) equal the contracts in `tests/contracts/`.

use std::path::Path;

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn emulator_data_equals_the_contracts() {
    for name in ["gmail.v1.json", "gmail-methods.json"] {
        assert!(
            read(&format!("data/{name}")) == read(&format!("../../tests/contracts/{name}")),
            "sandbox/gmail/data/{name} differs from tests/contracts/{name}: copy it again"
        );
    }
}
