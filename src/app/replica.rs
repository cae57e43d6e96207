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
/// Measured from when the last renewal that worked was asked for: the lease then runs out 3 s
/// later at the earliest, on the database's clock, which only starts counting after the ask.
const STEP_DOWN_AFTER: Duration = Duration::from_secs(5);
/// How often a waiting replica tries to take the lease.
const TRY_EVERY: Duration = Duration::from_secs(1);
/// How long the active work may take to stop at a clean shutdown (the lease is still ours).
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// How long it may take when the lease is lost: well within the 3 s between stepping down
/// and the lease running out, so that no two replicas are ever active together.
const ABORT_WITHIN: Duration = Duration::from_millis(500);

/// The work only the active replica does: named tasks that stop with the shutdown given.
pub type ActiveTasks = Vec<(&'static str, JoinHandle<()>)>;

/// This replica: its name in the lease (host — `HOSTNAME`, else the kernel's host name — and
/// process, and where that process runs), and while it is active, the shutdown of its active
/// work.
pub struct Replica {
    pub name: String,
    active: watch::Sender<Option<Shutdown>>,
}

impl Replica {
    pub fn new() -> Replica {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .or_else(|| read_trimmed("/proc/sys/kernel/hostname"))
            .unwrap_or_else(|| "replica".into());
        Replica {
            name: format!("{host}:{}/{}", std::process::id(), origin()),
            active: watch::Sender::new(None),
        }
    }

    /// The shutdown of the current active spell, `Some` while this replica is active.
    pub fn while_active(&self) -> watch::Receiver<Option<Shutdown>> {
        self.active.subscribe()
    }

    /// Runs until `shutdown`: takes the lease when it can (always, with SQLite), starts the
    /// active work with `start`, and stops it when the lease is lost, to try again. `store`
    /// is a connection of the lease's own, so that a busy storage never delays a renewal.
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
            stop(tasks, STOP_WITHIN).await;
            return;
        }
        log::info!("replica {}: waiting to become the active one", self.name);
        loop {
            let Some((token, taken_at)) = self.take(&store, &shutdown).await else {
                return;
            };
            log::info!(
                "replica {} is now the active one (lease {token}): it reads Buildbot's events and sends the notifications",
                self.name
            );
            let spell = shutdown.child();
            self.active.send_replace(Some(spell.clone()));
            let tasks = start(&spell);
            let lost = self.hold(&store, (token, taken_at), &shutdown).await;
            spell.trigger();
            self.active.send_replace(None);
            stop(tasks, if lost { ABORT_WITHIN } else { STOP_WITHIN }).await;
            // also after a loss: a renewal that came late may have extended it since (the
            // token keeps this from touching another replica's lease); a database that does
            // not answer does not hold the stop up: the lease then runs out by itself
            let release = store.lease_release(&self.name, token);
            match tokio::time::timeout(Duration::from_secs(2), release).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => log::warn!(
                    "cannot give the lease up ({error}); another replica takes over when it runs out"
                ),
                Err(_) => log::warn!(
                    "giving the lease up takes too long; another replica takes over when it runs out"
                ),
            }
            if !lost {
                return;
            }
            log::warn!(
                "replica {} is no longer the active one; waiting to take over again",
                self.name
            );
        }
    }

    /// Waits until the lease is ours: its token and when it was asked for (the lease runs from
    /// then at the latest), or `None` at the shutdown.
    async fn take(&self, store: &Store, shutdown: &Shutdown) -> Option<(i64, Instant)> {
        let mut told = false;
        loop {
            let holder = tokio::select! {
                holder = store.lease_holder() => holder.ok().flatten(),
                _ = shutdown.triggered() => return None,
            };
            let dead = holder
                .filter(|h| self.outlived(&h.replica))
                .map(|h| h.replica);
            if let Some(dead) = &dead {
                log::info!("replica {dead} ran here and is gone: taking over at once");
            }
            let asked_at = Instant::now();
            let taken = tokio::select! {
                taken = store.lease_take(&self.name, millis(TTL), dead.as_deref()) => taken,
                _ = shutdown.triggered() => return None,
            };
            match taken {
                Ok(Some(token)) => return Some((token, asked_at)),
                Ok(None) if !told => {
                    told = true;
                    if let Ok(Some(holder)) = store.lease_holder().await {
                        log::info!(
                            "replica {} is waiting: {} is active",
                            self.name,
                            holder.replica
                        );
                    }
                }
                Ok(None) => {}
                Err(error) => log::warn!("cannot ask for the lease: {error}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(TRY_EVERY) => {}
                _ = shutdown.triggered() => return None,
            }
        }
    }

    /// Whether `holder` was a process of this very system (same host name, same boot, same
    /// process namespace) that no longer runs: a bot restarted after a crash need not wait out
    /// its own lease. Containers sharing a host name have namespaces of their own, so they
    /// always wait.
    fn outlived(&self, holder: &str) -> bool {
        let Some(((host, pid), place)) = split_name(holder) else {
            return false;
        };
        let Some(((my_host, _), my_place)) = split_name(&self.name) else {
            return false;
        };
        let Ok(pid) = pid.parse::<libc::pid_t>() else {
            return false;
        };
        if host != my_host || place != my_place || place.is_empty() || holder == self.name {
            return false;
        }
        // SAFETY: kill with signal 0 sends nothing; it only reports whether `pid` exists
        let exists = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
        !exists && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }

    /// Renews the lease until the shutdown (false) or until it is lost (true).
    async fn hold(
        &self,
        store: &Store,
        (token, taken_at): (i64, Instant),
        shutdown: &Shutdown,
    ) -> bool {
        let mut renewed_at = taken_at;
        loop {
            // never sleep past the moment to step down
            let next = RENEW_EVERY.min(STEP_DOWN_AFTER.saturating_sub(renewed_at.elapsed()));
            tokio::select! {
                _ = tokio::time::sleep(next) => {}
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

/// `host:pid/place` → `((host, pid), place)`.
fn split_name(name: &str) -> Option<((&str, &str), &str)> {
    let (who, place) = name.split_once('/').unwrap_or((name, ""));
    Some((who.rsplit_once(':')?, place))
}

/// Where this process runs: the boot and the process namespace, so that a pid is only ever
/// compared with pids of the same namespace.
fn origin() -> String {
    let boot = read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let namespace = std::fs::read_link("/proc/self/ns/pid")
        .map(|link| link.display().to_string())
        .unwrap_or_default();
    let digits: String = namespace.chars().filter(char::is_ascii_digit).collect();
    if boot.is_empty() || digits.is_empty() {
        return String::new();
    }
    format!("{}-{digits}", &boot[..boot.len().min(8)])
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Waits for the active work to stop, all of it within `within`; what is left then is
/// aborted (a replica that is no longer active must not go on: the next one is starting).
async fn stop(tasks: ActiveTasks, within: Duration) {
    let deadline = Instant::now() + within;
    for (task, mut handle) in tasks {
        let stopped = tokio::time::timeout_at(deadline, &mut handle).await;
        if stopped.is_err() {
            handle.abort();
        }
        match stopped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => log::error!("{task} ended with an error: {error}"),
            // e.g. the notifier in the middle of a long catch-up: what it queued is in the
            // outbox, what it had not reached the next catch-up finds again
            Err(_) => log::warn!(
                "{task} did not stop within {} ms; stopped",
                within.as_millis()
            ),
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_gone_process_of_this_very_system_is_taken_over_at_once() {
        let me = Replica::new();
        let ((host, _), place) = split_name(&me.name).unwrap();
        assert!(!place.is_empty(), "{}", me.name);
        // pid 0x7fff_fff0 does not exist; pid 1 always does
        let gone = format!("{host}:{}/{place}", 0x7fff_fff0);
        assert!(me.outlived(&gone));
        assert!(!me.outlived(&format!("{host}:1/{place}")), "alive");
        assert!(
            !me.outlived(&format!("{host}:{}/other-1", 0x7fff_fff0)),
            "another namespace or boot"
        );
        assert!(!me.outlived(&format!("elsewhere:{}/{place}", 0x7fff_fff0)));
        assert!(!me.outlived(&me.name), "itself");
        assert!(!me.outlived("garbage"));
    }
}
