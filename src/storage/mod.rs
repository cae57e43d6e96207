//! What the bot must remember across restarts, in one SQLite file (`[storage].path`).
//!
//! - which chat wants which notification events, and which builds a chat watches;
//! - which build events were already announced, and where the catch-up after a reconnect
//!   starts (the cursor), so that nothing is announced twice or skipped;
//! - which workers were reported missing, so that "back online" is said once.
//!
//! The schema is versioned with `PRAGMA user_version` and migrated at start. rusqlite is
//! blocking, so every call runs on tokio's blocking pool behind one connection.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use crate::notify::Event;

/// Where a message goes: a numeric chat id, or a public channel's `@username`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Chat {
    Id(i64),
    Channel(String),
    /// A topic (message thread) of a forum supergroup.
    Topic(i64, i32),
}

impl std::fmt::Display for Chat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

impl Chat {
    fn key(&self) -> String {
        match self {
            Chat::Id(id) => id.to_string(),
            Chat::Channel(name) => name.clone(),
            Chat::Topic(id, thread) => format!("{id}/{thread}"),
        }
    }

    fn from_key(key: &str) -> Chat {
        if let Some((id, thread)) = key.split_once('/')
            && let (Ok(id), Ok(thread)) = (id.parse(), thread.parse())
        {
            return Chat::Topic(id, thread);
        }
        key.parse()
            .map_or_else(|_| Chat::Channel(key.to_owned()), Chat::Id)
    }
}

/// Where the catch-up after a (re)connect starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Every build with a larger id is new to the bot.
    pub last_buildid: i64,
    /// Every build that completed at or after this time may not have been announced yet.
    pub last_complete_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "cannot open the storage file {path}: {source}. Check storage.path and that the directory exists and is writable."
    )]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "the storage file {path} is not a usable SQLite database ({detail}). Move it away (the bot starts with empty subscriptions) or restore a backup."
    )]
    Corrupt { path: String, detail: String },
    #[error(
        "the storage file {path} was written by a newer buildbot-telegram (schema {found}, this one knows {known}). Upgrade the bot, or point storage.path elsewhere."
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("storage task failed: {0}")]
    Task(String),
}

/// Schema versions, applied in order; the index + 1 is the `user_version` after each.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE subscriptions (chat TEXT NOT NULL, event TEXT NOT NULL, PRIMARY KEY (chat, event));
     CREATE TABLE watches (chat TEXT NOT NULL, buildid INTEGER NOT NULL, PRIMARY KEY (chat, buildid));
     CREATE TABLE announced (buildid INTEGER NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (buildid, kind));
     CREATE TABLE missing_workers (workerid INTEGER PRIMARY KEY, name TEXT NOT NULL);
          CREATE TABLE cursor (id INTEGER PRIMARY KEY CHECK (id = 1), last_buildid INTEGER NOT NULL, last_complete_at INTEGER NOT NULL);",
        "CREATE TABLE dialogues (chat INTEGER PRIMARY KEY, state TEXT NOT NULL);",
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, chat TEXT NOT NULL, text TEXT NOT NULL, created_at INTEGER NOT NULL);",
        "ALTER TABLE outbox ADD COLUMN markup TEXT;",
        "CREATE TABLE mutes (chat TEXT PRIMARY KEY, until INTEGER NOT NULL);",
    "ALTER TABLE outbox ADD COLUMN live_build INTEGER;
     CREATE TABLE live_messages (buildid INTEGER NOT NULL, chat TEXT NOT NULL, message_id INTEGER NOT NULL, PRIMARY KEY (buildid, chat));",
];

