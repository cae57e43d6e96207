//! Conversations that change the master: `/force`, `/stop`, `/shutdown`, and `/nay` to end them.
//!
//! One [`State`] enum holds every step, each variant carrying exactly what has been collected
//! so far, in the dialogue storage (SQLite, or Redis for several replicas), so a conversation
//! survives a restart of the bot. teloxide keys dialogues by chat, so every step records its
//! [`Owner`]: in a group only the user who started a conversation may answer it.
//!
//! Every tap and every typed answer passes one guard, [`check`]: is there a conversation, is
//! it this person's, has it expired, may they still run its command? Only then does the schema
//! route it, by `case![State::…]` and `case![Tap::…]`, to the one function for that step. A
//! tap that fits no step of the current conversation is answered as out of date.
//!
//! - [`force`]: choose a scheduler and a builder, fill in the parameters, start.
//! - [`stop`]: choose a running build, confirm, stop it.
//! - [`shutdown`]: choose check/start/stop/now, confirm, reach the master process.

pub mod force;
pub mod shutdown;
pub mod stop;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use teloxide::dispatching::dialogue::{Dialogue, ErasedStorage};
use teloxide::prelude::*;
use teloxide::types::{MessageId, User};

use super::HandlerResult;
use super::answer::say;
use super::context::Context;
use super::who::{describe, sender, user_id};
use crate::authz::Authz;
use crate::clock::now;
use crate::command::{CommandName, ShutdownAction};
use crate::delivery::Outgoing;
use crate::text;
pub use force::ForceForm;

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

/// Who started a conversation, and until when it waits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub user_id: i64,
    /// "Alice Smith (@alice)", for notices and for the build's reason.
    pub name: String,
    pub expires_at: i64,
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

/// A turn the guard let through: the owner, with the conversation's full time given again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub owner: Owner,
}

/// Why a tap or a typed answer is not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// There is no conversation (it ended, or never began in this chat).
    NoConversation,
    /// Someone else's conversation; `owner` is their name.
    NotYours {
        owner: String,
        command: CommandName,
    },
    Expired(CommandName),
    /// authz no longer allows the conversation's command to this person.
    Denied(CommandName),
}

/// What the guard decided about a tap or a typed answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Admitted(Turn),
    Refused(Refusal),
}

/// The one guard every tap and typed answer of a conversation passes: there is one, it is
/// `user`'s (posts made as the group or a channel own none), it has not expired, and authz
/// still allows its command. `timeout` is the conversation's time, given again on each turn.
pub fn check(state: &State, user: Option<i64>, now: i64, authz: &Authz, timeout: i64) -> Verdict {
    let (Some(owner), Some(command)) = (state.owner(), state.command()) else {
        return Verdict::Refused(Refusal::NoConversation);
    };
    if user != Some(owner.user_id) {
        return Verdict::Refused(Refusal::NotYours {
            owner: owner.name.clone(),
            command,
        });
    }
    if owner.expires_at < now {
        return Verdict::Refused(Refusal::Expired(command));
    }
    if !authz.allows(command, owner.user_id) {
        return Verdict::Refused(Refusal::Denied(command));
    }
    Verdict::Admitted(Turn {
        owner: Owner {
            expires_at: now + timeout,
            ..owner.clone()
        },
    })
}

fn timeout(ctx: &Context) -> i64 {
    i64::from(ctx.settings.telegram.conversation_timeout)
}

/// The guard for a tapped conversation button (the schema's `map`).
pub fn check_tap(ctx: Arc<Context>, state: State, query: CallbackQuery) -> Verdict {
    let tapper = Some(user_id(&query.from));
    check(&state, tapper, now(), &ctx.settings.authz, timeout(&ctx))
}

/// The guard for a typed answer (the schema's `map`).
pub fn check_answer(ctx: Arc<Context>, state: State, msg: Message) -> Verdict {
    let author = sender(&msg).map(user_id);
    check(&state, author, now(), &ctx.settings.authz, timeout(&ctx))
}

/// Says why a tap was not taken, as a notice on the tapper's screen.
pub async fn refuse_tap(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    refusal: Refusal,
) -> HandlerResult {
    let notice = match &refusal {
        Refusal::NoConversation => text::conversation_over(),
        Refusal::NotYours { owner, command } => {
            text::conversation_not_yours(owner, command.as_str())
        }
        Refusal::Expired(command) => {
            dialogue.exit().await?;
            text::conversation_expired(command.as_str())
        }
        Refusal::Denied(command) => text::button_not_allowed(command.as_str()),
    };
    ctx.delivery
        .answer_callback(query.id.clone(), Some(notice), true)
        .await?;
    // a button of a conversation that is over cannot do anything any more: take it away
    if matches!(refusal, Refusal::NoConversation | Refusal::Expired(_)) {
        ctx.delivery
            .remove_keyboard(message.chat.id, message.id)
            .await?;
    }
    Ok(())
}

