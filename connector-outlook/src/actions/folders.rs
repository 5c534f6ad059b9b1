//! profile.get, mail_folders.list / get, categories.list, mailbox_settings.get.

use connector_core::params::NoParams;
use connector_core::{CallContext, Output, ProviderRequest, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Folder;
use crate::shape;
use crate::wire::{self, folder_seg};

/// Folder levels mail_folders.list descends at most.
const MAX_DEPTH: usize = 16;
/// Pages followed for one collection at most.
const MAX_PAGES: usize = 50;

pub async fn profile_get(cx: &CallContext<'_>, _: NoParams) -> Result<Output> {
    let req = ProviderRequest::get("/me").query(
        "$select",
        "id,displayName,mail,userPrincipalName,proxyAddresses",
    );
    let v = wire::body(&cx.send(req).await?)?;
    let upn = v.get("userPrincipalName").and_then(Value::as_str);
    let email = v.get("mail").and_then(Value::as_str).or(upn);
    let aliases: Vec<String> = v
        .get("proxyAddresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        // `SMTP:` (upper case) is the primary address; `smtp:` the aliases.
        .filter_map(|a| a.strip_prefix("smtp:"))
        .map(str::to_string)
        .collect();
    Ok(Output::new(json!({
        "id": v.get("id").cloned().unwrap_or(Value::Null),
        "email_address": email,
        "display_name": v.get("displayName").cloned().unwrap_or(Value::Null),
        "user_principal_name": upn,
        "aliases": aliases,
    })))
}

/// Every page of a collection (up to [`MAX_PAGES`]).
async fn collect(cx: &CallContext<'_>, first: ProviderRequest) -> Result<Vec<Value>> {
    wire::all_pages(cx, first, MAX_PAGES).await
}

fn folders_request(path: String, hidden: bool) -> ProviderRequest {
    let req = ProviderRequest::get(path).query("$top", "100");
    if hidden {
        req.query("includeHiddenFolders", "true")
    } else {
        req
    }
}

/// mail_folders.list
#[derive(Deserialize, Serialize)]
pub struct ListParams {
    parent_folder: Option<String>,
    #[serde(default = "yes")]
    include_children: bool,
    #[serde(default)]
    include_hidden: bool,
}

fn yes() -> bool {
    true
}

pub async fn list(cx: &CallContext<'_>, p: ListParams) -> Result<Output> {
    let (children, hidden) = (p.include_children, p.include_hidden);
    let first = match &p.parent_folder {
        Some(f) => format!("/me/mailFolders/{}/childFolders", folder_seg(f)),
        None => "/me/mailFolders".to_string(),
    };
    let mut out = Vec::new();
    // (folders of one level, their parent's path, depth)
    let mut stack = vec![(
        collect(cx, folders_request(first, hidden)).await?,
        String::new(),
        0,
    )];
    while let Some((level, prefix, depth)) = stack.pop() {
        for f in level {
            let name = f.get("displayName").and_then(Value::as_str).unwrap_or("");
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            out.push(shape::folder(&f, Some(&path)));
            let kids = f
                .get("childFolderCount")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if children && kids > 0 && depth < MAX_DEPTH {
                if let Some(id) = f.get("id").and_then(Value::as_str) {
                    let req = folders_request(
                        format!("/me/mailFolders/{}/childFolders", wire::seg(id)),
                        hidden,
                    );
                    stack.push((collect(cx, req).await?, path, depth + 1));
                }
            }
        }
    }
    out.sort_by_key(|f| f["path"].as_str().unwrap_or("").to_lowercase());
    Ok(Output::new(Value::Array(out)))
}

pub async fn get(cx: &CallContext<'_>, p: Folder) -> Result<Output> {
    let req = ProviderRequest::get(format!("/me/mailFolders/{}", folder_seg(&p.folder)));
    let v = wire::body(&cx.send(req).await?)?;
    Ok(Output::new(shape::folder(&v, None)))
}

pub async fn categories_list(cx: &CallContext<'_>, _: NoParams) -> Result<Output> {
    let all = collect(cx, ProviderRequest::get("/me/outlook/masterCategories")).await?;
    let records = all
        .iter()
        .map(|c| {
            json!({
                "id": c.get("id").cloned().unwrap_or(Value::Null),
                "display_name": c.get("displayName").cloned().unwrap_or(Value::Null),
                "color": c.get("color").cloned().unwrap_or(json!("none")),
            })
        })
        .collect();
    Ok(Output::new(Value::Array(records)))
}
