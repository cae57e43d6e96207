//! One connection to either database, and one way to ask it things: every table's queries
//! are written once, in the SQL both SQLite and PostgreSQL speak, with `?1`-style
//! placeholders (PostgreSQL gets them as `$1`). The few places where the two differ ask
//! [`Conn::dialect`].
//!
//! Values cross as [`Value`]s: integers, text and NULL are all the bot stores. A boolean is
//! stored as an integer (0 or 1) in both databases, so the same query reads it the same way.
//!
//! Both clients block, so [`super::Store`] runs every call on tokio's blocking pool. The
//! PostgreSQL client reconnects by itself on the next call when its connection was lost
//! (a database restart, a failover): the call that found it broken fails, the next works.

use std::borrow::Cow;
use std::collections::HashMap;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A value given to a query or read from a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(v.into())
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(v.into())
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// `params![a, b]`: the values of a query's placeholders, in order.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::storage::sql::Value::from($value)),*][..]
    };
}
pub(crate) use params;

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Postgres(#[from] postgres::Error),
    /// The connection broke inside a transaction: what it had done is gone, and the rest
    /// must not go on, on a new connection, as if it were still in it.
    #[error("the connection to the database was lost in the middle of a transaction")]
    LostInTransaction,
    /// A column held something the bot never writes there.
    #[error("column {column} holds {found}, not {wanted}")]
    Decode {
        column: usize,
        found: &'static str,
        wanted: &'static str,
    },
}

/// One row of a query's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(Vec<Value>);

impl Row {
    fn at(&self, column: usize) -> &Value {
        self.0.get(column).unwrap_or(&Value::Null)
    }

    fn wrong(&self, column: usize, wanted: &'static str) -> DbError {
        let found = match self.at(column) {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Text(_) => "text",
        };
        DbError::Decode {
            column,
            found,
            wanted,
        }
    }

    pub fn opt_int(&self, column: usize) -> Result<Option<i64>, DbError> {
        match self.at(column) {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            Value::Text(_) => Err(self.wrong(column, "an integer")),
        }
    }

    pub fn int(&self, column: usize) -> Result<i64, DbError> {
        self.opt_int(column)?
            .ok_or_else(|| self.wrong(column, "an integer"))
    }

    pub fn flag(&self, column: usize) -> Result<bool, DbError> {
        Ok(self.int(column)? != 0)
    }

    pub fn opt_text(&self, column: usize) -> Result<Option<String>, DbError> {
        match self.at(column) {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            Value::Int(_) => Err(self.wrong(column, "text")),
        }
    }

    pub fn text(&self, column: usize) -> Result<String, DbError> {
        self.opt_text(column)?
            .ok_or_else(|| self.wrong(column, "text"))
    }
}

/// Which SQL a connection speaks, for the few queries that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection to the database the settings name.
pub enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Pg>),
}

impl Conn {
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        match self {
            Conn::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let changed = statement.execute(rusqlite::params_from_iter(params))?;
                Ok(changed as u64)
            }
            Conn::Postgres(pg) => pg.execute(sql, params),
        }
    }

    /// Every row a query answers.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        match self {
            Conn::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let width = statement.column_count();
                let mut rows = statement.query(rusqlite::params_from_iter(params))?;
                let mut read = Vec::new();
                while let Some(row) = rows.next()? {
                    read.push(sqlite_row(row, width)?);
                }
                Ok(read)
            }
            Conn::Postgres(pg) => pg.query(sql, params),
        }
    }

    /// The first row a query answers, if any.
    pub fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs statements without parameters, e.g. a migration.
    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Conn::Postgres(pg) => Ok(pg.client()?.batch_execute(sql)?),
        }
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise —
    /// and when it panics, so that the connection is never left inside a transaction.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Conn) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.batch("BEGIN")?;
        self.in_transaction(true);
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        let done = match done {
            Ok(done) => done,
            Err(panic) => {
                self.rollback();
                std::panic::resume_unwind(panic);
            }
        };
        match done {
            Ok(value) => match self.batch("COMMIT") {
                Ok(()) => {
                    self.in_transaction(false);
                    Ok(value)
                }
                Err(error) => {
                    // SQLite may stay inside the transaction when a COMMIT fails (busy, disk
                    // full): every later one would fail, and plain writes would never commit
                    self.rollback();
                    Err(error)
                }
            },
            Err(error) => {
                self.rollback();
                Err(error)
            }
        }
    }
}

