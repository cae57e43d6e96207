//! The Telegram side: the dispatcher tree and everything an update can reach.
//!
//! [`schema`] is the whole map of what an update can do; read it first. Then:
//! - [`commands`]: the command list and one module of handlers per topic;
//! - [`conversations`]: `/force`, `/stop`, `/shutdown` step by step, their guard, `/nay`;
//! - [`buttons`]: the taps that are not part of a conversation, and [`rebuild`]: Rebuild and
//!   its question;
//! - [`keyboards`]: the inline keyboards the answers carry;
//! - [`answer`]: how an outcome (or a failure) becomes the message a user reads;
//! - [`context`]: what every handler receives; [`who`]: the person and chat behind an update;
//! - [`bot`], [`listener`], [`webhook`]: the client, who we are, and where updates come from
//!   (long polling, or Telegram's posts to a webhook the bot serves behind a guard).

pub mod answer;
pub mod bot;
pub mod budget;
pub mod builders_page;
pub mod buttons;
pub mod commands;
pub mod context;
pub mod conversations;
pub mod keyboards;
pub mod listener;
pub mod rebuild;
pub mod turns;
pub mod webhook;
pub mod who;

use std::sync::Arc;

use teloxide::dispatching::UpdateHandler;
use teloxide::dispatching::dialogue;
use teloxide::prelude::*;

use crate::callback::{Callback, Tap};
use commands::{Command, Parsed, flaky, help, list, status, subscriptions};
use context::Context;
use conversations::{ConversationStorage, State, Verdict, force, shutdown, stop};
use turns::ChatTurns;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
pub type HandlerResult = Result<(), BoxError>;

/// Every path an update can take.
///
/// - A message is parsed once into [`Parsed`]. Commands pass the authz guard (a denied user
///   gets a reply naming their id) before reaching their handler; a typed text answers the
///   conversation's question when one waits, and gets a pointer to /help in private chats.
/// - A button tap counts only when the message it was tapped on carries exactly its data (a
///   client can send any data on any message of the bot): otherwise, or on a message too old
///   for Telegram to give, it gets a notice and no message is touched. It is then decoded
///   into a [`Callback`] (data this version does not read gets a notice too), authz is checked
///   again for its command, then each family has its branch. A button that names a build acts
///   only on one the bot shows (`notify.tags`); a Rebuild only asks, only for a build that
///   failed, and its question's answer must be in time and the first. Conversation taps
///   pass the conversation guard (a tap under any message but the current question's is
///   refused as out of date), then go to the function for their (step, button); a button
///   that fits no step is answered as out of date.
pub fn schema() -> UpdateHandler<BoxError> {
    // First its chat's turn (one update at a time per chat, in order: `turns.rs`), then the
    // chat's conversation state (dialogues are kept per chat).
    dptree::entry()
        .map_async(|turns: ChatTurns, update: Update| async move { turns.take(&update).await })
        .chain(dialogue::enter::<Update, ConversationStorage, State, _>())
        .branch(messages())
        .branch(buttons())
}

fn messages() -> UpdateHandler<BoxError> {
    use dptree::case;

    let commands = dptree::entry()
        .inspect(|msg: Message, command: Command| {
            let user = msg.from.as_ref().map_or(0, |u| u.id.0);
            log::info!("chat {}: /{} from user {user}", msg.chat.id, command.name());
        })
        .branch(dptree::filter(commands::is_denied).endpoint(commands::deny))
        .branch(case![Command::Start(args)].endpoint(help::start))
        .branch(case![Command::Help(args)].endpoint(help::help))
        .branch(case![Command::Commands(args)].endpoint(help::commands))
        .branch(case![Command::Hello(args)].endpoint(help::hello))
        .branch(case![Command::Getid(args)].endpoint(help::getid))
        .branch(case![Command::Source(args)].endpoint(help::source))
        .branch(case![Command::Version(args)].endpoint(help::version))
        .branch(case![Command::List(args)].endpoint(list::list))
        .branch(case![Command::Status(args)].endpoint(status::status))
        .branch(case![Command::Last(args)].endpoint(status::last))
        .branch(case![Command::Flaky(args)].endpoint(flaky::flaky))
        .branch(case![Command::Notify(args)].endpoint(subscriptions::notify))
        .branch(case![Command::Watch(args)].endpoint(subscriptions::watch))
        .branch(case![Command::Mute(args)].endpoint(subscriptions::mute))
        .branch(case![Command::Unmute(args)].endpoint(subscriptions::unmute))
        .branch(case![Command::Nay(args)].endpoint(conversations::nay))
        .branch(case![Command::Force(args)].endpoint(force::start))
        .branch(case![Command::Stop(args)].endpoint(stop::start))
        .branch(case![Command::Shutdown(args)].endpoint(shutdown::start));

    // a typed answer to the conversation's question, through the same guard as taps
    let typed_answers = case![State::AwaitingValue { owner, form, field }]
        .map(conversations::judge_answer)
        .branch(case![Verdict::Admitted(turn)].endpoint(force::receive_value))
        .branch(case![Verdict::Refused(refusal)].endpoint(conversations::refuse_answer));

    Update::filter_message()
        .filter_map(|msg: Message, ctx: Arc<Context>| {
            msg.text()
                .map(|text| commands::parse(text, &ctx.bot_username))
        })
        .branch(case![Parsed::Command(command)].chain(commands))
        .branch(case![Parsed::Unknown(name)].endpoint(help::unknown))
        .branch(
            case![Parsed::Text].branch(typed_answers).branch(
                dptree::filter(|msg: Message| msg.chat.is_private()).endpoint(help::chatter),
            ),
        )
}

