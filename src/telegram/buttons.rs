//! The buttons that are not part of a conversation: `/list` choices, `/notify` toggles,
//! `/watch` choices (Rebuild, with its question, is in [`super::rebuild`]); and the first
//! check every tap passes ([`is_not_on_message`]), with its refusals. The schema has checked
//! that the tapped message carries the data, decoded the [`Callback`] and checked authz for
//! its command before any of these run; a button that names a build has had it judged by
//! [`judge_build`] too.

use std::sync::Arc;

use teloxide::prelude::*;

use super::HandlerResult;
use super::answer::{master_failure, render, taken};
use super::commands::list::list_answer;
use super::commands::subscriptions::{
    notify_list_text, watch_one, watch_page as watch_page_keyboard,
};
use super::context::Context;
use super::keyboards;
use super::who::{chat_of, user_id};
use crate::buildbot::models::{Build, Builder};
use crate::callback::{Callback, ListRequest};
use crate::delivery::{MESSAGE_LIMIT, Outgoing, split};
use crate::event::Event;
use crate::text;

/// The data of a tapped button, when it is exactly what this version writes.
pub fn decode(query: CallbackQuery) -> Option<Callback> {
    query.data.as_deref().and_then(Callback::decode)
}

/// The message a button sits under; `None` when Telegram no longer gives it (older than
/// 48 hours, sent as an inaccessible message without its keyboard), so the tap cannot be
/// judged by what the message shows. (Taps on inline-mode messages have no chat and never get
/// this far: the dispatcher's default handler answers them.)
pub fn message_of(query: CallbackQuery) -> Option<Message> {
    query.regular_message().cloned()
}

/// True when the tapped message does not carry the tapped data among its buttons: forged
/// (any client can send any data on any message of the bot) or from a keyboard the bot has
/// replaced since. Checked before anything else, so that no handler edits, answers on or
/// takes the buttons of a message for a button it does not show.
pub fn is_not_on_message(query: CallbackQuery, message: Message) -> bool {
    !query
        .data
        .as_deref()
        .is_some_and(|data| keyboards::carries_data(&message, data))
}

/// A tap whose data is not on its message: a notice, and the message is left as it is.
pub async fn not_on_message(ctx: Arc<Context>, query: CallbackQuery) -> HandlerResult {
    log::info!(
        "refused button data {:?} that its message does not carry, from user {}",
        query.data,
        user_id(&query.from)
    );
    ctx.delivery
        .answer_callback(query.id.clone(), Some(text::button_not_on_message()), true)
        .await?;
    Ok(())
}

/// True when the tapper may not run the command the button belongs to.
pub fn is_denied(ctx: Arc<Context>, query: CallbackQuery, callback: Callback) -> bool {
    !ctx.allows(callback.command(), user_id(&query.from))
}

pub async fn deny(ctx: Arc<Context>, query: CallbackQuery, callback: Callback) -> HandlerResult {
    let command = callback.command();
    log::info!("denied button /{command} to user {}", user_id(&query.from));
    let notice = text::button_not_allowed(command.as_str());
    ctx.delivery
        .answer_callback(query.id.clone(), Some(notice), true)
        .await?;
    Ok(())
}

/// Data that is on its message but that this version does not read (a keyboard drawn by an
/// older version): a notice, and the message is left as it is.
pub async fn unreadable(ctx: Arc<Context>, query: CallbackQuery) -> HandlerResult {
    log::info!(
        "refused unreadable button data {:?} from user {}",
        query.data,
        user_id(&query.from)
    );
    ctx.delivery
        .answer_callback(query.id.clone(), Some(text::stale_button()), false)
        .await?;
    Ok(())
}

/// A button whose message Telegram no longer gives (too old): what it shows cannot be
/// checked, so nothing is done and the person is told to use the command again.
pub async fn too_old(ctx: Arc<Context>, query: CallbackQuery) -> HandlerResult {
    log::info!(
        "refused a button on a message too old to be read, from user {}",
        user_id(&query.from)
    );
    ctx.delivery
        .answer_callback(query.id.clone(), Some(text::button_too_old()), true)
        .await?;
    Ok(())
}