/// Says why a typed answer was not taken. Someone else's text is only answered when it
/// replies to the bot, so that group chatter stays unanswered.
pub async fn refuse_answer(
    ctx: Arc<Context>,
    dialogue: Conversation,
    msg: Message,
    refusal: Refusal,
) -> HandlerResult {
    match refusal {
        Refusal::NoConversation => Ok(()),
        Refusal::NotYours { owner, command } => {
            let to_the_bot = msg
                .reply_to_message()
                .is_some_and(|m| m.from.as_ref().is_some_and(|f| f.is_bot));
            if sender(&msg).is_some() && to_the_bot {
                say(
                    &ctx,
                    &msg,
                    text::conversation_not_yours(&owner, command.as_str()),
                )
                .await?;
            }
            Ok(())
        }
        Refusal::Expired(command) => {
            dialogue.exit().await?;
            say(&ctx, &msg, text::conversation_expired(command.as_str())).await
        }
        Refusal::Denied(command) => {
            dialogue.exit().await?;
            let user = sender(&msg).map_or(0, user_id);
            let denial = text::not_allowed(command.as_str(), user, command.is_dangerous());
            say(&ctx, &msg, denial).await
        }
    }
}

/// A new conversation's owner.
fn new_owner(ctx: &Context, user: &User) -> Owner {
    Owner {
        user_id: user_id(user),
        name: describe(user),
        expires_at: now() + timeout(ctx),
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

/// Answers a tap that was taken (the client stops its spinner).
async fn taken(ctx: &Context, query: &CallbackQuery) -> HandlerResult {
    ctx.delivery
        .answer_callback(query.id.clone(), None, false)
        .await?;
    Ok(())
}

/// Replaces the message whose button was tapped.
async fn show(ctx: &Context, message: &Message, next: Outgoing) -> HandlerResult {
    ctx.delivery.edit(message.chat.id, message.id, next).await?;
    Ok(())
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
        return say(
            &ctx,
            &msg,
            text::conversation_not_yours(&owner.name, command.as_str()),
        )
        .await;
    }
    dialogue.exit().await?;
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
    ctx.delivery
        .answer_callback(query.id.clone(), Some(text::stale_button()), false)
        .await?;
    remove_buttons(&ctx, message.chat.id, message.id).await
}

async fn remove_buttons(ctx: &Context, chat: ChatId, id: MessageId) -> HandlerResult {
    ctx.delivery.remove_keyboard(chat, id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(user_id: i64, expires_at: i64) -> Owner {
        Owner {
            user_id,
            name: "A (@a)".into(),
            expires_at,
        }
    }

    fn authz(table: serde_json::Value) -> Authz {
        Authz::from_settings(&serde_json::from_value(table).unwrap()).unwrap()
    }

    #[test]
    fn the_guard_admits_only_the_owner_in_time_and_allowed() {
        let open = authz(serde_json::json!({"!": true}));
        let state = State::ChoosingShutdown {
            owner: owner(7, 100),
        };
        let admitted = check(&state, Some(7), 50, &open, 600);
        assert_eq!(
            admitted,
            Verdict::Admitted(Turn {
                owner: owner(7, 650)
            }),
            "a turn gives the conversation its full time again"
        );
        assert_eq!(
            check(&state, Some(8), 50, &open, 600),
            Verdict::Refused(Refusal::NotYours {
                owner: "A (@a)".into(),
                command: CommandName::Shutdown
            })
        );
        assert!(matches!(
            check(&state, None, 50, &open, 600),
            Verdict::Refused(Refusal::NotYours { .. })
        ));
        assert_eq!(
            check(&state, Some(7), 101, &open, 600),
            Verdict::Refused(Refusal::Expired(CommandName::Shutdown))
        );
        let closed = Authz::default();
        assert_eq!(
            check(&state, Some(7), 50, &closed, 600),
            Verdict::Refused(Refusal::Denied(CommandName::Shutdown)),
            "authz is asked again on every turn"
        );
        assert_eq!(
            check(&State::Idle, Some(7), 50, &open, 600),
            Verdict::Refused(Refusal::NoConversation)
        );
    }

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
}
