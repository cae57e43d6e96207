//! Opening the file and bringing its schema up to date.
//!
//! `PRAGMA user_version` counts the migrations a file has run, so a migration that shipped is
//! never edited or reordered: new ones go at the end of [`MIGRATIONS`].

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;

use super::{StorageError, Store};

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
];

impl Store {
    /// Opens (creating if needed) and migrates the database; refuses files it cannot trust.
    pub fn open(path: &str) -> Result<Store, StorageError> {
        let conn = connect(path)?;
        check_and_configure(&conn, path)?;
        migrate(&conn, path)?;
        Ok(Store {
            conn: Arc::new(tokio::sync::Mutex::new(conn)),
        })
    }
}

/// The file cannot be opened or written: a matter of `storage.path` and permissions.
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
    use crate::storage::temp_store;

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
        let (dir, _store) = temp_store();
        let conn = Connection::open(dir.path().join("s.sqlite")).unwrap();
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
        assert!(err.contains("storage.path"), "{err}");
    }
}
