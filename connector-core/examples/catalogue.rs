//! Prints the tool catalogue of a spec file: `cargo run -p connector-core --example catalogue -- specs/gmail.json`.

fn main() {
    let path = std::env::args().nth(1).expect("usage: catalogue SPEC.json");
    let text = std::fs::read_to_string(&path).expect("readable spec file");
    let spec =
        connector_core::ConnectorSpec::from_json(&text).unwrap_or_else(|e| panic!("{}", e.message));
    print!("{}", connector_core::tools::catalogue(&spec));
}
