//! The contract tables shared by the contract tests: which discovery method each action uses,
//! params that never go on the wire, and the discovery methods left out on purpose.
#![allow(dead_code)]

/// entity.action -> (discovery method, param -> wire parameter). The wire names must exist in
/// the method with a compatible type. Path params are listed too.
/// (entity.action, discovery method id, [(param, wire parameter)]).
pub type ActionRow = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

pub const ACTIONS: &[ActionRow] = &[
    ("profile.get", "gmail.users.getProfile", &[]),
    (
        "messages.list",
        "gmail.users.messages.list",
        &[
            ("q", "q"),
            ("label_ids", "labelIds"),
            ("max_results", "maxResults"),
            ("page_token", "pageToken"),
            ("include_spam_trash", "includeSpamTrash"),
        ],
    ),
    (
        "messages.get",
        "gmail.users.messages.get",
        &[("message_id", "id"), ("format", "format")],
    ),
    (
        "messages.get_many",
        "gmail.users.messages.get",
        &[("message_ids", "id"), ("format", "format")],
    ),
    (
        "attachments.get",
        "gmail.users.messages.attachments.get",
        &[("message_id", "messageId"), ("attachment_id", "id")],
    ),
    (
        "threads.list",
        "gmail.users.threads.list",
        &[
            ("q", "q"),
            ("label_ids", "labelIds"),
            ("max_results", "maxResults"),
            ("page_token", "pageToken"),
            ("include_spam_trash", "includeSpamTrash"),
        ],
    ),
    (
        "threads.get",
        "gmail.users.threads.get",
        &[("thread_id", "id"), ("format", "format")],
    ),
    ("labels.list", "gmail.users.labels.list", &[]),
    (
        "labels.get",
        "gmail.users.labels.get",
        &[("label_id", "id")],
    ),
    (
        "drafts.list",
        "gmail.users.drafts.list",
        &[
            ("q", "q"),
            ("max_results", "maxResults"),
            ("page_token", "pageToken"),
            ("include_spam_trash", "includeSpamTrash"),
        ],
    ),
    (
        "drafts.get",
        "gmail.users.drafts.get",
        &[("draft_id", "id"), ("format", "format")],
    ),
    (
        "history.list",
        "gmail.users.history.list",
        &[
            ("start_history_id", "startHistoryId"),
            ("history_types", "historyTypes"),
            ("label_id", "labelId"),
            ("max_results", "maxResults"),
            ("page_token", "pageToken"),
        ],
    ),
    ("send_as.list", "gmail.users.settings.sendAs.list", &[]),
    (
        "send_as.get",
        "gmail.users.settings.sendAs.get",
        &[("send_as_email", "sendAsEmail")],
    ),
    ("filters.list", "gmail.users.settings.filters.list", &[]),
    (
        "filters.get",
        "gmail.users.settings.filters.get",
        &[("filter_id", "id")],
    ),
    ("vacation.get", "gmail.users.settings.getVacation", &[]),
];

/// Params that are ours alone (no wire counterpart), with the reason.
pub const LOCAL_PARAMS: &[(&str, &str, &str)] = &[
    (
        "messages.list",
        "ids_only",
        "chooses whether the connector fetches summaries; not sent",
    ),
    (
        "messages.get_many",
        "batch_size",
        "how many gets go in one batch request; not sent",
    ),
];