impl Conn {
    fn in_transaction(&mut self, inside: bool) {
        if let Conn::Postgres(pg) = self {
            pg.in_transaction = inside;
        }
    }

    /// Ends a transaction that failed; on a connection that broke there is nothing to undo.
    fn rollback(&mut self) {
        if let Err(error) = self.batch("ROLLBACK") {
            log::debug!("rolling back failed: {error}");
        }
        self.in_transaction(false);
    }
}

fn sqlite_row(row: &rusqlite::Row<'_>, width: usize) -> Result<Row, DbError> {
    use rusqlite::types::ValueRef;
    let mut values = Vec::with_capacity(width);
    for column in 0..width {
        values.push(match row.get_ref(column)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
            ValueRef::Real(_) | ValueRef::Blob(_) => {
                return Err(DbError::Decode {
                    column,
                    found: "a real or a blob",
                    wanted: "an integer or text",
                });
            }
        });
    }
    Ok(Row(values))
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
        }))
    }
}

/// A PostgreSQL connection that comes back by itself, with its prepared statements.
pub struct Pg {
    config: postgres::Config,
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
    /// Between BEGIN and its end: a lost connection is then an error, not made again.
    in_transaction: bool,
}

impl Pg {
    pub fn connect(config: postgres::Config) -> Result<Pg, DbError> {
        let mut pg = Pg {
            config,
            client: None,
            statements: HashMap::new(),
            in_transaction: false,
        };
        pg.client()?;
        Ok(pg)
    }

    /// The connection, made again if it was lost.
    fn client(&mut self) -> Result<&mut postgres::Client, DbError> {
        if self.client.as_ref().is_none_or(postgres::Client::is_closed) {
            if self.in_transaction {
                return Err(DbError::LostInTransaction);
            }
            self.statements.clear();
            self.client = None;
            self.client = Some(self.config.connect(postgres::NoTls)?);
        }
        Ok(self.client.as_mut().expect("connected just above"))
    }

    fn prepare(
        &mut self,
        sql: &str,
    ) -> Result<(postgres::Statement, &mut postgres::Client), DbError> {
        self.client()?;
        let client = self.client.as_mut().expect("connected just above");
        let statement = match self.statements.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = client.prepare(&numbered(sql))?;
                self.statements.insert(sql.to_owned(), statement.clone());
                statement
            }
        };
        Ok((statement, client))
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let (statement, client) = self.prepare(sql)?;
        let bound = bind(params);
        Ok(client.execute(&statement, &refs(&bound))?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let (statement, client) = self.prepare(sql)?;
        let bound = bind(params);
        let rows = client.query(&statement, &refs(&bound))?;
        rows.iter().map(pg_row).collect()
    }
}

/// `?1` → `$1`: the one spelling of placeholders that differs.
fn numbered(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A [`Value`] as PostgreSQL takes it: an integer fits whatever integer (or boolean) column
/// the placeholder stands for, text goes to text, NULL anywhere.
#[derive(Debug)]
struct Bound<'a>(&'a Value);

fn bind(params: &[Value]) -> Vec<Bound<'_>> {
    params.iter().map(Bound).collect()
}

fn refs<'a>(bound: &'a [Bound<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    bound.iter().map(|b| b as &(dyn ToSql + Sync)).collect()
}

impl ToSql for Bound<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(v), &Type::INT8) => v.to_sql(ty, out),
            (Value::Int(v), &Type::INT4) => i32::try_from(*v)?.to_sql(ty, out),
            (Value::Int(v), &Type::INT2) => i16::try_from(*v)?.to_sql(ty, out),
            (Value::Int(v), &Type::BOOL) => (*v != 0).to_sql(ty, out),
            (Value::Text(v), _) if <&str as ToSql>::accepts(ty) => v.as_str().to_sql(ty, out),
            (Value::Text(_), _) => Err(format!("text where {ty} is wanted").into()),
            (Value::Int(_), _) => Err(format!("an integer where {ty} is wanted").into()),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT8, Type::INT4, Type::INT2, Type::BOOL].contains(ty)
            || <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

