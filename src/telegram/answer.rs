//! How a handler's outcome becomes a message: one place turns a usage mistake, a master that
//! cannot be asked, or a storage failure into the text the user reads (and the log line the
//! admin reads).

use teloxide::types::Message;

use super::HandlerResult;
use super::context::Context;
use crate::buildbot;
use crate::command::CommandName;
use crate::delivery::Outgoing;
use crate::storage::StorageError;
use crate::text;

/// Why a command could not be answered the way the user hoped.
pub enum Failure {
    /// Bad arguments: the HTML text says what was wrong and how to do it right.
    Usage(String),
    /// The master could not be asked.
    Master(buildbot::Error),
    /// The bot's own storage failed.
    Storage(StorageError),
}

impl From<StorageError> for Failure {
    fn from(error: StorageError) -> Self {
        Failure::Storage(error)
    }
}

impl From<buildbot::Error> for Failure {
    fn from(error: buildbot::Error) -> Self {
        Failure::Master(error)
    }
}

pub type Answer = Result<Outgoing, Failure>;

/// The text for a master that could not be asked; the error is logged for the admin.
pub fn master_failure(error: &buildbot::Error) -> String {
    log::warn!("Buildbot request failed: {error}");
    text::master_unavailable(&error.to_string())
}

/// Turns an answer into a message.
pub fn render(answer: Answer) -> Outgoing {
    match answer {
        Ok(message) => message,
        Err(Failure::Usage(text)) => Outgoing::text(text),
        Err(Failure::Master(error)) => Outgoing::text(master_failure(&error)),
        Err(Failure::Storage(error)) => {
            log::error!("{error}");
            Outgoing::text(text::storage_failed())
        }
    }
}

/// Answers `msg` with `answer`, rendered.
pub async fn reply(ctx: &Context, msg: &Message, answer: Answer) -> HandlerResult {
    ctx.reply(msg, render(answer)).await?;
    Ok(())
}

/// Answers `msg` with a text.
pub async fn say(ctx: &Context, msg: &Message, text: String) -> HandlerResult {
    ctx.reply(msg, Outgoing::text(text)).await?;
    Ok(())
}

/// Answers a tap that was taken, without a notice: the client stops its spinner.
pub async fn taken(ctx: &Context, query: &teloxide::types::CallbackQuery) -> HandlerResult {
    ctx.delivery
        .answer_callback(query.id.clone(), None, false)
        .await?;
    Ok(())
}

/// Answers a tap on a button that can no longer act ("no longer valid") and takes the
/// message's buttons away, so that they are not tapped again.
pub async fn no_longer_valid(
    ctx: &Context,
    query: &teloxide::types::CallbackQuery,
    message: &Message,
) -> HandlerResult {
    ctx.delivery
        .answer_callback(query.id.clone(), Some(text::stale_button()), false)
        .await?;
    ctx.delivery
        .remove_keyboard(message.chat.id, message.id)
        .await?;
    Ok(())
}

/// Splits arguments like a shell does, so that `"my builder"` is one word.
pub fn words(args: &str, command: CommandName) -> Result<Vec<String>, Failure> {
    shlex::split(args).ok_or_else(|| usage_failure(command, &text::unclosed_quote()))
}

/// A usage mistake: what was wrong, and how the command is used.
pub fn usage_failure(command: CommandName, reason: &str) -> Failure {
    Failure::Usage(text::bad_arguments(
        reason,
        text::usage_of(command, None).unwrap_or_default(),
    ))
}