/// Discovery methods no action uses, each with the reason.
pub const LEFT_OUT: &[(&str, &str)] = &[
    // Writing: issue 4.
    (
        "gmail.users.stop",
        "writing (watch.stop): issue 4, not implemented yet",
    ),
    (
        "gmail.users.watch",
        "writing (watch.start): issue 4, not implemented yet",
    ),
    (
        "gmail.users.drafts.create",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.drafts.delete",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.drafts.send",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.drafts.update",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.labels.create",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.labels.delete",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.labels.patch",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.labels.update",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.messages.batchDelete",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.messages.batchModify",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.messages.delete",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.messages.import",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.messages.insert",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.messages.modify",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.messages.send",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.messages.trash",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.messages.untrash",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.threads.delete",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.threads.modify",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.threads.trash",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.threads.untrash",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.settings.filters.create",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.settings.filters.delete",
        "writing: issue 4, not implemented yet",
    ),
    (
        "gmail.users.settings.updateVacation",
        "writing: issue 4, not implemented yet",
    ),
    // Settings an agent has no business reading or changing in mail work.
    (
        "gmail.users.settings.getAutoForwarding",
        "mailbox administration (auto-forwarding): out of scope for mail agents",
    ),
    (
        "gmail.users.settings.updateAutoForwarding",
        "mailbox administration: silently forwarding mail is a data-exfiltration risk for an agent",
    ),
    (
        "gmail.users.settings.getImap",
        "client protocol settings (IMAP): not mail work",
    ),
    (
        "gmail.users.settings.updateImap",
        "client protocol settings (IMAP): not mail work",
    ),
    (
        "gmail.users.settings.getPop",
        "client protocol settings (POP): not mail work",
    ),
    (
        "gmail.users.settings.updatePop",
        "client protocol settings (POP): not mail work",
    ),
    (
        "gmail.users.settings.getLanguage",
        "UI language setting: not mail work",
    ),
    (
        "gmail.users.settings.updateLanguage",
        "UI language setting: not mail work",
    ),
    (
        "gmail.users.settings.delegates.create",
        "delegation needs domain-wide service accounts (gmail.settings.sharing): admin only",
    ),
    (
        "gmail.users.settings.delegates.delete",
        "delegation: admin only",
    ),
    (
        "gmail.users.settings.delegates.get",
        "delegation: admin only",
    ),
    (
        "gmail.users.settings.delegates.list",
        "delegation: admin only",
    ),
    (
        "gmail.users.settings.forwardingAddresses.create",
        "forwarding addresses need gmail.settings.sharing: admin only, exfiltration risk",
    ),
    (
        "gmail.users.settings.forwardingAddresses.delete",
        "forwarding addresses: admin only",
    ),
    (
        "gmail.users.settings.forwardingAddresses.get",
        "forwarding addresses: admin only",
    ),
    (
        "gmail.users.settings.forwardingAddresses.list",
        "forwarding addresses: admin only",
    ),
    (
        "gmail.users.settings.sendAs.create",
        "creating aliases needs gmail.settings.sharing and verification mail: admin work",
    ),
    (
        "gmail.users.settings.sendAs.delete",
        "alias administration: admin work",
    ),
    (
        "gmail.users.settings.sendAs.patch",
        "alias administration: admin work",
    ),
    (
        "gmail.users.settings.sendAs.update",
        "alias administration: admin work",
    ),
    (
        "gmail.users.settings.sendAs.verify",
        "alias administration: admin work",
    ),
    (
        "gmail.users.settings.sendAs.smimeInfo.delete",
        "S/MIME certificate management: admin work",
    ),
    (
        "gmail.users.settings.sendAs.smimeInfo.get",
        "S/MIME certificate management: admin work",
    ),
    (
        "gmail.users.settings.sendAs.smimeInfo.insert",
        "S/MIME certificate management: admin work",
    ),
    (
        "gmail.users.settings.sendAs.smimeInfo.list",
        "S/MIME certificate management: admin work",
    ),
    (
        "gmail.users.settings.sendAs.smimeInfo.setDefault",
        "S/MIME certificate management: admin work",
    ),
    (
        "gmail.users.settings.cse.identities.create",
        "client-side encryption (Workspace admin, key service): out of scope",
    ),
    (
        "gmail.users.settings.cse.identities.delete",
        "client-side encryption: out of scope",
    ),
    (
        "gmail.users.settings.cse.identities.get",
        "client-side encryption: out of scope",
    ),
    (
        "gmail.users.settings.cse.identities.list",
        "client-side encryption: out of scope",
    ),
    (
        "gmail.users.settings.cse.identities.patch",
        "client-side encryption: out of scope",
    ),
    (
        "gmail.users.settings.cse.keypairs.create",
        "client-side encryption: out of scope",
    ),
    (
        "gmail.users.settings.cse.keypairs.disable",
        "client-side encryption: out of scope",
    ),
    (
        "gmail.users.settings.cse.keypairs.enable",
        "client-side encryption: out of scope",
    ),
    (
        "gmail.users.settings.cse.keypairs.get",
        "client-side encryption: out of scope",
    ),
    (
        "gmail.users.settings.cse.keypairs.list",
        "client-side encryption: out of scope",
    ),
    (
        "gmail.users.settings.cse.keypairs.obliterate",
        "client-side encryption: out of scope",
    ),
];
