//! The `/notify` keyboard's builders page: a chat ticks the builders it hears about, each
//! tick a `builder:<name>` term of its filter (the same terms `/notify on builder:…` adds).
//! Paged under Telegram's 100 buttons; the builders are those the bot shows, by name.

use std::sync::Arc;

use teloxide::prelude::*;

use super::HandlerResult;
use super::answer::{master_failure, taken};
use super::context::Context;
use super::keyboards::{self, PAGE};
use super::who::chat_of;
use crate::delivery::Outgoing;
use crate::filter::{Filter, Kind, TERMS_MAX, Term};
use crate::text;

/// The builders the bot shows, by name: `(id, name, ticked)`; or what to say instead when
/// the master cannot be read.
async fn builders(ctx: &Context, filter: &Filter) -> Result<Vec<(i64, String, bool)>, String> {
    let builders = ctx.builders().await.map_err(|e| master_failure(&e))?;
    // a name no term can hold (too long, invisible characters) is not offered
    let mut shown: Vec<(i64, String, bool)> = builders
        .into_iter()
        .filter(|b| b.is_active() && ctx.shows(b) && term_of(&b.name).is_some())
        .map(|b| {
            let on = ticked(filter, &b.name);
            (b.builderid, b.name, on)
        })
        .collect();
    shown.sort_by_key(|(_, name, _)| name.to_lowercase());
    Ok(shown)
}

/// The `builder:` term of a builder's name, when its name makes one.
fn term_of(name: &str) -> Option<Term> {
    format!("{}:{name}", Kind::Builder.name()).parse().ok()
}

fn ticked(filter: &Filter, name: &str) -> bool {
    term_of(name).is_some_and(|term| filter.terms().any(|t| t.same_as(&term)))
}

/// Shows page `page` of the builders in place of the keyboard under `message`.
async fn show(ctx: &Context, message: &Message, page: usize) -> HandlerResult {
    let filter = ctx.store.filter(&chat_of(message)).await?;
    let answer = match builders(ctx, &filter).await {
        Ok(builders) => Outgoing::text(text::notify_builders_prompt(&filter))
            .with_keyboard(keyboards::notify_builders(&builders, page)),
        Err(failure) => Outgoing::text(failure),
    };
    ctx.delivery
        .edit(message.chat.id, message.id, answer)
        .await?;
    Ok(())
}

/// "Builders…", or a page turn on the builders page.
pub async fn notify_builders(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    page: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    show(&ctx, &message, page).await
}

/// A builder tapped on the builders page: its term goes on or off, the page shows it.
pub async fn notify_builder(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    builderid: i64,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let chat = chat_of(&message);
    let filter = ctx.store.filter(&chat).await?;
    let listed = builders(&ctx, &filter).await.unwrap_or_default();
    // a builder the page cannot show (gone, or hidden by notify.tags) changes nothing
    let Some(at) = listed.iter().position(|(id, _, _)| *id == builderid) else {
        return show(&ctx, &message, 0).await;
    };
    let (_, name, on) = &listed[at];
    let Some(term) = term_of(name) else {
        return show(&ctx, &message, at / PAGE).await;
    };
    if !on && filter.terms().count() >= TERMS_MAX {
        let full = Outgoing::text(text::too_many_filters(TERMS_MAX));
        ctx.delivery.edit(message.chat.id, message.id, full).await?;
        return Ok(());
    }
    let (add, remove) = if *on {
        (vec![], vec![term])
    } else {
        (vec![term], vec![])
    };
    ctx.store.update_filter(&chat, &add, &remove).await?;
    show(&ctx, &message, at / PAGE).await
}

/// "Events…": back to the events keyboard.
pub async fn notify_events(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let events = ctx.store.events(&chat_of(&message)).await?;
    let answer =
        Outgoing::text(text::notify_prompt()).with_keyboard(keyboards::notify_toggles(&events));
    ctx.delivery
        .edit(message.chat.id, message.id, answer)
        .await?;
    Ok(())
}
