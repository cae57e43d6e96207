//! What was already announced, and where the catch-up after a reconnect starts: together they
//! keep a build event from being announced twice or skipped.

use super::sql::params;
use super::watches::end_watches;
use super::{Cursor, StorageError, Store};

/// Which announcement of a build: its start, or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announcement {
    Started,
    Finished,
}

impl Announcement {
    /// As the `announced` table spells it.
    fn key(self) -> &'static str {
        match self {
            Announcement::Started => "started",
            Announcement::Finished => "finished",
        }
    }
}

impl Store {
    /// Records that `kind` of a build is being announced; false when it already was, so the
    /// caller stays quiet.
    pub async fn claim(
        &self,
        buildid: i64,
        kind: Announcement,
        now: i64,
    ) -> Result<bool, StorageError> {
        let kind = kind.key();
        self.with(move |conn| {
            let inserted = conn.execute(
                "INSERT INTO announced (buildid, kind, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![buildid, kind, now],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    /// Claims the end of a build and ends its `/watch`es, in one transaction: the watchers are
    /// read before the announcement and deleted only with its claim, so an announcement that
    /// fails before the claim keeps them for its retry, and one that made it never fires them
    /// again. False when the end was already claimed.
    pub async fn claim_finished(&self, buildid: i64, now: i64) -> Result<bool, StorageError> {
        let kind = Announcement::Finished.key();
        self.with(move |conn| {
            conn.transaction(|tx| {
                let inserted = tx.execute(
                    "INSERT INTO announced (buildid, kind, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    params![buildid, kind, now],
                )?;
                end_watches(tx, buildid)?;
                Ok(inserted == 1)
            })
        })
        .await
    }

    /// Asks without claiming: the pipeline queues a message first and claims after, so that a
    /// crash in between repeats the message instead of losing it.
    pub async fn is_claimed(&self, buildid: i64, kind: Announcement) -> Result<bool, StorageError> {
        let kind = kind.key();
        self.with(move |conn| {
            let row = conn.query_opt(
                "SELECT 1 FROM announced WHERE buildid = ?1 AND kind = ?2",
                params![buildid, kind],
            )?;
            Ok(row.is_some())
        })
        .await
    }

    /// `None` on a fresh file: the first start announces from now on, since history is not news.
    pub async fn cursor(&self) -> Result<Option<Cursor>, StorageError> {
        self.with(|conn| {
            let row = conn.query_opt(
                "SELECT last_buildid, last_complete_at FROM cursor WHERE id = 1",
                &[],
            )?;
            row.map(|row| {
                Ok(Cursor {
                    last_buildid: row.int(0)?,
                    last_complete_at: row.int(1)?,
                })
            })
            .transpose()
        })
        .await
    }

    /// Moves the cursor forward (never back), and forgets announcements far behind it.
    pub async fn advance_cursor(&self, to: Cursor) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO cursor (id, last_buildid, last_complete_at) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET
                     last_buildid = CASE WHEN cursor.last_buildid > ?1 THEN cursor.last_buildid ELSE ?1 END,
                     last_complete_at = CASE WHEN cursor.last_complete_at > ?2 THEN cursor.last_complete_at ELSE ?2 END",
                params![to.last_buildid, to.last_complete_at],
            )?;
            // a week of announcements is plenty to recognise repeats after any outage
            conn.execute(
                "DELETE FROM announced WHERE at < ?1",
                params![to.last_complete_at - 7 * 86_400],
            )?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::temp_store;

    #[tokio::test]
    async fn claims_and_cursor() {
        let (_dir, store) = temp_store();
        assert!(store.claim(1, Announcement::Started, 100).await.unwrap());
        assert!(!store.claim(1, Announcement::Started, 100).await.unwrap());
        assert!(store.claim(1, Announcement::Finished, 100).await.unwrap());
        assert_eq!(store.cursor().await.unwrap(), None);
        store
            .advance_cursor(Cursor {
                last_buildid: 5,
                last_complete_at: 100,
            })
            .await
            .unwrap();
        store
            .advance_cursor(Cursor {
                last_buildid: 3,
                last_complete_at: 200,
            })
            .await
            .unwrap();
        assert_eq!(
            store.cursor().await.unwrap(),
            Some(Cursor {
                last_buildid: 5,
                last_complete_at: 200
            })
        );
    }

    #[tokio::test]
    async fn announcements_a_week_behind_the_cursor_are_forgotten() {
        let (_dir, store) = temp_store();
        assert!(!store.is_claimed(1, Announcement::Finished).await.unwrap());
        store.claim(1, Announcement::Finished, 1_000).await.unwrap();
        store
            .claim(2, Announcement::Finished, 1_000 + 86_400)
            .await
            .unwrap();
        assert!(store.is_claimed(1, Announcement::Finished).await.unwrap());
        assert!(!store.is_claimed(1, Announcement::Started).await.unwrap());
        store
            .advance_cursor(Cursor {
                last_buildid: 2,
                last_complete_at: 1_001 + 7 * 86_400,
            })
            .await
            .unwrap();
        assert!(!store.is_claimed(1, Announcement::Finished).await.unwrap());
        assert!(store.is_claimed(2, Announcement::Finished).await.unwrap());
    }
}
