//! Workers reported missing, so that "back online" is said once, and only after "missing".

use super::sql::params;
use super::{StorageError, Store};

impl Store {
    /// Remembers a missing worker; false if it was already known to be missing.
    pub async fn mark_missing(&self, workerid: i64, name: &str) -> Result<bool, StorageError> {
        let name = name.to_owned();
        self.with(move |conn| {
            Ok(conn.execute(
                "INSERT INTO missing_workers (workerid, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![workerid, name],
            )? == 1)
        })
        .await
    }

    /// Forgets a missing worker; true if it had been reported missing.
    pub async fn clear_missing(&self, workerid: i64) -> Result<bool, StorageError> {
        self.with(move |conn| {
            Ok(conn.execute(
                "DELETE FROM missing_workers WHERE workerid = ?1",
                params![workerid],
            )? == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::temp_store;

    #[tokio::test]
    async fn missing_workers() {
        let (_dir, store) = temp_store();
        assert!(store.mark_missing(3, "w").await.unwrap());
        assert!(!store.mark_missing(3, "w").await.unwrap());
        assert!(store.clear_missing(3).await.unwrap());
        assert!(!store.clear_missing(3).await.unwrap());
    }
}
