//! The buttons that are not part of a conversation: `/list` choices, `/notify` toggles,
//! `/watch` choices, and Rebuild under a failure message. The schema has decoded the
//! [`Callback`] and checked authz for its command before any of these run.

use std::sync::Arc;

use teloxide::prelude::*;

use super::HandlerResult;
use super::answer::{master_failure, no_longer_valid, render, taken};
use super::commands::list::list_answer;
use super::commands::subscriptions::{
    notify_list_text, watch_one, watch_page as watch_page_keyboard,
};
use super::context::Context;
use super::keyboards;
use super::who::{chat_of, user_id};
use crate::callback::{Callback, ListRequest};
use crate::delivery::{MESSAGE_LIMIT, Outgoing, split};
use crate::event::Event;
use crate::text;

/// The data of a tapped button, when it is exactly what this version writes.
pub fn decode(query: CallbackQuery) -> Option<Callback> {
    query.data.as_deref().and_then(Callback::decode)
}

/// The message a button sits under; `None` when Telegram no longer gives it (too old to be
/// read), so the tap cannot be judged by what the message shows. (Taps on inline-mode
/// messages have no chat and never get this far: the dispatcher's default handler answers
/// them.)
pub fn message_of(query: CallbackQuery) -> Option<Message> {
    query.regular_message().cloned()
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

/// Old, forged, or another bot's data: refused, and the buttons go away.
pub async fn refuse(ctx: Arc<Context>, query: CallbackQuery, message: Message) -> HandlerResult {
    log::info!(
        "refused unknown button data {:?} from user {}",
        query.data,
        user_id(&query.from)
    );
    no_longer_valid(&ctx, &query, &message).await
}

/// A button whose message Telegram no longer gives: answered so that the client stops
/// waiting, and nothing done.
pub async fn not_ours(ctx: Arc<Context>, query: CallbackQuery) -> HandlerResult {
    taken(&ctx, &query).await
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
    let events = ctx.store.events(&chat_of(&message)).await?;
    ctx.delivery
        .edit(
            message.chat.id,
            message.id,
            Outgoing::text(notify_list_text(&events)),
        )
        .await?;
    Ok(())
}

/// A `/watch` choice.
pub async fn watch(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    buildid: i64,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let answer = render(watch_one(&ctx, &chat_of(&message), buildid).await);
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

/// Rebuild under a failure message; the request links follow as a reply.
pub async fn rebuild(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    buildid: i64,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let who = query.from.full_name();
    let answer = match ctx.buildbot.rebuild(buildid).await {
        Ok(requests) => {
            log::info!(
                "{who} ({}) asked to rebuild build {buildid}",
                user_id(&query.from)
            );
            let links: Vec<(i64, String)> = requests
                .iter()
                .map(|id| (*id, ctx.buildbot.buildrequest_url(*id)))
                .collect();
            text::rebuild_requested(&who, &links)
        }
        Err(error) => master_failure(&error),
    };
    ctx.delivery
        .send(message.chat.id, Some(message.id), Outgoing::text(answer))
        .await?;
    Ok(())
}
