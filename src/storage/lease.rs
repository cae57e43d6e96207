//! Which replica is the active one: the holder of the lease row in PostgreSQL. Only the
//! active replica reads Buildbot's events, works the outbox and (when polling) takes
//! Telegram's updates, so a notification goes out once however many replicas run.
//!
//! The lease runs on the database's clock, so replicas' clocks may differ. Each take bumps
//! the row's `token` (the fencing token): a replica that lost the lease, even for a moment,
//! holds a token that no longer renews, and steps down. With SQLite there is one process
//! (the file is locked), always active: these calls are for PostgreSQL only.

use super::sql::params;
use super::{StorageError, Store};

/// The one lease there is.
const NAME: &str = "active";

/// Who holds the lease now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub replica: String,
    pub token: i64,
    /// How long the lease runs yet without a renewal (ms); ≤ 0 when it ran out.
    pub left_ms: i64,
}

impl Store {
    /// Takes the lease for `replica` for `ttl_ms` if nobody holds it, its holder let it run
    /// out, or its holder is `dead` (known to be gone): the new fencing token, or `None` when
    /// another replica holds it.
    pub async fn lease_take(
        &self,
        replica: &str,
        ttl_ms: i64,
        dead: Option<&str>,
    ) -> Result<Option<i64>, StorageError> {
        let replica = replica.to_owned();
        let dead = dead.map(str::to_owned);
        self.with(move |conn| {
            let row = conn.query_opt(
                "INSERT INTO lease (name, holder, token, expires_at)
                 VALUES (?1, ?2, 1, clock_timestamp() + CAST(?3 AS BIGINT) * interval '1 millisecond')
                 ON CONFLICT (name) DO UPDATE
                     SET holder = excluded.holder, token = lease.token + 1, expires_at = excluded.expires_at
                     WHERE lease.expires_at <= clock_timestamp() OR lease.holder = ?4
                 RETURNING token",
                params![NAME, replica, ttl_ms, dead],
            )?;
            row.map(|row| row.int(0)).transpose()
        })
        .await
    }

    /// Renews the lease taken with `token` for `ttl_ms` more; false when it was lost (it ran
    /// out, or another replica took it).
    pub async fn lease_renew(
        &self,
        replica: &str,
        token: i64,
        ttl_ms: i64,
    ) -> Result<bool, StorageError> {
        let replica = replica.to_owned();
        self.with(move |conn| {
            let renewed = conn.execute(
                "UPDATE lease SET expires_at = clock_timestamp() + CAST(?4 AS BIGINT) * interval '1 millisecond'
                 WHERE name = ?1 AND holder = ?2 AND token = ?3 AND expires_at > clock_timestamp()",
                params![NAME, replica, token, ttl_ms],
            )?;
            Ok(renewed == 1)
        })
        .await
    }

    /// Gives the lease up at once (a clean stop), so another replica need not wait it out.
    pub async fn lease_release(&self, replica: &str, token: i64) -> Result<(), StorageError> {
        let replica = replica.to_owned();
        self.with(move |conn| {
            conn.execute(
                "UPDATE lease SET expires_at = clock_timestamp()
                 WHERE name = ?1 AND holder = ?2 AND token = ?3",
                params![NAME, replica, token],
            )?;
            Ok(())
        })
        .await
    }

    /// Who holds the lease, if anybody ever took it.
    pub async fn lease_holder(&self) -> Result<Option<Holder>, StorageError> {
        self.with(|conn| {
            let row = conn.query_opt(
                "SELECT holder, token,
                        CAST(EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000 AS BIGINT)
                 FROM lease WHERE name = ?1",
                params![NAME],
            )?;
            row.map(|row| {
                Ok(Holder {
                    replica: row.text(0)?,
                    token: row.int(1)?,
                    left_ms: row.int(2)?,
                })
            })
            .transpose()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::temp_store;

    /// With `BBTG_TEST_POSTGRES_URL`: one holder at a time, a new token at each take, a lost
    /// lease does not renew, a released one is free at once.
    #[tokio::test]
    async fn one_replica_holds_the_lease_at_a_time() {
        if std::env::var("BBTG_TEST_POSTGRES_URL").is_err() {
            return;
        }
        let (_place, store) = temp_store();
        assert_eq!(store.lease_holder().await.unwrap(), None);
        let first = store
            .lease_take("a", 60_000, None)
            .await
            .unwrap()
            .expect("free");
        assert_eq!(
            store.lease_take("b", 60_000, None).await.unwrap(),
            None,
            "held"
        );
        assert!(store.lease_renew("a", first, 60_000).await.unwrap());
        let holder = store.lease_holder().await.unwrap().unwrap();
        assert_eq!((holder.replica.as_str(), holder.token), ("a", first));
        assert!(holder.left_ms > 50_000, "{holder:?}");

        store.lease_release("a", first).await.unwrap();
        let second = store
            .lease_take("b", 1, None)
            .await
            .unwrap()
            .expect("released");
        assert!(second > first, "a new fencing token");
        assert!(
            !store.lease_renew("a", first, 60_000).await.unwrap(),
            "lost"
        );
        // b's 1 ms ran out: a takes it back, and b's token no longer renews
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let third = loop {
            if let Some(token) = store.lease_take("a", 60_000, None).await.unwrap() {
                break token;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "b's lease never ran out"
            );
        };
        assert!(third > second);
        assert!(!store.lease_renew("b", second, 60_000).await.unwrap());
        // a holder known to be dead is taken over at once
        assert_eq!(
            store.lease_take("c", 60_000, Some("b")).await.unwrap(),
            None,
            "b is not the holder"
        );
        let fourth = store
            .lease_take("c", 60_000, Some("a"))
            .await
            .unwrap()
            .expect("a is dead");
        assert!(fourth > third);
    }
}
