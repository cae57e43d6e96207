//! Notifications waiting to be sent: written before any send, so a restart or a Telegram outage
//! delays them instead of losing them.

use std::collections::BTreeSet;

use super::sql::{Conn, DbError, Dialect, Row, params};
use super::{Chat, StorageError, Store};

/// A notification waiting in the outbox for one chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub chat: Chat,
    pub text: String,
    pub created_at: i64,
    /// What the message offers (`delivery::Action`s as JSON; rows written by 0.1 hold the
    /// inline keyboard itself as Bot API JSON, which delivery still reads).
    pub markup: Option<String>,
    /// Set for a live build message: remember where it went, to edit it later.
    pub live_build: Option<i64>,
    /// Sent without a sound (a repeated failure, a flaky builder's ping-pong).
    pub silent: bool,
}

/// One row of `SELECT {COLUMNS} FROM outbox`.
fn read_row(row: &Row) -> Result<OutboxRow, DbError> {
    Ok(OutboxRow {
        id: row.int(0)?,
        chat: Chat::from_key(&row.text(1)?),
        text: row.text(2)?,
        created_at: row.int(3)?,
        markup: row.opt_text(4)?,
        live_build: row.opt_int(5)?,
        silent: row.flag(6)?,
    })
}

const COLUMNS: &str = "id, chat, text, created_at, markup, live_build, silent";

/// What is queued: the message's text, its actions as JSON, the live build it is the
/// message of.
#[derive(Debug, Clone, Copy)]
pub struct Queued<'a> {
    pub text: &'a str,
    pub markup: Option<&'a str>,
    pub live_build: Option<i64>,
}

impl Store {
    /// Queues one message for several chats, all or none; `silent` for the chats in it
    /// (the same message may arrive silently in some chats and not in others).
    pub async fn outbox_add(
        &self,
        chats: &[Chat],
        message: Queued<'_>,
        silent: &BTreeSet<Chat>,
        now: i64,
    ) -> Result<(), StorageError> {
        let rows: Vec<(String, bool)> = chats
            .iter()
            .map(|c| (c.key(), silent.contains(c)))
            .collect();
        let text = message.text.to_owned();
        let markup = message.markup.map(str::to_owned);
        let live_build = message.live_build;
        self.with(move |conn| {
            let message = Queued {
                text: &text,
                markup: markup.as_deref(),
                live_build,
            };
            conn.transaction(|tx| {
                for (key, silent) in rows {
                    insert(tx, &key, message, silent, now)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// The oldest waiting messages.
    pub async fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxRow>, StorageError> {
        self.with(move |conn| {
            let rows = conn.query(
                &format!("SELECT {COLUMNS} FROM outbox ORDER BY id LIMIT ?1"),
                params![limit as i64],
            )?;
            rows.iter().map(read_row).collect()
        })
        .await
    }

    /// The oldest waiting message of every chat not in `held`, oldest first, at most `limit`;
    /// rows in `skip` are passed over as if gone. This is what the outbox worker may start:
    /// one message per free chat, so that a chat waiting out a backoff (held) never hides the
    /// chats behind it, however many messages it has piled up.
    pub async fn outbox_heads(
        &self,
        held: &[Chat],
        skip: &[i64],
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StorageError> {
        // JSON arrays keep the statement fixed whatever the number of chats held.
        let held = serde_json::to_string(&held.iter().map(Chat::key).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into());
        let skip = serde_json::to_string(skip).unwrap_or_else(|_| "[]".into());
        self.with(move |conn| {
            let (texts, ids) = match conn.dialect() {
                Dialect::Sqlite => (
                    "SELECT value FROM json_each(?1)",
                    "SELECT value FROM json_each(?2)",
                ),
                Dialect::Postgres => (
                    "SELECT json_array_elements_text(CAST(CAST(?1 AS TEXT) AS json))",
                    "SELECT CAST(json_array_elements_text(CAST(CAST(?2 AS TEXT) AS json)) AS BIGINT)",
                ),
            };
            let rows = conn.query(
                &format!(
                    "SELECT {COLUMNS} FROM outbox
                     WHERE id IN (
                         SELECT MIN(id) FROM outbox
                         WHERE chat NOT IN ({texts}) AND id NOT IN ({ids})
                         GROUP BY chat)
                     ORDER BY id LIMIT ?3"
                ),
                params![held, skip, limit as i64],
            )?;
            rows.iter().map(read_row).collect()
        })
        .await
    }

    /// Telegram took the message; a row deleted only now is sent again after a crash, never lost.
    pub async fn outbox_done(&self, id: i64) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute("DELETE FROM outbox WHERE id = ?1", params![id])
                .map(|_| ())
        })
        .await
    }

    /// Sends a waiting message somewhere else (a group that became a supergroup).
    pub async fn outbox_retarget(&self, id: i64, chat: &Chat) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.execute(
                "UPDATE outbox SET chat = ?2 WHERE id = ?1",
                params![id, key],
            )
            .map(|_| ())
        })
        .await
    }

    /// Drops every waiting message of a chat that no longer takes messages.
    pub async fn outbox_drop_chat(&self, chat: &Chat) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.execute("DELETE FROM outbox WHERE chat = ?1", params![key])
                .map(|_| ())
        })
        .await
    }
}

