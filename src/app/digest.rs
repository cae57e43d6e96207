//! The morning digest's timer (`notify.quiet_hours_mode = "digest"`): when the quiet hours
//! end, each chat's kept build results become one message in the outbox (`notify::digest`
//! composes it; the outbox takes it and deletes the rows in one transaction).
//!
//! It also sends, at start, whatever waits while the clock is outside the window: a bot that
//! was down at the end of the night, or whose mode is `silent` again, still delivers what it
//! kept. A result the notifier decided to keep just before the end but wrote just after the
//! digest went is found by one more look a minute after the end. Between ends it sleeps.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::clock::now;
use crate::delivery::outbox::Outbox;
use crate::notify::digest;
use crate::settings::QuietHours;
use crate::shutdown::Shutdown;
use crate::storage::{Chat, DigestEntry, StorageError, Store};

/// How long after a window's end the timer looks once more for late results.
const LOOK_AGAIN: Duration = Duration::from_secs(60);
/// How long after a failure (the storage) sending the digests is tried again.
const RETRY: Duration = Duration::from_secs(30);
/// The longest sleep: the wall clock may jump (NTP, a suspended host) while tokio's does not,
/// and a result the notifier kept late is found within this.
const AT_MOST: Duration = Duration::from_secs(300);

/// Runs the timer; cloned for each (re)start by the supervisor.
#[derive(Clone)]
pub(super) struct DigestTimer {
    pub store: Store,
    pub outbox: Outbox,
    /// The quiet hours, in digest mode only.
    pub window: Option<QuietHours>,
    pub shutdown: Shutdown,
}

/// What one chat kept: the rows, their results, whether it asked for any.
#[derive(Default)]
struct Kept {
    ids: Vec<i64>,
    entries: Vec<DigestEntry>,
    heard: bool,
}

/// What the timer wakes for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wake {
    Start,
    /// The window's end: the digests are due.
    End,
    /// A minute after the end: late results.
    LookAgain,
    /// The storage failed last time.
    Retry,
}

impl DigestTimer {
    /// Sends what waits whenever the clock is outside the window, then sleeps until the
    /// window's next end (or the next look), until the shutdown.
    pub async fn run(self) {
        let mut woke_for = Wake::Start;
        loop {
            let outside = self.window.is_none_or(|w| !w.contains(now()));
            let sent = !outside || self.send_waiting().await.is_ok();
            let next = match self.window {
                _ if !sent => Some((Wake::Retry, RETRY)),
                None => None,
                Some(window) => {
                    let to_end = Duration::from_secs(window.seconds_to_end(now()).unsigned_abs());
                    if outside && woke_for == Wake::End && to_end > LOOK_AGAIN {
                        Some((Wake::LookAgain, LOOK_AGAIN))
                    } else {
                        Some((Wake::End, to_end))
                    }
                }
            };
            // without quiet hours in digest mode, nothing is kept: what waited is sent
            let Some((wake, wait)) = next else {
                return self.shutdown.triggered().await;
            };
            let (wake, wait) = match wait > AT_MOST {
                true => (Wake::LookAgain, AT_MOST),
                false => (wake, wait),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => woke_for = wake,
                _ = self.shutdown.triggered() => return,
            }
        }
    }

    /// Queues every chat's digest of what waits; logged, and errors too.
    async fn send_waiting(&self) -> Result<(), StorageError> {
        let sent = self.send_each().await;
        if let Err(error) = &sent {
            log::error!(
                "cannot send the digest of the quiet hours: {error}; trying again in {} s",
                RETRY.as_secs()
            );
        }
        sent
    }

