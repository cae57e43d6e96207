//! Conversations that change the master: `/force`, `/stop`, `/shutdown`, and `/nay` to end them.
//!
//! One [`State`] enum holds every step, each variant carrying exactly what has been collected
//! so far, in the dialogue storage (SQLite, or Redis for several replicas), so a conversation
//! survives a restart of the bot. teloxide keys dialogues by chat, so every step records its
//! [`Owner`]: in a group only the user who started a conversation may answer it.
//!
//! Every step also records the message it asks on ([`AskedOn`]): button data holds only
//! indexes, so without it a button of an older question (an earlier `/stop`, a replaced
//! `/force` form) would act on the current step. A step shown in place of the tapped message
//! keeps its id ([`step`]); one asked in a new message records the new id ([`ask`]), and a new
//! conversation takes the buttons of the one it replaces away ([`begin`]).
//!
//! Every tap and every typed answer passes one guard, [`judge`]: is there a conversation, is
//! the tap on its question, is it this person's, has it expired, may they still run its
//! command? Only then does the schema route it, by `case![State::…]` and `case![Tap::…]`, to
//! the one function for that step. A tap that fits no step of the current conversation is
//! answered as out of date.
//!
//! In a group, a conversation belongs to its owner until it ends or expires: another person's
//! command that would start one is told to wait and leaves it alone (`owned.rs`).
//!
//! - [`force`]: choose a scheduler and a builder, fill in the parameters, start;
//!   [`force_line`]: the same in one line, read exactly or refused.
//! - [`stop`]: choose a running build, confirm, stop it.
//! - [`shutdown`]: choose check/start/stop/now, confirm, reach the master process.

pub mod force;
mod force_form;
pub mod force_line;
mod guard;
mod owned;
pub mod shutdown;
pub mod stop;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use teloxide::dispatching::dialogue::{Dialogue, ErasedStorage};
use teloxide::prelude::*;
use teloxide::types::{MessageId, User};

use super::HandlerResult;
use super::answer::{no_longer_valid, say, taken};
use super::context::Context;
use super::who::{describe, sender, user_id};
use crate::clock::now;
use crate::command::{CommandName, ShutdownAction};
use crate::delivery::Outgoing;
use crate::text;
pub use force_form::ForceForm;
pub use guard::{
    Answerer, Refusal, Turn, Verdict, judge, judge_answer, judge_tap, refuse_answer, refuse_tap,
};
use owned::{begin, end};

pub type ConversationStorage = ErasedStorage<State>;
pub type Conversation = Dialogue<State, ConversationStorage>;

/// Where a chat's conversation stands.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub enum State {
    #[default]
    Idle,
    /// `/force` with several ForceSchedulers: which one?
    ChoosingScheduler {
        owner: Owner,
        schedulers: Vec<String>,
    },
    /// `/force`: which builder?
    ChoosingBuilder {
        owner: Owner,
        scheduler: String,
        builders: Vec<String>,
    },
    /// `/force`: the parameters screen.
    EditingForce { owner: Owner, form: ForceForm },
    /// `/force`: waiting for the new value of `form.fields[field]`.
    AwaitingValue {
        owner: Owner,
        form: ForceForm,
        field: usize,
    },
    /// `/stop`: which build?
    ChoosingBuildToStop {
        owner: Owner,
        builds: Vec<(i64, String)>,
    },
    /// `/stop`: sure?
    ConfirmingStop {
        owner: Owner,
        buildid: i64,
        label: String,
    },
    /// `/shutdown`: which action?
    ChoosingShutdown { owner: Owner },
    /// `/shutdown start|now`: sure?
    ConfirmingShutdown {
        owner: Owner,
        action: ShutdownAction,
    },
}

/// Who started a conversation, until when it waits, and which message it asks on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub user_id: i64,
    /// "Alice Smith (@alice)", for notices and for the build's reason.
    pub name: String,
    pub expires_at: i64,
    /// The message whose buttons answer the current step; taps on any other are refused.
    /// Missing in states saved by earlier versions.
    #[serde(default)]
    pub asked_on: AskedOn,
}

/// The message a conversation asks its current question on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AskedOn {
    /// Saved by a version that did not record it: a tap on any message is taken, as that
    /// version did, so that conversations in progress survive the upgrade.
    #[default]
    Unknown,
    /// The question is on its way: no message's buttons act until its id is recorded.
    Sending,
    /// Telegram's id of the message (`MessageId.0`).
    Message(i32),
}

