//! The Rust handlers named by `specs/outlook.json`, registered with core like Gmail's: each
//! action's params are validated against its schema, then read into the action's struct
//! (defaults as the spec declares them); checks the schema cannot express happen here, before
//! any request. Actions the spec can express as a request (mailbox_settings.get) have no handler.

mod calendar;
mod compose;
mod folders;
mod manage;
mod messages;
mod preview;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::params::NoParams;
use connector_core::{
    typed, ActionHandler, CallContext, ConnectorError, Output, Result, TypedHandler,
};
use serde::{Deserialize, Serialize};

/// The params of actions on one message.
#[derive(Deserialize, Serialize)]
pub struct MessageId {
    pub message_id: String,
}

/// The params of actions on one folder (an id or a well-known name).
#[derive(Deserialize, Serialize)]
pub struct Folder {
    pub folder: String,
}

/// `invalid_params` for a check the schema cannot express.
fn invalid(pointer: &str, message: &str) -> ConnectorError {
    ConnectorError::invalid_field(pointer, message)
}

/// One unit struct per action, running `function` with the action's typed params, and
/// [`handlers`] listing them by the name the spec uses.
/// `preview = function` names what an action with effect `send` would deliver (for the send
/// policies) when its params do not say it all.
macro_rules! typed_handlers {
    ($($name:literal => $handler:ident($params:ty) = $function:path $(, preview = $preview:path)? $(, exactly_once = $once:expr)?;)*) => {
        $(
            struct $handler;

            #[async_trait]
            impl TypedHandler for $handler {
                type Params = $params;
                async fn run(&self, cx: &CallContext<'_>, params: $params) -> Result<Output> {
                    $function(cx, params).await
                }
                $(
                    async fn preview(
                        &self,
                        cx: &CallContext<'_>,
                        params: $params,
                    ) -> Result<Option<connector_core::guard::Preview>> {
                        ($preview)(cx, params).await.map(Some)
                    }
                )?
                $(
                    fn exactly_once(&self) -> bool {
                        $once
                    }
                )?
            }
        )*

        /// Every handler by the name the spec uses.
        pub fn handlers() -> Vec<(&'static str, Arc<dyn ActionHandler>)> {
            vec![$(($name, typed($handler))),*]
        }
    };
}

typed_handlers! {
    "profile_get" => ProfileGet(NoParams) = folders::profile_get;
    "messages_list" => MessagesList(messages::ListParams) = messages::list;
    "messages_search" => MessagesSearch(connector_core::search::SearchParams) = messages::search;
    "messages_get" => MessagesGet(MessageId) = messages::get;
    "messages_get_many" => MessagesGetMany(messages::GetManyParams) = messages::get_many;
    "messages_delta" => MessagesDelta(messages::DeltaParams) = messages::delta;
    "attachments_list" => AttachmentsList(MessageId) = messages::attachments_list;
    "attachments_get" => AttachmentsGet(messages::AttachmentParams) = messages::attachments_get;
    "mail_folders_list" => MailFoldersList(folders::ListParams) = folders::list;
    "mail_folders_get" => MailFoldersGet(Folder) = folders::get;
    "categories_list" => CategoriesList(NoParams) = folders::categories_list;
    "messages_send" => Send(compose::SendParams) = compose::send, exactly_once = true;
    "messages_reply" => Reply(compose::RespondParams) = compose::reply,
        preview = preview::reply;
    "messages_reply_all" => ReplyAll(compose::RespondParams) = compose::reply_all,
        preview = preview::reply_all;
    "messages_forward" => Forward(compose::RespondParams) = compose::forward,
        preview = preview::forward;
    "messages_create_draft" => CreateDraft(compose::DraftParams) = compose::create_draft;
    "messages_create_reply" => CreateReply(compose::RespondParams) = compose::create_reply;
    "messages_create_forward" => CreateForward(compose::RespondParams) = compose::create_forward;
    "messages_send_draft" => SendDraft(MessageId) = compose::send_draft,
        preview = preview::draft, exactly_once = true;
    "messages_update" => Update(compose::UpdateParams) = compose::update;
    "messages_move" => Move(compose::RelocateParams) = compose::move_to;
    "messages_copy" => Copy(compose::RelocateParams) = compose::copy_to;
    "messages_delete" => Delete(compose::DeleteParams) = compose::delete;
    "attachments_add" => AttachmentsAdd(manage::AttachmentAddParams) = manage::attachment_add;
    "attachments_delete" => AttachmentsDelete(messages::AttachmentParams) = manage::attachment_delete;
    "mail_folders_create" => FolderCreate(manage::FolderCreateParams) = manage::folder_create;
    "mail_folders_update" => FolderUpdate(manage::FolderUpdateParams) = manage::folder_update;
    "mail_folders_delete" => FolderDelete(Folder) = manage::folder_delete;
    "categories_create" => CategoryCreate(manage::CategoryCreateParams) = manage::category_create;
    "categories_delete" => CategoryDelete(manage::CategoryParams) = manage::category_delete;
    "mailbox_settings_update" => SettingsUpdate(manage::SettingsParams) = manage::settings_update;
    "subscriptions_create" => SubscriptionCreate(manage::SubscriptionCreateParams) = manage::subscription_create;
    "subscriptions_renew" => SubscriptionRenew(manage::SubscriptionParams) = manage::subscription_renew;
    "subscriptions_delete" => SubscriptionDelete(manage::SubscriptionParams) = manage::subscription_delete;
    "calendars_list" => CalendarsList(connector_core::calendar::params::CalendarsListParams) = calendar::calendars_list;
    "calendars_get" => CalendarsGet(connector_core::calendar::params::CalendarsGetParams) = calendar::calendars_get;
    "events_list" => EventsList(connector_core::calendar::params::EventsListParams) = calendar::events_list;
    "events_get" => EventsGet(connector_core::calendar::params::EventsGetParams) = calendar::events_get;
    "events_create" => EventsCreate(connector_core::calendar::params::EventWriteParams) = calendar::events_create;
    "events_update" => EventsUpdate(connector_core::calendar::params::EventWriteParams) = calendar::events_update;
    "events_delete" => EventsDelete(connector_core::calendar::params::EventsDeleteParams) = calendar::events_delete;
    "events_respond" => EventsRespond(connector_core::calendar::params::EventsRespondParams) = calendar::events_respond;
    "events_sync" => EventsSync(connector_core::calendar::params::EventsSyncParams) = calendar::events_sync;
    "freebusy_query" => FreebusyQuery(connector_core::calendar::params::FreebusyParams) = calendar::freebusy_query;
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
