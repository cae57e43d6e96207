//! `/watch`: chats that want to hear when one particular build ends.

use rusqlite::params;

use super::{Chat, StorageError, Store};

impl Store {
    /// Watching a build twice is one watch, so its end is announced once.
    pub async fn add_watch(&self, chat: &Chat, buildid: i64) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO watches (chat, buildid) VALUES (?1, ?2)",
                params![key, buildid],
            )?;
            Ok(())
        })
        .await
    }

    /// The chats watching a build, forgetting the watches: a build finishes once.
    pub async fn take_watchers(&self, buildid: i64) -> Result<Vec<Chat>, StorageError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let chats = {
                let mut statement = tx.prepare("SELECT chat FROM watches WHERE buildid = ?1")?;
                let rows = statement.query_map([buildid], |row| row.get::<_, String>(0))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.execute("DELETE FROM watches WHERE buildid = ?1", [buildid])?;
            tx.commit()?;
            Ok(chats.iter().map(|k| Chat::from_key(k)).collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::temp_store;

    #[tokio::test]
    async fn a_watch_fires_once_per_chat() {
        let (_dir, store) = temp_store();
        store.add_watch(&Chat::Id(1), 7).await.unwrap();
        store.add_watch(&Chat::Id(1), 7).await.unwrap();
        store.add_watch(&Chat::Topic(-100, 3), 7).await.unwrap();
        store.add_watch(&Chat::Id(2), 8).await.unwrap();
        let mut watchers = store.take_watchers(7).await.unwrap();
        watchers.sort();
        assert_eq!(watchers, [Chat::Id(1), Chat::Topic(-100, 3)]);
        assert!(store.take_watchers(7).await.unwrap().is_empty());
        assert_eq!(store.take_watchers(8).await.unwrap(), [Chat::Id(2)]);
    }
}