impl AskedOn {
    /// May a button under message `id` answer the current step?
    pub fn accepts(self, id: i32) -> bool {
        match self {
            AskedOn::Unknown => true,
            AskedOn::Sending => false,
            AskedOn::Message(asked) => asked == id,
        }
    }
}

impl State {
    fn owner(&self) -> Option<&Owner> {
        match self {
            State::Idle => None,
            State::ChoosingScheduler { owner, .. }
            | State::ChoosingBuilder { owner, .. }
            | State::EditingForce { owner, .. }
            | State::AwaitingValue { owner, .. }
            | State::ChoosingBuildToStop { owner, .. }
            | State::ConfirmingStop { owner, .. }
            | State::ChoosingShutdown { owner }
            | State::ConfirmingShutdown { owner, .. } => Some(owner),
        }
    }

    fn owner_mut(&mut self) -> Option<&mut Owner> {
        match self {
            State::Idle => None,
            State::ChoosingScheduler { owner, .. }
            | State::ChoosingBuilder { owner, .. }
            | State::EditingForce { owner, .. }
            | State::AwaitingValue { owner, .. }
            | State::ChoosingBuildToStop { owner, .. }
            | State::ConfirmingStop { owner, .. }
            | State::ChoosingShutdown { owner }
            | State::ConfirmingShutdown { owner, .. } => Some(owner),
        }
    }

    /// The same step, asked on `at`.
    fn asked_on(mut self, at: AskedOn) -> State {
        if let Some(owner) = self.owner_mut() {
            owner.asked_on = at;
        }
        self
    }

    /// The command this conversation belongs to.
    pub fn command(&self) -> Option<CommandName> {
        Some(match self {
            State::Idle => return None,
            State::ChoosingScheduler { .. }
            | State::ChoosingBuilder { .. }
            | State::EditingForce { .. }
            | State::AwaitingValue { .. } => CommandName::Force,
            State::ChoosingBuildToStop { .. } | State::ConfirmingStop { .. } => CommandName::Stop,
            State::ChoosingShutdown { .. } | State::ConfirmingShutdown { .. } => {
                CommandName::Shutdown
            }
        })
    }
}

/// A new conversation's owner.
fn new_owner(ctx: &Context, user: &User) -> Owner {
    Owner {
        user_id: user_id(user),
        name: describe(user),
        expires_at: now() + guard::timeout(ctx),
        asked_on: AskedOn::Sending,
    }
}

/// The person behind a command that starts a conversation; posts made as the group or a
/// channel cannot own one, and are told so.
async fn starter(ctx: &Context, msg: &Message, command: CommandName) -> Option<Owner> {
    let owner = sender(msg).map(|user| new_owner(ctx, user));
    if owner.is_none()
        && let Err(error) = say(ctx, msg, text::anonymous_not_allowed(command.as_str())).await
    {
        log::warn!("cannot answer /{command}: {error}");
    }
    owner
}

/// Replaces the message whose button was tapped.
async fn show(ctx: &Context, message: &Message, next: Outgoing) -> HandlerResult {
    ctx.delivery.edit(message.chat.id, message.id, next).await?;
    Ok(())
}

/// Moves the conversation to `next`, whose screen replaces the tapped `message`: the question
/// stays on that message.
async fn step(
    ctx: &Context,
    dialogue: &Conversation,
    message: &Message,
    (next, screen): (State, Outgoing),
) -> HandlerResult {
    let next = next.asked_on(AskedOn::Message(message.id.0));
    dialogue.update(next).await?;
    show(ctx, message, screen).await
}

/// Moves the conversation to `next`, whose question goes to `chat` as a new message (quoting
/// `quote`), and records that message as the one it asks on.
///
/// Until the id is known the step is stored as asked on no message, so the earlier
/// question's buttons stop acting before the new one exists: a crash between the send and the
/// record leaves no button that acts (a typed answer or the command again still does). A tap
/// on the new message cannot overtake the record: one chat's updates are handled in order.
async fn ask(
    ctx: &Context,
    dialogue: &Conversation,
    next: State,
    (chat, quote): (ChatId, Option<MessageId>),
    prompt: Outgoing,
) -> HandlerResult {
    dialogue
        .update(next.clone().asked_on(AskedOn::Sending))
        .await?;
    let sent = ctx.delivery.send(chat, quote, prompt).await?;
    let at = sent.map_or(AskedOn::Sending, |id| AskedOn::Message(id.0));
    dialogue.update(next.asked_on(at)).await?;
    Ok(())
}

