//! Muted chats: their notifications still arrive, but silently.

use super::sql::params;
use super::{Chat, StorageError, Store};

impl Store {
    /// Notifications to `chat` arrive silently until `until` (epoch seconds); `None` unmutes.
    pub async fn set_muted(&self, chat: &Chat, until: Option<i64>) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            match until {
                Some(until) => conn.execute(
                    "INSERT INTO mutes (chat, until) VALUES (?1, ?2) ON CONFLICT (chat) DO UPDATE SET until = ?2",
                    params![key, until],
                )?,
                None => conn.execute("DELETE FROM mutes WHERE chat = ?1", params![key])?,
            };
            Ok(())
        })
        .await
    }

    /// Until when notifications to `chat` are silent, if they are at `now`.
    pub async fn muted_until(&self, chat: &Chat, now: i64) -> Result<Option<i64>, StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            let row = conn.query_opt(
                "SELECT until FROM mutes WHERE chat = ?1 AND until > ?2",
                params![key, now],
            )?;
            row.map(|row| row.int(0)).transpose()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::temp_store;

    #[tokio::test]
    async fn mutes_end_on_time_or_on_request() {
        let (_dir, store) = temp_store();
        let chat = Chat::Id(1);
        assert_eq!(store.muted_until(&chat, 100).await.unwrap(), None);
        store.set_muted(&chat, Some(200)).await.unwrap();
        assert_eq!(store.muted_until(&chat, 100).await.unwrap(), Some(200));
        assert_eq!(store.muted_until(&Chat::Id(2), 100).await.unwrap(), None);
        assert_eq!(
            store.muted_until(&chat, 200).await.unwrap(),
            None,
            "over at `until`"
        );
        store.set_muted(&chat, Some(300)).await.unwrap();
        assert_eq!(store.muted_until(&chat, 250).await.unwrap(), Some(300));
        store.set_muted(&chat, None).await.unwrap();
        assert_eq!(store.muted_until(&chat, 250).await.unwrap(), None);
    }
}