/// A notification waiting in the outbox for one chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub chat: Chat,
    pub text: String,
    pub created_at: i64,
    /// The inline keyboard under the message, as Bot API JSON.
    pub markup: Option<String>,
    /// Set for a live build message: remember where it went, to edit it later.
    pub live_build: Option<i64>,
}

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database; refuses files it cannot trust.
    pub fn open(path: &str) -> Result<Store, StorageError> {
        let open_error = |source| StorageError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(open_error(rusqlite::Error::InvalidPath(
                parent.to_path_buf(),
            )));
        }
        let conn = Connection::open(path).map_err(open_error)?;
        let corrupt = |e: rusqlite::Error| StorageError::Corrupt {
            path: path.to_owned(),
            detail: e.to_string(),
        };
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(corrupt)?;
        if check != "ok" {
            return Err(StorageError::Corrupt {
                path: path.to_owned(),
                detail: check,
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(corrupt)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_error)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(corrupt)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StorageError::TooNew {
                path: path.to_owned(),
                found: version,
                known,
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let write_error = |source| StorageError::Open {
                path: path.to_owned(),
                source,
            };
            conn.execute_batch(&format!(
                "BEGIN; {migration} PRAGMA user_version = {}; COMMIT;",
                index + 1
            ))
            .map_err(write_error)?;
            log::info!("storage {path}: schema migrated to version {}", index + 1);
        }
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StorageError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| StorageError::Task("the storage lock is poisoned".into()))?;
            f(&mut conn).map_err(StorageError::from)
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }

    // -- subscriptions ------------------------------------------------------------------------

    pub async fn events(&self, chat: &Chat) -> Result<BTreeSet<Event>, StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            let mut statement = conn.prepare("SELECT event FROM subscriptions WHERE chat = ?1")?;
            let names = statement.query_map([key], |row| row.get::<_, String>(0))?;
            Ok(names.filter_map(|n| n.ok()?.parse().ok()).collect())
        })
        .await
    }

    /// Turns `on` on and `off` off for a chat; returns what the chat has afterwards.
    pub async fn update_events(
        &self,
        chat: &Chat,
        on: &[Event],
        off: &[Event],
    ) -> Result<BTreeSet<Event>, StorageError> {
        let key = chat.key();
        let (on, off) = (on.to_vec(), off.to_vec());
        self.with(move |conn| {
            let tx = conn.transaction()?;
            for event in off {
                tx.execute(
                    "DELETE FROM subscriptions WHERE chat = ?1 AND event = ?2",
                    params![key, event.name()],
                )?;
            }
            for event in on {
                tx.execute(
                    "INSERT OR IGNORE INTO subscriptions (chat, event) VALUES (?1, ?2)",
                    params![key, event.name()],
                )?;
            }
            tx.commit()
        })
        .await?;
        self.events(chat).await
    }

    /// Every chat with its events.
    pub async fn subscriptions(&self) -> Result<BTreeMap<Chat, BTreeSet<Event>>, StorageError> {
        self.with(|conn| {
            let mut statement = conn.prepare("SELECT chat, event FROM subscriptions")?;
            let rows = statement.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            let mut map: BTreeMap<Chat, BTreeSet<Event>> = BTreeMap::new();
            for row in rows {
                let (chat, event) = row?;
                if let Ok(event) = event.parse() {
                    map.entry(Chat::from_key(&chat)).or_default().insert(event);
                }
            }
            Ok(map)
        })
        .await
    }

    /// Forgets a chat entirely (the bot was blocked or removed there).
    pub async fn remove_chat(&self, chat: &Chat) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.execute("DELETE FROM subscriptions WHERE chat = ?1", [&key])?;
            conn.execute("DELETE FROM watches WHERE chat = ?1", [&key])?;
            Ok(())
        })
        .await
    }

    /// Moves everything of a group that became a supergroup to its new id.
    pub async fn move_chat(&self, from: &Chat, to: &Chat) -> Result<(), StorageError> {
        let (from, to) = (from.key(), to.key());
        self.with(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE OR IGNORE subscriptions SET chat = ?2 WHERE chat = ?1",
                [&from, &to],
            )?;
            tx.execute(
                "UPDATE OR IGNORE watches SET chat = ?2 WHERE chat = ?1",
                [&from, &to],
            )?;
            tx.execute("DELETE FROM subscriptions WHERE chat = ?1", [&from])?;
            tx.execute("DELETE FROM watches WHERE chat = ?1", [&from])?;
            tx.commit()
        })
        .await
    }

    // -- live build messages -------------------------------------------------------------------

    pub async fn live_put(
        &self,
        buildid: i64,
        chat: &Chat,
        message_id: i32,
    ) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO live_messages (buildid, chat, message_id) VALUES (?1, ?2, ?3)",
                params![buildid, key, message_id],
            )
            .map(|_| ())
        })
        .await
    }

    /// The live messages of a build: `(chat, message_id)`.
    pub async fn live_of(&self, buildid: i64) -> Result<Vec<(Chat, i32)>, StorageError> {
        self.with(move |conn| {
            let mut statement =
                conn.prepare("SELECT chat, message_id FROM live_messages WHERE buildid = ?1")?;
            let rows = statement.query_map([buildid], |row| {
                Ok((Chat::from_key(&row.get::<_, String>(0)?), row.get(1)?))
            })?;
            rows.collect()
        })
        .await
    }

    /// Builds that have live messages.
    pub async fn live_builds(&self) -> Result<Vec<i64>, StorageError> {
        self.with(|conn| {
            let mut statement = conn.prepare("SELECT DISTINCT buildid FROM live_messages")?;
            let rows = statement.query_map([], |row| row.get(0))?;
            rows.collect()
        })
        .await
    }

    pub async fn live_drop(&self, buildid: i64) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute("DELETE FROM live_messages WHERE buildid = ?1", [buildid])
                .map(|_| ())
        })
        .await
    }

    // -- mutes --------------------------------------------------------------------------------

    /// Notifications to `chat` arrive silently until `until` (epoch seconds); `None` unmutes.
    pub async fn set_muted(&self, chat: &Chat, until: Option<i64>) -> Result<(), StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            match until {
                Some(until) => conn.execute(
                    "INSERT INTO mutes (chat, until) VALUES (?1, ?2) ON CONFLICT (chat) DO UPDATE SET until = ?2",
                    params![key, until],
                )?,
                None => conn.execute("DELETE FROM mutes WHERE chat = ?1", [key])?,
            };
            Ok(())
        })
        .await
    }

    /// Until when notifications to `chat` are silent, if they are at `now`.
    pub async fn muted_until(&self, chat: &Chat, now: i64) -> Result<Option<i64>, StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            conn.query_row(
                "SELECT until FROM mutes WHERE chat = ?1 AND until > ?2",
                params![key, now],
                |row| row.get(0),
            )
            .optional()
        })
        .await
    }

    // -- watches ------------------------------------------------------------------------------

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

    // -- announcements and the cursor ----------------------------------------------------------

    /// Records that `kind` ("started"/"finished") of a build is being announced; false when it
    /// already was, so the caller stays quiet.
    pub async fn claim(
        &self,
        buildid: i64,
        kind: &'static str,
        now: i64,
    ) -> Result<bool, StorageError> {
        self.with(move |conn| {
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO announced (buildid, kind, at) VALUES (?1, ?2, ?3)",
                params![buildid, kind, now],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    pub async fn is_claimed(&self, buildid: i64, kind: &'static str) -> Result<bool, StorageError> {
        self.with(move |conn| {
            conn.query_row(
                "SELECT 1 FROM announced WHERE buildid = ?1 AND kind = ?2",
                params![buildid, kind],
                |_| Ok(()),
            )
            .optional()
            .map(|row| row.is_some())
        })
        .await
    }

    // -- the outbox ---------------------------------------------------------------------------

    /// Queues one message for several chats, all or none.
    pub async fn outbox_add(
        &self,
        chats: &[Chat],
        text: &str,
        markup: Option<&str>,
        live_build: Option<i64>,
        now: i64,
    ) -> Result<(), StorageError> {
        let keys: Vec<String> = chats.iter().map(Chat::key).collect();
        let text = text.to_owned();
        let markup = markup.map(str::to_owned);
        self.with(move |conn| {
            let tx = conn.transaction()?;
            for key in keys {
                tx.execute(
                                        "INSERT INTO outbox (chat, text, created_at, markup, live_build) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![key, text, now, markup, live_build],
                )?;
            }
            tx.commit()
        })
        .await
    }

    /// The oldest waiting messages.
    pub async fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxRow>, StorageError> {
        self.with(move |conn| {
            let mut statement = conn.prepare(
                "SELECT id, chat, text, created_at, markup, live_build FROM outbox ORDER BY id LIMIT ?1",
            )?;
            let rows = statement.query_map([limit as i64], |row| {
                Ok(OutboxRow {
                    id: row.get(0)?,
                    chat: Chat::from_key(&row.get::<_, String>(1)?),
                    text: row.get(2)?,
                    created_at: row.get(3)?,
                                        markup: row.get(4)?,
                    live_build: row.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    pub async fn outbox_done(&self, id: i64) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute("DELETE FROM outbox WHERE id = ?1", [id])
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
            conn.execute("DELETE FROM outbox WHERE chat = ?1", [key])
                .map(|_| ())
        })
        .await
    }

    pub async fn cursor(&self) -> Result<Option<Cursor>, StorageError> {
        self.with(|conn| {
            conn.query_row(
                "SELECT last_buildid, last_complete_at FROM cursor WHERE id = 1",
                [],
                |row| {
                    Ok(Cursor {
                        last_buildid: row.get(0)?,
                        last_complete_at: row.get(1)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// Moves the cursor forward (never back), and forgets announcements far behind it.
    pub async fn advance_cursor(&self, to: Cursor) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO cursor (id, last_buildid, last_complete_at) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET last_buildid = max(last_buildid, ?1),
                                                last_complete_at = max(last_complete_at, ?2)",
                params![to.last_buildid, to.last_complete_at],
            )?;
            // a week of announcements is plenty to recognise repeats after any outage
            conn.execute(
                "DELETE FROM announced WHERE at < ?1",
                [to.last_complete_at - 7 * 86_400],
            )?;
            Ok(())
        })
        .await
    }

    // -- workers ------------------------------------------------------------------------------

    /// Remembers a missing worker; false if it was already known to be missing.
    pub async fn mark_missing(&self, workerid: i64, name: &str) -> Result<bool, StorageError> {
        let name = name.to_owned();
        self.with(move |conn| {
            Ok(conn.execute(
                "INSERT OR IGNORE INTO missing_workers (workerid, name) VALUES (?1, ?2)",
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
                [workerid],
            )? == 1)
        })
        .await
    }
}

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
                conn.execute("DELETE FROM dialogues WHERE chat = ?1", [chat_id.0])
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
                    conn.query_row(
                        "SELECT state FROM dialogues WHERE chat = ?1",
                        [chat_id.0],
                        |row| row.get(0),
                    )
                    .optional()
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
    use super::*;

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.sqlite").to_str().unwrap()).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn subscriptions_survive_reopening() {
        let (dir, store) = temp_store();
        let chat = Chat::Id(-100);
        let events = store
            .update_events(&chat, &[Event::Failure, Event::Started], &[])
            .await
            .unwrap();
        assert_eq!(events, BTreeSet::from([Event::Started, Event::Failure]));
        let events = store
            .update_events(&chat, &[], &[Event::Started])
            .await
            .unwrap();
        assert_eq!(events, BTreeSet::from([Event::Failure]));
        store
            .update_events(&Chat::Channel("@chan".into()), &[Event::Worker], &[])
            .await
            .unwrap();
        drop(store);
        let store = Store::open(dir.path().join("s.sqlite").to_str().unwrap()).unwrap();
        let all = store.subscriptions().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[&Chat::Channel("@chan".into())],
            BTreeSet::from([Event::Worker])
        );
    }

    #[tokio::test]
    async fn chats_move_and_go() {
        let (_dir, store) = temp_store();
        let old = Chat::Id(-5);
        let new = Chat::Id(-1_000_000_000_005);
        store
            .update_events(&old, &[Event::Failure], &[])
            .await
            .unwrap();
        store.add_watch(&old, 7).await.unwrap();
        store.move_chat(&old, &new).await.unwrap();
        assert!(store.events(&old).await.unwrap().is_empty());
        assert_eq!(
            store.events(&new).await.unwrap(),
            BTreeSet::from([Event::Failure])
        );
        assert_eq!(store.take_watchers(7).await.unwrap(), vec![new.clone()]);
        assert!(
            store.take_watchers(7).await.unwrap().is_empty(),
            "a watch fires once"
        );
        store.remove_chat(&new).await.unwrap();
        assert!(store.subscriptions().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn claims_cursor_and_workers() {
        let (_dir, store) = temp_store();
        assert!(store.claim(1, "started", 100).await.unwrap());
        assert!(!store.claim(1, "started", 100).await.unwrap());
        assert!(store.claim(1, "finished", 100).await.unwrap());
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
        assert!(store.mark_missing(3, "w").await.unwrap());
        assert!(!store.mark_missing(3, "w").await.unwrap());
        assert!(store.clear_missing(3).await.unwrap());
        assert!(!store.clear_missing(3).await.unwrap());
    }

    #[tokio::test]
    async fn outbox_keeps_order_and_moves() {
        let (_dir, store) = temp_store();
        store
            .outbox_add(&[Chat::Id(1), Chat::Id(-2)], "first", None, None, 10)
            .await
            .unwrap();
        store
            .outbox_add(&[Chat::Id(1)], "second", Some("{}"), None, 11)
            .await
            .unwrap();
        let rows = store.outbox_pending(10).await.unwrap();
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

    #[test]
    fn refuses_garbage_and_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.sqlite");
        std::fs::write(
            &garbage,
            b"this is not a database, just some text that is long enough",
        )
        .unwrap();
        let err = Store::open(garbage.to_str().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not a usable SQLite database"), "{err}");

        let newer = dir.path().join("newer.sqlite");
        Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Store::open(newer.to_str().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("newer buildbot-telegram"), "{err}");

        let err = Store::open("/nonexistent-dir/x.sqlite")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("storage.path"), "{err}");
    }
}
