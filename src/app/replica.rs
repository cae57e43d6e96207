//! One replica among several: only the holder of the lease (`storage::lease`) does the
//! active work — Buildbot's events, the catch-up, the outbox, the digest timer and, when
//! polling, Telegram's updates. The others wait, try to take the lease every second, and take
//! over within [`TTL`] and a second of the active one's death. In webhook mode every replica
//! serves the updates it is given.
//!
//! The active replica renews the lease every [`RENEW_EVERY`]; if it cannot for
//! [`STEP_DOWN_AFTER`] (measured on its own clock from before the last renewal that worked,
//! so well before the lease runs out on the database's), or finds it taken, it stops its active
//! work. With SQLite there is one process, active from start to stop.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::shutdown::Shutdown;
use crate::storage::Store;

/// How long a lease runs without a renewal.
pub const TTL: Duration = Duration::from_secs(8);
const RENEW_EVERY: Duration = Duration::from_secs(2);
const STEP_DOWN_AFTER: Duration = Duration::from_secs(5);
/// How often a waiting replica tries to take the lease.
const TRY_EVERY: Duration = Duration::from_secs(1);
/// How long the active work may take to stop.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// The work only the active replica does: named tasks that stop with the shutdown given.
pub type ActiveTasks = Vec<(&'static str, JoinHandle<()>)>;

/// This replica: its name in the lease (host and process), and while it is active, the
/// shutdown of its active work.
pub struct Replica {
    pub name: String,
    active: watch::Sender<Option<Shutdown>>,
}

impl Replica {
    pub fn new() -> Replica {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "replica".into());
        Replica {
            name: format!("{host}:{}", std::process::id()),
            active: watch::Sender::new(None),
        }
    }

    /// Resolves with the shutdown of the current active spell, once this replica is active.
    pub fn while_active(&self) -> watch::Receiver<Option<Shutdown>> {
        self.active.subscribe()
    }

    /// Runs until `shutdown`: takes the lease when it can (always, with SQLite), starts the
    /// active work with `start`, and stops it when the lease is lost, to try again.
    pub async fn lead(
        &self,
        store: Store,
        shutdown: Shutdown,
        mut start: impl FnMut(&Shutdown) -> ActiveTasks,
    ) {
        if !store.is_shared() {
            let spell = shutdown.child();
            self.active.send_replace(Some(spell.clone()));
            let tasks = start(&spell);
            shutdown.triggered().await;
            stop(tasks).await;
            return;
        }
        log::info!("replica {}: waiting to become the active one", self.name);
        loop {
            let Some(token) = self.take(&store, &shutdown).await else {
                return;
            };
            log::info!(
                "replica {} is now the active one (lease {token}): it reads Buildbot's events and sends the notifications",
                self.name
            );
            let spell = shutdown.child();
            self.active.send_replace(Some(spell.clone()));
            let tasks = start(&spell);
            let lost = self.hold(&store, token, &shutdown).await;
            spell.trigger();
            self.active.send_replace(None);
            stop(tasks).await;
            if !lost {
                if let Err(error) = store.lease_release(&self.name, token).await {
                    log::warn!(
                        "cannot give the lease up ({error}); another replica takes over when it runs out"
                    );
                }
                return;
            }
            log::warn!(
                "replica {} is no longer the active one; waiting to take over again",
                self.name
            );
        }
    }

    /// Waits until the lease is ours: its token, or `None` at the shutdown.
    async fn take(&self, store: &Store, shutdown: &Shutdown) -> Option<i64> {
        let mut told = false;
        loop {
            match store.lease_take(&self.name, millis(TTL)).await {
                Ok(Some(token)) => return Some(token),
                Ok(None) => {
                    if !told {
                        told = true;
                        if let Ok(Some(holder)) = store.lease_holder().await {
                            log::info!(
                                "replica {} is waiting: {} is active",
                                self.name,
                                holder.replica
                            );
                        }
                    }
                }
                Err(error) => log::warn!("cannot ask for the lease: {error}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(TRY_EVERY) => {}
                _ = shutdown.triggered() => return None,
            }
        }
    }

    /// Renews the lease until the shutdown (false) or until it is lost (true).
    async fn hold(&self, store: &Store, token: i64, shutdown: &Shutdown) -> bool {
        let mut renewed_at = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RENEW_EVERY) => {}
                _ = shutdown.triggered() => return false,
            }
            let asked_at = Instant::now();
            let renewal = tokio::time::timeout(
                STEP_DOWN_AFTER.saturating_sub(renewed_at.elapsed()),
                store.lease_renew(&self.name, token, millis(TTL)),
            )
            .await;
            match renewal {
                Ok(Ok(true)) => renewed_at = asked_at,
                Ok(Ok(false)) => {
                    log::warn!("replica {}: another replica took the lease", self.name);
                    return true;
                }
                Ok(Err(error)) => log::warn!("cannot renew the lease: {error}"),
                Err(_) => log::warn!("renewing the lease takes too long"),
            }
            if renewed_at.elapsed() >= STEP_DOWN_AFTER {
                log::warn!(
                    "replica {}: the lease was not renewed for {} s; stepping down before it runs out",
                    self.name,
                    STEP_DOWN_AFTER.as_secs()
                );
                return true;
            }
        }
    }
}

/// Waits for the active work to stop, each task at most [`STOP_WITHIN`].
async fn stop(tasks: ActiveTasks) {
    for (task, mut handle) in tasks {
        let stopped = tokio::time::timeout(STOP_WITHIN, &mut handle).await;
        if stopped.is_err() {
            // a replica that is no longer active must not go on: the next one is starting
            handle.abort();
        }
        match stopped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => log::error!("{task} ended with an error: {error}"),
            // e.g. the notifier in the middle of a long catch-up: what it queued is in the
            // outbox, what it had not reached the next catch-up finds again
            Err(_) => log::warn!(
                "{task} did not stop within {} s; stopping anyway",
                STOP_WITHIN.as_secs()
            ),
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
