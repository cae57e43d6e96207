//! Which chat wants which events, and the chat's whole lifecycle (forgotten, or moved when a
//! group becomes a supergroup), which also covers its watches.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{OptionalExtension, params};

use super::{Chat, StorageError, Store};
use crate::event::Event;

impl Store {
    /// Names this version does not know (a row written by another version) are skipped, so
    /// one odd row does not cost the chat its other events.
    pub async fn events(&self, chat: &Chat) -> Result<BTreeSet<Event>, StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            let mut statement = conn.prepare("SELECT event FROM subscriptions WHERE chat = ?1")?;
            let names = statement.query_map([key], |row| row.get::<_, String>(0))?;
            Ok(names.filter_map(|n| n.ok()?.parse().ok()).collect())
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
            let tx = conn.transaction()?;
            for event in off {
                tx.execute(
                    "DELETE FROM subscriptions WHERE chat = ?1 AND event = ?2",
                    params![key, event.name()],
                )?;
            }
            for event in on {
                tx.execute(
                    "INSERT OR IGNORE INTO subscriptions (chat, event) VALUES (?1, ?2)",
                    params![key, event.name()],
                )?;
            }
            tx.commit()
        })
        .await?;
        self.events(chat).await
    }

    /// Every chat with its events.
    pub async fn subscriptions(&self) -> Result<BTreeMap<Chat, BTreeSet<Event>>, StorageError> {
        self.with(|conn| {
            let mut statement = conn.prepare("SELECT chat, event FROM subscriptions")?;
            let rows = statement.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            let mut map: BTreeMap<Chat, BTreeSet<Event>> = BTreeMap::new();
            for row in rows {
                let (chat, event) = row?;
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
            let mut statement =
                conn.prepare("SELECT chat FROM subscriptions UNION SELECT chat FROM watches")?;
            let keys = statement.query_map([], |row| row.get::<_, String>(0))?;
            let keys = keys.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(keys.iter().map(|k| Chat::from_key(k)).collect())
        })
        .await
    }

    /// Whether anybody could subscribe a chat at the previous start; `true` for a file that
    /// never recorded it, since every version before the record let anybody.
    pub async fn subscribing_was_open(&self) -> Result<bool, StorageError> {
        self.with(|conn| {
            let open = conn
                .query_row("SELECT open FROM subscribing WHERE id = 1", [], |row| {
                    row.get::<_, bool>(0)
                })
                .optional()?;
            Ok(open.unwrap_or(true))
        })
        .await
    }

    /// Records whether anybody can subscribe a chat at this start.
    pub async fn record_subscribing(&self, open: bool) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO subscribing (id, open) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET open = excluded.open",
                [open],
            )?;
            Ok(())
        })
        .await
    }

    /// Forgets a chat entirely (the bot was blocked or removed there).
    pub async fn remove_chat(&self, chat: &Chat) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.execute("DELETE FROM subscriptions WHERE chat = ?1", [&key])?;
            conn.execute("DELETE FROM filters WHERE chat = ?1", [&key])?;
            conn.execute("DELETE FROM chat_options WHERE chat = ?1", [&key])?;
            conn.execute("DELETE FROM watches WHERE chat = ?1", [&key])?;
            conn.execute("DELETE FROM digest WHERE chat = ?1", [&key])?;
            Ok(())
        })
        .await
    }

    /// Moves everything of a group that became a supergroup to its new id.
    pub async fn move_chat(&self, from: &Chat, to: &Chat) -> Result<(), StorageError> {
        let (from, to) = (from.key(), to.key());
        self.with(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE OR IGNORE subscriptions SET chat = ?2 WHERE chat = ?1",
                [&from, &to],
            )?;
            tx.execute(
                "UPDATE OR IGNORE watches SET chat = ?2 WHERE chat = ?1",
                [&from, &to],
            )?;
            tx.execute(
                "UPDATE OR IGNORE filters SET chat = ?2 WHERE chat = ?1",
                [&from, &to],
            )?;
            tx.execute(
                "UPDATE OR IGNORE chat_options SET chat = ?2 WHERE chat = ?1",
                [&from, &to],
            )?;
            tx.execute("DELETE FROM subscriptions WHERE chat = ?1", [&from])?;
            tx.execute("DELETE FROM filters WHERE chat = ?1", [&from])?;
            tx.execute("DELETE FROM chat_options WHERE chat = ?1", [&from])?;
            tx.execute("DELETE FROM watches WHERE chat = ?1", [&from])?;
            super::digest::move_digest(&tx, &from, &to)?;
            tx.commit()
        })
        .await
    }
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
        let store = Store::open(dir.path().join("s.sqlite").to_str().unwrap()).unwrap();
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
        let store = Store::open(dir.path().join("s.sqlite").to_str().unwrap()).unwrap();
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
