//! users.history.list.

use serde_json::{json, Value};

use super::{ok, page, Cx, Reply};
use crate::error::{ApiError, ApiResult};
use crate::store::{Change, HistoryRecord};

fn kind(c: &Change) -> &'static str {
    match c {
        Change::Added => "messageAdded",
        Change::Deleted => "messageDeleted",
        Change::LabelsAdded(_) => "labelAdded",
        Change::LabelsRemoved(_) => "labelRemoved",
    }
}

fn record_json(r: &HistoryRecord) -> Value {
    let msg = json!({"id": r.msg_id, "threadId": r.thread_id});
    let with_labels = json!({"id": r.msg_id, "threadId": r.thread_id, "labelIds": r.labels});
    let mut v = json!({"id": r.id.to_string(), "messages": [msg]});
    match &r.change {
        Change::Added => v["messagesAdded"] = json!([{"message": with_labels}]),
        Change::Deleted => v["messagesDeleted"] = json!([{"message": with_labels}]),
        Change::LabelsAdded(l) => {
            v["labelsAdded"] = json!([{"message": with_labels, "labelIds": l}])
        }
        Change::LabelsRemoved(l) => {
            v["labelsRemoved"] = json!([{"message": with_labels, "labelIds": l}])
        }
    }
    v
}

pub(crate) fn list(cx: &mut Cx<'_>) -> ApiResult<Reply> {
    let start: u64 = cx
        .req
        .q("startHistoryId")
        .ok_or_else(|| ApiError::invalid_argument("Missing required parameter: startHistoryId"))?
        .parse()
        .map_err(|_| ApiError::invalid_argument("Invalid startHistoryId"))?;
    let types = cx.req.q_all("historyTypes");
    for t in &types {
        if ![
            "messageAdded",
            "messageDeleted",
            "labelAdded",
            "labelRemoved",
        ]
        .contains(&t.as_str())
        {
            return Err(ApiError::invalid_argument(format!(
                "Invalid value for historyTypes: {t}"
            )));
        }
    }
    let label = cx.req.q("labelId").map(str::to_string);
    let user = cx.user();
    if start < user.history_floor {
        return Err(ApiError::not_found());
    }
    let records: Vec<&HistoryRecord> = user
        .history
        .iter()
        .filter(|r| r.id > start)
        .filter(|r| types.is_empty() || types.iter().any(|t| t == kind(&r.change)))
        .filter(|r| {
            label.as_ref().is_none_or(|l| {
                r.labels.contains(l)
                    || matches!(&r.change, Change::LabelsAdded(x) | Change::LabelsRemoved(x) if x.contains(l))
            })
        })
        .collect();
    let (s, e, next) = page(cx, records.len(), 100)?;
    let mut v = json!({});
    if e > s {
        v["history"] = Value::Array(records[s..e].iter().map(|r| record_json(r)).collect());
    }
    if let Some(n) = next {
        v["nextPageToken"] = json!(n);
    }
    v["historyId"] = json!(user.history_id.to_string());
    ok(v)
}
