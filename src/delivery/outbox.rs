//! The notification outbox: every notification is written to the storage file before it is
//! sent and deleted once Telegram took it, so a bot killed in the middle of a fan-out finishes
//! it after a restart (at most one duplicate per chat: a message sent just before the kill).
//!
//! One worker sends the waiting messages, several at once but never two to the same chat (so
//! a chat sees its notifications in order), within the limits and behind people's replies.
//! What Telegram answers decides what happens to a message:
//! - taken: done;
//! - `retry_after`: everything pauses (in [`Delivery`]), then the message goes again;
//! - the group became a supergroup: its subscriptions and waiting messages move there;
//! - the chat blocked or removed the bot: its subscriptions and waiting messages go;
//! - network trouble or a 5xx: tried again with backoff until `give_up_after`, then dropped
//!   with one log line.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use teloxide::types::{ChatId, Recipient};
use teloxide::{ApiError, RequestError};
use tokio::sync::{Notify, Semaphore};

use super::Delivery;
use super::actions::{self, Notification};
use crate::clock::now;
use crate::settings::QuietHours;
use crate::storage::{Chat, OutboxRow, StorageError, Store};

/// Messages in flight at once (to different chats).
const CONCURRENCY: usize = 16;
/// Rows read per round.
const BATCH: usize = 512;

/// Hands notifications to the outbox worker.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    wake: Arc<Notify>,
    /// Messages being sent right now, and whether to start no more (shutting down).
    in_flight: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
}

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

/// Telegram answers that mean "this chat will never take a message from the bot again".
pub fn chat_is_gone(error: &RequestError) -> bool {
    use ApiError::*;
    match error {
        RequestError::Api(api) => match api {
            BotBlocked
            | BotKicked
            | BotKickedFromSupergroup
            | BotKickedFromChannel
            | UserDeactivated
            | ChatNotFound
            | GroupDeactivated
            | CantInitiateConversation
            | CantTalkWithBots => true,
            // e.g. "Forbidden: bot was kicked from the group chat", not mapped by teloxide
            Unknown(description) => description.starts_with("Forbidden:"),
            _ => false,
        },
        _ => false,
    }
}

/// Trouble that may pass: the network, or Telegram's servers.
fn is_transient(error: &RequestError) -> bool {
    match error {
        RequestError::Network(_) | RequestError::Io(_) | RequestError::InvalidJson { .. } => true,
        RequestError::RetryAfter(_) => true,
        RequestError::Api(ApiError::Unknown(description)) => {
            let d = description.to_lowercase();
            [
                "internal server error",
                "bad gateway",
                "service unavailable",
                "gateway timeout",
                "too many requests",
            ]
            .iter()
            .any(|s| d.contains(s))
        }
        _ => false,
    }
}

impl Outbox {
    /// Starts the worker; it first sends whatever an earlier run left waiting.
    pub fn start(
        store: Store,
        delivery: Delivery,
        give_up_after: Duration,
        quiet_hours: Option<QuietHours>,
    ) -> Outbox {
        let wake = Arc::new(Notify::new());
        let in_flight = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            store: store.clone(),
            delivery,
            give_up_after,
            wake: wake.clone(),
            in_flight: in_flight.clone(),
            stopping: stopping.clone(),
            quiet_hours,
        };
        tokio::spawn(worker.run());
        Outbox {
            store,
            wake,
            in_flight,
            stopping,
        }
    }

    /// Starts no new sends and waits (at most `limit`) for those in flight; whatever is left
    /// waits in the storage for the next start.
    pub async fn finish(&self, limit: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + limit;
        while self.in_flight.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.in_flight.load(Ordering::SeqCst);
        if left > 0 {
            log::warn!(
                "stopping with {left} notification(s) in flight; they are sent again at the next start"
            );
        }
    }

    /// Queues `notification` for every chat, durably, and wakes the worker.
    pub async fn enqueue(
        &self,
        chats: &[Chat],
        notification: &Notification,
    ) -> Result<(), StorageError> {
        self.enqueue_live(chats, notification, None).await
    }

    /// Like [`Outbox::enqueue`]; with `live_build`, where each message goes is remembered so
    /// that the build's progress and result can edit it.
    pub async fn enqueue_live(
        &self,
        chats: &[Chat],
        notification: &Notification,
        live_build: Option<i64>,
    ) -> Result<(), StorageError> {
        if chats.is_empty() {
            return Ok(());
        }
        let actions = actions::store(&notification.actions);
        self.store
            .outbox_add(
                chats,
                &notification.text,
                actions.as_deref(),
                live_build,
                now(),
            )
            .await?;
        self.wake.notify_one();
        Ok(())
    }
}

struct Worker {
    store: Store,
    delivery: Delivery,
    give_up_after: Duration,
    wake: Arc<Notify>,
    in_flight: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
    quiet_hours: Option<QuietHours>,
}

