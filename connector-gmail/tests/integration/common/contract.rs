//! The contract tables shared by the contract tests: which discovery method each action uses,
//! params that never go on the wire, and the discovery methods left out on purpose.

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
        "messages.search",
        "gmail.users.messages.list",
        &[("max_results", "maxResults"), ("page_token", "pageToken")],
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
    // Writing (issue 4). `body:` names a field of the method's request schema.
    (
        "messages.send",
        "gmail.users.messages.send",
        &[("raw", "body:raw"), ("thread_id", "body:threadId")],
    ),
    (
        "messages.modify",
        "gmail.users.messages.modify",
        &[
            ("message_id", "id"),
            ("add_label_ids", "body:addLabelIds"),
            ("remove_label_ids", "body:removeLabelIds"),
        ],
    ),
    (
        "messages.trash",
        "gmail.users.messages.trash",
        &[("message_id", "id")],
    ),
    (
        "messages.untrash",
        "gmail.users.messages.untrash",
        &[("message_id", "id")],
    ),
    (
        "messages.delete",
        "gmail.users.messages.delete",
        &[("message_id", "id")],
    ),
    (
        "messages.batch_modify",
        "gmail.users.messages.batchModify",
        &[
            ("message_ids", "body:ids"),
            ("add_label_ids", "body:addLabelIds"),
            ("remove_label_ids", "body:removeLabelIds"),
        ],
    ),
    (
        "messages.batch_delete",
        "gmail.users.messages.batchDelete",
        &[("message_ids", "body:ids")],
    ),
    (
        "messages.import",
        "gmail.users.messages.import",
        &[
            ("raw", "body:raw"),
            ("label_ids", "body:labelIds"),
            ("internal_date_source", "internalDateSource"),
            ("never_mark_spam", "neverMarkSpam"),
        ],
    ),
    (
        "messages.insert",
        "gmail.users.messages.insert",
        &[
            ("raw", "body:raw"),
            ("label_ids", "body:labelIds"),
            ("internal_date_source", "internalDateSource"),
        ],
    ),
    (
        "threads.modify",
        "gmail.users.threads.modify",
        &[
            ("thread_id", "id"),
            ("add_label_ids", "body:addLabelIds"),
            ("remove_label_ids", "body:removeLabelIds"),
        ],
    ),
    (
        "threads.trash",
        "gmail.users.threads.trash",
        &[("thread_id", "id")],
    ),
    (
        "threads.untrash",
        "gmail.users.threads.untrash",
        &[("thread_id", "id")],
    ),
    (
        "threads.delete",
        "gmail.users.threads.delete",
        &[("thread_id", "id")],
    ),
    ("labels.create", "gmail.users.labels.create", LABEL_FIELDS),
    (
        "labels.update",
        "gmail.users.labels.update",
        &[
            ("label_id", "id"),
            ("label_id", "body:id"),
            ("name", "body:name"),
            ("label_list_visibility", "body:labelListVisibility"),
            ("message_list_visibility", "body:messageListVisibility"),
            ("background_color", "body:color.backgroundColor"),
            ("text_color", "body:color.textColor"),
        ],
    ),
    (
        "labels.patch",
        "gmail.users.labels.patch",
        &[
            ("label_id", "id"),
            ("name", "body:name"),
            ("label_list_visibility", "body:labelListVisibility"),
            ("message_list_visibility", "body:messageListVisibility"),
            ("background_color", "body:color.backgroundColor"),
            ("text_color", "body:color.textColor"),
        ],
    ),
    (
        "labels.delete",
        "gmail.users.labels.delete",
        &[("label_id", "id")],
    ),
    (
        "drafts.create",
        "gmail.users.drafts.create",
        &[
            ("raw", "body:message.raw"),
            ("thread_id", "body:message.threadId"),
        ],
    ),
    (
        "drafts.update",
        "gmail.users.drafts.update",
        &[
            ("draft_id", "id"),
            ("raw", "body:message.raw"),
            ("thread_id", "body:message.threadId"),
        ],
    ),
    (
        "drafts.send",
        "gmail.users.drafts.send",
        &[("draft_id", "body:id")],
    ),
    (
        "drafts.delete",
        "gmail.users.drafts.delete",
        &[("draft_id", "id")],
    ),
    (
        "filters.create",
        "gmail.users.settings.filters.create",
        &[("criteria", "body:criteria"), ("action", "body:action")],
    ),
    (
        "filters.delete",
        "gmail.users.settings.filters.delete",
        &[("filter_id", "id")],
    ),
    (
        "vacation.update",
        "gmail.users.settings.updateVacation",
        &[
            ("enable_auto_reply", "body:enableAutoReply"),
            ("response_subject", "body:responseSubject"),
            ("response_body_plain_text", "body:responseBodyPlainText"),
            ("response_body_html", "body:responseBodyHtml"),
            ("restrict_to_contacts", "body:restrictToContacts"),
            ("restrict_to_domain", "body:restrictToDomain"),
            ("start_time", "body:startTime"),
            ("end_time", "body:endTime"),
        ],
    ),
    (
        "watch.start",
        "gmail.users.watch",
        &[
            ("topic_name", "body:topicName"),
            ("label_ids", "body:labelIds"),
            ("label_filter_behavior", "body:labelFilterBehavior"),
        ],
    ),
    ("watch.stop", "gmail.users.stop", &[]),
    // Google Calendar (calendar.v3.json), the calendar entities of the gmail type.
    (
        "calendars.list",
        "calendar.calendarList.list",
        &[("max_results", "maxResults"), ("page_token", "pageToken")],
    ),
    (
        "calendars.get",
        "calendar.calendarList.get",
        &[("calendar_id", "calendarId")],
    ),
    (
        "events.list",
        "calendar.events.list",
        &[
            ("calendar_id", "calendarId"),
            ("time_min", "timeMin"),
            ("time_max", "timeMax"),
            ("expand_recurring", "singleEvents"),
            ("time_zone", "timeZone"),
            ("max_results", "maxResults"),
            ("page_token", "pageToken"),
        ],
    ),
    (
        "events.get",
        "calendar.events.get",
        &[
            ("calendar_id", "calendarId"),
            ("event_id", "eventId"),
            ("time_zone", "timeZone"),
        ],
    ),
    ("events.create", "calendar.events.insert", EVENT_FIELDS),
    (
        "events.update",
        "calendar.events.patch",
        EVENT_UPDATE_FIELDS,
    ),
    (
        "events.delete",
        "calendar.events.delete",
        &[("calendar_id", "calendarId"), ("event_id", "eventId")],
    ),
    (
        "events.respond",
        "calendar.events.patch",
        &[("calendar_id", "calendarId"), ("event_id", "eventId")],
    ),
    (
        "events.sync",
        "calendar.events.list",
        &[
            ("calendar_id", "calendarId"),
            ("sync_token", "syncToken"),
            ("time_min", "timeMin"),
            ("time_max", "timeMax"),
            ("max_results", "maxResults"),
            ("page_token", "pageToken"),
        ],
    ),
    (
        "freebusy.query",
        "calendar.freebusy.query",
        &[("time_min", "body:timeMin"), ("time_max", "body:timeMax")],
    ),
];

