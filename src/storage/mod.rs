//! What the bot must remember across restarts: in one SQLite file, or in a PostgreSQL database
//! that several replicas share (`[storage].url`).
//!
//! - which chat wants which notification events, and which builds a chat watches;
//! - which build events were already announced, and where the catch-up after a reconnect
//!   starts (the cursor), so that nothing is announced twice or skipped;
//! - which workers were reported missing, so that "back online" is said once.
//!
//! The schema is versioned (`PRAGMA user_version` in SQLite, a `schema_version` table in
//! PostgreSQL) and migrated at start. Every query is written once for both databases
//! (`sql.rs`); both clients block, so every call runs on tokio's blocking pool behind one
//! connection.
//!
//! Every table has one file that owns its queries, each an `impl Store` block, so that a
//! change to one table is a change to one file:
//!
//! | table             | what it remembers                                      | file               |
//! |-------------------|--------------------------------------------------------|--------------------|
//! | `subscriptions`   | the events each chat asked for                         | `subscriptions.rs` |
//! | `watches`         | the chats waiting for the end of one build (`/watch`)  | `watches.rs`       |
//! | `announced`       | the build events already announced                     | `announcements.rs` |
//! | `cursor`          | where the catch-up after a reconnect starts            | `announcements.rs` |
//! | `missing_workers` | the workers reported missing                           | `workers.rs`       |
//! | `dialogues`       | teloxide conversations in progress                     | `dialogues.rs`     |
//! | `outbox`          | notifications not delivered yet                        | `outbox.rs`        |
//! | `mutes`           | until when a chat gets its notifications silently      | `mutes.rs`         |
//! | `live_messages`   | where each live build message went, to edit it later   | `live.rs`          |
//! | `subscribing`     | whether anybody could subscribe at the last start      | `subscriptions.rs` |
//! | `filters`         | which builders, tags and branches a chat hears about   | `filters.rs`       |
//! | `chat_options`    | whether a chat hears repeated failures without a sound | `options.rs`       |
//! | `digest`          | build results of the quiet hours, for the digest       | `digest.rs`        |
//! | `lease`           | which replica is the active one (PostgreSQL only)      | `lease.rs`         |
//! | `answered`        | Rebuild questions already answered (one build a tap)   | `answers.rs`       |
//! | `budget`          | every replica's sends, for Telegram's limits (PG only) | `budget.rs`        |
//!
//! `schema.rs` opens the file and holds the migrations that create the tables. Forgetting or
//! moving a chat (`subscriptions.rs`) takes its `watches`, filters, options and kept `digest`
//! results along, so none outlives its chat; claiming a build's end (`announcements.rs`) ends
//! the build's watches in the same
//! transaction, so a watch ends exactly when its announcement is made.

mod announcements;
mod answers;
mod budget;
mod dialogues;
mod digest;
mod filters;
mod lease;
mod live;
mod mutes;
mod options;
mod outbox;
mod schema;
pub mod sends;
mod sql;
mod subscriptions;
mod watches;
mod workers;

use std::sync::Arc;

use tokio::sync::Mutex;

use sql::{Conn, DbError};

pub use announcements::Announcement;
pub use digest::{DigestEntry, DigestRow};
pub use lease::Holder;
pub use outbox::{OutboxRow, Queued};
pub use schema::describe;

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
    /// The text every `chat` column holds: one column serves ids, channels and topics.
    fn key(&self) -> String {
        match self {
            Chat::Id(id) => id.to_string(),
            Chat::Channel(name) => name.clone(),
            Chat::Topic(id, thread) => format!("{id}/{thread}"),
        }
    }

    /// Reads a [`Chat::key`] back. Whatever is not a number (or `number/number`) is taken for a
    /// channel name, so no stored row is ever dropped for failing to parse.
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

/// The chats in the first column of `rows`.
fn chats_of<C: FromIterator<Chat>>(rows: &[sql::Row]) -> Result<C, DbError> {
    rows.iter()
        .map(|row| Ok(Chat::from_key(&row.text(0)?)))
        .collect()
}

/// Where the catch-up after a (re)connect starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Every build with a larger id is new to the bot.
    pub last_buildid: i64,
    /// Every build that completed at or after this time may not have been announced yet.
    pub last_complete_at: i64,
}