/// Queues one message for the chat whose key is `key`, inside the caller's transaction.
pub(super) fn insert(
    tx: &mut Conn,
    key: &str,
    message: Queued<'_>,
    silent: bool,
    now: i64,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO outbox (chat, text, created_at, markup, live_build, silent) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key, message.text, now, message.markup, message.live_build, silent],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::temp_store;

    fn text(text: &str) -> Queued<'_> {
        Queued {
            text,
            markup: None,
            live_build: None,
        }
    }

    #[tokio::test]
    async fn outbox_keeps_order_and_moves() {
        let (_dir, store) = temp_store();
        store
            .outbox_add(
                &[Chat::Id(1), Chat::Id(-2)],
                text("first"),
                &BTreeSet::from([Chat::Id(-2)]),
                10,
            )
            .await
            .unwrap();
        let second = Queued {
            markup: Some("{}"),
            ..text("second")
        };
        store
            .outbox_add(&[Chat::Id(1)], second, &BTreeSet::new(), 11)
            .await
            .unwrap();
        let rows = store.outbox_pending(10).await.unwrap();
        let silent: Vec<bool> = rows.iter().map(|r| r.silent).collect();
        assert_eq!(silent, [false, true, false], "silent only where asked");
        let texts: Vec<(&Chat, &str)> = rows.iter().map(|r| (&r.chat, r.text.as_str())).collect();
        assert_eq!(
            texts,
            [
                (&Chat::Id(1), "first"),
                (&Chat::Id(-2), "first"),
                (&Chat::Id(1), "second")
            ]
        );
        store
            .outbox_retarget(rows[1].id, &Chat::Id(-1_000_000_000_002))
            .await
            .unwrap();
        store.outbox_done(rows[0].id).await.unwrap();
        store.outbox_drop_chat(&Chat::Id(1)).await.unwrap();
        let rows = store.outbox_pending(10).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].chat, Chat::Id(-1_000_000_000_002));
    }

    #[tokio::test]
    async fn heads_are_the_oldest_row_of_each_free_chat() {
        let (_dir, store) = temp_store();
        let channel = Chat::Channel("@news".into());
        let topic = Chat::Topic(-100, 7);
        for (n, chats) in [
            vec![Chat::Id(1), Chat::Id(2)],
            vec![Chat::Id(1), channel.clone(), topic.clone()],
            vec![Chat::Id(2), Chat::Id(3)],
        ]
        .iter()
        .enumerate()
        {
            let message = format!("m{n}");
            store
                .outbox_add(chats, text(&message), &BTreeSet::new(), 10)
                .await
                .unwrap();
        }
        let heads = |held: Vec<Chat>, skip: Vec<i64>, limit| {
            let store = store.clone();
            async move {
                let rows = store.outbox_heads(&held, &skip, limit).await.unwrap();
                rows.into_iter()
                    .map(|r| (r.chat, r.text))
                    .collect::<Vec<_>>()
            }
        };
        let pair = |chat: &Chat, text: &str| (chat.clone(), text.to_owned());
        assert_eq!(
            heads(vec![], vec![], 10).await,
            [
                pair(&Chat::Id(1), "m0"),
                pair(&Chat::Id(2), "m0"),
                pair(&channel, "m1"),
                pair(&topic, "m1"),
                pair(&Chat::Id(3), "m2"),
            ]
        );
        assert_eq!(
            heads(vec![Chat::Id(1), channel.clone()], vec![], 2).await,
            [pair(&Chat::Id(2), "m0"), pair(&topic, "m1")],
            "held chats are left out, and no more than the limit"
        );
        let first = store.outbox_pending(1).await.unwrap()[0].id;
        assert_eq!(
            heads(vec![Chat::Id(2), topic.clone(), channel], vec![first], 10).await,
            [pair(&Chat::Id(1), "m1"), pair(&Chat::Id(3), "m2")],
            "a skipped row lets its chat's next one through"
        );
    }
}
