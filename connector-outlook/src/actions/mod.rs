//! The Rust handlers named by `specs/outlook.json`. Params reaching them are already validated
//! against the action's schema; checks the schema cannot express happen here, before any request.

mod folders;
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