/// The open errors end with what to do, because they reach the operator verbatim at start and
/// in `check`.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "cannot open the storage file {path}: {source}. Check storage.url and that the directory exists and is writable."
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
        "the storage file {path} is locked by another process, most likely another buildbot-telegram using the same file. Stop it, or give each bot its own storage.url (replicas share a PostgreSQL database, not one SQLite file). The file itself is fine: do not move it away."
    )]
    Locked { path: String },
    #[error(
        "the storage file {path} cannot be written ({detail}): check the permissions of the file and of its directory, and that the file system is not mounted read-only. The file itself is fine: do not move it away."
    )]
    ReadOnly { path: String, detail: String },
    #[error(
        "the disk holding the storage file {path} is full: free some space and start again. The file itself is fine: do not move it away."
    )]
    DiskFull { path: String },
    #[error(
        "the storage file {path} was written by a newer buildbot-telegram (schema {found}, this one knows {known}). Upgrade the bot, or point storage.url elsewhere."
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error(
        "cannot use the PostgreSQL database {target}: {detail}. Check storage.url (host, port, database, user and password), and that the server runs and lets this host in."
    )]
    Connect { target: String, detail: String },
    #[error(
        "the PostgreSQL database {target} was written by a newer buildbot-telegram (schema {found}, this one knows {known}). Upgrade every replica to the same version."
    )]
    TooNewDatabase {
        target: String,
        found: i64,
        known: i64,
    },
    #[error("storage error: {0}")]
    Query(#[from] DbError),
    #[error("storage task failed: {0}")]
    Task(String),
}

/// Clones share the one connection: SQLite takes one writer at a time anyway, and one
/// connection keeps every caller's writes in one order.
///
/// SQLite's connection is behind an async mutex, taken before the blocking pool is asked for
/// a thread: callers wait for their turn as tasks (a few bytes each), not as blocked threads.
/// With a lock taken on the pool instead, 2,000 chats writing at once kept tokio's 512
/// blocking threads busy waiting, and the memory their stacks and malloc arenas took stayed
/// after they were gone.
///
/// PostgreSQL's connection lives on a thread of its own that takes the calls in turn: its
/// client drives a little runtime of its own, which may not run on tokio's threads.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Arc<Mutex<Conn>>),
    Postgres(std::sync::mpsc::Sender<Job>),
}

/// A call waiting for the PostgreSQL connection's thread.
type Job = Box<dyn FnOnce(&mut Conn) + Send>;

impl Store {
    /// Runs `f` with the connection off tokio's workers, because both clients block and
    /// would otherwise stall the async workers that also serve Telegram and Buildbot.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, StorageError> {
        match &self.backend {
            Backend::Sqlite(conn) => {
                let mut conn = conn.clone().lock_owned().await;
                tokio::task::spawn_blocking(move || f(&mut conn).map_err(StorageError::from))
                    .await
                    .map_err(|e| StorageError::Task(e.to_string()))?
            }
            Backend::Postgres(jobs) => {
                let (done, answer) = tokio::sync::oneshot::channel();
                let job: Job = Box::new(move |conn| {
                    // a caller that is gone (a send given up, a task aborted) wants nothing
                    if !done.is_closed() {
                        let _ = done.send(f(conn));
                    }
                });
                let gone =
                    || StorageError::Task("the PostgreSQL connection's thread is gone".into());
                jobs.send(job).map_err(|_| gone())?;
                Ok(answer.await.map_err(|_| gone())??)
            }
        }
    }
}

/// A store in a directory that lives as long as the returned guard, for the tests of every table.
///
/// With `BBTG_TEST_POSTGRES_URL` set (a server's URL whose user may create databases), each
/// store is a new database on that server instead: every table's tests then run on PostgreSQL.
#[cfg(test)]
fn temp_store() -> (TestPlace, Store) {
    let dir = tempfile::tempdir().unwrap();
    let location = match std::env::var("BBTG_TEST_POSTGRES_URL") {
        Ok(server) => test_database(&server),
        Err(_) => dir.path().join("s.sqlite").to_str().unwrap().to_owned(),
    };
    let store = Store::open(&location).unwrap();
    (
        TestPlace {
            _dir: dir,
            location,
        },
        store,
    )
}

/// Where a test's store lives, for as long as the test holds it.
#[cfg(test)]
struct TestPlace {
    _dir: tempfile::TempDir,
    location: String,
}

#[cfg(test)]
impl TestPlace {
    /// The store opened again, as after a restart.
    fn reopen(&self) -> Store {
        Store::open(&self.location).unwrap()
    }
}

/// A new, empty database on the PostgreSQL server `server`: its URL.
#[cfg(test)]
fn test_database(server: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "unit_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (server_url, create) = (server.to_owned(), format!("CREATE DATABASE {name}"));
    // the blocking client may not run on a thread that drives tokio
    std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&server_url, postgres::NoTls).unwrap();
        admin.batch_execute(&create).unwrap();
    })
    .join()
    .unwrap();
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(&name);
    url.to_string()
}
