//! `digest`: the build results of the quiet hours, when `notify.quiet_hours_mode = "digest"`
//! holds them back. They wait here, not in memory, so a restart in the middle of the night
//! (even a SIGKILL) keeps them; when the window ends, each chat's rows become one message in
//! the outbox and are deleted in the same transaction, so a digest is neither lost nor sent
//! twice.

use std::collections::BTreeSet;

use super::sql::{Conn, DbError, Row, params};
use super::{Chat, StorageError, Store, chats_of, outbox};
use crate::outcome::Outcome;

/// What a digest says of one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestEntry {
    pub buildid: i64,
    pub builder: String,
    pub number: i64,
    pub result: Outcome,
    /// The builder's previous result, when the notifier knew it.
    pub previous: Option<Outcome>,
    /// When the build ended (epoch seconds).
    pub complete_at: i64,
    /// Who asked for the build, or whose change it built.
    pub owner: Option<String>,
    /// The build's page in the web UI.
    pub url: String,
}

/// A kept build result and the chat it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRow {
    pub id: i64,
    pub chat: Chat,
    pub entry: DigestEntry,
    /// The chat asked for this result's events (else it is kept to tell the night right:
    /// a pass between failures for a chat that hears failures).
    pub heard: bool,
}

fn read_row(row: &Row) -> Result<DigestRow, DbError> {
    Ok(DigestRow {
        id: row.int(0)?,
        chat: Chat::from_key(&row.text(1)?),
        entry: DigestEntry {
            buildid: row.int(2)?,
            builder: row.text(3)?,
            number: row.int(4)?,
            result: Outcome::from_code(row.int(5)?),
            previous: row.opt_int(6)?.map(Outcome::from_code),
            complete_at: row.int(7)?,
            owner: row.opt_text(8)?,
            url: row.text(9)?,
        },
        heard: row.flag(10)?,
    })
}

