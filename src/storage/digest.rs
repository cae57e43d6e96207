//! `digest`: the build results of the quiet hours, when `notify.quiet_hours_mode = "digest"`
//! holds them back. They wait here, not in memory, so a restart in the middle of the night
//! (even a SIGKILL) keeps them; when the window ends, each chat's rows become one message in
//! the outbox and are deleted in the same transaction, so a digest is neither lost nor sent
//! twice.

use rusqlite::{Transaction, params};

use super::{Chat, StorageError, Store, outbox};
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
}

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DigestRow> {
    Ok(DigestRow {
        id: row.get(0)?,
        chat: Chat::from_key(&row.get::<_, String>(1)?),
        entry: DigestEntry {
            buildid: row.get(2)?,
            builder: row.get(3)?,
            number: row.get(4)?,
            result: Outcome::from_code(row.get(5)?),
            previous: row.get::<_, Option<i64>>(6)?.map(Outcome::from_code),
            complete_at: row.get(7)?,
            owner: row.get(8)?,
            url: row.get(9)?,
        },
    })
}

impl Store {
    /// Keeps a build's result for the digest of every chat in `chats`, all or none. A build
    /// kept twice for a chat (its announcement tried again) is kept once.
    pub async fn digest_add(
        &self,
        chats: &[Chat],
        entry: &DigestEntry,
    ) -> Result<(), StorageError> {
        let keys: Vec<String> = chats.iter().map(Chat::key).collect();
        let e = entry.clone();
        self.with(move |conn| {
            let tx = conn.transaction()?;
            for key in keys {
                tx.execute(
                    "INSERT OR IGNORE INTO digest (chat, buildid, builder, number, result, previous, complete_at, owner, url)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        key,
                        e.buildid,
                        e.builder,
                        e.number,
                        e.result.code(),
                        e.previous.map(Outcome::code),
                        e.complete_at,
                        e.owner,
                        e.url
                    ],
                )?;
            }
            tx.commit()
        })
        .await
    }

    /// Every kept result, chat by chat, each chat's in the order they were kept.
    pub async fn digest_waiting(&self) -> Result<Vec<DigestRow>, StorageError> {
        self.with(|conn| {
            let mut statement = conn.prepare(
                "SELECT id, chat, buildid, builder, number, result, previous, complete_at, owner, url
                 FROM digest ORDER BY chat, id",
            )?;
            let rows = statement.query_map([], read_row)?;
            rows.collect()
        })
        .await
    }

    /// Queues `chat`'s digest in the outbox and deletes the rows it sums up (those up to
    /// `through`; one kept meanwhile waits for the next), in one transaction: a crash leaves
    /// either the rows or the message, never both, never neither.
    pub async fn digest_send(
        &self,
        chat: &Chat,
        through: i64,
        text: &str,
        markup: Option<&str>,
        now: i64,
    ) -> Result<(), StorageError> {
        let key = chat.key();
        let (text, markup) = (text.to_owned(), markup.map(str::to_owned));
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let digest = outbox::Queued {
                text: &text,
                markup: markup.as_deref(),
                live_build: None,
            };
            // the morning's one message rings
            outbox::insert(&tx, &key, digest, false, now)?;
            tx.execute(
                "DELETE FROM digest WHERE chat = ?1 AND id <= ?2",
                params![key, through],
            )?;
            tx.commit()
        })
        .await
    }
}

/// A group that became a supergroup takes its kept results along (`move_chat`).
pub(super) fn move_digest(tx: &Transaction<'_>, from: &str, to: &str) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE OR IGNORE digest SET chat = ?2 WHERE chat = ?1",
        [from, to],
    )?;
    tx.execute("DELETE FROM digest WHERE chat = ?1", [from])?;
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

    #[tokio::test]
    async fn kept_results_come_back_as_they_went_in_once_per_chat() {
        let (_dir, store) = temp_store();
        let (one, two) = (Chat::Id(1), Chat::Topic(-100, 7));
        let failed = entry(5, Outcome::Failure);
        store
            .digest_add(&[one.clone(), two.clone()], &failed)
            .await
            .unwrap();
        store
            .digest_add(std::slice::from_ref(&one), &failed)
            .await
            .unwrap();
        let odd = DigestEntry {
            previous: None,
            owner: None,
            result: Outcome::Unknown(42),
            ..entry(6, Outcome::Success)
        };
        store
            .digest_add(std::slice::from_ref(&one), &odd)
            .await
            .unwrap();
        let rows = store.digest_waiting().await.unwrap();
        let seen: Vec<(&Chat, &DigestEntry)> = rows.iter().map(|r| (&r.chat, &r.entry)).collect();
        assert_eq!(
            seen,
            [(&two, &failed), (&one, &failed), (&one, &odd)],
            "by chat key"
        );
    }

    #[tokio::test]
    async fn sending_a_digest_queues_it_and_deletes_what_it_sums_up_at_once() {
        let (_dir, store) = temp_store();
        let (one, two) = (Chat::Id(1), Chat::Id(2));
        store
            .digest_add(&[one.clone(), two.clone()], &entry(5, Outcome::Failure))
            .await
            .unwrap();
        let through = store.digest_waiting().await.unwrap()[0].id;
        // kept after the digest was composed: not summed up, so not deleted
        store
            .digest_add(std::slice::from_ref(&one), &entry(6, Outcome::Success))
            .await
            .unwrap();
        store
            .digest_send(&one, through, "🌙 digest", Some("[]"), 77)
            .await
            .unwrap();
        let queued = store.outbox_pending(10).await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(
            (&queued[0].chat, queued[0].text.as_str()),
            (&one, "🌙 digest")
        );
        assert_eq!(queued[0].markup.as_deref(), Some("[]"));
        let left: Vec<(Chat, i64)> = store
            .digest_waiting()
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.chat, r.entry.buildid))
            .collect();
        assert_eq!(left, [(one, 6), (two, 5)]);
    }

    #[tokio::test]
    async fn a_failed_send_leaves_the_rows_and_queues_nothing() {
        let (_dir, store) = temp_store();
        let chat = Chat::Id(1);
        store
            .digest_add(std::slice::from_ref(&chat), &entry(5, Outcome::Failure))
            .await
            .unwrap();
        let through = store.digest_waiting().await.unwrap()[0].id;
        // the outbox insert fails half-way (a table gone): the delete is rolled back with it
        store
            .with(|conn| conn.execute_batch("ALTER TABLE outbox RENAME TO outbox_gone;"))
            .await
            .unwrap();
        assert!(
            store
                .digest_send(&chat, through, "x", None, 1)
                .await
                .is_err()
        );
        assert_eq!(store.digest_waiting().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn moved_chats_take_their_results_and_removed_ones_drop_them() {
        let (_dir, store) = temp_store();
        let (group, supergroup, other) = (Chat::Id(-5), Chat::Id(-1_000_000_000_005), Chat::Id(9));
        store
            .digest_add(&[group.clone(), other.clone()], &entry(5, Outcome::Failure))
            .await
            .unwrap();
        // the supergroup already kept this build: moving keeps one
        store
            .digest_add(
                &[group.clone(), supergroup.clone()],
                &entry(6, Outcome::Success),
            )
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
