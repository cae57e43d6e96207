//! Opening the database and bringing its schema up to date.
//!
//! `PRAGMA user_version` counts the migrations a SQLite file has run, the `schema_version`
//! table those a PostgreSQL database has, so a migration that shipped is never edited or
//! reordered: new ones go at the end of [`MIGRATIONS`] and [`PG_MIGRATIONS`]. PostgreSQL
//! started later, so its first migration is the whole schema of its day; the two lists count
//! separately.

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;

use super::sql::{Conn, Pg};
use super::{Backend, Job, StorageError, Store};

/// How long a second process waits for the file's lock before the start is refused.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

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
    "CREATE TABLE recent_sends (chat TEXT NOT NULL, at_ms INTEGER NOT NULL);
     CREATE INDEX recent_sends_at ON recent_sends (at_ms);",
    "CREATE TABLE subscribing (id INTEGER PRIMARY KEY CHECK (id = 1), open INTEGER NOT NULL);",
    "CREATE TABLE filters (chat TEXT NOT NULL, term TEXT NOT NULL, PRIMARY KEY (chat, term));",
    "ALTER TABLE outbox ADD COLUMN silent INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE chat_options (chat TEXT PRIMARY KEY, quiet_repeats INTEGER NOT NULL);",
    "CREATE TABLE digest (id INTEGER PRIMARY KEY AUTOINCREMENT, chat TEXT NOT NULL, buildid INTEGER NOT NULL, builder TEXT NOT NULL, number INTEGER NOT NULL, result INTEGER NOT NULL, previous INTEGER, complete_at INTEGER NOT NULL, owner TEXT, url TEXT NOT NULL, heard INTEGER NOT NULL DEFAULT 1, UNIQUE (chat, buildid));",
    "CREATE TABLE answered (chat TEXT NOT NULL, message INTEGER NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (chat, message));",
];