const EVENT_FIELDS: &[(&str, &str)] = &[
    ("calendar_id", "calendarId"),
    ("summary", "body:summary"),
    ("description", "body:description"),
    ("location", "body:location"),
    ("start", "body:start"),
    ("end", "body:end"),
    ("recurrence", "body:recurrence"),
    ("visibility", "body:visibility"),
];

const EVENT_UPDATE_FIELDS: &[(&str, &str)] = &[
    ("calendar_id", "calendarId"),
    ("event_id", "eventId"),
    ("summary", "body:summary"),
    ("description", "body:description"),
    ("location", "body:location"),
    ("start", "body:start"),
    ("end", "body:end"),
    ("recurrence", "body:recurrence"),
    ("visibility", "body:visibility"),
];

const LABEL_FIELDS: &[(&str, &str)] = &[
    ("name", "body:name"),
    ("label_list_visibility", "body:labelListVisibility"),
    ("message_list_visibility", "body:messageListVisibility"),
    ("background_color", "body:color.backgroundColor"),
    ("text_color", "body:color.textColor"),
];

/// messages.search: the shared query becomes Gmail's `q`.
const SEARCH_Q: &str = "becomes a term of the Gmail search query `q`";

/// Params that are ours alone (no wire counterpart), with the reason.
pub const LOCAL_PARAMS: &[(&str, &str, &str)] = &[
    ("messages.search", "text", SEARCH_Q),
    ("messages.search", "from", SEARCH_Q),
    ("messages.search", "to", SEARCH_Q),
    ("messages.search", "cc", SEARCH_Q),
    ("messages.search", "subject", SEARCH_Q),
    ("messages.search", "is_read", SEARCH_Q),
    ("messages.search", "has_attachment", SEARCH_Q),
    ("messages.search", "after", SEARCH_Q),
    ("messages.search", "before", SEARCH_Q),
    (
        "messages.search",
        "label",
        "becomes the one labelIds value (with includeSpamTrash for SPAM and TRASH)",
    ),
    (
        "messages.search",
        "thread_id",
        "Gmail's q has no thread operator: the returned page is filtered by thread",
    ),
    ("events.create", "attendees", ATTENDEES),
    ("events.create", "optional_attendees", ATTENDEES),
    ("events.create", "online_meeting", MEET),
    ("events.create", "show_as", SHOW_AS),
    ("events.create", "send_updates", SEND_UPDATES),
    ("events.update", "attendees", ATTENDEES),
    ("events.update", "optional_attendees", ATTENDEES),
    ("events.update", "online_meeting", MEET),
    ("events.update", "show_as", SHOW_AS),
    ("events.update", "send_updates", SEND_UPDATES),
    ("events.delete", "send_updates", SEND_UPDATES),
    ("events.respond", "response", RESPONSE),
    ("events.respond", "comment", RESPONSE),
    (
        "events.respond",
        "send_response",
        "sent as sendUpdates all / none",
    ),
    (
        "freebusy.query",
        "people",
        "parsed addresses, sent as items[].id",
    ),
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
    ("messages.send", "to", COMPOSED),
    ("messages.send", "cc", COMPOSED),
    ("messages.send", "bcc", COMPOSED),
    ("messages.send", "subject", COMPOSED),
    ("messages.send", "text", COMPOSED),
    ("messages.send", "html", COMPOSED),
    ("messages.send", "attachments", COMPOSED),
    ("messages.send", "from", COMPOSED),
    ("messages.send", "reply_to", COMPOSED),
    ("messages.send", "reply_to_message_id", REPLY),
    ("drafts.create", "to", COMPOSED),
    ("drafts.create", "cc", COMPOSED),
    ("drafts.create", "bcc", COMPOSED),
    ("drafts.create", "subject", COMPOSED),
    ("drafts.create", "text", COMPOSED),
    ("drafts.create", "html", COMPOSED),
    ("drafts.create", "attachments", COMPOSED),
    ("drafts.create", "from", COMPOSED),
    ("drafts.create", "reply_to", COMPOSED),
    ("drafts.create", "reply_to_message_id", REPLY),
    ("drafts.update", "to", COMPOSED),
    ("drafts.update", "cc", COMPOSED),
    ("drafts.update", "bcc", COMPOSED),
    ("drafts.update", "subject", COMPOSED),
    ("drafts.update", "text", COMPOSED),
    ("drafts.update", "html", COMPOSED),
    ("drafts.update", "attachments", COMPOSED),
    ("drafts.update", "from", COMPOSED),
    ("drafts.update", "reply_to", COMPOSED),
    ("drafts.update", "reply_to_message_id", REPLY),
    ("messages.import", "to", COMPOSED),
    ("messages.import", "cc", COMPOSED),
    ("messages.import", "bcc", COMPOSED),
    ("messages.import", "subject", COMPOSED),
    ("messages.import", "text", COMPOSED),
    ("messages.import", "html", COMPOSED),
    ("messages.import", "attachments", COMPOSED),
    ("messages.import", "from", COMPOSED),
    ("messages.import", "reply_to", COMPOSED),
    ("messages.insert", "to", COMPOSED),
    ("messages.insert", "cc", COMPOSED),
    ("messages.insert", "bcc", COMPOSED),
    ("messages.insert", "subject", COMPOSED),
    ("messages.insert", "text", COMPOSED),
    ("messages.insert", "html", COMPOSED),
    ("messages.insert", "attachments", COMPOSED),
    ("messages.insert", "from", COMPOSED),
    ("messages.insert", "reply_to", COMPOSED),
];

