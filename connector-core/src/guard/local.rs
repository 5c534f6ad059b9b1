//! [`LocalGuard`]: policy, send counts and approvals in memory, for connectors run in process
//! (a script, a test, the Python bindings). A person decides through [`LocalGuard::decide`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;

use super::{
    ApprovalRequest, ApprovalState, ApprovalStatus, ApprovalTicket, Consumed, Guard, Policy,
};
use super::{Preview, SendCounts};
use crate::{ConnectorError, ErrorCode, Result};

struct Approval {
    content_hash: String,
    status: ApprovalStatus,
    expires: Instant,
    preview: Preview,
    created: u64,
    /// Times it was consumed.
    uses: u32,
}

#[derive(Default)]
struct State {
    policy: Option<Policy>,
    sends: Vec<(String, Instant)>,
    approvals: HashMap<String, Approval>,
    next: u64,
}

/// An in-memory [`Guard`].
#[derive(Default)]
pub struct LocalGuard {
    state: Mutex<State>,
}

impl LocalGuard {
    pub fn new(policy: Option<Policy>) -> LocalGuard {
        let guard = LocalGuard::default();
        guard.set_policy(policy);
        guard
    }

    pub fn set_policy(&self, policy: Option<Policy>) {
        self.state.lock().expect("guard state").policy = policy;
    }

    /// A person's decision on a pending approval: `conflict` when it is not pending any more
    /// (decided already, or expired).
    pub fn decide(&self, id: &str, approve: bool) -> Result<()> {
        let mut state = self.state.lock().expect("guard state");
        let a = state
            .approvals
            .get_mut(id)
            .ok_or_else(|| ConnectorError::not_found(format!("no approval {id}")))?;
        if a.status == ApprovalStatus::Pending && a.expires <= Instant::now() {
            a.status = ApprovalStatus::Expired;
        }
        if a.status != ApprovalStatus::Pending {
            return Err(ConnectorError::new(
                ErrorCode::Conflict,
                format!(
                    "approval {id} is {} already; only a pending approval can be decided",
                    a.status.as_str()
                ),
            )
            .with_details(json!({"reason": "already_decided", "status": a.status.as_str()})));
        }
        a.status = if approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Rejected
        };
        Ok(())
    }

    /// Where an approval stands and the message it shows.
    pub fn approval(&self, id: &str) -> Option<(ApprovalStatus, Preview)> {
        let state = self.state.lock().expect("guard state");
        state
            .approvals
            .get(id)
            .map(|a| (status(a), a.preview.clone()))
    }
}

/// The sends of the last hour and day.
fn counts(sends: &[(String, Instant)], now: Instant) -> SendCounts {
    let within = |d: u64| {
        sends
            .iter()
            .filter(|(_, at)| now.duration_since(*at) < Duration::from_secs(d))
            .count() as u64
    };
    SendCounts {
        last_hour: within(3600),
        last_day: within(86_400),
    }
}

/// Records a send now, dropping those older than a day (no limit counts them).
fn record(sends: &mut Vec<(String, Instant)>, id: &str, now: Instant) {
    sends.retain(|(_, at)| now.duration_since(*at) < Duration::from_secs(86_400));
    sends.push((id.to_string(), now));
}

fn status(a: &Approval) -> ApprovalStatus {
    if matches!(a.status, ApprovalStatus::Pending | ApprovalStatus::Approved)
        && a.expires <= Instant::now()
    {
        ApprovalStatus::Expired
    } else {
        a.status
    }
}

#[async_trait]
impl Guard for LocalGuard {
    async fn policy(&self) -> Result<Option<Policy>> {
        Ok(self.state.lock().expect("guard state").policy.clone())
    }

    async fn send_counts(&self) -> Result<SendCounts> {
        let state = self.state.lock().expect("guard state");
        Ok(counts(&state.sends, Instant::now()))
    }

    async fn record_send(&self, id: &str) -> Result<()> {
        let mut state = self.state.lock().expect("guard state");
        record(&mut state.sends, id, Instant::now());
        Ok(())
    }

    /// Counts and records under one lock: two racing sends cannot both take the last place
    /// (the trait's default releases the lock between the two).
    async fn reserve_send(&self, id: &str, policy: &Policy) -> Result<Option<SendCounts>> {
        let mut state = self.state.lock().expect("guard state");
        let now = Instant::now();
        let counts = counts(&state.sends, now);
        if super::policy::over_limits(policy, counts) {
            return Ok(Some(counts));
        }
        record(&mut state.sends, id, now);
        Ok(None)
    }

    async fn forget_send(&self, id: &str) -> Result<()> {
        self.state
            .lock()
            .expect("guard state")
            .sends
            .retain(|(s, _)| s != id);
        Ok(())
    }

    async fn find_approval(&self, content_hash: &str) -> Result<Option<ApprovalState>> {
        let state = self.state.lock().expect("guard state");
        Ok(state
            .approvals
            .iter()
            .filter(|(_, a)| a.content_hash == content_hash)
            .max_by_key(|(_, a)| a.created)
            .map(|(id, a)| ApprovalState {
                id: id.clone(),
                status: status(a),
            }))
    }

    async fn request_approval(&self, request: ApprovalRequest) -> Result<ApprovalTicket> {
        let mut state = self.state.lock().expect("guard state");
        state.next += 1;
        let created = state.next;
        let id = format!("apr_local_{created}");
        let ttl = Duration::from_secs(request.ttl_seconds);
        state.approvals.insert(
            id.clone(),
            Approval {
                content_hash: request.content_hash,
                status: ApprovalStatus::Pending,
                expires: Instant::now() + ttl,
                preview: request.preview,
                created,
                uses: 0,
            },
        );
        let expires_at =
            chrono::Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        Ok(ApprovalTicket {
            id,
            expires_at: expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            details: json!({}),
        })
    }

    async fn consume_approval(&self, id: &str) -> Result<Consumed> {
        let mut state = self.state.lock().expect("guard state");
        Ok(match state.approvals.get_mut(id) {
            Some(a) if status(a) == ApprovalStatus::Approved => {
                a.status = ApprovalStatus::Used;
                a.uses += 1;
                if a.uses == 1 {
                    Consumed::First
                } else {
                    Consumed::Again
                }
            }
            _ => Consumed::No,
        })
    }

    async fn release_approval(&self, id: &str) -> Result<()> {
        let mut state = self.state.lock().expect("guard state");
        if let Some(a) = state.approvals.get_mut(id) {
            if a.status == ApprovalStatus::Used {
                a.status = ApprovalStatus::Approved;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Sends racing for the last places of a limit take exactly the places left: counting and
    /// recording happen under one lock (Python's `asyncio.gather` of sends on one connector
    /// runs them on several runtime threads at once).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_sends_take_exactly_the_places_the_limit_leaves() {
        let policy = Policy {
            max_sends_per_hour: Some(5),
            ..Policy::default()
        };
        for round in 0..50 {
            let guard = Arc::new(LocalGuard::new(Some(policy.clone())));
            let start = Arc::new(tokio::sync::Barrier::new(16));
            let tries = (0..16).map(|i| {
                let (guard, start, policy) = (guard.clone(), start.clone(), policy.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    guard.reserve_send(&format!("s{i}"), &policy).await.unwrap()
                })
            });
            let mut taken = 0;
            for t in futures::future::join_all(tries).await {
                taken += usize::from(t.unwrap().is_none());
            }
            assert_eq!(taken, 5, "round {round}");
            assert_eq!(guard.send_counts().await.unwrap().last_hour, 5);
        }
    }
}
