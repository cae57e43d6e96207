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
