//! Which chat wants which events, and the chat's whole lifecycle (forgotten, or moved when a
//! group becomes a supergroup), which also covers its watches.

use std::collections::{BTreeMap, BTreeSet};

use super::sql::{Conn, DbError, params};
use super::{Chat, StorageError, Store, chats_of};
use crate::event::Event;

impl Store {
    /// Names this version does not know (a row written by another version) are skipped, so
    /// one odd row does not cost the chat its other events.
    pub async fn events(&self, chat: &Chat) -> Result<BTreeSet<Event>, StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            let rows = conn.query(
                "SELECT event FROM subscriptions WHERE chat = ?1",
                params![key],
            )?;
            Ok(rows
                .iter()
                .filter_map(|row| row.text(0).ok()?.parse().ok())
                .collect())
        })
        .await
    }

    /// Turns `on` on and `off` off for a chat; returns what the chat has afterwards.
    pub async fn update_events(
        &self,
        chat: &Chat,
        on: &[Event],
        off: &[Event],
    ) -> Result<BTreeSet<Event>, StorageError> {
        let key = chat.key();
        let (on, off) = (on.to_vec(), off.to_vec());
        self.with(move |conn| {
            conn.transaction(|tx| {
                for event in off {
                    tx.execute(
                        "DELETE FROM subscriptions WHERE chat = ?1 AND event = ?2",
                        params![&key, event.name()],
                    )?;
                }
                for event in on {
                    tx.execute(
                        "INSERT INTO subscriptions (chat, event) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                        params![&key, event.name()],
                    )?;
                }
                Ok(())
            })
        })
        .await?;
        self.events(chat).await
    }

    /// Every chat with its events.
    pub async fn subscriptions(&self) -> Result<BTreeMap<Chat, BTreeSet<Event>>, StorageError> {
        self.with(|conn| {
            let rows = conn.query("SELECT chat, event FROM subscriptions", &[])?;
            let mut map: BTreeMap<Chat, BTreeSet<Event>> = BTreeMap::new();
            for row in rows {
                let (chat, event) = (row.text(0)?, row.text(1)?);
                if let Ok(event) = event.parse() {
                    map.entry(Chat::from_key(&chat)).or_default().insert(event);
                }
            }
            Ok(map)
        })
        .await
    }

    /// Every chat with a subscription or a watch: the chats the bot would tell something.
    pub async fn subscribed_chats(&self) -> Result<BTreeSet<Chat>, StorageError> {
        self.with(|conn| {
            let rows = conn.query(
                "SELECT chat FROM subscriptions UNION SELECT chat FROM watches",
                &[],
            )?;
            chats_of(&rows)
        })
        .await
    }

    /// Whether anybody could subscribe a chat at the previous start; `true` for a file that
    /// never recorded it, since every version before the record let anybody.
    pub async fn subscribing_was_open(&self) -> Result<bool, StorageError> {
        self.with(|conn| {
            let row = conn.query_opt("SELECT open FROM subscribing WHERE id = 1", &[])?;
            row.map_or(Ok(true), |row| row.flag(0))
        })
        .await
    }

    /// Records whether anybody can subscribe a chat at this start.
    pub async fn record_subscribing(&self, open: bool) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO subscribing (id, open) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET open = excluded.open",
                params![open],
            )?;
            Ok(())
        })
        .await
    }

    /// Forgets a chat entirely (the bot was blocked or removed there).
    pub async fn remove_chat(&self, chat: &Chat) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            for table in CHAT_TABLES {
                conn.execute(
                    &format!("DELETE FROM {table} WHERE chat = ?1"),
                    params![&key],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Moves everything of a group that became a supergroup to its new id.
    pub async fn move_chat(&self, from: &Chat, to: &Chat) -> Result<(), StorageError> {
        let (from, to) = (from.key(), to.key());
        self.with(move |conn| {
            conn.transaction(|tx| {
                move_rows(tx, "subscriptions", "event", &from, &to)?;
                move_rows(tx, "watches", "buildid", &from, &to)?;
                move_rows(tx, "filters", "term", &from, &to)?;
                move_rows(tx, "chat_options", "quiet_repeats", &from, &to)?;
                super::digest::move_digest(tx, &from, &to)
            })
        })
        .await
    }
}

/// The tables with a row per chat: forgetting a chat empties them of it.
const CHAT_TABLES: [&str; 5] = [
    "subscriptions",
    "filters",
    "chat_options",
    "watches",
    "digest",
];

/// Moves a chat's rows of `table` (keyed by `chat` and `column`) to another chat; a row the
/// other chat has already stays as it was there.
fn move_rows(
    tx: &mut Conn,
    table: &str,
    column: &str,
    from: &str,
    to: &str,
) -> Result<(), DbError> {
    tx.execute(
        &format!(
            "INSERT INTO {table} (chat, {column}) SELECT ?2, {column} FROM {table} WHERE chat = ?1
             ON CONFLICT DO NOTHING"
        ),
        params![from, to],
    )?;
    tx.execute(
        &format!("DELETE FROM {table} WHERE chat = ?1"),
        params![from],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::temp_store;

    #[tokio::test]
    async fn subscriptions_survive_reopening() {
        let (dir, store) = temp_store();
        let chat = Chat::Id(-100);
        let events = store
            .update_events(&chat, &[Event::Failure, Event::Started], &[])
            .await
            .unwrap();
        assert_eq!(events, BTreeSet::from([Event::Started, Event::Failure]));
        let events = store
            .update_events(&chat, &[], &[Event::Started])
            .await
            .unwrap();
        assert_eq!(events, BTreeSet::from([Event::Failure]));
        store
            .update_events(&Chat::Channel("@chan".into()), &[Event::Worker], &[])
            .await
            .unwrap();
        drop(store);
        let store = dir.reopen();
        let all = store.subscriptions().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[&Chat::Channel("@chan".into())],
            BTreeSet::from([Event::Worker])
        );
    }

    #[tokio::test]
    async fn chats_move_and_go() {
        let (_dir, store) = temp_store();
        let old = Chat::Id(-5);
        let new = Chat::Id(-1_000_000_000_005);
        store
            .update_events(&old, &[Event::Failure], &[])
            .await
            .unwrap();
        store.add_watch(&old, 7).await.unwrap();
        store.move_chat(&old, &new).await.unwrap();
        assert!(store.events(&old).await.unwrap().is_empty());
        assert_eq!(
            store.events(&new).await.unwrap(),
            BTreeSet::from([Event::Failure])
        );
        assert_eq!(store.watchers(7).await.unwrap(), vec![new.clone()]);
        store.remove_chat(&new).await.unwrap();
        assert!(store.subscriptions().await.unwrap().is_empty());
        assert!(
            store.watchers(7).await.unwrap().is_empty(),
            "its watches go too"
        );
    }

    #[tokio::test]
    async fn who_could_subscribe_is_remembered_and_a_new_record_means_anybody() {
        let (dir, store) = temp_store();
        assert!(
            store.subscribing_was_open().await.unwrap(),
            "never recorded"
        );
        store.record_subscribing(false).await.unwrap();
        assert!(!store.subscribing_was_open().await.unwrap());
        drop(store);
        let store = dir.reopen();
        assert!(
            !store.subscribing_was_open().await.unwrap(),
            "across a restart"
        );
        store.record_subscribing(true).await.unwrap();
        assert!(store.subscribing_was_open().await.unwrap());
    }

    #[tokio::test]
    async fn subscribed_chats_are_those_with_events_or_watches() {
        let (_dir, store) = temp_store();
        store
            .update_events(&Chat::Id(1), &[Event::Failure], &[])
            .await
            .unwrap();
        store
            .update_events(&Chat::Topic(-5, 3), &[Event::Failure, Event::Started], &[])
            .await
            .unwrap();
        store.add_watch(&Chat::Id(2), 7).await.unwrap();
        store.add_watch(&Chat::Id(1), 7).await.unwrap();
        assert_eq!(
            store.subscribed_chats().await.unwrap(),
            BTreeSet::from([Chat::Id(1), Chat::Id(2), Chat::Topic(-5, 3)])
        );
    }
}