/// A `/list` choice: the answer replaces the question when it fits; otherwise the buttons go
/// and the answer follows as new messages.
pub async fn list(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    request: ListRequest,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let (chat, id) = (message.chat.id, message.id);
    let answer = render(list_answer(&ctx, request).await);
    if split(&answer.text, MESSAGE_LIMIT).len() == 1 {
        ctx.delivery.edit(chat, id, answer).await?;
    } else {
        ctx.delivery.remove_keyboard(chat, id).await?;
        ctx.delivery.send(chat, None, answer).await?;
    }
    Ok(())
}

/// A `/notify` toggle: flip the event, show the keyboard again in place.
pub async fn notify_toggle(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    event: Event,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let target = chat_of(&message);
    let on = ctx.store.events(&target).await?.contains(&event);
    let (add, remove) = if on {
        (vec![], vec![event])
    } else {
        (vec![event], vec![])
    };
    let events = ctx.store.update_events(&target, &add, &remove).await?;
    ctx.delivery
        .edit_keyboard(
            message.chat.id,
            message.id,
            keyboards::notify_toggles(&events),
        )
        .await?;
    Ok(())
}

/// `/notify`'s Done: the keyboard goes, the list of events stays.
pub async fn notify_done(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let chat = chat_of(&message);
    let (events, filter) = (
        ctx.store.events(&chat).await?,
        ctx.store.filter(&chat).await?,
    );
    ctx.delivery
        .edit(
            message.chat.id,
            message.id,
            Outgoing::text(notify_list_text(&ctx, &chat, &events, &filter).await?),
        )
        .await?;
    Ok(())
}

/// A build a button names, when it is one the bot shows.
#[derive(Debug, Clone)]
pub struct ShownBuild {
    pub build: Build,
    pub builder: Builder,
}

/// What a button's build turned out to be.
#[derive(Debug, Clone)]
pub enum Judged {
    Shown(Box<ShownBuild>),
    /// No such build, or its builder is outside `notify.tags`: the bot never draws a button
    /// for one, so the data was forged. Not told apart, so that forging learns nothing.
    Hidden,
    /// The master did not answer: the text that says so.
    Unanswered(String),
}

/// Button data names any build id the client likes: the button acts only on a build that
/// exists and whose builder the bot shows, by the same `Context::shows` as every list.
pub async fn judge_build(ctx: Arc<Context>, buildid: i64) -> Judged {
    let found = async {
        let Some(build) = ctx.buildbot.build(buildid).await? else {
            return Ok(None);
        };
        let builders = ctx.builders().await?;
        let builder = builders
            .into_iter()
            .find(|b| b.builderid == build.builderid && ctx.shows(b));
        Ok(builder.map(|builder| Box::new(ShownBuild { build, builder })))
    };
    match found.await {
        Ok(Some(shown)) => Judged::Shown(shown),
        Ok(None) => Judged::Hidden,
        Err(error) => Judged::Unanswered(master_failure(&error)),
    }
}

/// A tap for a build the bot does not show: refused in a notice, nothing done.
pub async fn hidden_build(ctx: Arc<Context>, query: CallbackQuery, buildid: i64) -> HandlerResult {
    log::info!(
        "refused a button for build {buildid}, which the bot does not show, from user {}",
        user_id(&query.from)
    );
    ctx.delivery
        .answer_callback(query.id.clone(), Some(text::build_not_shown()), true)
        .await?;
    Ok(())
}

/// The master could not say what the build is: the tap is taken, and the chat told why.
pub async fn unanswered_build(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    failure: String,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    ctx.delivery
        .send(message.chat.id, Some(message.id), Outgoing::text(failure))
        .await?;
    Ok(())
}

/// A `/watch` choice.
pub async fn watch(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    shown: Box<ShownBuild>,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let chat = chat_of(&message);
    let answer = render(watch_one(&ctx, &chat, &shown.build, &shown.builder).await);
    ctx.delivery
        .edit(message.chat.id, message.id, answer)
        .await?;
    Ok(())
}

/// A page of the `/watch` choices, as the running builds are now.
pub async fn watch_page(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    page: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    match watch_page_keyboard(&ctx, page).await {
        Ok(keyboard) => {
            ctx.delivery
                .edit_keyboard(message.chat.id, message.id, keyboard)
                .await?
        }
        Err(error) => {
            ctx.delivery
                .send(
                    message.chat.id,
                    Some(message.id),
                    Outgoing::text(master_failure(&error)),
                )
                .await?;
        }
    }
    Ok(())
}
