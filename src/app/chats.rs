//! The chats the bot tells things to, put right at every start: `[notify].chat_ids` get their
//! events, and the chats that subscribed while anybody could (no login, `/notify` open to
//! everybody) lose their subscriptions once that ends, so that adding `buildbot.username`
//! does not leave strangers receiving the master's failure logs.

use std::collections::BTreeSet;

use super::StartError;
use crate::authz::Authz;
use crate::command::CommandName;
use crate::settings::{ChatTarget, Settings};
use crate::storage::{Chat, Store};

/// `[notify].events` are turned on for `[notify].chat_ids` at every start, and the filter
/// terms written after a chat there are added to its filter (as in Buildbot's bot, never
/// turned off from here: `/notify off` does that).
pub(super) async fn apply_configured_chats(
    store: &Store,
    settings: &Settings,
) -> Result<(), StartError> {
    for chat in configured(settings) {
        store
            .update_events(&chat, &settings.notify.events, &[])
            .await?;
    }
    for (chat, terms) in &settings.notify.chat_terms {
        store.update_filter(&chat_of(chat), terms, &[]).await?;
    }
    Ok(())
}

/// When anybody could subscribe a chat at the previous start and nobody can now, every chat
/// the settings do not name loses its subscriptions and watches, each logged once with how to
/// subscribe it again. (Run again after an interrupted start: dropping is idempotent.)
pub(super) async fn close_subscriptions(
    store: &Store,
    settings: &Settings,
) -> Result<(), StartError> {
    let open = subscribing_open(&settings.authz);
    for chat in to_drop(store, settings).await? {
        store.remove_chat(&chat).await?;
        log::warn!(
            "chat {chat}: its subscriptions and watches were dropped: it subscribed while anybody could, \
             and now /notify and /watch are closed (buildbot.username is set) and notify.chat_ids does not name it; \
             someone [authz] allows can subscribe it again with /notify there, or add it to notify.chat_ids"
        );
    }
    store.record_subscribing(open).await?;
    Ok(())
}

/// The chats [`close_subscriptions`] drops at this start (for `--check` too, which changes
/// nothing).
pub(super) async fn to_drop(
    store: &Store,
    settings: &Settings,
) -> Result<Vec<Chat>, crate::storage::StorageError> {
    if subscribing_open(&settings.authz) || !store.subscribing_was_open().await? {
        return Ok(Vec::new());
    }
    let subscribed = store.subscribed_chats().await?;
    Ok(unconfigured(subscribed, &configured(settings)))
}

/// Could anybody at all subscribe a chat (to notifications, or to a build's end)?
fn subscribing_open(authz: &Authz) -> bool {
    authz.allows_anonymous(CommandName::Notify) || authz.allows_anonymous(CommandName::Watch)
}

fn configured(settings: &Settings) -> Vec<Chat> {
    settings.notify.chat_ids.iter().map(chat_of).collect()
}

fn chat_of(chat: &ChatTarget) -> Chat {
    match chat {
        ChatTarget::Id(id) => Chat::Id(*id),
        ChatTarget::Channel(name) => Chat::Channel(name.clone()),
    }
}

/// The chats of `subscribed` that `configured` does not name; a topic counts as named when
/// its group is.
fn unconfigured(subscribed: BTreeSet<Chat>, configured: &[Chat]) -> Vec<Chat> {
    subscribed
        .into_iter()
        .filter(|chat| {
            let named = match chat {
                Chat::Topic(group, _) => Chat::Id(*group),
                other => other.clone(),
            };
            !configured.contains(&named)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chats_the_settings_do_not_name_are_dropped() {
        let subscribed = BTreeSet::from([
            Chat::Id(5),
            Chat::Id(-100),
            Chat::Topic(-100, 7),
            Chat::Topic(-200, 7),
            Chat::Channel("@ci".into()),
            Chat::Channel("@other".into()),
        ]);
        let configured = [Chat::Id(-100), Chat::Channel("@ci".into())];
        assert_eq!(
            unconfigured(subscribed, &configured),
            [
                Chat::Id(5),
                Chat::Channel("@other".into()),
                Chat::Topic(-200, 7)
            ]
        );
    }

    fn authz(table: serde_json::Value) -> Authz {
        Authz::from_settings(&serde_json::from_value(table).unwrap()).unwrap()
    }

    #[test]
    fn subscribing_is_open_while_anybody_may_notify_or_watch() {
        assert!(subscribing_open(&Authz::default()), "no login: open");
        assert!(subscribing_open(&authz(serde_json::json!({"watch": true}))));
        assert!(!subscribing_open(&authz(
            serde_json::json!({"notify": [1], "watch": false})
        )));
        let login = |table: serde_json::Value| {
            let table = serde_json::from_value(table).unwrap();
            Authz::from_table(&table, crate::authz::Baseline::Closed).unwrap()
        };
        assert!(
            !subscribing_open(&login(serde_json::json!({}))),
            "a login closes it"
        );
        assert!(!subscribing_open(&login(serde_json::json!({"": [1, 2]}))));
        assert!(subscribing_open(&login(
            serde_json::json!({"notify": true})
        )));
    }
}
