//! Telegram's limits for the bot as a whole when replicas share PostgreSQL: every send, from
//! whichever replica, first takes its place in the `budget` table, on the database's clock and
//! one at a time (an advisory lock), so that the active replica's fan-out and the replies the
//! others give through the webhook share one 30 a second, one a second per chat and 20 a
//! minute per group. As in a replica's own limiter, a send counts as made now until it is
//! answered (for at most 30 s: a replica that died never answers), and at its answer's time
//! after that: requests reach Telegram some time after they take their place. One round trip
//! a send: the function `bbtg_reserve` (schema.rs) does it all under the lock. PostgreSQL
//! only: with SQLite there is one process, and its own limiter is the whole bot's.

use super::sql::params;
use super::{StorageError, Store};
use crate::settings::Limits;

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
            let answer = conn.query_opt(
                "SELECT bbtg_reserve(?1, ?2, ?3, ?4, ?5)",
                params![
                    chat,
                    group,
                    i64::from(limits.overall_per_second),
                    i64::from(limits.chat_per_second),
                    i64::from(limits.group_per_minute)
                ],
            )?;
            let answer = answer.map(|row| row.int(0)).transpose()?.unwrap_or(1);
            // a place's id, or minus the milliseconds to wait
            Ok(if answer > 0 { Ok(answer) } else { Err(-answer) })
        })
        .await
    }

    /// Telegram answered the send that took `place`: it counts at this time from now on.
    pub async fn send_answered(&self, place: i64) -> Result<(), StorageError> {
        self.with(move |conn| {
            conn.execute(
                "UPDATE budget SET done_ms = CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)
                 WHERE id = ?1",
                params![place],
            )?;
            Ok(())
        })
        .await
    }
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

    /// With `BBTG_TEST_POSTGRES_URL`: a group's 20 a minute.
    #[tokio::test]
    async fn a_group_takes_twenty_a_minute() {
        if std::env::var("BBTG_TEST_POSTGRES_URL").is_err() {
            return;
        }
        let (_place, store) = temp_store();
        let limits = Limits {
            overall_per_second: 100,
            chat_per_second: 100,
            group_per_minute: 20,
        };
        for _ in 0..20 {
            let place = store
                .reserve_send("-5", true, limits)
                .await
                .unwrap()
                .unwrap();
            store.send_answered(place).await.unwrap();
        }
        let wait = store
            .reserve_send("-5", true, limits)
            .await
            .unwrap()
            .unwrap_err();
        assert!(wait > 59_000, "{wait}");
        assert!(
            store
                .reserve_send("-6", true, limits)
                .await
                .unwrap()
                .is_ok()
        );
    }
}