/// Schema versions of a PostgreSQL database, as [`MIGRATIONS`] for SQLite. Every integer is a
/// `BIGINT`, so the queries bind and read the same 64-bit integers as in SQLite.
const PG_MIGRATIONS: &[&str] = &[
    "CREATE TABLE subscriptions (chat TEXT NOT NULL, event TEXT NOT NULL, PRIMARY KEY (chat, event));
     CREATE TABLE watches (chat TEXT NOT NULL, buildid BIGINT NOT NULL, PRIMARY KEY (chat, buildid));
     CREATE TABLE announced (buildid BIGINT NOT NULL, kind TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (buildid, kind));
     CREATE TABLE missing_workers (workerid BIGINT PRIMARY KEY, name TEXT NOT NULL);
     CREATE TABLE cursor (id BIGINT PRIMARY KEY CHECK (id = 1), last_buildid BIGINT NOT NULL, last_complete_at BIGINT NOT NULL);
     CREATE TABLE dialogues (chat BIGINT PRIMARY KEY, state TEXT NOT NULL);
     CREATE TABLE outbox (id BIGSERIAL PRIMARY KEY, chat TEXT NOT NULL, text TEXT NOT NULL, created_at BIGINT NOT NULL, markup TEXT, live_build BIGINT, silent BIGINT NOT NULL DEFAULT 0);
     CREATE TABLE mutes (chat TEXT PRIMARY KEY, until BIGINT NOT NULL);
     CREATE TABLE live_messages (buildid BIGINT NOT NULL, chat TEXT NOT NULL, message_id BIGINT NOT NULL, PRIMARY KEY (buildid, chat));
     CREATE TABLE recent_sends (chat TEXT NOT NULL, at_ms BIGINT NOT NULL);
     CREATE INDEX recent_sends_at ON recent_sends (at_ms);
     CREATE TABLE subscribing (id BIGINT PRIMARY KEY CHECK (id = 1), open BIGINT NOT NULL);
     CREATE TABLE filters (chat TEXT NOT NULL, term TEXT NOT NULL, PRIMARY KEY (chat, term));
     CREATE TABLE chat_options (chat TEXT PRIMARY KEY, quiet_repeats BIGINT NOT NULL);
     CREATE TABLE digest (id BIGSERIAL PRIMARY KEY, chat TEXT NOT NULL, buildid BIGINT NOT NULL, builder TEXT NOT NULL, number BIGINT NOT NULL, result BIGINT NOT NULL, previous BIGINT, complete_at BIGINT NOT NULL, owner TEXT, url TEXT NOT NULL, heard BIGINT NOT NULL DEFAULT 1, UNIQUE (chat, buildid));
     CREATE TABLE lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);",
    "CREATE TABLE answered (chat TEXT NOT NULL, message BIGINT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (chat, message));",
    "CREATE TABLE budget (id BIGSERIAL PRIMARY KEY, chat TEXT NOT NULL, at_ms BIGINT NOT NULL, done_ms BIGINT);
     CREATE INDEX budget_at ON budget (at_ms);
     CREATE INDEX budget_chat ON budget (chat, at_ms);
     CREATE FUNCTION bbtg_reserve(p_chat TEXT, p_group BOOLEAN, p_overall BIGINT, p_per_chat BIGINT, p_per_group BIGINT)
     RETURNS BIGINT LANGUAGE plpgsql AS $fn$
     DECLARE
         now_ms BIGINT;
         ready BIGINT := 0;
         t BIGINT;
         place BIGINT;
     BEGIN
         -- one at a time, whichever replica asks
         PERFORM pg_advisory_xact_lock(7089054064425464935);
         now_ms := CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT);
         DELETE FROM budget WHERE COALESCE(done_ms, at_ms) < now_ms - 90050;
         -- a send counts at its answer, or now while in flight (at most 30 s)
         SELECT c.t INTO t FROM (SELECT CASE WHEN done_ms IS NOT NULL THEN done_ms
                                           WHEN at_ms > now_ms - 30000 THEN now_ms ELSE at_ms END AS t
                                 FROM budget) c
             WHERE c.t > now_ms - 1050 ORDER BY c.t DESC LIMIT 1 OFFSET GREATEST(p_overall, 1) - 1;
         IF t IS NOT NULL THEN ready := GREATEST(ready, t + 1050); END IF;
         SELECT c.t INTO t FROM (SELECT CASE WHEN done_ms IS NOT NULL THEN done_ms
                                           WHEN at_ms > now_ms - 30000 THEN now_ms ELSE at_ms END AS t
                                 FROM budget WHERE chat = p_chat) c
             WHERE c.t > now_ms - 1050 ORDER BY c.t DESC LIMIT 1 OFFSET GREATEST(p_per_chat, 1) - 1;
         IF t IS NOT NULL THEN ready := GREATEST(ready, t + 1050); END IF;
         IF p_group THEN
             SELECT c.t INTO t FROM (SELECT CASE WHEN done_ms IS NOT NULL THEN done_ms
                                               WHEN at_ms > now_ms - 30000 THEN now_ms ELSE at_ms END AS t
                                     FROM budget WHERE chat = p_chat) c
                 WHERE c.t > now_ms - 60050 ORDER BY c.t DESC LIMIT 1 OFFSET GREATEST(p_per_group, 1) - 1;
             IF t IS NOT NULL THEN ready := GREATEST(ready, t + 60050); END IF;
         END IF;
         IF ready > now_ms THEN
             RETURN now_ms - ready;
         END IF;
         INSERT INTO budget (chat, at_ms) VALUES (p_chat, now_ms) RETURNING id INTO place;
         RETURN place;
     END
     $fn$;",
];

/// Replicas starting together take turns to migrate: whoever comes second finds it done.
const MIGRATION_LOCK: i64 = 0x6262_7467_6d69_6772; // "bbtgmigr"

