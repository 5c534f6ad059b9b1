//! Params validation (jsonschema), compiled once per action. SKELETON.