impl Worker {
    async fn run(self) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(CONCURRENCY));
        loop {
            let rows = match this.store.outbox_pending(BATCH).await {
                Ok(rows) => rows,
                Err(error) => {
                    log::error!("cannot read the outbox: {error}");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            if rows.is_empty() {
                this.wake.notified().await;
                continue;
            }
            log::debug!("outbox: {} message(s) waiting", rows.len());
            // One message per chat per round keeps each chat's messages in order.
            let mut chats = HashSet::new();
            let mut tasks = tokio::task::JoinSet::new();
            for row in rows {
                if !chats.insert(row.chat.clone()) {
                    continue;
                }
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                if this.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let worker = this.clone();
                worker.in_flight.fetch_add(1, Ordering::SeqCst);
                tasks.spawn(async move {
                    worker.deliver(row).await;
                    worker.in_flight.fetch_sub(1, Ordering::SeqCst);
                    drop(slot);
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Sends one waiting message until it is settled one way or another.
    async fn deliver(&self, mut row: OutboxRow) {
        let mut failures: u32 = 0;
        loop {
            let keyboard = row.markup.as_deref().and_then(actions::stored_keyboard);
            // muted chats and quiet hours: delivered all the same, without a sound
            let muted = self
                .store
                .muted_until(&row.chat, now())
                .await
                .ok()
                .flatten()
                .is_some();
            let silent = muted || self.quiet_hours.is_some_and(|w| w.contains(now()));
            let error = match self
                .delivery
                .send_bulk(
                    recipient(&row.chat),
                    topic(&row.chat),
                    &row.text,
                    keyboard,
                    silent,
                )
                .await
            {
                Ok(sent) => {
                    if let (Some(build), Some(id)) = (row.live_build, sent)
                        && let Err(error) = self.store.live_put(build, &row.chat, id.0).await
                    {
                        log::warn!("cannot remember the live message of build {build}: {error}");
                    }
                    return self.settle(&row).await;
                }
                Err(error) => error,
            };
            match error {
                RequestError::MigrateToChatId(new_id) => {
                    let new_chat = Chat::Id(new_id.0);
                    log::info!(
                        "chat {} became supergroup {new_chat}; moving its subscriptions",
                        row.chat
                    );
                    let moved = async {
                        self.store.move_chat(&row.chat, &new_chat).await?;
                        self.store.outbox_retarget(row.id, &new_chat).await
                    };
                    if let Err(error) = moved.await {
                        log::error!("cannot move chat {} to {new_chat}: {error}", row.chat);
                        return;
                    }
                    row.chat = new_chat;
                }
                error if chat_is_gone(&error) => {
                    if matches!(error, RequestError::Api(ApiError::CantInitiateConversation)) {
                        log::warn!(
                            "chat {} has never started the bot, so Telegram refuses to message it: the user must open the bot and press Start, then send /notify; dropping its subscriptions",
                            row.chat
                        );
                    } else {
                        log::info!(
                            "chat {} no longer takes messages ({error}); dropping its subscriptions",
                            row.chat
                        );
                    }
                    if let Err(error) = self.forget_chat(&row.chat).await {
                        log::error!("cannot drop chat {}: {error}", row.chat);
                    }
                    return;
                }
                error if is_transient(&error) => {
                    let waited =
                        Duration::from_secs(now().saturating_sub(row.created_at).max(0) as u64);
                    if waited >= self.give_up_after {
                        log::error!(
                            "giving up a notification to chat {} after {} s of failures; the last: {error}",
                            row.chat,
                            waited.as_secs()
                        );
                        return self.settle(&row).await;
                    }
                    failures = failures.saturating_add(1);
                    let backoff = Duration::from_millis(500u64 << failures.min(7))
                        .min(Duration::from_secs(60));
                    let jitter = Duration::from_millis(
                        rand::random::<u64>() % (backoff.as_millis() as u64 / 4 + 1),
                    );
                    log::debug!(
                        "notification to chat {} failed ({error}); again in {:?}",
                        row.chat,
                        backoff + jitter
                    );
                    tokio::time::sleep(backoff + jitter).await;
                }
                error => {
                    log::warn!(
                        "Telegram refused a notification to chat {}: {error}; dropping it",
                        row.chat
                    );
                    return self.settle(&row).await;
                }
            }
        }
    }

    async fn settle(&self, row: &OutboxRow) {
        if let Err(error) = self.store.outbox_done(row.id).await {
            log::error!(
                "cannot mark a notification to chat {} as sent: {error}",
                row.chat
            );
        }
    }

    async fn forget_chat(&self, chat: &Chat) -> Result<(), StorageError> {
        self.store.remove_chat(chat).await?;
        self.store.outbox_drop_chat(chat).await
    }
}