/// Where a PostgreSQL URL points, for logs and errors: never its password.
pub fn describe(location: &str) -> String {
    let Ok(config) = location.parse::<postgres::Config>() else {
        return "(an unreadable storage.url)".into();
    };
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("?");
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{host}:{port}/{db}")
}

impl Store {
    /// Opens (creating if needed) and migrates the database `location` names: a SQLite file,
    /// or a `postgres://` URL. Refuses a database it cannot trust.
    pub fn open(location: &str) -> Result<Store, StorageError> {
        if crate::settings::is_postgres_url(location) {
            return open_postgres_thread(location);
        }
        let conn = connect(location)?;
        check_and_configure(&conn, location)?;
        migrate(&conn, location)?;
        Ok(Store {
            backend: Backend::Sqlite(Arc::new(tokio::sync::Mutex::new(Conn::Sqlite(conn)))),
        })
    }

    /// Whether the state lives in PostgreSQL (so replicas may share it).
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }
}

/// Connects on the thread that will own the connection, and runs its calls there until every
/// clone of the store is gone. A call that panics is logged and the thread goes on.
fn open_postgres_thread(location: &str) -> Result<Store, StorageError> {
    let (jobs, calls) = std::sync::mpsc::channel::<Job>();
    let (opened_tx, opened) = std::sync::mpsc::channel();
    let location = location.to_owned();
    std::thread::Builder::new()
        .name("storage-postgres".into())
        .spawn(move || {
            let pg = match open_postgres(&location) {
                Ok(pg) => {
                    let _ = opened_tx.send(Ok(()));
                    pg
                }
                Err(error) => {
                    let _ = opened_tx.send(Err(error));
                    return;
                }
            };
            let mut conn = Conn::Postgres(Box::new(pg));
            for job in calls {
                let call = std::panic::AssertUnwindSafe(|| job(&mut conn));
                if std::panic::catch_unwind(call).is_err() {
                    log::error!("a storage call panicked; the next one goes on");
                }
            }
        })
        .map_err(|e| StorageError::Task(e.to_string()))?;
    let gone = || StorageError::Task("the PostgreSQL connection's thread is gone".into());
    opened.recv().map_err(|_| gone())??;
    Ok(Store {
        backend: Backend::Postgres(jobs),
    })
}

/// Connects (within 10 s) and migrates, one replica at a time.
pub(super) fn open_postgres(location: &str) -> Result<Pg, StorageError> {
    let target = describe(location);
    let failed = |detail: String| StorageError::Connect {
        target: target.clone(),
        detail,
    };
    let mut config: postgres::Config = location
        .parse()
        .map_err(|e: postgres::Error| failed(e.to_string()))?;
    // a database that vanishes (a failover, a NAT that forgets the connection) is noticed
    // within seconds, not hours, and no statement or transaction hangs for good
    let seconds = std::time::Duration::from_secs;
    config
        .connect_timeout(seconds(10))
        .keepalives(true)
        .keepalives_idle(seconds(10))
        .keepalives_interval(seconds(5))
        .keepalives_retries(3)
        .tcp_user_timeout(seconds(30))
        .options(
            "-c statement_timeout=30000 -c lock_timeout=10000 -c idle_in_transaction_session_timeout=60000",
        )
        .application_name("buildbot-telegram");
    let mut conn = Conn::Postgres(Box::new(
        Pg::connect(config).map_err(|e| failed(e.to_string()))?,
    ));
    migrate_postgres(&mut conn, &target).map_err(|error| match error {
        StorageError::Query(e) => failed(e.to_string()),
        other => other,
    })?;
    match conn {
        Conn::Postgres(pg) => Ok(*pg),
        Conn::Sqlite(_) => unreachable!("made as PostgreSQL above"),
    }
}

