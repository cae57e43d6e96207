//! The notification outbox: every notification is written to the storage file before it is
//! sent and deleted once Telegram took it, so a bot killed in the middle of a fan-out finishes
//! it after a restart (at most one duplicate per chat: a message sent just before the kill).
//!
//! One worker sends the waiting messages, within the limits and behind people's replies:
//! several at once (at most `CONCURRENCY`) but never two to the same chat, and each chat's
//! in the order they were queued. Every chat has its own line (`schedule.rs`): a chat whose
//! messages fail waits out its own backoff, and every other chat goes on meanwhile
//! (`worker.rs`); a group waiting for its 20-a-minute window in [`Delivery`] holds one slot
//! while it waits, the other slots go on. What Telegram answers decides what happens to a
//! message (`refusals.rs`):
//! - taken: done. Should its row then fail to be deleted (a full disk, a locked file), it is
//!   not sent again by this process, and deleting it is tried again every few seconds;
//! - `retry_after`: everything pauses (in [`Delivery`]), then the message goes again;
//! - the group became a supergroup: its subscriptions move there and the message goes there
//!   next (the group's other waiting messages follow, each when Telegram says it again);
//! - the chat blocked or removed the bot: its subscriptions and waiting messages go;
//! - network trouble or a 5xx: the message stays first in its chat's line, and the chat waits
//!   a backoff (1 s, doubling, at most a minute) before it is tried again; once the message
//!   has waited `give_up_after` since it was queued, it is dropped with one log line;
//! - anything else: dropped with one log line.
//!
//! At shutdown no new send starts, the sends in flight get `DRAIN` to finish, backoffs end
//! at once, and whatever is still waiting is sent at the next start.

mod refusals;
mod schedule;
mod worker;

pub use refusals::chat_is_gone;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use teloxide::types::{ChatId, Recipient};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::Delivery;
use super::actions::{self, Notification};
use crate::clock::now;
use crate::settings::QuietHours;
use crate::shutdown::Shutdown;
use crate::storage::{Chat, Queued, StorageError, Store};
use worker::Worker;

/// Messages in flight at once (to different chats).
const CONCURRENCY: usize = 16;

/// What runs the outbox: each [`OutboxWorker::run`] is a fresh worker over the same storage,
/// so one that died can be replaced (what it knew only in memory — backoffs, rows sent but
/// not deleted — starts over).
pub struct OutboxWorker(Worker);

impl OutboxWorker {
    pub fn run(&self) -> impl std::future::Future<Output = ()> + Send + use<> {
        self.0.clone().run()
    }
}

/// Hands notifications to the outbox worker.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    wake: Arc<Notify>,
}

/// How long the messages in flight at shutdown may take to finish; the rest are sent again
/// at the next start.
const DRAIN: Duration = Duration::from_secs(5);

pub fn recipient(chat: &Chat) -> Recipient {
    match chat {
        Chat::Id(id) | Chat::Topic(id, _) => Recipient::Id(ChatId(*id)),
        Chat::Channel(name) => Recipient::ChannelUsername(name.clone()),
    }
}

/// The forum topic a message to `chat` goes to, if any.
pub fn topic(chat: &Chat) -> Option<i32> {
    match chat {
        Chat::Topic(_, thread) => Some(*thread),
        _ => None,
    }
}

impl Outbox {
    /// Starts the worker; it first sends whatever an earlier run left waiting, and runs until
    /// `shutdown`. Await the handle to let the messages in flight finish (at most `DRAIN`).
    pub fn start(
        store: Store,
        delivery: Delivery,
        give_up_after: Duration,
        quiet_hours: Option<QuietHours>,
        shutdown: Shutdown,
    ) -> (Outbox, JoinHandle<()>) {
        let (outbox, worker) = Outbox::new(store, delivery, give_up_after, quiet_hours, shutdown);
        (outbox, tokio::spawn(worker.run()))
    }

    /// Like [`Outbox::start`], leaving the worker to the caller to run — and to run again
    /// if it ever ends or panics before the shutdown (`app` supervises it).
    pub fn new(
        store: Store,
        delivery: Delivery,
        give_up_after: Duration,
        quiet_hours: Option<QuietHours>,
        shutdown: Shutdown,
    ) -> (Outbox, OutboxWorker) {
        let wake = Arc::new(Notify::new());
        let worker = OutboxWorker(Worker {
            store: store.clone(),
            delivery,
            give_up_after,
            wake: wake.clone(),
            shutdown,
            quiet_hours,
        });
        (Outbox { store, wake }, worker)
    }

    /// Queues `notification` for every chat, durably, and wakes the worker.
    pub async fn enqueue(
        &self,
        chats: &[Chat],
        notification: &Notification,
    ) -> Result<(), StorageError> {
        self.enqueue_live(chats, notification, None).await
    }

    /// Queues `chat`'s morning digest (`None`: no message, the chat asked for none of the
    /// results) and deletes the kept results `ids` it sums up in one transaction, so it is
    /// neither lost nor queued twice; wakes the worker.
    pub async fn enqueue_digest(
        &self,
        chat: &Chat,
        digest: Option<&Notification>,
        ids: &[i64],
    ) -> Result<(), StorageError> {
        let actions = digest.and_then(|d| actions::store(&d.actions));
        let message = digest.map(|d| (d.text.as_str(), actions.as_deref()));
        if self.store.digest_send(chat, ids, message, now()).await? {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Like [`Outbox::enqueue`]; with `live_build`, where each message goes is remembered so
    /// that the build's progress and result can edit it.
    pub async fn enqueue_live(
        &self,
        chats: &[Chat],
        notification: &Notification,
        live_build: Option<i64>,
    ) -> Result<(), StorageError> {
        self.enqueue_silent(chats, notification, live_build, &BTreeSet::new())
            .await
    }

    /// Like [`Outbox::enqueue_live`]; the chats in `silent` get it without a sound.
    pub async fn enqueue_silent(
        &self,
        chats: &[Chat],
        notification: &Notification,
        live_build: Option<i64>,
        silent: &BTreeSet<Chat>,
    ) -> Result<(), StorageError> {
        if chats.is_empty() {
            return Ok(());
        }
        let actions = actions::store(&notification.actions);
        let queued = Queued {
            text: &notification.text,
            markup: actions.as_deref(),
            live_build,
        };
        self.store.outbox_add(chats, queued, silent, now()).await?;
        self.wake.notify_one();
        Ok(())
    }
}
