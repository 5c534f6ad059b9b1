//! Guardrails: the send policy of a connector and approvals bound to the exact message.
//!
//! Every call passes [`admit`] inside [`crate::Connector::execute_with`] (so the server, the
//! Python bindings and MCP are held to the same rules). A call is classified by its spec's
//! `effect` ([`CallKind`]): reads pass without a look at the policy; writes meet the policy's
//! mode; sends (effect `send`) meet every rule of [`evaluate`] against a [`Preview`] of the
//! message: the recipients, the attachment sizes, the send limits and the approval rule.
//!
//! Where policies, send counts and approvals live is the host's business ([`Guard`]): the
//! server keeps them in its database, [`LocalGuard`] in memory for in-process use.

mod local;
mod policy;
mod preview;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use local::LocalGuard;
use policy::limits;
pub use policy::{
    entry_is_valid, entry_matches, evaluate, over_limits, refused, ApprovalRule, CallKind, Mode,
    Policy, SendCounts, Verdict, DEFAULT_APPROVAL_TTL_SECONDS, DOMAIN_PATTERN, ENTRY_PATTERN,
};
pub use preview::{body_text, Preview, PreviewAttachment};

use crate::spec::ActionSpec;
use crate::{ConnectorError, ErrorCode, Output, Result};

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a person.
    Pending,
    /// A person approved: the next send of this exact message goes out.
    Approved,
    /// A person rejected it.
    Rejected,
    /// Nobody decided in time.
    Expired,
    /// Approved and sent (or being sent): it allows no further send.
    Used,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Expired => "expired",
            ApprovalStatus::Used => "used",
        }
    }

    /// Every status, in the order of an approval's life.
    pub const ALL: [ApprovalStatus; 5] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
        ApprovalStatus::Expired,
        ApprovalStatus::Used,
    ];

    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// What [`Guard::consume_approval`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumed {
    /// Nothing: the approval was not `approved` any more (another call took it, or it expired).
    No,
    /// Its first use: no send ever went out under it.
    First,
    /// A use after a send under it ended in `outcome_unknown` and gave it back: that send may
    /// have gone out.
    Again,
}

/// An approval as the host found it.
#[derive(Debug, Clone)]
pub struct ApprovalState {
    pub id: String,
    /// `Expired` when its time ran out, whatever was stored.
    pub status: ApprovalStatus,
}

/// A new approval request.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    pub content_hash: String,
    pub entity: String,
    pub action: String,
    pub preview: Preview,
    /// The rule that asks for it.
    pub reason: String,
    pub ttl_seconds: u64,
}

/// The request the host recorded.
#[derive(Debug, Clone)]
pub struct ApprovalTicket {
    pub id: String,
    /// RFC 3339.
    pub expires_at: String,
    /// Extra fields for the error's details (e.g. where to wait for the decision).
    pub details: Value,
}

/// The host of the guardrails: where the policy, the send counts and the approvals of one
/// connector live.
#[async_trait]
pub trait Guard: Send + Sync {
    /// The policy in force (the connector's, else the organization's default); `None`: no
    /// policy, every call runs.
    async fn policy(&self) -> Result<Option<Policy>>;
    /// Sends recorded in the last hour and day.
    async fn send_counts(&self) -> Result<SendCounts>;
    /// Counts a send that is about to go out (under `id`).
    async fn record_send(&self, id: &str) -> Result<()>;
    /// Counts a send that is about to go out (under `id`) only if the policy's send limits
    /// allow one more; otherwise counts nothing and answers the counts that refuse it. The
    /// count and the record are one step ([`LocalGuard`] under one lock, the server in one
    /// statement): [`Guard::send_counts`] then [`Guard::record_send`] would let two racing
    /// sends both take the last place, so there is no default built from them.
    async fn reserve_send(&self, id: &str, policy: &Policy) -> Result<Option<SendCounts>>;
    /// Takes back a recorded send that certainly did not go out.
    async fn forget_send(&self, id: &str) -> Result<()>;
    /// The latest approval of this exact content on this connector.
    async fn find_approval(&self, content_hash: &str) -> Result<Option<ApprovalState>>;
    /// Records a pending approval request.
    async fn request_approval(&self, request: ApprovalRequest) -> Result<ApprovalTicket>;
    /// Turns an approved approval into a used one, atomically, and says whether it was used
    /// before ([`Consumed`]).
    async fn consume_approval(&self, id: &str) -> Result<Consumed>;
    /// Gives a consumed approval back (the send certainly did not go out).
    async fn release_approval(&self, id: &str) -> Result<()>;
}

