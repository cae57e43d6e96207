//! Live build messages: one message per build and chat, edited while the build runs.

use super::sql::params;
use super::{Chat, StorageError, Store};

impl Store {
    /// Replaces an earlier message of the same build in the same chat: only the newest one is
    /// worth editing.
    pub async fn live_put(
        &self,
        buildid: i64,
        chat: &Chat,
        message_id: i32,
    ) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO live_messages (buildid, chat, message_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (buildid, chat) DO UPDATE SET message_id = excluded.message_id",
                params![buildid, key, message_id],
            )
            .map(|_| ())
        })
        .await
    }

    /// The live messages of a build: `(chat, message_id)`.
    pub async fn live_of(&self, buildid: i64) -> Result<Vec<(Chat, i32)>, StorageError> {
        self.with(move |conn| {
            let rows = conn.query(
                "SELECT chat, message_id FROM live_messages WHERE buildid = ?1",
                params![buildid],
            )?;
            rows.iter()
                .map(|row| {
                    let id = row.int(1)?;
                    // written from an i32 by live_put
                    Ok((Chat::from_key(&row.text(0)?), id as i32))
                })
                .collect()
        })
        .await
    }

    /// Builds that have live messages.
    pub async fn live_builds(&self) -> Result<Vec<i64>, StorageError> {
        self.with(|conn| {
            let rows = conn.query("SELECT DISTINCT buildid FROM live_messages", &[])?;
            rows.iter().map(|row| row.int(0)).collect()
        })
        .await
    }

    /// Once a build's messages show its result (or the build is gone), nothing edits them again.
    pub async fn live_drop(&self, buildid: i64) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute(
                "DELETE FROM live_messages WHERE buildid = ?1",
                params![buildid],
            )
            .map(|_| ())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::temp_store;

    #[tokio::test]
    async fn one_live_message_per_build_and_chat() {
        let (_dir, store) = temp_store();
        store.live_put(7, &Chat::Id(1), 10).await.unwrap();
        store.live_put(7, &Chat::Id(1), 11).await.unwrap();
        store.live_put(7, &Chat::Topic(-100, 3), 12).await.unwrap();
        store.live_put(8, &Chat::Id(1), 13).await.unwrap();
        let mut of_7 = store.live_of(7).await.unwrap();
        of_7.sort();
        assert_eq!(of_7, [(Chat::Id(1), 11), (Chat::Topic(-100, 3), 12)]);
        let mut builds = store.live_builds().await.unwrap();
        builds.sort();
        assert_eq!(builds, [7, 8]);
        store.live_drop(7).await.unwrap();
        assert!(store.live_of(7).await.unwrap().is_empty());
        assert_eq!(store.live_builds().await.unwrap(), [8]);
    }
}
