//! What Telegram's refusal of a notification means for it, and for its chat (the table at the
//! top of the outbox module). Each refusal is answered once; a message that may go again is
//! left to the schedule, which decides when.

use std::time::Duration;

use teloxide::{ApiError, RequestError};

use super::schedule::Outcome;
use super::worker::Worker;
use crate::clock::now;
use crate::storage::{Chat, OutboxRow, StorageError};

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

impl Worker {
    /// What Telegram's refusal of `row` means for it (see the module documentation).
    pub(super) async fn refused(&self, row: &OutboxRow, error: RequestError) -> Outcome {
        match error {
            RequestError::MigrateToChatId(new_id) => self.migrate(row, Chat::Id(new_id.0)).await,
            error if chat_is_gone(&error) => self.chat_gone(row, &error).await,
            error if is_transient(&error) => self.transient(row, &error).await,
            error => {
                log::warn!(
                    "Telegram refused a notification to chat {}: {error}; dropping it",
                    row.chat
                );
                self.settle(row).await
            }
        }
    }

    /// The group became `new_chat`, a supergroup: its subscriptions move there, and so does
    /// `row`, which goes at once unless the supergroup has older messages waiting. When the
    /// move fails the message stays where it was and is tried again after a backoff.
    async fn migrate(&self, row: &OutboxRow, new_chat: Chat) -> Outcome {
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
            return Outcome::Failed;
        }
        Outcome::Settled
    }

    /// The chat will never take a message again: its subscriptions and waiting messages go.
    /// When the storage cannot drop them, the chat is tried again after a backoff.
    async fn chat_gone(&self, row: &OutboxRow, error: &RequestError) -> Outcome {
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
            return Outcome::Failed;
        }
        Outcome::Settled
    }

    /// Trouble that may pass: `row` goes again after its chat's backoff, or is given up once
    /// it has waited `give_up_after` since it was queued.
    async fn transient(&self, row: &OutboxRow, error: &RequestError) -> Outcome {
        let waited = Duration::from_secs(now().saturating_sub(row.created_at).max(0) as u64);
        if waited >= self.give_up_after {
            log::error!(
                "giving up a notification to chat {} after {} s of failures; the last: {error}",
                row.chat,
                waited.as_secs()
            );
            return self.settle(row).await;
        }
        log::debug!("notification to chat {} failed: {error}", row.chat);
        Outcome::Failed
    }

    async fn forget_chat(&self, chat: &Chat) -> Result<(), StorageError> {
        self.store.remove_chat(chat).await?;
        self.store.outbox_drop_chat(chat).await
    }
}
