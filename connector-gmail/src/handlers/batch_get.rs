//! GETs of many messages through the batch endpoint, with per-id failures.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use connector_core::{CallContext, ConnectorError, ErrorCode, ProviderRequest};
use serde_json::{json, Value};

use super::USER;
use crate::batch::{self, PartResponse};
use connector_core::wire::path_segment as seg;

/// Rounds of re-asking for parts that were throttled or failed transiently.
const PART_RETRIES: u32 = 3;
/// Longest wait before re-asking (a longer Retry-After gives up on those parts).
const MAX_PART_WAIT: Duration = Duration::from_secs(10);

/// Batch requests of one call in flight at once. Each batch already carries up to 100 GETs;
/// a few in parallel hide the round trip without looking like a flood to Gmail's per-user
/// concurrency limits (quota units are the same either way).
pub const CONCURRENT_BATCHES: usize = 4;

/// One id's outcome: the message resource, or an error object `{code, message, ...}`.
pub type PartResult = Result<Value, Value>;

/// Fetches `ids` with `GET .../messages/{id}?{query}` in batches of `batch_size` (at most 100).
/// The order of the results follows `ids`. A failed id is an `Err` entry, not a failed call; the
/// call fails only when a whole batch request fails.
pub async fn batch_get_messages(
    cx: &CallContext<'_>,
    ids: &[String],
    query: &str,
    batch_size: usize,
) -> Result<Vec<PartResult>, ConnectorError> {
    let batch_size = batch_size.clamp(1, batch::MAX_PARTS);
    let mut results: Vec<Option<PartResult>> = vec![None; ids.len()];
    let mut pending: Vec<usize> = (0..ids.len()).collect();
    for round in 0..=PART_RETRIES {
        let mut retry = Vec::new();
        let mut wait = Duration::from_millis(500 << round);
        // Up to CONCURRENT_BATCHES batch requests in flight at once (answers kept in order):
        // with a network round trip per request, sequential batches would wait one RTT each.
        let chunks: Vec<&[usize]> = pending.chunks(batch_size).collect();
        let requests: Vec<_> = chunks
            .iter()
            .map(|chunk| fetch_batch(cx, ids, query, chunk))
            .collect();
        let answers: Vec<Vec<Option<PartResponse>>> = futures::stream::iter(requests)
            .buffered(CONCURRENT_BATCHES)
            .try_collect()
            .await?;
        for (chunk, parts) in chunks.iter().zip(answers) {
            for (slot, part) in chunk.iter().zip(parts) {
                match part {
                    Some(PartResponse { status, body, .. }) if (200..300).contains(&status) => {
                        results[*slot] = Some(Ok(body));
                    }
                    Some(p)
                        if round < PART_RETRIES
                            && transient(&p)
                            && p.retry_after.is_none_or(|r| r <= MAX_PART_WAIT) =>
                    {
                        wait = wait.max(p.retry_after.unwrap_or_default());
                        retry.push(*slot)
                    }
                    Some(p) => results[*slot] = Some(Err(part_error(&ids[*slot], &p))),
                    None if round < PART_RETRIES => retry.push(*slot),
                    None => {
                        results[*slot] = Some(Err(json!({
                            "code": ErrorCode::ProviderError.as_str(),
                            "message": "the batch response had no answer for this message",
                        })))
                    }
                }
            }
        }
        if retry.is_empty() {
            break;
        }
        tracing::debug!(
            count = retry.len(),
            round,
            "re-asking for throttled batch parts"
        );
        tokio::time::sleep(wait).await;
        pending = retry;
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(json!({"code": "internal", "message": "not fetched"}))))
        .collect())
}

/// One batch request for the ids at `slots`; its parts in order (`None`: no answer).
async fn fetch_batch(
    cx: &CallContext<'_>,
    ids: &[String],
    query: &str,
    slots: &[usize],
) -> Result<Vec<Option<PartResponse>>, ConnectorError> {
    let paths: Vec<String> = slots
        .iter()
        .map(|&i| format!("{USER}/messages/{}?{query}", seg(&ids[i])))
        .collect();
    let (content_type, body) = batch::build(&paths);
    let response = cx
        .send(
            ProviderRequest::post(batch::BATCH_PATH)
                .bytes(content_type, body)
                .idempotent(true),
        )
        .await?;
    let response_type = response
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Ok(batch::parse(response_type, &response.body, slots.len()))
}

fn reason(p: &PartResponse) -> &str {
    p.body["error"]["errors"][0]["reason"]
        .as_str()
        .unwrap_or_default()
}

fn transient(p: &PartResponse) -> bool {
    p.status == 429
        || p.status >= 500
        || (p.status == 403 && reason(p).to_ascii_lowercase().contains("ratelimitexceeded"))
}

fn part_error(id: &str, p: &PartResponse) -> Value {
    let code = match p.status {
        404 => ErrorCode::NotFound,
        400 => ErrorCode::InvalidParams,
        401 => ErrorCode::Unauthenticated,
        429 => ErrorCode::RateLimited,
        403 if transient(p) => ErrorCode::RateLimited,
        403 => ErrorCode::PermissionDenied,
        s if s >= 500 => ErrorCode::ProviderUnavailable,
        _ => ErrorCode::ProviderError,
    };
    let provider_message = p.body["error"]["message"].as_str().unwrap_or_default();
    let message = match code {
        ErrorCode::NotFound => format!("message {id} was not found (deleted, or a wrong id)"),
        _ if !provider_message.is_empty() => provider_message.to_string(),
        _ => format!("Gmail answered HTTP {} for message {id}", p.status),
    };
    json!({
        "code": code.as_str(),
        "message": message,
        "provider_status": p.status,
        "provider_reason": reason(p),
    })
}
