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
        let now = Instant::now();
        let within = |d: u64| {
            state
                .sends
                .iter()
                .filter(|(_, at)| now.duration_since(*at) < Duration::from_secs(d))
                .count() as u64
        };
        Ok(SendCounts {
            last_hour: within(3600),
            last_day: within(86_400),
        })
    }

    async fn record_send(&self, id: &str) -> Result<()> {
        let mut state = self.state.lock().expect("guard state");
        let now = Instant::now();
        state
            .sends
            .retain(|(_, at)| now.duration_since(*at) < Duration::from_secs(86_400));
        state.sends.push((id.to_string(), now));
        Ok(())
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