/// What [`admit`] let through, to settle after the call with [`Admission::settle`].
#[derive(Debug, Default)]
pub struct Admission {
    send_id: Option<String>,
    approval_id: Option<String>,
    /// The approval's first use: its idempotency key was never sent with.
    first_use: bool,
    exactly_once: bool,
}

impl Admission {
    /// The idempotency key an approved send goes out with (derived from the approval, so a
    /// retry of it finds the first attempt instead of sending again).
    pub fn idempotency_key(&self) -> Option<String> {
        self.approval_id.as_ref().map(|id| format!("approval-{id}"))
    }

    /// [`Admission::idempotency_key`] is used for the first time: no earlier attempt under it
    /// exists, so an exactly-once action need not look for one (a provider search and a read
    /// per candidate on Gmail).
    pub fn fresh_key(&self) -> bool {
        self.approval_id.is_some() && self.first_use
    }

    /// The action never sends twice under one idempotency key (see
    /// [`crate::ActionHandler::exactly_once`]).
    pub fn set_exactly_once(&mut self, exactly_once: bool) {
        self.exactly_once = exactly_once;
    }

    /// After the call: a send that certainly did not go out (any error but `outcome_unknown`)
    /// gives back its count and its approval. After `outcome_unknown` the approval comes back
    /// only for an exactly-once action: its retry under the approval's key finds the first
    /// attempt instead of sending again; any other stays used (at most once).
    pub async fn settle(&self, guard: &dyn Guard, outcome: &Result<Output>) -> Result<()> {
        let (failed, unknown) = match outcome {
            Ok(_) => (false, false),
            Err(e) => (
                e.code != ErrorCode::OutcomeUnknown,
                e.code == ErrorCode::OutcomeUnknown,
            ),
        };
        if failed {
            if let Some(id) = &self.send_id {
                guard.forget_send(id).await?;
            }
        }
        if failed || (unknown && self.exactly_once) {
            if let Some(id) = &self.approval_id {
                guard.release_approval(id).await?;
            }
        }
        Ok(())
    }
}

/// Checks one accepted call against the guard's policy. `preview` is the message a send would
/// deliver (from the handler, else from the compose params).
pub async fn admit(
    guard: &dyn Guard,
    entity: &str,
    action: &str,
    spec: &ActionSpec,
    preview: Option<Preview>,
) -> Result<Admission> {
    let kind = CallKind::of(spec.effect);
    if kind == CallKind::Read {
        return Ok(Admission::default());
    }
    let Some(policy) = guard.policy().await? else {
        return Ok(Admission::default());
    };
    admit_under(guard, &policy, entity, action, spec, preview).await
}

/// How often [`admit_under`] asks [`Guard::reserve_send`] again when a refusal's counts show a
/// free place (a send aged out of the window between the two).
const RESERVE_TRIES: u32 = 4;