impl Store {
    /// Keeps a build's result for the digest of every chat in `chats` (with whether the chat
    /// asked for it), all or none. A build kept twice for a chat (its announcement tried
    /// again) is kept once.
    pub async fn digest_add(
        &self,
        chats: &[(Chat, bool)],
        entry: &DigestEntry,
    ) -> Result<(), StorageError> {
        let keys: Vec<(String, bool)> = chats.iter().map(|(c, h)| (c.key(), *h)).collect();
        let e = entry.clone();
        self.with(move |conn| {
            conn.transaction(|tx| {
                for (key, heard) in keys {
                    tx.execute(
                        "INSERT INTO digest (chat, buildid, builder, number, result, previous, complete_at, owner, url, heard)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
                        params![
                            key,
                            e.buildid,
                            &e.builder,
                            e.number,
                            e.result.code(),
                            e.previous.map(Outcome::code),
                            e.complete_at,
                            e.owner.as_deref(),
                            &e.url,
                            heard
                        ],
                    )?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Every kept result, chat by chat, each chat's in the order they were kept.
    pub async fn digest_waiting(&self) -> Result<Vec<DigestRow>, StorageError> {
        self.with(|conn| {
            let rows = conn.query(
                "SELECT id, chat, buildid, builder, number, result, previous, complete_at, owner, url, heard
                 FROM digest ORDER BY chat, id",
                &[],
            )?;
            rows.iter().map(read_row).collect()
        })
        .await
    }

    /// The chats that keep the result of build `buildid`: an announcement tried again after
    /// the window ended goes on to the digest for them, not to them one by one.
    pub async fn digest_chats_of(&self, buildid: i64) -> Result<BTreeSet<Chat>, StorageError> {
        self.with(move |conn| {
            let rows = conn.query(
                "SELECT chat FROM digest WHERE buildid = ?1",
                params![buildid],
            )?;
            chats_of(&rows)
        })
        .await
    }

    /// Deletes the rows `ids` a digest sums up and, if any was still there, queues `message`
    /// (text, actions) for `chat` in the outbox — in one transaction: a crash leaves either
    /// the rows or the message, never both, never neither; rows another send took already
    /// (or moved with their chat meanwhile and sent there) queue nothing. `None`: the rows go
    /// without a message (a chat that asked for none of them). True when it was queued.
    pub async fn digest_send(
        &self,
        chat: &Chat,
        ids: &[i64],
        message: Option<(&str, Option<&str>)>,
        now: i64,
    ) -> Result<bool, StorageError> {
        let key = chat.key();
        let ids = ids.to_vec();
        let message = message.map(|(text, markup)| (text.to_owned(), markup.map(str::to_owned)));
        self.with(move |conn| {
            conn.transaction(|tx| {
                let mut deleted = 0;
                for id in ids {
                    deleted += tx.execute("DELETE FROM digest WHERE id = ?1", params![id])?;
                }
                let queued = deleted > 0 && message.is_some();
                if let (true, Some((text, markup))) = (queued, &message) {
                    let digest = outbox::Queued {
                        text,
                        markup: markup.as_deref(),
                        live_build: None,
                    };
                    // the morning's one message rings
                    outbox::insert(tx, &key, digest, false, now)?;
                }
                Ok(queued)
            })
        })
        .await
    }
}

/// A group that became a supergroup takes its kept results along (`move_chat`).
pub(super) fn move_digest(tx: &mut Conn, from: &str, to: &str) -> Result<(), DbError> {
    tx.execute(
        "UPDATE digest SET chat = ?2 WHERE chat = ?1 AND NOT EXISTS
         (SELECT 1 FROM digest AS there WHERE there.chat = ?2 AND there.buildid = digest.buildid)",
        params![from, to],
    )?;
    tx.execute("DELETE FROM digest WHERE chat = ?1", params![from])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::temp_store;

    fn entry(buildid: i64, result: Outcome) -> DigestEntry {
        DigestEntry {
            buildid,
            builder: "linux-x64".into(),
            number: buildid + 100,
            result,
            previous: Some(Outcome::Success),
            complete_at: 1_000 + buildid,
            owner: Some("alice".into()),
            url: format!("http://bb.example/#/builders/1/builds/{}", buildid + 100),
        }
    }

    /// Every chat in `chats` asked for the result.
    fn heard(chats: &[&Chat]) -> Vec<(Chat, bool)> {
        chats.iter().map(|c| ((*c).clone(), true)).collect()
    }

    #[tokio::test]
    async fn kept_results_come_back_as_they_went_in_once_per_chat() {
        let (_dir, store) = temp_store();
        let (one, two) = (Chat::Id(1), Chat::Topic(-100, 7));
        let failed = entry(5, Outcome::Failure);
        store
            .digest_add(&[(one.clone(), true), (two.clone(), false)], &failed)
            .await
            .unwrap();
        store.digest_add(&heard(&[&one]), &failed).await.unwrap();
        let odd = DigestEntry {
            previous: None,
            owner: None,
            result: Outcome::Unknown(42),
            ..entry(6, Outcome::Success)
        };
        store.digest_add(&heard(&[&one]), &odd).await.unwrap();
        let rows = store.digest_waiting().await.unwrap();
        let seen: Vec<(&Chat, &DigestEntry, bool)> =
            rows.iter().map(|r| (&r.chat, &r.entry, r.heard)).collect();
        assert_eq!(
            seen,
            [
                (&two, &failed, false),
                (&one, &failed, true),
                (&one, &odd, true)
            ],
            "by chat key"
        );
        assert_eq!(
            store.digest_chats_of(5).await.unwrap(),
            BTreeSet::from([one, two])
        );
    }

    #[tokio::test]
    async fn sending_a_digest_queues_it_and_deletes_what_it_sums_up_at_once() {
        let (_dir, store) = temp_store();
        let (one, two) = (Chat::Id(1), Chat::Id(2));
        store
            .digest_add(&heard(&[&one, &two]), &entry(5, Outcome::Failure))
            .await
            .unwrap();
        let summed = [store.digest_waiting().await.unwrap()[0].id];
        // kept after the digest was composed: not summed up, so not deleted
        store
            .digest_add(&heard(&[&one]), &entry(6, Outcome::Success))
            .await
            .unwrap();
        let message = Some(("🌙 digest", Some("[]")));
        assert!(store.digest_send(&one, &summed, message, 77).await.unwrap());
        let queued = store.outbox_pending(10).await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(
            (&queued[0].chat, queued[0].text.as_str(), queued[0].silent),
            (&one, "🌙 digest", false)
        );
        assert_eq!(queued[0].markup.as_deref(), Some("[]"));
        let left: Vec<(Chat, i64)> = store
            .digest_waiting()
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.chat, r.entry.buildid))
            .collect();
        assert_eq!(left, [(one.clone(), 6), (two, 5)]);
        // the same rows again (another send took them): nothing is queued twice
        assert!(!store.digest_send(&one, &summed, message, 78).await.unwrap());
        // rows of a chat that asked for none: deleted without a message
        let rest = [store.digest_waiting().await.unwrap()[0].id];
        assert!(!store.digest_send(&one, &rest, None, 79).await.unwrap());
        assert_eq!(store.outbox_pending(10).await.unwrap().len(), 1);
        assert_eq!(store.digest_waiting().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_failed_send_leaves_the_rows_and_queues_nothing() {
        let (_dir, store) = temp_store();
        let chat = Chat::Id(1);
        store
            .digest_add(&heard(&[&chat]), &entry(5, Outcome::Failure))
            .await
            .unwrap();
        let ids = [store.digest_waiting().await.unwrap()[0].id];
        // the outbox insert fails half-way (a table gone): the delete is rolled back with it
        store
            .with(|conn| conn.batch("ALTER TABLE outbox RENAME TO outbox_gone;"))
            .await
            .unwrap();
        let sent = store.digest_send(&chat, &ids, Some(("x", None)), 1).await;
        assert!(sent.is_err());
        assert_eq!(store.digest_waiting().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn moved_chats_take_their_results_and_removed_ones_drop_them() {
        let (_dir, store) = temp_store();
        let (group, supergroup, other) = (Chat::Id(-5), Chat::Id(-1_000_000_000_005), Chat::Id(9));
        store
            .digest_add(&heard(&[&group, &other]), &entry(5, Outcome::Failure))
            .await
            .unwrap();
        // the supergroup already kept this build: moving keeps one
        store
            .digest_add(&heard(&[&group, &supergroup]), &entry(6, Outcome::Success))
            .await
            .unwrap();
        store.move_chat(&group, &supergroup).await.unwrap();
        let chats = |rows: Vec<DigestRow>| {
            rows.into_iter()
                .map(|r| (r.chat, r.entry.buildid))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            chats(store.digest_waiting().await.unwrap()),
            [
                (supergroup.clone(), 5),
                (supergroup.clone(), 6),
                (other.clone(), 5)
            ]
        );
        store.remove_chat(&supergroup).await.unwrap();
        assert_eq!(chats(store.digest_waiting().await.unwrap()), [(other, 5)]);
    }
}
