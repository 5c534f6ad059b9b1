//! The send policy of one connector and the pure rules that judge a call against it.
//!
//! [`evaluate`] is the one place the rules live: the server, the Python bindings and MCP all
//! reach it through [`crate::Connector::execute_with`], so a policy holds the same everywhere.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::preview::Preview;
use crate::spec::Effect;
use crate::{ConnectorError, ErrorCode};

/// What a connector may do at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Reads only: every action whose effect is not `read` is refused.
    ReadOnly,
    /// Everything but sending: drafts, labels and folders change, nothing leaves the mailbox.
    DraftOnly,
    /// Everything, sends included (subject to the other rules).
    #[default]
    Send,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadOnly => "read_only",
            Mode::DraftOnly => "draft_only",
            Mode::Send => "send",
        }
    }
}

/// Which sends wait for a person's approval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalRule {
    /// None: sends that pass the other rules go out.
    #[default]
    None,
    /// Every send.
    All,
    /// Sends with at least one recipient outside the internal domains (see
    /// [`Policy::internal_domains`]).
    External,
    /// Sends to more than `approval_above_recipients` recipients (to, cc and bcc together).
    MoreRecipientsThan,
}

/// A connector's (or an organization's default) send policy. Every field is optional in JSON;
/// the empty policy `{}` allows everything, like no policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub mode: Mode,
    /// When not empty, every recipient must match one entry: an address (`ada@example.com`) or
    /// a domain (`example.com` or `@example.com`, exact, case-insensitive).
    #[schemars(inner(pattern(ENTRY_PATTERN)))]
    pub allow_recipients: Vec<String>,
    /// No recipient may match an entry (same forms as `allow_recipients`); wins over the
    /// allow-list.
    #[schemars(inner(pattern(ENTRY_PATTERN)))]
    pub deny_recipients: Vec<String>,
    /// The organization's own domains, for `require_approval: external` (the domains of the
    /// allow-list and of the sender count as internal too).
    #[schemars(inner(pattern(DOMAIN_PATTERN)))]
    pub internal_domains: Vec<String>,
    /// At most this many sends in any 60 minutes.
    #[schemars(range(max = crate::params::integral::MAX))]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::params::integral::option"
    )]
    pub max_sends_per_hour: Option<u64>,
    /// At most this many sends in any 24 hours.
    #[schemars(range(max = crate::params::integral::MAX))]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::params::integral::option"
    )]
    pub max_sends_per_day: Option<u64>,
    /// The largest attachment a send may carry, in bytes.
    #[schemars(range(max = crate::params::integral::MAX))]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::params::integral::option"
    )]
    pub max_attachment_bytes: Option<u64>,
    pub require_approval: ApprovalRule,
    /// For `require_approval: more_recipients_than`: the most recipients a send may have
    /// without approval.
    #[schemars(range(max = crate::params::integral::MAX))]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::params::integral::option"
    )]
    pub approval_above_recipients: Option<u64>,
    /// How long an approval request stays open, in seconds (default one day).
    #[schemars(range(min = 1, max = crate::params::integral::MAX))]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::params::integral::option"
    )]
    pub approval_ttl_seconds: Option<u64>,
}

/// What an entry of `allow_recipients` / `deny_recipients` is: an address or a domain (with
/// or without a leading `@`), no spaces or control characters, a dot in the domain. Published in
/// the OpenAPI document; [`entry_is_valid`] is the same rule.
pub const ENTRY_PATTERN: &str = r"^@?([^@\x00-\x20\x7f]+@)?[^@\x00-\x20\x7f]*\.[^@\x00-\x20\x7f]*$";
/// What an entry of `internal_domains` is: a domain, with or without a leading `@`.
pub const DOMAIN_PATTERN: &str = r"^@?[^@\x00-\x20\x7f]*\.[^@\x00-\x20\x7f]*$";

/// [`ENTRY_PATTERN`] (or [`DOMAIN_PATTERN`] with `domain_only`), written out.
pub fn entry_is_valid(entry: &str, domain_only: bool) -> bool {
    let rest = entry.strip_prefix('@').unwrap_or(entry);
    if rest.chars().any(|c| c <= '\u{20}' || c == '\u{7f}') {
        return false;
    }
    let domain = match rest.split_once('@') {
        Some(_) if domain_only => return false,
        Some(("", _)) => return false,
        Some((_, domain)) => domain,
        None => rest,
    };
    !domain.contains('@') && domain.contains('.')
}

/// The default lifetime of an approval request.
pub const DEFAULT_APPROVAL_TTL_SECONDS: u64 = 86_400;

