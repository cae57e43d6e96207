//! `/stop [builder]`: choose a running build, confirm, stop it (the reason names who asked).

use std::sync::Arc;

use teloxide::prelude::*;

use super::{Conversation, Owner, State, Turn, begin, end, show, stale, starter, step};
use crate::buildbot::models::{Build, Builder};
use crate::callback::Tap;
use crate::clock::now;
use crate::command::CommandName;
use crate::delivery::Outgoing;
use crate::telegram::HandlerResult;
use crate::telegram::answer::taken;
use crate::telegram::answer::{master_failure, say};
use crate::telegram::context::Context;
use crate::telegram::keyboards;
use crate::text;

/// `/stop`: the running builds (of one builder, when named) as buttons, or straight to the
/// confirmation when there is one.
pub async fn start(
    ctx: Arc<Context>,
    msg: Message,
    args: String,
    dialogue: Conversation,
) -> HandlerResult {
    let Some(owner) = starter(&ctx, &msg, CommandName::Stop).await else {
        return Ok(());
    };
    let wanted = args.trim();
    let builds = match running(&ctx, wanted).await {
        Ok(builds) => builds,
        Err(error) => return say(&ctx, &msg, master_failure(&error)).await,
    };
    if builds.is_empty() {
        end(&ctx, &dialogue, &msg, owner.user_id).await?;
        let named = (!wanted.is_empty()).then_some(wanted);
        return say(&ctx, &msg, text::nothing_to_stop(named)).await;
    }
    if let [(buildid, label)] = builds.as_slice() {
        let prompt = confirm_prompt(label);
        let first = State::ConfirmingStop {
            owner,
            buildid: *buildid,
            label: label.clone(),
        };
        return begin(&ctx, &dialogue, &msg, first, prompt).await;
    }
    let prompt = choose_screen(&builds, 0);
    let first = State::ChoosingBuildToStop { owner, builds };
    begin(&ctx, &dialogue, &msg, first, prompt).await
}

/// The running builds the bot shows, of `wanted` (any builder when empty): `(buildid, label)`.
async fn running(ctx: &Context, wanted: &str) -> crate::buildbot::Result<Vec<(i64, String)>> {
    let is_wanted = |b: &Builder| wanted.is_empty() || b.name.eq_ignore_ascii_case(wanted);
    let (builders, running) = ctx.running(is_wanted).await?;
    Ok(running
        .iter()
        .filter_map(|build| {
            let builder = builders.iter().find(|b| b.builderid == build.builderid)?;
            is_wanted(builder).then(|| (build.buildid, label(&builder.name, build)))
        })
        .collect())
}

fn label(builder: &str, build: &Build) -> String {
    let running_for = build.started_at.map(|t| now().saturating_sub(t));
    text::stop_label(builder, build.number, running_for)
}

fn confirm_prompt(label: &str) -> Outgoing {
    let buttons = [
        (text::confirm_stop_button(), Tap::ConfirmStop),
        (text::keep_running_button(), Tap::Cancel),
    ];
    Outgoing::text(text::stop_confirm(label)).with_keyboard(keyboards::conversation(&buttons))
}

/// Which build to stop: page `page` of the running builds, a button each.
fn choose_screen(builds: &[(i64, String)], page: usize) -> Outgoing {
    let buttons: Vec<(String, Tap)> = builds
        .iter()
        .enumerate()
        .map(|(i, (_, label))| (text::stop_choice(label), Tap::StopBuild(i)))
        .collect();
    Outgoing::text(text::stop_choose()).with_keyboard(keyboards::conversation_page(&buttons, page))
}

/// `ChoosingBuildToStop` + ◀ or ▶: another page of the running builds.
pub async fn page(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, builds): (Owner, Vec<(i64, String)>),
    page: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let screen = choose_screen(&builds, page);
    let next = State::ChoosingBuildToStop {
        owner: turn.owner,
        builds,
    };
    step(&ctx, &dialogue, &message, (next, screen)).await
}

/// `ChoosingBuildToStop` + a build button.
pub async fn build_chosen(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, builds): (Owner, Vec<(i64, String)>),
    index: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let Some((buildid, label)) = builds.get(index).cloned() else {
        return stale(&ctx, &dialogue, &message).await;
    };
    let prompt = confirm_prompt(&label);
    let next = State::ConfirmingStop {
        owner: turn.owner,
        buildid,
        label,
    };
    step(&ctx, &dialogue, &message, (next, prompt)).await
}

/// `ConfirmingStop` + "Yes, stop it".
pub async fn confirmed(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, buildid, label): (Owner, i64, String),
) -> HandlerResult {
    taken(&ctx, &query).await?;
    dialogue.exit().await?;
    let owner = turn.owner;
    let reason = text::stop_reason(&owner.name, owner.user_id);
    let outcome = match ctx.buildbot.stop_build(buildid, &reason).await {
        Ok(()) => {
            log::info!("{} stopped build {buildid} ({label})", owner.name);
            text::stop_done(&label)
        }
        Err(error) => master_failure(&error),
    };
    show(&ctx, &message, Outgoing::text(outcome)).await
}
