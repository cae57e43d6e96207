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
use std::time::Duration;

use teloxide::types::{ChatId, Recipient};
use teloxide::{ApiError, RequestError};
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use super::Delivery;
use super::actions::{self, Notification};
use crate::clock::now;
use crate::settings::QuietHours;
use crate::shutdown::Shutdown;
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

/// Gives the messages in flight at shutdown [`DRAIN`] to finish; the rest stay in the
/// storage and are sent at the next start (at most one duplicate: a message Telegram took
/// just as it was cut off).
async fn drain(mut tasks: JoinSet<()>) {
    let finished =
        tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        log::warn!(
            "stopping with {} notification(s) in flight; they are sent again at the next start",
            tasks.len()
        );
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
    /// Starts the worker; it first sends whatever an earlier run left waiting, and runs until
    /// `shutdown`. Await the handle to let the messages in flight finish (at most `DRAIN`).
    pub fn start(
        store: Store,
        delivery: Delivery,
        give_up_after: Duration,
        quiet_hours: Option<QuietHours>,
        shutdown: Shutdown,
    ) -> (Outbox, JoinHandle<()>) {
        let wake = Arc::new(Notify::new());
        let worker = Worker {
            store: store.clone(),
            delivery,
            give_up_after,
            wake: wake.clone(),
            shutdown,
            quiet_hours,
        };
        let handle = tokio::spawn(worker.run());
        (Outbox { store, wake }, handle)
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

/// What becomes of a message after Telegram refused it.
enum Next {
    /// Send it again (any backoff has been waited already).
    Retry,
    /// Settled, or left waiting in the storage for the next start: stop trying.
    Done,
    /// Its chat became this supergroup: send it there, at once.
    Moved(Chat),
}

struct Worker {
    store: Store,
    delivery: Delivery,
    give_up_after: Duration,
    wake: Arc<Notify>,
    shutdown: Shutdown,
    quiet_hours: Option<QuietHours>,
}

impl Worker {
    async fn run(self) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(CONCURRENCY));
        while !this.shutdown.is_triggered() {
            let rows = match this.store.outbox_pending(BATCH).await {
                Ok(rows) => rows,
                Err(error) => {
                    log::error!("cannot read the outbox: {error}");
                    this.pause(Duration::from_secs(5)).await;
                    continue;
                }
            };
            if rows.is_empty() {
                tokio::select! {
                    _ = this.wake.notified() => {}
                    _ = this.shutdown.triggered() => {}
                }
                continue;
            }
            log::debug!("outbox: {} message(s) waiting", rows.len());
            let mut tasks = this.round(rows, &slots).await;
            tokio::select! {
                _ = async { while tasks.join_next().await.is_some() {} } => {}
                _ = this.shutdown.triggered() => return drain(tasks).await,
            }
        }
    }

    /// Starts one round: one message per chat keeps each chat's messages in order.
    async fn round(self: &Arc<Self>, rows: Vec<OutboxRow>, slots: &Arc<Semaphore>) -> JoinSet<()> {
        let mut chats = HashSet::new();
        let mut tasks = JoinSet::new();
        for row in rows {
            if !chats.insert(row.chat.clone()) {
                continue;
            }
            // stopping wins over a free slot: no send starts after the shutdown
            let slot = tokio::select! {
                biased;
                _ = self.shutdown.triggered() => break,
                slot = slots.clone().acquire_owned() => slot,
            };
            let Ok(slot) = slot else { break };
            let worker = self.clone();
            tasks.spawn(async move {
                worker.deliver(row).await;
                drop(slot);
            });
        }
        tasks
    }

    /// Waits `delay`, or less when the bot is stopping.
    async fn pause(&self, delay: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.shutdown.triggered() => {}
        }
    }

    /// Sends one waiting message until it is settled one way or another.
    async fn deliver(&self, mut row: OutboxRow) {
        let mut failures: u32 = 0;
        loop {
            let keyboard = row.markup.as_deref().and_then(actions::stored_keyboard);
            let silent = self.silent(&row.chat).await;
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
            match self.refused(&row, error, &mut failures).await {
                Next::Retry => {}
                Next::Moved(chat) => row.chat = chat,
                Next::Done => return,
            }
        }
    }

    /// Muted chats and quiet hours: delivered all the same, without a sound.
    async fn silent(&self, chat: &Chat) -> bool {
        let muted_until = self.store.muted_until(chat, now()).await;
        muted_until.ok().flatten().is_some() || self.quiet_hours.is_some_and(|w| w.contains(now()))
    }

    /// What Telegram's refusal of `row` means for it (see the module documentation);
    /// `failures` counts the transient ones, for the backoff.
    async fn refused(&self, row: &OutboxRow, error: RequestError, failures: &mut u32) -> Next {
        match error {
            RequestError::MigrateToChatId(new_id) => self.migrate(row, Chat::Id(new_id.0)).await,
            error if chat_is_gone(&error) => self.chat_gone(row, &error).await,
            error if is_transient(&error) => self.back_off(row, &error, failures).await,
            error => {
                log::warn!(
                    "Telegram refused a notification to chat {}: {error}; dropping it",
                    row.chat
                );
                self.settle(row).await;
                Next::Done
            }
        }
    }

    /// The group became `new_chat`, a supergroup: its subscriptions and waiting messages
    /// move there, and `row` is sent there. When the move fails the message stays waiting.
    async fn migrate(&self, row: &OutboxRow, new_chat: Chat) -> Next {
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
            return Next::Done;
        }
        Next::Moved(new_chat)
    }

    /// The chat will never take a message again: its subscriptions and waiting messages go.
    async fn chat_gone(&self, row: &OutboxRow, error: &RequestError) -> Next {
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
        Next::Done
    }

    /// Trouble that may pass: waits a growing, jittered backoff before `row` goes again, or
    /// gives it up after `give_up_after`. A shutdown meanwhile leaves it for the next start.
    async fn back_off(&self, row: &OutboxRow, error: &RequestError, failures: &mut u32) -> Next {
        let waited = Duration::from_secs(now().saturating_sub(row.created_at).max(0) as u64);
        if waited >= self.give_up_after {
            log::error!(
                "giving up a notification to chat {} after {} s of failures; the last: {error}",
                row.chat,
                waited.as_secs()
            );
            self.settle(row).await;
            return Next::Done;
        }
        *failures = failures.saturating_add(1);
        let backoff =
            Duration::from_millis(500u64 << (*failures).min(7)).min(Duration::from_secs(60));
        let jitter =
            Duration::from_millis(rand::random::<u64>() % (backoff.as_millis() as u64 / 4 + 1));
        log::debug!(
            "notification to chat {} failed ({error}); again in {:?}",
            row.chat,
            backoff + jitter
        );
        self.pause(backoff + jitter).await;
        if self.shutdown.is_triggered() {
            // still waiting in the storage: the next start sends it
            return Next::Done;
        }
        Next::Retry
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