fn migrate_postgres(conn: &mut Conn, target: &str) -> Result<(), StorageError> {
    let known = PG_MIGRATIONS.len() as i64;
    let migrated = conn.transaction(|tx| {
        // the lock first: even CREATE TABLE IF NOT EXISTS fails when two run at once
        tx.execute(
            "SELECT pg_advisory_xact_lock(?1)",
            super::sql::params![MIGRATION_LOCK],
        )?;
        tx.batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let found = match tx.query_opt("SELECT version FROM schema_version", &[])? {
            Some(row) => row.int(0)?,
            None => {
                tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])?;
                0
            }
        };
        if found > known {
            return Ok(Err(found));
        }
        for (index, migration) in PG_MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.batch(migration)?;
            tx.execute(
                "UPDATE schema_version SET version = ?1",
                super::sql::params![index as i64 + 1],
            )?;
            log::info!("storage {target}: schema migrated to version {}", index + 1);
        }
        Ok(Ok(()))
    })?;
    migrated.map_err(|found| StorageError::TooNewDatabase {
        target: target.to_owned(),
        found,
        known,
    })
}

/// The file cannot be opened or written: a matter of `storage.url` and permissions.
fn open_error(path: &str) -> impl Fn(rusqlite::Error) -> StorageError {
    move |source| StorageError::Open {
        path: path.to_owned(),
        source,
    }
}

/// SQLite opened the file but cannot use it: says why, since the fix differs — a damaged
/// file must be moved away, but a locked, read-only or full one must be left alone (moving
/// it away would lose every subscription).
fn unusable(path: &str) -> impl Fn(rusqlite::Error) -> StorageError {
    move |error| {
        use rusqlite::ErrorCode::*;
        let path = path.to_owned();
        let code = error.sqlite_error_code();
        match code {
            Some(DatabaseBusy | DatabaseLocked) => StorageError::Locked { path },
            Some(ReadOnly | PermissionDenied) => StorageError::ReadOnly {
                path,
                detail: error.to_string(),
            },
            Some(DiskFull) => StorageError::DiskFull { path },
            Some(CannotOpen) => StorageError::Open {
                path,
                source: error,
            },
            _ => StorageError::Corrupt {
                path,
                detail: error.to_string(),
            },
        }
    }
}

/// A missing directory is named in the error, where SQLite would only say that it cannot open
/// the file.
fn connect(path: &str) -> Result<Connection, StorageError> {
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(open_error(path)(rusqlite::Error::InvalidPath(
            parent.to_path_buf(),
        )));
    }
    Connection::open(path).map_err(open_error(path))
}

/// A damaged file is refused before anything writes to it. WAL lets readers work while the
/// bot writes, and the busy timeout makes a second process wait for the lock, not fail.
///
/// `synchronous = NORMAL`: a commit is not flushed to the disk by itself (the WAL is, at each
/// checkpoint), which takes a write from milliseconds to tens of microseconds. A crash or a
/// SIGKILL of the bot loses nothing; a power cut or a kernel crash can undo the last
/// commits, all of them after a point, never one in the middle: the cursor then stands
/// before builds already announced, which are announced again (at least once, as promised).
fn check_and_configure(conn: &Connection, path: &str) -> Result<(), StorageError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error(path))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(unusable(path))?;
    if check != "ok" {
        return Err(StorageError::Corrupt {
            path: path.to_owned(),
            detail: check,
        });
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(unusable(path))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(unusable(path))
}