const ATTENDEES: &str = "addresses parsed into attendees[] objects {email, displayName, optional}";
const MEET: &str = "conferenceData.createRequest (hangoutsMeet) with conferenceDataVersion=1";
const SHOW_AS: &str = "sent as transparency (free -> transparent, busy -> opaque)";
const SEND_UPDATES: &str = "sent as sendUpdates with Google's camelCase values (externalOnly)";
const RESPONSE: &str = "written into the caller's own attendees[] entry (responseStatus, comment)";
const COMPOSED: &str = "composed into the RFC 822 message that goes on the wire as `raw`";
const REPLY: &str = "read from the original message to set threadId, In-Reply-To and References";

/// Discovery methods no action uses, each with the reason.
pub const LEFT_OUT: &[(&str, &str)] = &[
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
    // Google Calendar: what an agent scheduling meetings does not need.
    ("calendar.acl.delete", ACL),
    ("calendar.acl.get", ACL),
    ("calendar.acl.insert", ACL),
    ("calendar.acl.list", ACL),
    ("calendar.acl.patch", ACL),
    ("calendar.acl.update", ACL),
    ("calendar.acl.watch", PUSH),
    ("calendar.calendarList.delete", CAL_ADMIN),
    ("calendar.calendarList.insert", CAL_ADMIN),
    ("calendar.calendarList.patch", CAL_ADMIN),
    ("calendar.calendarList.update", CAL_ADMIN),
    ("calendar.calendarList.watch", PUSH),
    ("calendar.calendars.clear", CAL_ADMIN),
    ("calendar.calendars.delete", CAL_ADMIN),
    ("calendar.calendars.get", "calendars.get reads the calendar list entry (calendarList.get), which also says primary and access"),
    ("calendar.calendars.insert", CAL_ADMIN),
    ("calendar.calendars.patch", CAL_ADMIN),
    ("calendar.calendars.transferOwnership", CAL_ADMIN),
    ("calendar.calendars.update", CAL_ADMIN),
    ("calendar.channels.stop", PUSH),
    ("calendar.colors.get", "color palettes: presentation, not scheduling"),
    ("calendar.events.import", "imports private copies of events from elsewhere: migration, not scheduling"),
    ("calendar.events.instances", "events.list with expand_recurring gives instances of every series at once"),
    ("calendar.events.move", "moving events between calendars: calendar administration"),
    ("calendar.events.quickAdd", "free-text event creation: events.create takes structured fields an agent can check"),
    ("calendar.events.update", "events.update sends a patch (events.patch): only the fields given change"),
    ("calendar.events.watch", PUSH),
    ("calendar.settings.get", "user settings (locale, week start): not scheduling"),
    ("calendar.settings.list", "user settings (locale, week start): not scheduling"),
    ("calendar.settings.watch", PUSH),
];

