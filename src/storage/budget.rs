//! Telegram's limits for the bot as a whole when replicas share PostgreSQL: every send, from
//! whichever replica, first takes its place in the `budget` table, on the database's clock and
//! one at a time (an advisory lock), so that the active replica's fan-out and the replies the
//! others give through the webhook share one 30 a second, one a second per chat and 20 a
//! minute per group. As in a replica's own limiter, a send counts as made now until it is
//! answered (for at most [`FLIGHT_MS`]), and at its answer's time after that: requests reach
//! Telegram some time after they take their place. PostgreSQL only: with SQLite there is one
//! process, and its own limiter is the whole bot's.

use super::sql::{Conn, DbError, params};
use super::{StorageError, Store};
use crate::settings::Limits;

/// Serialises the reservations of every replica.
const LOCK: i64 = 0x6262_7467_6275_6467; // "bbtgbudg"
/// Each window is this much longer than Telegram's.
const MARGIN_MS: i64 = 50;
const SECOND_MS: i64 = 1_000 + MARGIN_MS;
const MINUTE_MS: i64 = 60_000 + MARGIN_MS;
/// A send never marked answered (its replica died) counts as in flight this long at most.
const FLIGHT_MS: i64 = 30_000;
/// The database's clock, in milliseconds.
const NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

impl Store {
    /// Takes a place for a send to `chat` (a group or channel when `group`) now, if the
    /// limits allow it: `Ok(place)`, to give [`Store::send_answered`] once Telegram answered.
    /// Otherwise nothing is taken: `Err(ms)` to wait before asking again.
    pub async fn reserve_send(
        &self,
        chat: &str,
        group: bool,
        limits: Limits,
    ) -> Result<Result<i64, i64>, StorageError> {
        let chat = chat.to_owned();
        self.with(move |conn| {
            conn.transaction(|tx| {
                tx.execute("SELECT pg_advisory_xact_lock(?1)", params![LOCK])?;
                let now = tx
                    .query_opt(&format!("SELECT {NOW_MS}"), &[])?
                    .map(|row| row.int(0))
                    .transpose()?
                    .unwrap_or_default();
                tx.execute(
                    "DELETE FROM budget WHERE at_ms < ?1",
                    params![now - MINUTE_MS - FLIGHT_MS],
                )?;
                let ready = |tx: &mut Conn, chat, window, limit| -> Result<i64, DbError> {
                    let oldest = nth_newest(tx, now, chat, now - window, limit)?;
                    Ok(oldest.map_or(0, |t| t + window))
                };
                let mut at = ready(tx, None, SECOND_MS, limits.overall_per_second)?;
                at = at.max(ready(tx, Some(&chat), SECOND_MS, limits.chat_per_second)?);
                if group {
                    at = at.max(ready(tx, Some(&chat), MINUTE_MS, limits.group_per_minute)?);
                }
                if at > now {
                    return Ok(Err(at - now));
                }
                let place = tx.query_opt(
                    "INSERT INTO budget (chat, at_ms) VALUES (?1, ?2) RETURNING id",
                    params![&chat, now],
                )?;
                let place = place.map(|row| row.int(0)).transpose()?;
                Ok(Ok(place.unwrap_or_default()))
            })
        })
        .await
    }

    /// Telegram answered the send that took `place`: it counts at this time from now on.
    pub async fn send_answered(&self, place: i64) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute(
                &format!("UPDATE budget SET done_ms = {NOW_MS} WHERE id = ?1"),
                params![place],
            )?;
            Ok(())
        })
        .await
    }
}

/// When the window since `since` (of `chat`, or of every chat) holds `limit` sends or more:
/// the time the send whose leaving frees a place counts at.
fn nth_newest(
    tx: &mut Conn,
    now: i64,
    chat: Option<&str>,
    since: i64,
    limit: u32,
) -> Result<Option<i64>, DbError> {
    let offset = i64::from(limit.max(1)) - 1;
    // answered: at the answer; in flight (for at most FLIGHT_MS): now
    let counts_at = format!(
        "CASE WHEN done_ms IS NOT NULL THEN done_ms
              WHEN at_ms > CAST(?1 AS BIGINT) - {FLIGHT_MS} THEN CAST(?1 AS BIGINT)
              ELSE at_ms END"
    );
    let which = if chat.is_some() {
        "WHERE chat = ?4"
    } else {
        "WHERE ?4 = ?4"
    };
    let row = tx.query_opt(
        &format!(
            "SELECT t FROM (SELECT {counts_at} AS t FROM budget {which}) AS sends
             WHERE t > ?2 ORDER BY t DESC LIMIT 1 OFFSET ?3"
        ),
        params![now, since, offset, chat.unwrap_or_default()],
    )?;
    row.map(|row| row.int(0)).transpose()
}

#[cfg(test)]
mod tests {
    use crate::settings::Limits;
    use crate::storage::temp_store;

    /// With `BBTG_TEST_POSTGRES_URL`: the budget is the bot's, whichever store asks, and a
    /// send counts from its answer.
    #[tokio::test]
    async fn every_replica_draws_on_one_budget() {
        if std::env::var("BBTG_TEST_POSTGRES_URL").is_err() {
            return;
        }
        let (place, store) = temp_store();
        let other = place.reopen();
        let limits = Limits {
            overall_per_second: 3,
            chat_per_second: 1,
            group_per_minute: 20,
        };
        let first = store
            .reserve_send("1", false, limits)
            .await
            .unwrap()
            .unwrap();
        store.send_answered(first).await.unwrap();
        let again = other
            .reserve_send("1", false, limits)
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            again > 900 && again <= 1_050,
            "one a second per chat: {again}"
        );
        let second = other
            .reserve_send("2", false, limits)
            .await
            .unwrap()
            .unwrap();
        store
            .reserve_send("3", false, limits)
            .await
            .unwrap()
            .unwrap();
        let full = other
            .reserve_send("4", false, limits)
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            full > 1_000,
            "three a second in all, two still in flight: {full}"
        );
        // answered later, free later
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        other.send_answered(second).await.unwrap();
        let after = store
            .reserve_send("2", false, limits)
            .await
            .unwrap()
            .unwrap_err();
        assert!(after > 1_000, "from its answer: {after}");
    }
}
