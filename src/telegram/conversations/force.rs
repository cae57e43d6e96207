//! `/force`: choose a ForceScheduler and a builder, fill in the parameters, start the build.
//! `/force builder [reason] [name=value ...]` does it in one line, without questions.

use std::sync::Arc;

use teloxide::prelude::*;

use super::ForceForm;
use super::force_form::{form_screen, new_form, submit, validate};
use super::force_line;
use super::{Conversation, Owner, State, Turn, ask, begin, end, show, stale, starter, step};
use crate::buildbot::models::{FieldKind, ForceScheduler};
use crate::callback::Tap;
use crate::command::CommandName;
use crate::delivery::Outgoing;
use crate::telegram::HandlerResult;
use crate::telegram::answer::taken;
use crate::telegram::answer::{master_failure, say};
use crate::telegram::context::Context;
use crate::telegram::keyboards;
use crate::text;

/// `/force`: asks for the scheduler, or goes on to the builder when there is one.
pub async fn start(
    ctx: Arc<Context>,
    msg: Message,
    args: String,
    dialogue: Conversation,
) -> HandlerResult {
    let Some(owner) = starter(&ctx, &msg, CommandName::Force).await else {
        return Ok(());
    };
    let schedulers = match ctx.buildbot.force_schedulers().await {
        Ok(s) => s,
        Err(error) => return say(&ctx, &msg, master_failure(&error)).await,
    };
    if schedulers.is_empty() {
        return say(&ctx, &msg, text::no_force_schedulers()).await;
    }
    let words = match force_line::words(&args) {
        Ok(words) => words,
        Err(problem) => return say(&ctx, &msg, force_line::refusal(problem, &[])).await,
    };
    if !words.is_empty() {
        end(&ctx, &dialogue, &msg, owner.user_id).await?;
        return force_line::at_once(&ctx, &msg, &owner, &schedulers, &words).await;
    }
    if let [scheduler] = schedulers.as_slice() {
        return match choose_builder(&ctx, owner, scheduler).await {
            Ok((next, screen)) => begin(&ctx, &dialogue, &msg, next, screen).await,
            Err(failure) => say(&ctx, &msg, failure).await,
        };
    }
    let buttons: Vec<(String, Tap)> = schedulers
        .iter()
        .enumerate()
        .map(|(i, s)| (s.title().to_owned(), Tap::Scheduler(i)))
        .collect();
    let first = State::ChoosingScheduler {
        owner,
        schedulers: schedulers.into_iter().map(|s| s.name).collect(),
    };
    let prompt = Outgoing::text(text::force_choose_scheduler())
        .with_keyboard(keyboards::conversation(&buttons));
    begin(&ctx, &dialogue, &msg, first, prompt).await
}

/// What comes after the scheduler: the next step and its screen, or the text of a master
/// that could not be asked (the conversation then stays where it was, so the user can tap
/// again).
type Next = Result<(State, Outgoing), String>;

/// Asks for the builder, or goes straight to the parameters when there is one choice.
async fn choose_builder(ctx: &Context, owner: Owner, scheduler: &ForceScheduler) -> Next {
    let known = ctx
        .buildbot
        .builders()
        .await
        .map_err(|error| master_failure(&error))?;
    let builders: Vec<String> = scheduler
        .builder_names
        .iter()
        .filter(|name| known.iter().any(|b| &b.name == *name && ctx.shows(b)))
        .cloned()
        .collect();
    if let [builder] = builders.as_slice() {
        let form = new_form(ctx, scheduler, builder)
            .await
            .map_err(|error| master_failure(&error))?;
        return Ok(to_form(owner, form, &[]));
    }
    let screen = builder_screen(scheduler.title(), &builders, 0);
    let next = State::ChoosingBuilder {
        owner,
        scheduler: scheduler.name.clone(),
        builders,
    };
    Ok((next, screen))
}

/// Which builder: page `page` of the scheduler's builders, a button each.
fn builder_screen(title: &str, builders: &[String], page: usize) -> Outgoing {
    let buttons: Vec<(String, Tap)> = builders
        .iter()
        .enumerate()
        .map(|(i, b)| (b.clone(), Tap::Builder(i)))
        .collect();
    Outgoing::text(text::force_choose_builder(title))
        .with_keyboard(keyboards::conversation_page(&buttons, page))
}

/// `ChoosingBuilder` + ◀ or ▶: another page of the builders.
pub async fn builder_page(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, scheduler, builders): (Owner, String, Vec<String>),
    page: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let schedulers = ctx.buildbot.force_schedulers().await.unwrap_or_default();
    let title = schedulers
        .iter()
        .find(|s| s.name == scheduler)
        .map_or(scheduler.as_str(), |s| s.title());
    let screen = builder_screen(title, &builders, page);
    let next = State::ChoosingBuilder {
        owner: turn.owner,
        scheduler: scheduler.clone(),
        builders,
    };
    step(&ctx, &dialogue, &message, (next, screen)).await
}

/// The conversation (back) at the parameters screen, marking `missing` fields: the step and
/// its screen.
fn to_form(owner: Owner, form: ForceForm, missing: &[usize]) -> (State, Outgoing) {
    let screen = form_screen(&form, missing);
    (State::EditingForce { owner, form }, screen)
}

// ---------------------------------------------------------------------------------------------
// The steps, one function each, as the schema routes them

