//! The messages sent to groups and channels in the last minute: Telegram allows 20 a minute
//! to each, and counts across restarts, so a restarted bot must know what it sent before.

use super::sql::params;
use super::{StorageError, Store};

/// How long a send counts: Telegram's window, and a little more.
pub const KEPT_MS: i64 = 61_000;

impl Store {
    /// Remembers a send to `chat` (the limiter's key) at `at_ms`, and forgets those older than
    /// the window.
    pub async fn record_send(&self, chat: String, at_ms: i64) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO recent_sends (chat, at_ms) VALUES (?1, ?2)",
                params![chat, at_ms],
            )?;
            conn.execute(
                "DELETE FROM recent_sends WHERE at_ms < ?1",
                params![at_ms - KEPT_MS],
            )?;
            Ok(())
        })
        .await
    }

    /// The sends since `since_ms`, oldest first: `(chat, at_ms)`.
    pub async fn recent_sends(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StorageError> {
        self.with(move |conn| {
            let rows = conn.query(
                "SELECT chat, at_ms FROM recent_sends WHERE at_ms >= ?1 ORDER BY at_ms",
                params![since_ms],
            )?;
            rows.iter()
                .map(|row| Ok((row.text(0)?, row.int(1)?)))
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::temp_store;

    #[tokio::test]
    async fn sends_are_kept_for_a_minute() {
        let (_dir, store) = temp_store();
        store.record_send("-5".into(), 1_000).await.unwrap();
        store.record_send("-5".into(), 30_000).await.unwrap();
        store.record_send("@news".into(), 63_000).await.unwrap();
        let kept = store.recent_sends(0).await.unwrap();
        assert_eq!(
            kept,
            [("-5".to_owned(), 30_000), ("@news".to_owned(), 63_000)],
            "older than 61 s: gone"
        );
        assert_eq!(store.recent_sends(40_000).await.unwrap().len(), 1);
    }
}