const ACL: &str = "sharing calendars (access control): administration, not scheduling";
const CAL_ADMIN: &str =
    "creating, removing or re-subscribing whole calendars: administration, not scheduling";
const PUSH: &str = "push channels: calendar changes are followed with events.sync";

fn contract(name: &str) -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/contracts")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Google Calendar's discovery methods in the flat form of `gmail-methods.json`: full paths
/// (`/calendar/v3/...`), and request schema names marked `calendar:` (they live in
/// `calendar.v3.json`).
pub fn calendar_methods() -> Vec<serde_json::Value> {
    let doc = contract("calendar.v3.json");
    let root = format!("/{}", doc["servicePath"].as_str().unwrap());
    let mut out = Vec::new();
    let mut stack = vec![doc["resources"].clone()];
    while let Some(resources) = stack.pop() {
        for res in resources.as_object().into_iter().flatten().map(|(_, r)| r) {
            for m in res["methods"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, m)| m)
            {
                out.push(serde_json::json!({
                    "id": m["id"], "httpMethod": m["httpMethod"],
                    "path": format!("{root}{}", m["path"].as_str().unwrap()),
                    "parameters": m.get("parameters").cloned().unwrap_or(serde_json::json!({})),
                    "request": m["request"]["$ref"].as_str().map(|r| format!("calendar:{r}")),
                    "response": m["response"]["$ref"], "scopes": m["scopes"], "mediaUpload": null,
                }));
            }
            stack.push(res["resources"].clone());
        }
    }
    out
}

/// Every discovery method the connector type may call: Gmail's and Google Calendar's.
pub fn all_methods() -> Vec<serde_json::Value> {
    let mut out = contract("gmail-methods.json")["methods"]
        .as_array()
        .unwrap()
        .clone();
    out.extend(calendar_methods());
    out
}