fn buttons() -> UpdateHandler<BoxError> {
    use dptree::case;

    let callbacks = dptree::filter_map(buttons::decode)
        .branch(dptree::filter(buttons::is_denied).endpoint(buttons::deny))
        .branch(case![Callback::List(request)].endpoint(buttons::list))
        .branch(case![Callback::NotifyToggle(event)].endpoint(buttons::notify_toggle))
        .branch(case![Callback::NotifyDone].endpoint(buttons::notify_done))
        .branch(case![Callback::NotifyBuilders(page)].endpoint(builders_page::notify_builders))
        .branch(case![Callback::NotifyBuilder(builderid)].endpoint(builders_page::notify_builder))
        .branch(case![Callback::NotifyEvents].endpoint(builders_page::notify_events))
        .branch(case![Callback::WatchPage(page)].endpoint(buttons::watch_page))
        .branch(dptree::filter_map(|c: Callback| c.build()).chain(build_buttons()))
        .branch(case![Callback::Conversation(tap)].chain(conversation_taps()));

    // the one check every tap passes first: its data must be on the message it was tapped on
    Update::filter_callback_query()
        .branch(
            dptree::filter_map(buttons::message_of)
                .branch(
                    dptree::filter(buttons::is_not_on_message).endpoint(buttons::not_on_message),
                )
                .branch(callbacks)
                .endpoint(buttons::unreadable),
        )
        .endpoint(buttons::too_old)
}

/// The buttons that name a build (its id is in the dependencies): a rebuild question's
/// answer is judged first, Cancel needs no build, the rest act only on a build the bot shows,
/// and a rebuild only on one that failed (the only builds whose message draws the button).
fn build_buttons() -> UpdateHandler<BoxError> {
    use buttons::Judged;
    use dptree::case;

    let shown = case![Judged::Shown(build)]
        .branch(case![Callback::Watch(buildid)].endpoint(buttons::watch))
        .branch(dptree::filter(rebuild::did_not_fail).endpoint(rebuild::not_a_failure))
        .branch(case![Callback::Rebuild(buildid)].endpoint(rebuild::ask))
        .branch(case![Callback::ConfirmRebuild(buildid)].endpoint(rebuild::confirmed));

    dptree::entry()
        .branch(dptree::filter(rebuild::is_stale).endpoint(rebuild::stale))
        .branch(case![Callback::CancelRebuild(buildid)].endpoint(rebuild::cancelled))
        .branch(
            dptree::map_async(buttons::judge_build)
                .branch(shown)
                .branch(case![Judged::Hidden].endpoint(buttons::hidden_build))
                .branch(case![Judged::Unanswered(failure)].endpoint(buttons::unanswered_build)),
        )
}

/// A conversation's buttons: the guard, then one function per (step, button).
fn conversation_taps() -> UpdateHandler<BoxError> {
    use dptree::case;

    let steps = dptree::entry()
        .branch(case![Tap::Cancel].endpoint(conversations::cancel))
        .branch(
            case![State::ChoosingScheduler { owner, schedulers }]
                .branch(case![Tap::Scheduler(index)].endpoint(force::scheduler_chosen)),
        )
        .branch(
            case![State::ChoosingBuilder {
                owner,
                scheduler,
                builders
            }]
            .branch(case![Tap::Builder(index)].endpoint(force::builder_chosen))
            .branch(case![Tap::Page(page)].endpoint(force::builder_page)),
        )
        .branch(
            case![State::EditingForce { owner, form }]
                .branch(case![Tap::Edit(field)].endpoint(force::edit_field))
                .branch(case![Tap::Start].endpoint(force::start_build)),
        )
        .branch(
            case![State::AwaitingValue { owner, form, field }]
                .branch(case![Tap::Value(index)].endpoint(force::value_chosen)),
        )
        .branch(
            case![State::ChoosingBuildToStop { owner, builds }]
                .branch(case![Tap::StopBuild(index)].endpoint(stop::build_chosen))
                .branch(case![Tap::Page(page)].endpoint(stop::page)),
        )
        .branch(
            case![State::ConfirmingStop {
                owner,
                buildid,
                label
            }]
            .branch(case![Tap::ConfirmStop].endpoint(stop::confirmed)),
        )
        .branch(
            case![State::ChoosingShutdown { owner }]
                .branch(case![Tap::Shutdown(action)].endpoint(shutdown::action_chosen)),
        )
        .branch(
            case![State::ConfirmingShutdown { owner, action }]
                .branch(case![Tap::ConfirmShutdown].endpoint(shutdown::confirmed)),
        )
        .endpoint(conversations::out_of_date);

    dptree::map(conversations::judge_tap)
        .branch(case![Verdict::Refused(refusal)].endpoint(conversations::refuse_tap))
        .branch(case![Verdict::Admitted(turn)].chain(steps))
}
