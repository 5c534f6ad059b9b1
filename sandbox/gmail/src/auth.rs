//! Scopes per method (from the discovery data's `gmail-methods.json`), Google's scope naming,
//! and the quota units of each method. Bearer tokens, the token endpoint and the quota itself
//! are the kit's.

use std::collections::HashMap;
use std::sync::OnceLock;

use sandbox_kit::Grant;

use crate::behaviour::QuotaProfile;
use serde_json::Value;

pub(crate) use sandbox_kit::random_token;

/// The flattened discovery methods: id -> accepted scopes (any one suffices).
static METHODS_JSON: &str = include_str!("../data/gmail-methods.json");

pub(crate) fn method_scopes(method_id: &str) -> &'static [String] {
    static TABLE: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let v: Value =
            serde_json::from_str(METHODS_JSON).expect("gmail-methods.json is valid JSON");
        v["methods"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let id = m["id"].as_str()?.to_string();
                let scopes = m["scopes"]
                    .as_array()?
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect();
                Some((id, scopes))
            })
            .collect()
    });
    table.get(method_id).map(Vec::as_slice).unwrap_or(&[])
}

/// Quota units per call: Google's published table, with the dearer reads of the 2026 quota
/// (`messages.get` 20, `threads.get` 40; Nylas's 2026 quota guide).
pub(crate) fn quota_cost(method_id: &str, quota: QuotaProfile) -> u32 {
    let m = method_id.trim_start_matches("gmail.users.");
    match (quota, m) {
        (QuotaProfile::Since2026, "messages.get") => 20,
        (QuotaProfile::Since2026, "threads.get") => 40,
        _ => classic_cost(m),
    }
}

/// Quota units per call, per Google's published table.
fn classic_cost(m: &str) -> u32 {
    match m {
        "getProfile" | "labels.get" | "labels.list" => 1,
        "history.list" => 2,
        "labels.create" | "labels.update" | "labels.patch" | "labels.delete" => 5,
        "messages.get" | "messages.list" | "messages.modify" | "messages.trash"
        | "messages.untrash" => 5,
        "messages.attachments.get" | "drafts.get" | "drafts.list" => 5,
        "messages.delete" | "drafts.create" | "drafts.delete" | "threads.get" | "threads.list" => {
            10
        }
        "threads.modify" | "threads.trash" | "threads.untrash" => 10,
        "drafts.update" => 15,
        "threads.delete" => 20,
        "messages.insert" | "messages.import" => 25,
        "messages.batchModify" | "messages.batchDelete" | "stop" => 50,
        "messages.send" | "drafts.send" | "watch" => 100,
        m if m.starts_with("settings.")
            && (m.ends_with(".get") || m.ends_with(".list") || m.contains(".get")) =>
        {
            1
        }
        m if m.starts_with("settings.") => 5,
        _ => 1,
    }
}

/// `gmail.readonly` -> `https://www.googleapis.com/auth/gmail.readonly`; full URLs unchanged.
pub fn expand_scope(s: &str) -> String {
    let s = s.trim();
    if s.starts_with("https://") {
        s.to_string()
    } else if s == "mail.google.com" || s == "mail.google.com/" || s == "full" {
        "https://mail.google.com/".to_string()
    } else {
        format!("https://www.googleapis.com/auth/{s}")
    }
}

/// True when the grant holds one of the scopes a method accepts (or every scope).
pub(crate) fn allows(grant: &Grant, accepted: &[String]) -> bool {
    match &grant.scopes {
        None => true,
        Some(have) => accepted.is_empty() || accepted.iter().any(|a| have.contains(a)),
    }
}
