//! `/shutdown check|start|stop|now`: reach the master process the way
//! `[buildbot.master_control]` allows; what that mode cannot do is explained, not offered.

use std::sync::Arc;

use teloxide::prelude::*;

use super::{Conversation, Owner, State, Turn, begin, end, show, starter, step};
use crate::callback::Tap;
use crate::command::{CommandName, ShutdownAction};
use crate::delivery::Outgoing;
use crate::telegram::HandlerResult;
use crate::telegram::answer::say;
use crate::telegram::answer::taken;
use crate::telegram::context::Context;
use crate::telegram::keyboards;
use crate::text;

/// `/shutdown ACTION` goes to the confirmation (or runs `check`/`stop` at once); `/shutdown`
/// alone offers the actions this mode can do.
pub async fn start(
    ctx: Arc<Context>,
    msg: Message,
    args: String,
    dialogue: Conversation,
) -> HandlerResult {
    let Some(owner) = starter(&ctx, &msg, CommandName::Shutdown).await else {
        return Ok(());
    };
    let control = &ctx.master_control;
    if let Some(action) = ShutdownAction::parse(args.trim()) {
        if let Some(why) = control.why_not(action) {
            let reason = text::unavailable(why);
            return say(
                &ctx,
                &msg,
                text::shutdown_unavailable(action.name(), reason),
            )
            .await;
        }
        if action.needs_confirmation() {
            let first = State::ConfirmingShutdown { owner, action };
            return begin(&ctx, &dialogue, &msg, first, confirm_prompt(action)).await;
        }
        end(&ctx, &dialogue, &msg, owner.user_id).await?;
        return say(&ctx, &msg, outcome(&ctx, action, &owner).await).await;
    }
    if !args.trim().is_empty() {
        return say(&ctx, &msg, text::bad_shutdown_action()).await;
    }
    let offered: Vec<(String, Tap)> = ShutdownAction::ALL
        .into_iter()
        .filter(|a| control.why_not(*a).is_none())
        .map(|a| (text::shutdown_button(a.name()), Tap::Shutdown(a)))
        .collect();
    let unavailable: Vec<(&str, &str)> = ShutdownAction::ALL
        .into_iter()
        .filter_map(|a| {
            control
                .why_not(a)
                .map(|why| (a.name(), text::unavailable(why)))
        })
        .collect();
    if offered.is_empty() {
        return say(&ctx, &msg, text::shutdown_menu(&unavailable, false)).await;
    }
    let menu = Outgoing::text(text::shutdown_menu(&unavailable, true))
        .with_keyboard(keyboards::conversation(&offered));
    let first = State::ChoosingShutdown { owner };
    begin(&ctx, &dialogue, &msg, first, menu).await
}

fn confirm_prompt(action: ShutdownAction) -> Outgoing {
    let buttons = [
        (
            text::confirm_shutdown_button(action.name()),
            Tap::ConfirmShutdown,
        ),
        (text::no_button(), Tap::Cancel),
    ];
    Outgoing::text(text::shutdown_confirm(action.name()))
        .with_keyboard(keyboards::conversation(&buttons))
}

async fn outcome(ctx: &Context, action: ShutdownAction, owner: &Owner) -> String {
    log::info!("{} asked for shutdown {}", owner.name, action.name());
    match ctx.master_control.run(action).await {
        Ok(done) => text::shutdown_done(&text::control_done(&done)),
        Err(error) => text::shutdown_failed(&text::control_failed(&error)),
    }
}

/// `ChoosingShutdown` + an action button: confirm the ones that take the master away.
pub async fn action_chosen(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    action: ShutdownAction,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let owner = turn.owner;
    if action.needs_confirmation() {
        let next = State::ConfirmingShutdown { owner, action };
        return step(&ctx, &dialogue, &message, (next, confirm_prompt(action))).await;
    }
    dialogue.exit().await?;
    let done = outcome(&ctx, action, &owner).await;
    show(&ctx, &message, Outgoing::text(done)).await
}

/// `ConfirmingShutdown` + "Yes": the action this conversation confirmed.
pub async fn confirmed(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, action): (Owner, ShutdownAction),
) -> HandlerResult {
    taken(&ctx, &query).await?;
    dialogue.exit().await?;
    let done = outcome(&ctx, action, &turn.owner).await;
    show(&ctx, &message, Outgoing::text(done)).await
}