/// `ChoosingScheduler` + a scheduler button.
pub async fn scheduler_chosen(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, schedulers): (Owner, Vec<String>),
    index: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let all = ctx.buildbot.force_schedulers().await;
    let chosen = all.ok().and_then(|all| {
        let name = schedulers.get(index)?;
        all.into_iter().find(|s| &s.name == name)
    });
    let Some(scheduler) = chosen else {
        return stale(&ctx, &dialogue, &message).await;
    };
    match choose_builder(&ctx, turn.owner, &scheduler).await {
        Ok(next) => step(&ctx, &dialogue, &message, next).await,
        // the scheduler buttons stay, to tap again once the master answers
        Err(failure) => say(&ctx, &message, failure).await,
    }
}

/// `ChoosingBuilder` + a builder button.
pub async fn builder_chosen(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, scheduler, builders): (Owner, String, Vec<String>),
    index: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let all = ctx.buildbot.force_schedulers().await.unwrap_or_default();
    let found = all
        .iter()
        .find(|s| s.name == scheduler)
        .zip(builders.get(index));
    let Some((scheduler, builder)) = found else {
        return stale(&ctx, &dialogue, &message).await;
    };
    match new_form(&ctx, scheduler, builder).await {
        Ok(form) => step(&ctx, &dialogue, &message, to_form(turn.owner, form, &[])).await,
        Err(error) => show(&ctx, &message, Outgoing::text(master_failure(&error))).await,
    }
}

/// `EditingForce` + a field's ✏️ button: ask for its value (buttons for booleans and choices,
/// a typed answer otherwise).
pub async fn edit_field(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, form): (Owner, ForceForm),
    field: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let Some(spec) = form
        .fields
        .get(field)
        .filter(|f| f.kind != FieldKind::Fixed)
    else {
        return stale(&ctx, &dialogue, &message).await;
    };
    let mention = (!message.chat.is_private())
        .then(|| query.from.username.clone())
        .flatten();
    let question = text::force_ask_value(&spec.label, &form.values[field], mention.as_deref());
    let choices: Vec<String> = match &spec.kind {
        FieldKind::Bool => vec!["true".into(), "false".into()],
        FieldKind::Choice { choices, .. } => choices.clone(),
        _ => Vec::new(),
    };
    let prompt = if choices.is_empty() {
        Outgoing::text(question).asking()
    } else {
        let buttons: Vec<(String, Tap)> = choices
            .into_iter()
            .enumerate()
            .map(|(i, c)| (c, Tap::Value(i)))
            .collect();
        Outgoing::text(question).with_keyboard(keyboards::conversation(&buttons))
    };
    ctx.delivery
        .remove_keyboard(message.chat.id, message.id)
        .await?;
    // the question is a new message: the form's buttons are gone, and no longer answer
    let owner = turn.owner;
    let next = State::AwaitingValue { owner, form, field };
    ask(&ctx, &dialogue, next, (message.chat.id, None), prompt).await
}

/// `AwaitingValue` + a value button (booleans and choices).
pub async fn value_chosen(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, mut form, field): (Owner, ForceForm, usize),
    index: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let choice = match form.fields.get(field).map(|f| &f.kind) {
        Some(FieldKind::Bool) => ["true", "false"].get(index).map(|v| v.to_string()),
        Some(FieldKind::Choice { choices, .. }) => choices.get(index).cloned(),
        _ => None,
    };
    let Some(value) = choice else {
        return stale(&ctx, &dialogue, &message).await;
    };
    form.values[field] = value;
    step(&ctx, &dialogue, &message, to_form(turn.owner, form, &[])).await
}

/// `AwaitingValue` + a typed answer: checked by the field's kind; a bad value is explained
/// and asked again.
pub async fn receive_value(
    ctx: Arc<Context>,
    msg: Message,
    dialogue: Conversation,
    turn: Turn,
    (_, mut form, field): (Owner, ForceForm, usize),
) -> HandlerResult {
    let Some(spec) = form.fields.get(field) else {
        dialogue.exit().await?;
        return Ok(());
    };
    match validate(spec, msg.text().unwrap_or_default()) {
        // the state still waits for this field
        Err(problem) => {
            say(
                &ctx,
                &msg,
                text::force_bad_value(&spec.label, &problem, true),
            )
            .await
        }
        Ok(value) => {
            form.values[field] = value;
            let (next, screen) = to_form(turn.owner, form, &[]);
            let to = (msg.chat.id, Context::quote(&msg));
            ask(&ctx, &dialogue, next, to, screen).await
        }
    }
}

/// `EditingForce` + Start: the force call. When Buildbot or the check refuses, the form stays
/// for the user to fix what was refused.
pub async fn start_build(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, form): (Owner, ForceForm),
) -> HandlerResult {
    taken(&ctx, &query).await?;
    match submit(&ctx, &form, &turn.owner).await {
        Ok(done) => {
            dialogue.exit().await?;
            show(&ctx, &message, Outgoing::text(done)).await
        }
        Err(problem) => {
            let chat = message.chat.id;
            ctx.delivery.remove_keyboard(chat, message.id).await?;
            ctx.delivery
                .send(chat, None, Outgoing::text(problem))
                .await?;
            // the form comes back as a new message, the one the conversation asks on now
            let missing = form.missing();
            let (next, screen) = to_form(turn.owner, form, &missing);
            ask(&ctx, &dialogue, next, (chat, None), screen).await
        }
    }
}