/// Each migration commits together with its version, so an interrupted start leaves a file at
/// a version it really has, and the next start goes on from there.
fn migrate(conn: &Connection, path: &str) -> Result<(), StorageError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(unusable(path))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StorageError::TooNew {
            path: path.to_owned(),
            found: version,
            known,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        conn.execute_batch(&format!(
            "BEGIN; {migration} PRAGMA user_version = {}; COMMIT;",
            index + 1
        ))
        .map_err(unusable(path))?;
        log::info!("storage {path}: schema migrated to version {}", index + 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::test_database;

    fn schema_of(conn: &Connection) -> Vec<String> {
        let mut statement = conn
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        let rows = statement.query_map([], |row| row.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    /// What a new file looks like. A change here changes every user's file, so it must come
    /// from a new migration at the end, never from an edit of one that shipped.
    #[test]
    fn schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        Store::open(path.to_str().unwrap()).unwrap();
        let conn = Connection::open(&path).unwrap();
        insta::assert_snapshot!(schema_of(&conn).join(";\n"));
    }

    /// Existing files are upgraded, not replaced: a file left at any earlier version opens,
    /// keeps its rows and ends up with the schema of a new file.
    #[test]
    fn files_of_every_earlier_version_are_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.sqlite");
        Store::open(fresh.to_str().unwrap()).unwrap();
        let expected = schema_of(&Connection::open(&fresh).unwrap());
        for version in 0..MIGRATIONS.len() {
            let path = dir.path().join(format!("v{version}.sqlite"));
            let conn = Connection::open(&path).unwrap();
            for (index, migration) in MIGRATIONS[..version].iter().enumerate() {
                conn.execute_batch(&format!("{migration} PRAGMA user_version = {};", index + 1))
                    .unwrap();
            }
            if version > 0 {
                conn.execute(
                    "INSERT INTO subscriptions (chat, event) VALUES ('-1', 'failure')",
                    [],
                )
                .unwrap();
            }
            drop(conn);
            Store::open(path.to_str().unwrap()).unwrap();
            let conn = Connection::open(&path).unwrap();
            let user_version: i64 = conn
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .unwrap();
            assert_eq!(user_version, MIGRATIONS.len() as i64, "from {version}");
            assert_eq!(schema_of(&conn), expected, "from {version}");
            let rows: i64 = conn
                .query_row("SELECT count(*) FROM subscriptions", [], |row| row.get(0))
                .unwrap();
            assert_eq!(rows, i64::from(version > 0), "from {version}");
        }
    }

    /// A file another process holds is "locked", with a fix that keeps it: not "corrupt, move
    /// it away", which would cost every subscription.
    #[test]
    fn a_locked_file_is_not_called_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held.sqlite");
        Store::open(path.to_str().unwrap()).unwrap();
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("PRAGMA journal_mode = DELETE; BEGIN EXCLUSIVE;")
            .unwrap();
        let err = Store::open(path.to_str().unwrap()).err().unwrap();
        assert!(matches!(err, StorageError::Locked { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("locked by another process") && text.contains("do not move it away"),
            "{text}"
        );
        drop(holder);
        Store::open(path.to_str().unwrap()).expect("free again");
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
        assert!(err.contains("storage.url"), "{err}");
    }

    /// PostgreSQL (with `BBTG_TEST_POSTGRES_URL`): a database of a newer version is refused
    /// with what to do, a wrong password is refused without showing it, and two stores
    /// opening one new database at once both find it migrated.
    #[tokio::test]
    async fn postgres_databases_are_checked_like_files() {
        let Ok(server) = std::env::var("BBTG_TEST_POSTGRES_URL") else {
            return;
        };
        let location = test_database(&server);
        let (a, b) = (location.clone(), location.clone());
        let both = [
            std::thread::spawn(move || Store::open(&a)),
            std::thread::spawn(move || Store::open(&b)),
        ];
        for opened in both {
            opened.join().unwrap().expect("migrated once, opened twice");
        }
        let store = Store::open(&location).unwrap();
        store
            .with(|conn| conn.batch("UPDATE schema_version SET version = 99"))
            .await
            .unwrap();
        let err = Store::open(&location).err().unwrap().to_string();
        assert!(
            err.contains("newer buildbot-telegram") && err.contains("schema 99"),
            "{err}"
        );

        let mut wrong = url::Url::parse(&location).unwrap();
        wrong.set_password(Some("not-the-password-42")).unwrap();
        let err = Store::open(wrong.as_str()).err().unwrap().to_string();
        assert!(
            err.contains("storage.url") && err.contains("password"),
            "{err}"
        );
        assert!(!err.contains("not-the-password-42"), "{err}");
    }
}