    async fn send_each(&self) -> Result<(), StorageError> {
        let rows = self.store.digest_waiting().await?;
        if rows.is_empty() {
            log::debug!("no build results wait for a digest");
            return Ok(());
        }
        let builds: BTreeSet<i64> = rows.iter().map(|r| r.entry.buildid).collect();
        let mut chats: BTreeMap<Chat, Kept> = BTreeMap::new();
        for row in rows {
            let kept = chats.entry(row.chat).or_default();
            kept.ids.push(row.id);
            kept.heard |= row.heard;
            kept.entries.push(row.entry);
        }
        let count = chats.values().filter(|k| k.heard).count();
        for (chat, kept) in chats {
            // a chat that asked for none of the night's results gets no digest of them
            let message = kept.heard.then(|| digest::compose(&kept.entries));
            (self.outbox)
                .enqueue_digest(&chat, message.as_ref(), &kept.ids)
                .await?;
        }
        log::info!("digest for {count} chat(s): {} build(s)", builds.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Delivery;
    use crate::outcome::Outcome;
    use crate::settings::Limits;

    fn entry(buildid: i64) -> DigestEntry {
        DigestEntry {
            buildid,
            builder: "runtests".into(),
            number: buildid,
            result: Outcome::Success,
            previous: None,
            complete_at: 1_000,
            owner: None,
            url: format!("http://bb.example/#/builders/1/builds/{buildid}"),
        }
    }

    /// A timer over a fresh store with results waiting for chats 1 and 2, whose shutdown is
    /// already triggered: [`DigestTimer::run`] looks once, then stops.
    async fn timer(dir: &tempfile::TempDir, window: Option<QuietHours>) -> DigestTimer {
        let store = Store::open(dir.path().join("s.sqlite").to_str().unwrap()).unwrap();
        let delivery = Delivery::new(teloxide::Bot::new("1:x"), Limits::default());
        let shutdown = Shutdown::new();
        let (outbox, _worker) = Outbox::new(
            store.clone(),
            delivery,
            Duration::from_secs(60),
            window,
            shutdown.clone(),
        );
        for buildid in [1, 2] {
            let chats = [(Chat::Id(1), true), (Chat::Id(2), true)];
            store.digest_add(&chats, &entry(buildid)).await.unwrap();
        }
        shutdown.trigger();
        DigestTimer {
            store,
            outbox,
            window,
            shutdown,
        }
    }

    /// A window around now (`around`), or one that ended a minute ago.
    fn window(around: bool) -> QuietHours {
        let second = |epoch: i64| u32::try_from(epoch.rem_euclid(86_400)).unwrap();
        let now = now();
        match around {
            true => QuietHours {
                from: second(now - 60),
                until: second(now + 3600),
            },
            false => QuietHours {
                from: second(now - 3600),
                until: second(now - 60),
            },
        }
    }

    #[tokio::test]
    async fn in_the_window_results_wait_and_after_it_each_chat_gets_one_digest() {
        let dir = tempfile::tempdir().unwrap();
        let night = timer(&dir, Some(window(true))).await;
        night.clone().run().await;
        assert_eq!(night.store.digest_waiting().await.unwrap().len(), 4);
        assert!(night.store.outbox_pending(10).await.unwrap().is_empty());

        let morning = DigestTimer {
            window: Some(window(false)),
            ..night
        };
        morning.clone().run().await;
        assert!(morning.store.digest_waiting().await.unwrap().is_empty());
        let queued = morning.store.outbox_pending(10).await.unwrap();
        let chats: Vec<&Chat> = queued.iter().map(|r| &r.chat).collect();
        assert_eq!(chats, [&Chat::Id(1), &Chat::Id(2)]);
        assert!(
            queued[0]
                .text
                .starts_with("🌙 Overnight: 2 builds, none failed.")
        );
        morning.run().await;
        assert_eq!(dir_rows(&dir).await, 2, "sent once");
    }

    #[tokio::test]
    async fn back_in_silent_mode_what_waited_is_sent_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let silent = timer(&dir, None).await;
        silent.clone().run().await;
        assert!(silent.store.digest_waiting().await.unwrap().is_empty());
        assert_eq!(dir_rows(&dir).await, 2);
    }

    #[tokio::test]
    async fn a_chat_that_asked_for_none_of_the_results_gets_no_digest() {
        let dir = tempfile::tempdir().unwrap();
        let morning = timer(&dir, None).await;
        let quiet = [(Chat::Id(3), false)];
        morning.store.digest_add(&quiet, &entry(1)).await.unwrap();
        morning.clone().run().await;
        assert!(morning.store.digest_waiting().await.unwrap().is_empty());
        let queued = morning.store.outbox_pending(10).await.unwrap();
        let chats: Vec<&Chat> = queued.iter().map(|r| &r.chat).collect();
        assert_eq!(chats, [&Chat::Id(1), &Chat::Id(2)], "not chat 3");
    }

    /// The rows in the outbox of the store in `dir`.
    async fn dir_rows(dir: &tempfile::TempDir) -> usize {
        let store = Store::open(dir.path().join("s.sqlite").to_str().unwrap()).unwrap();
        store.outbox_pending(100).await.unwrap().len()
    }
}
