//! Conversations in progress (a /force waiting for its next answer), kept in the storage file
//! when no Redis is configured, so that a restart does not drop them.

use std::sync::Arc;

use super::sql::params;
use super::{StorageError, Store};

/// Conversations (teloxide dialogues) in the same file, as JSON. A state this version cannot
/// read (written by another version) counts as no conversation rather than a stuck chat.
impl<D> teloxide::dispatching::dialogue::Storage<D> for Store
where
    D: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    type Error = StorageError;

    fn remove_dialogue(
        self: Arc<Self>,
        chat_id: teloxide::types::ChatId,
    ) -> futures::future::BoxFuture<'static, Result<(), Self::Error>> {
        Box::pin(async move {
            self.with(move |conn| {
                conn.execute("DELETE FROM dialogues WHERE chat = ?1", params![chat_id.0])
                    .map(|_| ())
            })
            .await
        })
    }

    fn update_dialogue(
        self: Arc<Self>,
        chat_id: teloxide::types::ChatId,
        dialogue: D,
    ) -> futures::future::BoxFuture<'static, Result<(), Self::Error>> {
        Box::pin(async move {
            let json =
                serde_json::to_string(&dialogue).map_err(|e| StorageError::Task(e.to_string()))?;
            self.with(move |conn| {
                conn.execute(
                    "INSERT INTO dialogues (chat, state) VALUES (?1, ?2) ON CONFLICT (chat) DO UPDATE SET state = ?2",
                    params![chat_id.0, json],
                )
                .map(|_| ())
            })
            .await
        })
    }

    fn get_dialogue(
        self: Arc<Self>,
        chat_id: teloxide::types::ChatId,
    ) -> futures::future::BoxFuture<'static, Result<Option<D>, Self::Error>> {
        Box::pin(async move {
            let json: Option<String> = self
                .with(move |conn| {
                    let row = conn.query_opt(
                        "SELECT state FROM dialogues WHERE chat = ?1",
                        params![chat_id.0],
                    )?;
                    row.map(|row| row.text(0)).transpose()
                })
                .await?;
            Ok(json.and_then(|json| match serde_json::from_str(&json) {
                Ok(state) => Some(state),
                Err(error) => {
                    log::warn!(
                        "forgetting an unreadable conversation in chat {}: {error}",
                        chat_id.0
                    );
                    None
                }
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use teloxide::dispatching::dialogue::Storage;
    use teloxide::types::ChatId;

    use super::*;
    use crate::storage::temp_store;

    type Words = Vec<String>;

    #[tokio::test]
    async fn conversations_are_kept_and_unreadable_ones_forgotten() {
        let (_dir, store) = temp_store();
        let store = Arc::new(store);
        let chat = ChatId(-5);
        let get = || <Store as Storage<Words>>::get_dialogue(store.clone(), chat);
        assert_eq!(get().await.unwrap(), None);
        store
            .clone()
            .update_dialogue(chat, vec!["a".to_owned()])
            .await
            .unwrap();
        store
            .clone()
            .update_dialogue(chat, vec!["b".to_owned()])
            .await
            .unwrap();
        assert_eq!(get().await.unwrap(), Some(vec!["b".to_owned()]));
        <Store as Storage<Words>>::remove_dialogue(store.clone(), chat)
            .await
            .unwrap();
        assert_eq!(get().await.unwrap(), None);
        // a state another version wrote, which this one cannot read
        <Store as Storage<u32>>::update_dialogue(store.clone(), chat, 7)
            .await
            .unwrap();
        assert_eq!(get().await.unwrap(), None);
    }
}
