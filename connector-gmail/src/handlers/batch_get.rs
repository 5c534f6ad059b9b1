//! GETs of many messages through the batch endpoint, paced for Gmail's per-user limits, with
//! per-id failures.
//!
//! Gmail counts every batch part as a request in flight and refuses parts over its per-user
//! concurrency limit with 429 "Too many concurrent requests for user"; its per-minute quota
//! refuses with 429 and usually no `Retry-After`. So the parts in flight are learnt from the
//! answers (halved on a concurrency refusal, grown again after clean rounds), refused parts
//! are asked for again on their own after a backoff, and bulk reads spend at most a share of
//! the user's quota so that other calls still get through. Every id ends as its message or an
//! explicit error: nothing is dropped, nothing that failed is reported as fetched.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};

use connector_core::{CallContext, ConnectorError, ErrorCode, ProviderRequest};
use serde_json::{json, Value};

use super::USER;
use crate::batch::{self, PartResponse};
use connector_core::wire::path_segment as seg;

/// Rounds of re-asking for parts that were throttled or failed transiently.
const PART_RETRIES: u32 = 5;
/// Longest wait before re-asking (a longer wait gives up on those parts, with the wait named).
const MAX_PART_WAIT: Duration = Duration::from_secs(10);
/// Parts in flight the pacer starts with: a batch of 50 passes Gmail's concurrency limit at rest
/// where 100 fails (amd/gaia#2720; more than 50 parts per batch tends to be throttled).
pub const START_PARTS_IN_FLIGHT: usize = 50;
/// The pacer never goes below this many, nor above this many, parts in flight.
const MIN_PARTS_IN_FLIGHT: usize = 5;
const MAX_PARTS_IN_FLIGHT: usize = 200;
/// Parts in flight added after a round without a concurrency refusal.
const GROW_BY: usize = 10;
const MINUTE: Duration = Duration::from_secs(60);

/// One id's outcome: the message resource, or an error object `{code, message, ...}`.
pub type PartResult = Result<Value, Value>;

/// How the bulk reads of one connector (one user) pace themselves; shared by every call of the
/// connector instance.
#[derive(Debug)]
pub struct Throttle {
    /// Batch parts in flight at once, learnt from Gmail's answers.
    parts_in_flight: Mutex<usize>,
    /// Units bulk reads may spend per minute (a share of the user's quota).
    bulk_units_per_minute: u32,
    /// Units of one `messages.get`.
    get_units: u32,
    /// Units bulk reads spent, with when.
    spent: Mutex<VecDeque<(Instant, u32)>>,
}

impl Throttle {
    /// `units_per_minute` is the user's Gmail quota, `bulk_share` the part bulk reads may use
    /// (the rest stays for other calls), `get_units` the cost of one `messages.get`.
    pub fn new(units_per_minute: u32, bulk_share: f64, get_units: u32) -> Throttle {
        Throttle {
            parts_in_flight: Mutex::new(START_PARTS_IN_FLIGHT),
            bulk_units_per_minute: ((units_per_minute as f64) * bulk_share.clamp(0.05, 1.0)) as u32,
            get_units: get_units.max(1),
            spent: Mutex::new(VecDeque::new()),
        }
    }

    /// Batch parts in flight at once now.
    pub fn parts_in_flight(&self) -> usize {
        *lock(&self.parts_in_flight)
    }

    fn refused(&self) {
        let mut n = lock(&self.parts_in_flight);
        *n = (*n / 2).max(MIN_PARTS_IN_FLIGHT);
    }

    fn clean(&self) {
        let mut n = lock(&self.parts_in_flight);
        *n = (*n + GROW_BY).min(MAX_PARTS_IN_FLIGHT);
    }

