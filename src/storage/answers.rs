//! Questions already answered (a Rebuild question's Yes or No), so that a double tap acts
//! once — across a restart, and whichever replica each tap reaches.

use super::sql::params;
use super::{Chat, StorageError, Store};

impl Store {
    /// True the first time the question `message` in `chat` is answered. Answers older than
    /// `keep` seconds are forgotten: by then their question is refused for its age anyway.
    pub async fn first_answer(
        &self,
        chat: &Chat,
        message: i32,
        now: i64,
        keep: i64,
    ) -> Result<bool, StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.execute("DELETE FROM answered WHERE at < ?1", params![now - keep])?;
            let inserted = conn.execute(
                "INSERT INTO answered (chat, message, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![key, message, now],
            )?;
            Ok(inserted == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::temp_store;

    #[tokio::test]
    async fn a_question_counts_its_first_answer_only() {
        let (place, store) = temp_store();
        let group = Chat::Id(-5);
        assert!(store.first_answer(&group, 10, 1_000, 600).await.unwrap());
        let double = store.first_answer(&group, 10, 1_001, 600).await.unwrap();
        assert!(!double, "a double tap");
        assert!(
            store.first_answer(&group, 11, 1_001, 600).await.unwrap(),
            "another question"
        );
        let other = store
            .first_answer(&Chat::Id(7), 10, 1_001, 600)
            .await
            .unwrap();
        assert!(other, "another chat");
        let again = place
            .reopen()
            .first_answer(&group, 10, 1_002, 600)
            .await
            .unwrap();
        assert!(!again, "after a restart too");
        // forgotten once the question is too old to count anyway
        assert!(store.first_answer(&group, 10, 1_601, 600).await.unwrap());
    }
}
