//! The Rust handlers named by `specs/outlook.json`. Params reaching them are already validated
//! against the action's schema; checks the schema cannot express happen here, before any request.

mod compose;
mod folders;
mod manage;
mod messages;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{ActionHandler, CallContext, Output, Result};
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
enum Kind {
    ProfileGet,
    MessagesList,
    MessagesGet,
    MessagesGetMany,
    MessagesDelta,
    AttachmentsList,
    AttachmentsGet,
    MailFoldersList,
    MailFoldersGet,
    CategoriesList,
    MailboxSettingsGet,
    Send,
    Reply,
    ReplyAll,
    Forward,
    CreateDraft,
    CreateReply,
    CreateForward,
    SendDraft,
    Update,
    Move,
    Copy,
    Delete,
    AttachmentsAdd,
    AttachmentsDelete,
    FolderCreate,
    FolderUpdate,
    FolderDelete,
    CategoryCreate,
    CategoryDelete,
    SettingsUpdate,
    SubscriptionCreate,
    SubscriptionRenew,
    SubscriptionDelete,
}

struct Handler(Kind);

#[async_trait]
impl ActionHandler for Handler {
    async fn call(&self, cx: &CallContext<'_>, params: Value) -> Result<Output> {
        match self.0 {
            Kind::ProfileGet => folders::profile_get(cx).await,
            Kind::MessagesList => messages::list(cx, &params).await,
            Kind::MessagesGet => messages::get(cx, &params).await,
            Kind::MessagesGetMany => messages::get_many(cx, &params).await,
            Kind::MessagesDelta => messages::delta(cx, &params).await,
            Kind::AttachmentsList => messages::attachments_list(cx, &params).await,
            Kind::AttachmentsGet => messages::attachments_get(cx, &params).await,
            Kind::MailFoldersList => folders::list(cx, &params).await,
            Kind::MailFoldersGet => folders::get(cx, &params).await,
            Kind::CategoriesList => folders::categories_list(cx).await,
            Kind::MailboxSettingsGet => folders::mailbox_settings_get(cx).await,
            Kind::Send => compose::send(cx, &params).await,
            Kind::Reply => compose::respond(cx, &params, "reply").await,
            Kind::ReplyAll => compose::respond(cx, &params, "replyAll").await,
            Kind::Forward => compose::respond(cx, &params, "forward").await,
            Kind::CreateDraft => compose::create_draft(cx, &params).await,
            Kind::CreateReply => compose::create_response(cx, &params, false).await,
            Kind::CreateForward => compose::create_response(cx, &params, true).await,
            Kind::SendDraft => compose::send_draft(cx, &params).await,
            Kind::Update => compose::update(cx, &params).await,
            Kind::Move => compose::relocate(cx, &params, "move").await,
            Kind::Copy => compose::relocate(cx, &params, "copy").await,
            Kind::Delete => compose::delete(cx, &params).await,
            Kind::AttachmentsAdd => manage::attachment_add(cx, &params).await,
            Kind::AttachmentsDelete => manage::attachment_delete(cx, &params).await,
            Kind::FolderCreate => manage::folder_create(cx, &params).await,
            Kind::FolderUpdate => manage::folder_update(cx, &params).await,
            Kind::FolderDelete => manage::folder_delete(cx, &params).await,
            Kind::CategoryCreate => manage::category_create(cx, &params).await,
            Kind::CategoryDelete => manage::category_delete(cx, &params).await,
            Kind::SettingsUpdate => manage::settings_update(cx, &params).await,
            Kind::SubscriptionCreate => manage::subscription_create(cx, &params).await,
            Kind::SubscriptionRenew => manage::subscription_renew(cx, &params).await,
            Kind::SubscriptionDelete => manage::subscription_delete(cx, &params).await,
        }
    }
}

/// Every handler by the name the spec uses.
pub fn handlers() -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
    use Kind::*;
    [
        ("profile_get", ProfileGet),
        ("messages_list", MessagesList),
        ("messages_get", MessagesGet),
        ("messages_get_many", MessagesGetMany),
        ("messages_delta", MessagesDelta),
        ("attachments_list", AttachmentsList),
        ("attachments_get", AttachmentsGet),
        ("mail_folders_list", MailFoldersList),
        ("mail_folders_get", MailFoldersGet),
        ("categories_list", CategoriesList),
        ("mailbox_settings_get", MailboxSettingsGet),
        ("messages_send", Send),
        ("messages_reply", Reply),
        ("messages_reply_all", ReplyAll),
        ("messages_forward", Forward),
        ("messages_create_draft", CreateDraft),
        ("messages_create_reply", CreateReply),
        ("messages_create_forward", CreateForward),
        ("messages_send_draft", SendDraft),
        ("messages_update", Update),
        ("messages_move", Move),
        ("messages_copy", Copy),
        ("messages_delete", Delete),
        ("attachments_add", AttachmentsAdd),
        ("attachments_delete", AttachmentsDelete),
        ("mail_folders_create", FolderCreate),
        ("mail_folders_update", FolderUpdate),
        ("mail_folders_delete", FolderDelete),
        ("categories_create", CategoryCreate),
        ("categories_delete", CategoryDelete),
        ("mailbox_settings_update", SettingsUpdate),
        ("subscriptions_create", SubscriptionCreate),
        ("subscriptions_renew", SubscriptionRenew),
        ("subscriptions_delete", SubscriptionDelete),
    ]
    .into_iter()
    .map(|(name, kind)| (name, Arc::new(Handler(kind)) as Arc<dyn ActionHandler>))
    .collect()
}

/// A string param.
fn str_param<'a>(p: &'a Value, name: &str) -> Option<&'a str> {
    p.get(name).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use connector_core::spec::Implementation;
    use connector_core::ConnectorSpec;

    #[test]
    fn every_handler_the_spec_names_is_registered_and_no_other() {
        let spec = ConnectorSpec::from_json(crate::SPEC_JSON).unwrap();
        let mut named: Vec<String> = spec
            .entities
            .values()
            .flat_map(|e| e.actions.values())
            .filter_map(|a| match &a.implementation {
                Implementation::Handler(h) => Some(h.clone()),
                Implementation::Request(_) => None,
            })
            .collect();
        named.sort();
        let mut registered: Vec<String> = super::handlers()
            .into_iter()
            .map(|(n, _)| n.to_string())
            .collect();
        registered.sort();
        assert_eq!(named, registered);
    }
}