    /// Takes the units of `gets` message reads from the bulk share: `Ok` when spent, else how
    /// long until they would fit.
    fn take(&self, gets: usize) -> Result<(), Duration> {
        let units = (gets as u32).saturating_mul(self.get_units);
        let mut spent = lock(&self.spent);
        let now = Instant::now();
        while spent
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= MINUTE)
        {
            spent.pop_front();
        }
        let used: u32 = spent.iter().map(|(_, u)| u).sum();
        if used + units <= self.bulk_units_per_minute {
            spent.push_back((now, units));
            return Ok(());
        }
        // The wait until enough of the oldest spending has aged out.
        let mut freed = self.bulk_units_per_minute.saturating_sub(used);
        for (t, u) in spent.iter() {
            freed += u;
            if freed >= units {
                return Err(MINUTE.saturating_sub(now.duration_since(*t)));
            }
        }
        Err(MINUTE)
    }

    /// Spends the units of `gets` reads, waiting up to [`MAX_PART_WAIT`] for them; else the
    /// wait that would be needed.
    async fn spend(&self, gets: usize) -> Result<(), Duration> {
        let started = Instant::now();
        loop {
            match self.take(gets) {
                Ok(()) => return Ok(()),
                Err(wait) if started.elapsed() + wait <= MAX_PART_WAIT => {
                    tokio::time::sleep(wait.max(Duration::from_millis(10))).await
                }
                Err(wait) => return Err(wait),
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What came back for one id in one round.
enum Answer {
    Done(PartResult),
    Again(Option<Duration>),
}

/// Fetches `ids` with `GET .../messages/{id}?{query}` in batches of at most `batch_size` parts
/// (at most 100), paced by `throttle`. The order of the results follows `ids`. A failed id is
/// an `Err` entry, not a failed call; the call fails only when a whole batch request fails.
pub async fn batch_get_messages(
    cx: &CallContext<'_>,
    throttle: &Throttle,
    ids: &[String],
    query: &str,
    batch_size: usize,
) -> Result<Vec<PartResult>, ConnectorError> {
    let batch_size = batch_size.clamp(1, batch::MAX_PARTS);
    let mut results: Vec<Option<PartResult>> = vec![None; ids.len()];
    let mut pending: Vec<usize> = (0..ids.len()).collect();
    for round in 0..=PART_RETRIES {
        let last = round == PART_RETRIES;
        let in_flight = throttle.parts_in_flight();
        let size = batch_size.min(in_flight).max(1);
        let batches_in_flight = (in_flight / size).max(1);
        let chunks: Vec<&[usize]> = pending.chunks(size).collect();
        let requests: Vec<_> = chunks
            .iter()
            .map(|chunk| fetch_paced(cx, throttle, ids, query, chunk))
            .collect();
        let answers: Vec<Result<Vec<Option<PartResponse>>, Duration>> =
            futures::stream::iter(requests)
                .buffered(batches_in_flight)
                .try_collect()
                .await?;
        let mut retry = Vec::new();
        let mut wait = Duration::ZERO;
        let mut concurrency_refused = false;
        for (chunk, answer) in chunks.iter().zip(answers) {
            let parts = match answer {
                Ok(parts) => parts,
                Err(budget_wait) => {
                    // The bulk share of the quota is spent for longer than we wait.
                    for slot in chunk.iter() {
                        results[*slot] = Some(Err(budget_error(budget_wait)));
                    }
                    continue;
                }
            };
            for (slot, part) in chunk.iter().zip(parts) {
                let answer = match part {
                    Some(p) if (200..300).contains(&p.status) => Answer::Done(Ok(p.body)),
                    Some(p) if transient(&p) => {
                        concurrency_refused |= too_many_concurrent(&p);
                        match p.retry_after {
                            Some(w) if w > MAX_PART_WAIT || last => {
                                Answer::Done(Err(part_error(&ids[*slot], &p)))
                            }
                            _ if last => Answer::Done(Err(part_error(&ids[*slot], &p))),
                            w => Answer::Again(w),
                        }
                    }
                    Some(p) => Answer::Done(Err(part_error(&ids[*slot], &p))),
                    None if !last => Answer::Again(None),
                    None => Answer::Done(Err(json!({
                        "code": ErrorCode::ProviderError.as_str(),
                        "message": "the batch response had no answer for this message",
                    }))),
                };
                match answer {
                    Answer::Done(r) => results[*slot] = Some(r),
                    Answer::Again(w) => {
                        wait = wait.max(w.unwrap_or_default());
                        retry.push(*slot);
                    }
                }
            }
        }
        if concurrency_refused {
            throttle.refused();
        } else {
            throttle.clean();
        }
        if retry.is_empty() {
            break;
        }
        // Backoff with jitter, or the wait Gmail named, whichever is longer.
        let step = Duration::from_millis(200 << round);
        let jitter = step.mul_f64(rand_fraction());
        let wait = wait.max(step + jitter).min(MAX_PART_WAIT);
        tracing::debug!(
            count = retry.len(),
            round,
            parts_in_flight = throttle.parts_in_flight(),
            wait_ms = wait.as_millis() as u64,
            "asking again for throttled batch parts"
        );
        tokio::time::sleep(wait).await;
        pending = retry;
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(json!({"code": ErrorCode::Internal.as_str(), "message": "not fetched"}))
            })
        })
        .collect())
}