impl Policy {
    /// Checks what a stored policy cannot be: names the field and the fix.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        for (field, list, domain_only) in [
            ("allow_recipients", &self.allow_recipients, false),
            ("deny_recipients", &self.deny_recipients, false),
            ("internal_domains", &self.internal_domains, true),
        ] {
            for (i, entry) in list.iter().enumerate() {
                if !entry_is_valid(entry, domain_only) {
                    let want = if domain_only {
                        "example.com"
                    } else {
                        "ada@example.com or example.com"
                    };
                    return Err(ConnectorError::invalid_field(
                        &format!("/{field}/{i}"),
                        &format!(
                            "{:?} is not {}; write {want} (no spaces)",
                            entry,
                            if domain_only {
                                "a domain"
                            } else {
                                "an address or a domain"
                            },
                        ),
                    ));
                }
            }
        }
        if self.require_approval == ApprovalRule::MoreRecipientsThan
            && self.approval_above_recipients.is_none()
        {
            return Err(ConnectorError::invalid_field(
                "/approval_above_recipients",
                "require_approval more_recipients_than needs approval_above_recipients (a number)",
            ));
        }
        if self.approval_ttl_seconds == Some(0) {
            return Err(ConnectorError::invalid_field(
                "/approval_ttl_seconds",
                "must be at least 1 (seconds)",
            ));
        }
        Ok(())
    }

    /// Whether a rule looks at the message of a send (its recipients or attachments). When
    /// none does, a send is judged without building its [`Preview`] (the handler's preview
    /// may compose the message, or read a draft from the provider).
    pub fn reads_message(&self) -> bool {
        !self.allow_recipients.is_empty()
            || !self.deny_recipients.is_empty()
            || self.require_approval != ApprovalRule::None
            || self.max_attachment_bytes.is_some()
    }

    pub fn approval_ttl_seconds(&self) -> u64 {
        self.approval_ttl_seconds
            .unwrap_or(DEFAULT_APPROVAL_TTL_SECONDS)
    }
}

/// How a call relates to the mailbox, from its spec's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// Changes nothing.
    Read,
    /// Changes the mailbox (drafts, labels, folders, settings) but sends nothing.
    Write,
    /// Delivers mail to recipients.
    Send,
}

impl CallKind {
    /// An undeclared effect counts as the most dangerous write (never as a read); only a
    /// declared `send` effect counts as a send.
    pub fn of(effect: Option<Effect>) -> CallKind {
        match effect {
            Some(Effect::Read) => CallKind::Read,
            Some(Effect::Send) => CallKind::Send,
            _ => CallKind::Write,
        }
    }
}

/// Sends already made (or reserved) in the windows the limits count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendCounts {
    pub last_hour: u64,
    pub last_day: u64,
}

/// What the rules say about one call.
#[derive(Debug)]
pub enum Verdict {
    Allow,
    /// Allowed once a person approves this exact message; `reason` names the rule.
    NeedsApproval {
        reason: String,
    },
    Deny(ConnectorError),
}

/// A refused call: `permission_denied` naming the rule (`details.rule`) and what would allow it
/// (`details.allowed_by`).
pub fn refused(rule: &str, message: String, allowed_by: &str) -> ConnectorError {
    ConnectorError::new(
        ErrorCode::PermissionDenied,
        format!("{message} (policy rule `{rule}`); {allowed_by}"),
    )
    .with_details(json!({"rule": rule, "allowed_by": allowed_by, "policy": true}))
}

/// `entry` (an address or a domain, any case, `@domain` allowed) matches `email`.
pub fn entry_matches(entry: &str, email: &str) -> bool {
    let entry = entry.trim().to_ascii_lowercase();
    let email = email.trim().to_ascii_lowercase();
    match entry.strip_prefix('@') {
        Some(domain) => domain_of(&email) == domain,
        None if entry.contains('@') => entry == email,
        None => domain_of(&email) == entry,
    }
}

fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Judges one call. `preview` is the message a send would deliver (`None` for other calls, or
/// when the recipients could not be known: then any rule that needs them refuses).
pub fn evaluate(
    policy: &Policy,
    kind: CallKind,
    entity: &str,
    action: &str,
    preview: Option<&Preview>,
    counts: SendCounts,
) -> Verdict {
    let call = format!("{entity}.{action}");
    match (policy.mode, kind) {
        (_, CallKind::Read) => return Verdict::Allow,
        (Mode::ReadOnly, _) => {
            return Verdict::Deny(refused(
                "mode",
                format!("this connector is read-only: {call} changes the mailbox"),
                "an administrator can set the policy mode to draft_only or send",
            ))
        }
        (Mode::DraftOnly, CallKind::Send) => {
            return Verdict::Deny(refused(
                "mode",
                format!("this connector may only draft: {call} sends mail"),
                "create a draft instead and let a person send it, or an administrator can set the policy mode to send",
            ))
        }
        (_, CallKind::Write) => return Verdict::Allow,
        (Mode::Send, CallKind::Send) => {}
    }
    let Some(preview) = preview else {
        if policy.reads_message() {
            return Verdict::Deny(refused(
                "recipients",
                format!("the recipients of {call} cannot be known before it runs, and the policy checks recipients"),
                "send with explicit to/cc/bcc params, or an administrator can clear the recipient and approval rules",
            ));
        }
        return limits(policy, &call, counts);
    };
    let recipients = preview.recipients();
    for email in &recipients {
        if let Some(entry) = policy
            .deny_recipients
            .iter()
            .find(|e| entry_matches(e, email))
        {
            return Verdict::Deny(
                refused(
                    "deny_recipients",
                    format!("{email} is on the connector's deny-list (entry {entry:?})"),
                    "remove this recipient, or an administrator can take the entry off deny_recipients",
                )
                .with_recipient(email),
            );
        }
        if !policy.allow_recipients.is_empty()
            && !policy
                .allow_recipients
                .iter()
                .any(|e| entry_matches(e, email))
        {
            return Verdict::Deny(
                refused(
                    "allow_recipients",
                    format!("{email} is not on the connector's allow-list"),
                    "send only to allowed addresses or domains, or an administrator can add this one to allow_recipients",
                )
                .with_recipient(email),
            );
        }
    }
    if let Some(max) = policy.max_attachment_bytes {
        if let Some(a) = preview.attachments.iter().find(|a| a.size > max) {
            return Verdict::Deny(refused(
                "max_attachment_bytes",
                format!(
                    "attachment {:?} has {} bytes, more than the {max} the policy allows",
                    a.filename, a.size
                ),
                "send a smaller file (or a link to it), or an administrator can raise max_attachment_bytes",
            ));
        }
    }
    if let Verdict::Deny(e) = limits(policy, &call, counts) {
        return Verdict::Deny(e);
    }
    match policy.require_approval {
        ApprovalRule::None => Verdict::Allow,
        ApprovalRule::All => Verdict::NeedsApproval {
            reason: "the policy requires approval of every send".into(),
        },
        ApprovalRule::External => {
            let internal = |email: &str| {
                policy
                    .internal_domains
                    .iter()
                    .chain(policy.allow_recipients.iter())
                    .any(|e| entry_matches(e, email))
                    || preview.from.as_deref().is_some_and(|f| {
                        domain_of(&f.to_ascii_lowercase()) == domain_of(&email.to_ascii_lowercase())
                    })
            };
            match recipients.iter().find(|e| !internal(e)) {
                Some(e) => Verdict::NeedsApproval {
                    reason: format!("{e} is outside the organization's domains"),
                },
                None => Verdict::Allow,
            }
        }
        ApprovalRule::MoreRecipientsThan => {
            let max = policy.approval_above_recipients.unwrap_or(0);
            if recipients.len() as u64 > max {
                Verdict::NeedsApproval {
                    reason: format!(
                        "the message has {} recipients, more than {max}",
                        recipients.len()
                    ),
                }
            } else {
                Verdict::Allow
            }
        }
    }
}

/// Whether `counts` leave no room for one more send under the policy's limits.
pub fn over_limits(policy: &Policy, counts: SendCounts) -> bool {
    policy
        .max_sends_per_hour
        .is_some_and(|max| counts.last_hour >= max)
        || policy
            .max_sends_per_day
            .is_some_and(|max| counts.last_day >= max)
}

pub(crate) fn limits(policy: &Policy, call: &str, counts: SendCounts) -> Verdict {
    for (rule, max, used, window) in [
        (
            "max_sends_per_hour",
            policy.max_sends_per_hour,
            counts.last_hour,
            "hour",
        ),
        (
            "max_sends_per_day",
            policy.max_sends_per_day,
            counts.last_day,
            "day",
        ),
    ] {
        if let Some(max) = max {
            if used >= max {
                return Verdict::Deny(
                    ConnectorError::new(
                        ErrorCode::RateLimited,
                        format!(
                            "{call} refused: {used} sends in the last {window}, the policy allows {max} (policy rule `{rule}`); wait, or an administrator can raise {rule}"
                        ),
                    )
                    .with_details(json!({"rule": rule, "policy": true,
                        "allowed_by": format!("wait until a send of the last {window} ages out, or an administrator can raise {rule}")})),
                );
            }
        }
    }
    Verdict::Allow
}

trait WithRecipient {
    fn with_recipient(self, email: &str) -> Self;
}

impl WithRecipient for ConnectorError {
    fn with_recipient(mut self, email: &str) -> Self {
        if let Some(d) = self.details.as_object_mut() {
            d.insert("recipient".into(), json!(email));
        }
        self
    }
}