fn pg_row(row: &postgres::Row) -> Result<Row, DbError> {
    let mut values = Vec::with_capacity(row.len());
    for (column, described) in row.columns().iter().enumerate() {
        let ty = described.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(column)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(column)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(column)?
                .map(|v| Value::Int(v.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(column)?
                .map(|v| Value::Int(v.into()))
        } else {
            row.try_get::<_, Option<String>>(column)?.map(Value::Text)
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ?1 AND c IN (?2, ?10)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $10)"
        );
        assert!(matches!(numbered("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn rows_read_what_was_written_and_refuse_the_rest() {
        let mut conn = Conn::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        conn.batch("CREATE TABLE t (a INTEGER, b TEXT)").unwrap();
        conn.execute(
            "INSERT INTO t (a, b) VALUES (?1, ?2), (?3, ?4)",
            params![7_i64, "x", None::<i64>, true],
        )
        .unwrap();
        let rows = conn
            .query("SELECT a, b FROM t ORDER BY rowid", &[])
            .unwrap();
        assert_eq!(rows[0].int(0).unwrap(), 7);
        assert_eq!(rows[0].text(1).unwrap(), "x");
        assert_eq!(rows[1].opt_int(0).unwrap(), None);
        assert!(rows[0].text(0).is_err());
        assert!(rows[1].int(0).is_err(), "NULL is not an integer");
    }

    #[test]
    fn a_failed_transaction_leaves_nothing() {
        let mut conn = Conn::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        conn.batch("CREATE TABLE t (a INTEGER PRIMARY KEY)")
            .unwrap();
        let failed = conn.transaction(|tx| {
            tx.execute("INSERT INTO t (a) VALUES (?1)", params![1_i64])?;
            tx.execute("INSERT INTO t (a) VALUES (?1)", params![1_i64])
        });
        assert!(failed.is_err());
        assert!(conn.query("SELECT a FROM t", &[]).unwrap().is_empty());
        conn.transaction(|tx| tx.execute("INSERT INTO t (a) VALUES (?1)", params![2_i64]))
            .unwrap();
        assert_eq!(conn.query("SELECT a FROM t", &[]).unwrap().len(), 1);
    }

    /// With `BBTG_TEST_POSTGRES_URL`: a connection that breaks in the middle of a transaction
    /// fails it (nothing of it stays, nothing after the break runs on a new connection), and
    /// the next call connects again.
    #[test]
    fn a_connection_lost_in_a_transaction_fails_it_and_the_next_call_reconnects() {
        let Ok(server) = std::env::var("BBTG_TEST_POSTGRES_URL") else {
            return;
        };
        std::thread::spawn(move || {
            let location = crate::storage::test_database(&server);
            let connect =
                || Conn::Postgres(Box::new(Pg::connect(location.parse().unwrap()).unwrap()));
            let (mut conn, mut killer) = (connect(), connect());
            conn.batch("CREATE TABLE t (a BIGINT)").unwrap();
            let pid = conn.query("SELECT pg_backend_pid()", &[]).unwrap()[0]
                .int(0)
                .unwrap();
            let failed = conn.transaction(|tx| {
                tx.execute("INSERT INTO t (a) VALUES (?1)", params![1_i64])?;
                killer.execute("SELECT pg_terminate_backend(?1)", params![pid])?;
                tx.execute("INSERT INTO t (a) VALUES (?1)", params![2_i64])?;
                tx.execute("INSERT INTO t (a) VALUES (?1)", params![3_i64])
            });
            assert!(failed.is_err());
            let rows = conn.query("SELECT a FROM t", &[]).unwrap();
            assert!(rows.is_empty(), "nothing of it stays: {rows:?}");
        })
        .join()
        .unwrap();
    }
}