/// A number in [0, 1) for jitter, without a random generator of our own.
fn rand_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos % 1000) as f64 / 1000.0
}

/// One batch request once the bulk share of the quota has room for it; `Err(wait)` when it
/// has none for longer than we wait.
async fn fetch_paced(
    cx: &CallContext<'_>,
    throttle: &Throttle,
    ids: &[String],
    query: &str,
    slots: &[usize],
) -> Result<Result<Vec<Option<PartResponse>>, Duration>, ConnectorError> {
    match throttle.spend(slots.len()).await {
        Ok(()) => fetch_batch(cx, ids, query, slots).await.map(Ok),
        Err(wait) => Ok(Err(wait)),
    }
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

/// Gmail's refusal of a request over the per-user concurrency limit.
fn too_many_concurrent(p: &PartResponse) -> bool {
    p.status == 429
        && p.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.to_ascii_lowercase().contains("concurrent"))
}

fn budget_error(wait: Duration) -> Value {
    let secs = wait.as_secs_f64().ceil() as u64;
    json!({
        "code": ErrorCode::RateLimited.as_str(),
        "message": format!("not fetched: bulk reads have spent their share of the user's Gmail quota for this minute; ask again in {secs} seconds"),
        "retry_after": secs,
    })
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
    let mut e = json!({
        "code": code.as_str(),
        "message": message,
        "provider_status": p.status,
        "provider_reason": reason(p),
    });
    if let (ErrorCode::RateLimited, Some(w)) = (code, p.retry_after) {
        e["retry_after"] = json!(w.as_secs_f64().ceil() as u64);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_halves_on_refusal_and_grows_back_within_bounds() {
        let t = Throttle::new(6_000, 0.75, 20);
        assert_eq!(t.parts_in_flight(), START_PARTS_IN_FLIGHT);
        t.refused();
        assert_eq!(t.parts_in_flight(), 25);
        for _ in 0..5 {
            t.refused();
        }
        assert_eq!(t.parts_in_flight(), MIN_PARTS_IN_FLIGHT);
        for _ in 0..100 {
            t.clean();
        }
        assert_eq!(t.parts_in_flight(), MAX_PARTS_IN_FLIGHT);
    }

    #[test]
    fn bulk_reads_spend_only_their_share_of_the_quota() {
        // 6,000 units a minute, three quarters for bulk reads: 225 reads of 20 units.
        let t = Throttle::new(6_000, 0.75, 20);
        assert_eq!(t.take(200), Ok(()));
        assert_eq!(t.take(25), Ok(()));
        let wait = t.take(1).unwrap_err();
        assert!(wait > Duration::from_secs(58) && wait <= MINUTE, "{wait:?}");
    }
}