/// [`admit`] under a policy the caller already read (so it can skip the preview when
/// [`Policy::reads_message`] says no rule looks at it).
pub async fn admit_under(
    guard: &dyn Guard,
    policy: &Policy,
    entity: &str,
    action: &str,
    spec: &ActionSpec,
    preview: Option<Preview>,
) -> Result<Admission> {
    let kind = CallKind::of(spec.effect);
    if kind == CallKind::Read {
        return Ok(Admission::default());
    }
    let limited = kind == CallKind::Send
        && (policy.max_sends_per_hour.is_some() || policy.max_sends_per_day.is_some());
    // The limits are checked as the send is counted (one step, [`Guard::reserve_send`], at the
    // end). Under an approval rule they are also checked first, so that no approval is asked
    // for a send the limits would refuse.
    let approvals = limited && policy.require_approval != ApprovalRule::None;
    let counts = if approvals {
        guard.send_counts().await?
    } else {
        SendCounts::default()
    };
    let mut admission = Admission::default();
    match evaluate(policy, kind, entity, action, preview.as_ref(), counts) {
        Verdict::Deny(e) => return Err(e),
        Verdict::Allow => {}
        Verdict::NeedsApproval { reason } => {
            let preview = preview.expect("approval rules need a preview");
            let hash = preview.content_hash(entity, action);
            let found = guard.find_approval(&hash).await?;
            match found.map(|a| (a.id, a.status)) {
                Some((id, ApprovalStatus::Approved)) => {
                    let consumed = guard.consume_approval(&id).await?;
                    if consumed == Consumed::No {
                        return Err(ConnectorError::new(
                            ErrorCode::Conflict,
                            format!("approval {id} is being used by another call right now; wait for it"),
                        )
                        .with_details(json!({"reason": "approval_in_use", "approval_id": id})));
                    }
                    admission.approval_id = Some(id);
                    admission.first_use = consumed == Consumed::First;
                }
                Some((id, ApprovalStatus::Used)) => {
                    return Err(ConnectorError::new(
                        ErrorCode::Conflict,
                        format!("this exact message was already sent under approval {id}; an approval allows one send (change the message to ask for a new approval)"),
                    )
                    .with_details(json!({"reason": "approval_used", "approval_id": id})));
                }
                Some((id, ApprovalStatus::Pending)) => {
                    return Err(approval_required(&id, None, &reason, &preview, &hash, None));
                }
                Some((id, ApprovalStatus::Rejected)) => {
                    return Err(refused(
                        "approval",
                        format!("a person rejected this exact message (approval {id})"),
                        "do not send it; change it and ask again only if the person wants that",
                    ));
                }
                Some((_, ApprovalStatus::Expired)) | None => {
                    let ticket = guard
                        .request_approval(ApprovalRequest {
                            content_hash: hash.clone(),
                            entity: entity.to_string(),
                            action: action.to_string(),
                            preview: preview.clone(),
                            reason: reason.clone(),
                            ttl_seconds: policy.approval_ttl_seconds(),
                        })
                        .await?;
                    return Err(approval_required(
                        &ticket.id,
                        Some(&ticket.expires_at),
                        &reason,
                        &preview,
                        &hash,
                        Some(ticket.details),
                    ));
                }
            }
        }
    }
    if limited {
        // Checked again as the send is counted, in one step, also after an approval: sends
        // racing at the limit (approved ones too) take exactly the places left.
        let id = uuid_like();
        let mut tries = 0;
        while let Some(counts) = guard.reserve_send(&id, policy).await? {
            tries += 1;
            let refusal = match limits(policy, &format!("{entity}.{action}"), counts) {
                Verdict::Deny(e) => e,
                // A send aged out between the refusal and the counts it answers: reserve
                // again (not a plain record, which a racer for the same freed place could
                // also do), a bounded number of times.
                Verdict::Allow if tries < RESERVE_TRIES => continue,
                _ => ConnectorError::new(
                    ErrorCode::RateLimited,
                    format!("{entity}.{action} refused: other sends kept taking the send limit's last places; try again"),
                )
                .with_details(json!({"policy": true, "allowed_by": "try again"})),
            };
            // The approval this send took stays usable once a place frees.
            if let Some(approval) = &admission.approval_id {
                guard.release_approval(approval).await?;
            }
            return Err(refusal);
        }
        admission.send_id = Some(id);
    }
    Ok(admission)
}

fn approval_required(
    id: &str,
    expires_at: Option<&str>,
    reason: &str,
    preview: &Preview,
    hash: &str,
    extra: Option<Value>,
) -> ConnectorError {
    let mut details = json!({
        "approval_id": id,
        "status": "pending",
        "reason": reason,
        "content_hash": hash,
        "preview": preview,
    });
    if let Some(at) = expires_at {
        details["expires_at"] = json!(at);
    }
    if let (Some(Value::Object(extra)), Some(d)) = (extra, details.as_object_mut()) {
        d.extend(extra);
    }
    ConnectorError::new(
        ErrorCode::ApprovalRequired,
        format!("this send waits for a person's approval ({reason}): approval {id}. Wait for the decision, then call again with exactly the same params; it goes out once"),
    )
    .with_details(details)
}

/// A random id for a recorded send.
fn uuid_like() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

#[cfg(test)]
mod tests;
