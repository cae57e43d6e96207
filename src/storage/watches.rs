//! `/watch`: chats that want to hear when one particular build ends.

use super::sql::{Conn, DbError, params};
use super::{Chat, StorageError, Store, chats_of};

impl Store {
    /// Watching a build twice is one watch, so its end is announced once.
    pub async fn add_watch(&self, chat: &Chat, buildid: i64) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO watches (chat, buildid) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![key, buildid],
            )?;
            Ok(())
        })
        .await
    }

    /// The chats watching a build. Reading leaves the watches in place: they end only with the
    /// claim of the build's end ([`Store::claim_finished`]), so an announcement that fails
    /// half-way still has its watchers when it is tried again.
    pub async fn watchers(&self, buildid: i64) -> Result<Vec<Chat>, StorageError> {
        self.with(move |conn| {
            let rows = conn.query(
                "SELECT chat FROM watches WHERE buildid = ?1",
                params![buildid],
            )?;
            chats_of(&rows)
        })
        .await
    }
}

/// Ends every watch of a build, inside the transaction that claims its end: a build finishes
/// once, so its watches are over exactly when its end is announced.
pub(super) fn end_watches(tx: &mut Conn, buildid: i64) -> Result<(), DbError> {
    tx.execute("DELETE FROM watches WHERE buildid = ?1", params![buildid])?;
    Ok(())
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
        let mut watchers = store.watchers(7).await.unwrap();
        watchers.sort();
        assert_eq!(watchers, [Chat::Id(1), Chat::Topic(-100, 3)]);
        assert!(store.claim_finished(7, 100).await.unwrap());
        assert!(store.watchers(7).await.unwrap().is_empty());
        assert_eq!(store.watchers(8).await.unwrap(), [Chat::Id(2)]);
    }

    #[tokio::test]
    async fn watches_survive_an_announcement_that_failed_before_its_claim() {
        let (_dir, store) = temp_store();
        store.add_watch(&Chat::Id(1), 7).await.unwrap();
        // the first attempt reads its watchers, then fails (the master, the outbox): no claim
        assert_eq!(store.watchers(7).await.unwrap(), [Chat::Id(1)]);
        // the retry finds them again, and its claim ends them
        assert_eq!(store.watchers(7).await.unwrap(), [Chat::Id(1)]);
        assert!(store.claim_finished(7, 100).await.unwrap());
        assert!(store.watchers(7).await.unwrap().is_empty());
        assert!(
            !store.claim_finished(7, 101).await.unwrap(),
            "the end is claimed once"
        );
    }
}
