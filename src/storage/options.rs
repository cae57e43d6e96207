//! What a chat chose for itself beyond its events and filters: whether repeated failures
//! arrive without a sound (`/notify quiet-repeats`). A chat that never chose has no row and
//! gets the settings' default.

use std::collections::BTreeMap;

use super::sql::params;
use super::{Chat, StorageError, Store};

impl Store {
    /// A chat's choice: repeated failures without a sound, or with.
    pub async fn set_quiet_repeats(&self, chat: &Chat, quiet: bool) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO chat_options (chat, quiet_repeats) VALUES (?1, ?2)
                 ON CONFLICT (chat) DO UPDATE SET quiet_repeats = excluded.quiet_repeats",
                params![key, quiet],
            )
            .map(|_| ())
        })
        .await
    }

    /// One chat's choice, if it made one.
    pub async fn quiet_repeats_of(&self, chat: &Chat) -> Result<Option<bool>, StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            let row = conn.query_opt(
                "SELECT quiet_repeats FROM chat_options WHERE chat = ?1",
                params![key],
            )?;
            row.map(|row| row.flag(0)).transpose()
        })
        .await
    }

    /// The chats that chose, with their choice.
    pub async fn quiet_repeats(&self) -> Result<BTreeMap<Chat, bool>, StorageError> {
        self.with(|conn| {
            let rows = conn.query("SELECT chat, quiet_repeats FROM chat_options", &[])?;
            rows.iter()
                .map(|row| Ok((Chat::from_key(&row.text(0)?), row.flag(1)?)))
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::temp_store;
    use super::*;

    #[tokio::test]
    async fn a_choice_is_kept_changed_moved_and_dropped_with_the_chat() {
        let (_dir, store) = temp_store();
        let (group, supergroup) = (Chat::Id(-5), Chat::Id(-1_000_000_000_005));
        assert!(store.quiet_repeats().await.unwrap().is_empty());
        store.set_quiet_repeats(&group, true).await.unwrap();
        store.set_quiet_repeats(&Chat::Id(7), true).await.unwrap();
        store.set_quiet_repeats(&Chat::Id(7), false).await.unwrap();
        assert_eq!(
            store.quiet_repeats().await.unwrap(),
            BTreeMap::from([(group.clone(), true), (Chat::Id(7), false)])
        );
        assert_eq!(store.quiet_repeats_of(&group).await.unwrap(), Some(true));
        assert_eq!(store.quiet_repeats_of(&Chat::Id(8)).await.unwrap(), None);
        store.move_chat(&group, &supergroup).await.unwrap();
        store.remove_chat(&Chat::Id(7)).await.unwrap();
        assert_eq!(
            store.quiet_repeats().await.unwrap(),
            BTreeMap::from([(supergroup, true)])
        );
    }
}