/// Takes away the buttons of a conversation that was replaced or forgotten. They could not
/// act any more (the guard refuses them), but left in place they invite taps; best effort.
async fn retire(ctx: &Context, previous: &State, chat: ChatId) {
    let Some(AskedOn::Message(id)) = previous.owner().map(|o| o.asked_on) else {
        return;
    };
    if let Err(error) = ctx.delivery.remove_keyboard(chat, MessageId(id)).await {
        log::warn!("chat {chat}: cannot take the buttons of an ended conversation away: {error}");
    }
}

/// A step's data no longer matches the master (a scheduler, builder or field is gone): the
/// conversation ends and says so.
async fn stale(ctx: &Context, dialogue: &Conversation, message: &Message) -> HandlerResult {
    dialogue.exit().await?;
    show(ctx, message, Outgoing::text(text::conversation_over())).await
}

// ---------------------------------------------------------------------------------------------
// Steps that every conversation shares

/// `/nay`: forget the conversation, if it is yours.
pub async fn nay(ctx: Arc<Context>, msg: Message, dialogue: Conversation) -> HandlerResult {
    let state = dialogue.get().await?.unwrap_or_default();
    let mine = match (state.owner(), sender(&msg)) {
        (Some(owner), Some(user)) => owner.user_id == user_id(user),
        (Some(_), None) => false,
        (None, _) => true,
    };
    if let (false, Some(owner), Some(command)) = (mine, state.owner(), state.command()) {
        // the owner and the command are named only to someone who may run it too
        let allowed = sender(&msg).is_some_and(|user| ctx.allows(command, user_id(user)));
        let notice = if allowed {
            text::conversation_not_yours(&owner.name, command.as_str())
        } else {
            text::conversation_of_someone_else()
        };
        return say(&ctx, &msg, notice).await;
    }
    dialogue.exit().await?;
    retire(&ctx, &state, msg.chat.id).await;
    let name = (!msg.chat.is_private())
        .then(|| msg.from.as_ref().map(|u| u.first_name.clone()))
        .flatten();
    let ended = state.command().map(CommandName::as_str);
    say(&ctx, &msg, text::nay(name.as_deref(), ended)).await
}

/// The Cancel button of any step.
pub async fn cancel(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    dialogue.exit().await?;
    show(&ctx, &message, Outgoing::text(text::cancelled())).await
}

/// A button of this conversation that does not fit its current step (from an earlier screen,
/// or a message that is not the one being asked on): answered as out of date, and taken away.
pub async fn out_of_date(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
) -> HandlerResult {
    no_longer_valid(&ctx, &query, &message).await
}

/// An owner for tests: "A (@a)", asking on message 10.
#[cfg(test)]
fn test_owner(user_id: i64, expires_at: i64) -> Owner {
    Owner {
        user_id,
        name: "A (@a)".into(),
        expires_at,
        asked_on: AskedOn::Message(10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_owner as owner;

    #[test]
    fn states_survive_a_round_trip_through_json() {
        let state = State::ConfirmingShutdown {
            owner: owner(1, 5),
            action: ShutdownAction::Now,
        };
        let json = serde_json::to_string(&state).unwrap();
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back.owner(), Some(&owner(1, 5)));
        assert_eq!(back.command(), Some(CommandName::Shutdown));
    }

    #[test]
    fn states_saved_before_messages_were_recorded_still_load() {
        // as 0.1 wrote a confirmation, without `asked_on`
        let json = r#"{"ConfirmingStop":{"owner":{"user_id":1,"name":"A (@a)","expires_at":5},"buildid":123,"label":"slow #4"}}"#;
        let state: State = serde_json::from_str(json).unwrap();
        let owner = state.owner().unwrap();
        assert_eq!(owner.asked_on, AskedOn::Unknown);
        assert!(owner.asked_on.accepts(77), "taken as before the upgrade");
    }

    #[test]
    fn a_step_moves_to_another_message_and_only_that_one_answers() {
        let state = State::ChoosingShutdown { owner: owner(1, 5) };
        let sending = state.clone().asked_on(AskedOn::Sending);
        assert!(!sending.owner().unwrap().asked_on.accepts(10));
        let moved = sending.asked_on(AskedOn::Message(11));
        let json = serde_json::to_string(&moved).unwrap();
        let back: State = serde_json::from_str(&json).unwrap();
        let at = back.owner().unwrap().asked_on;
        assert!(at.accepts(11) && !at.accepts(10), "{json}");
        assert!(State::Idle.asked_on(AskedOn::Message(3)).owner().is_none());
    }
}
