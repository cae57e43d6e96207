//! The one guard every tap and typed answer of a conversation passes, and what the person
//! is told when it does not let them through.

use std::sync::Arc;

use teloxide::prelude::*;

use super::{AskedOn, Conversation, Owner, State};
use crate::authz::Authz;
use crate::clock::now;
use crate::command::CommandName;
use crate::telegram::HandlerResult;
use crate::telegram::answer::say;
use crate::telegram::context::Context;
use crate::telegram::who::{sender, user_id};
use crate::text;

/// A turn the guard let through: the owner, with the conversation's full time given again
/// (and, for a tap, the tapped message as the one asked on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub owner: Owner,
}

/// Why a tap or a typed answer is not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// There is no conversation (it ended, or never began in this chat).
    NoConversation,
    /// A button under a message that is not the conversation's current question: an older
    /// step's, or a replaced conversation's. It must not act on the current step.
    OutOfDate,
    /// Someone else's conversation, for a person who may run its command too; `owner` is
    /// their name.
    NotYours {
        owner: String,
        command: CommandName,
    },
    /// Someone else's conversation, for a person who may not run its command (or cannot be
    /// told apart: a post as the group): neither the owner nor the command is named.
    SomeoneElses,
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

/// Who answers, and where: the person (`None` for posts made as the group or a channel, which
/// own no conversation), and for a tap the id of the message it was on (`None` for a typed
/// answer, which may reply to the question or stand alone).
#[derive(Clone, Copy, Debug)]
pub struct Answerer {
    pub user: Option<i64>,
    pub tapped: Option<i32>,
}

/// The one guard every tap and typed answer of a conversation passes: there is one, a tap is
/// on its current question (whoever taps an older one is told it is out of date), it is the
/// answerer's, it has not expired, and authz still allows its command. `timeout` is the
/// conversation's time, given again on each turn.
pub fn judge(state: &State, by: Answerer, now: i64, authz: &Authz, timeout: i64) -> Verdict {
    let (Some(owner), Some(command)) = (state.owner(), state.command()) else {
        return Verdict::Refused(Refusal::NoConversation);
    };
    if by.tapped.is_some_and(|id| !owner.asked_on.accepts(id)) {
        return Verdict::Refused(Refusal::OutOfDate);
    }
    let user = by.user;
    if user != Some(owner.user_id) {
        if !user.is_some_and(|user| authz.allows(command, user)) {
            return Verdict::Refused(Refusal::SomeoneElses);
        }
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
            asked_on: by.tapped.map_or(owner.asked_on, AskedOn::Message),
            ..owner.clone()
        },
    })
}

pub(super) fn timeout(ctx: &Context) -> i64 {
    i64::from(ctx.settings.telegram.conversation_timeout)
}

/// The guard for a tapped conversation button (the schema's `map`).
pub fn judge_tap(
    ctx: Arc<Context>,
    state: State,
    query: CallbackQuery,
    message: Message,
) -> Verdict {
    let tapper = Answerer {
        user: Some(user_id(&query.from)),
        tapped: Some(message.id.0),
    };
    judge(&state, tapper, now(), &ctx.settings.authz, timeout(&ctx))
}

/// The guard for a typed answer (the schema's `map`).
pub fn judge_answer(ctx: Arc<Context>, state: State, msg: Message) -> Verdict {
    let author = Answerer {
        user: sender(&msg).map(user_id),
        tapped: None,
    };
    judge(&state, author, now(), &ctx.settings.authz, timeout(&ctx))
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
        Refusal::OutOfDate => text::question_out_of_date(),
        Refusal::NotYours { owner, command } => {
            text::conversation_not_yours(owner, command.as_str())
        }
        Refusal::SomeoneElses => text::conversation_of_someone_else(),
        Refusal::Expired(command) => text::conversation_expired(command.as_str()),
        Refusal::Denied(command) => text::button_not_allowed(command.as_str()),
    };
    // answered first: the client stops waiting even if the storage fails next
    ctx.delivery
        .answer_callback(query.id.clone(), Some(notice), true)
        .await?;
    if matches!(refusal, Refusal::Expired(_)) {
        dialogue.exit().await?;
    }
    // a button of a conversation that is over, or of a question no longer asked, cannot do
    // anything any more: take it away
    if matches!(
        refusal,
        Refusal::NoConversation | Refusal::OutOfDate | Refusal::Expired(_)
    ) {
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
        // a typed answer is never judged by a message
        Refusal::NoConversation | Refusal::OutOfDate => Ok(()),
        Refusal::NotYours { .. } | Refusal::SomeoneElses => {
            let to_the_bot = msg
                .reply_to_message()
                .is_some_and(|m| m.from.as_ref().is_some_and(|f| f.is_bot));
            if sender(&msg).is_some() && to_the_bot {
                let notice = match refusal {
                    Refusal::NotYours { owner, command } => {
                        text::conversation_not_yours(&owner, command.as_str())
                    }
                    _ => text::conversation_of_someone_else(),
                };
                say(&ctx, &msg, notice).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::telegram::conversations::test_owner as owner;

    fn authz(table: serde_json::Value) -> Authz {
        Authz::from_settings(&serde_json::from_value(table).unwrap()).unwrap()
    }

    /// A tap by `user` on message `on`.
    fn tap(user: i64, on: i32) -> Answerer {
        Answerer {
            user: Some(user),
            tapped: Some(on),
        }
    }

    /// A typed answer by `user`.
    fn typed(user: Option<i64>) -> Answerer {
        Answerer { user, tapped: None }
    }

    fn open() -> Authz {
        authz(serde_json::json!({"!": true}))
    }

    #[test]
    fn the_guard_admits_only_the_owner_in_time_and_allowed() {
        let open = open();
        // the test owner asks on message 10
        let state = State::ChoosingShutdown {
            owner: owner(7, 100),
        };
        let admitted = judge(&state, tap(7, 10), 50, &open, 600);
        assert_eq!(
            admitted,
            Verdict::Admitted(Turn {
                owner: owner(7, 650)
            }),
            "a turn gives the conversation its full time again"
        );
        let admins = authz(serde_json::json!({"shutdown": [7, 8]}));
        assert_eq!(
            judge(&state, tap(8, 10), 50, &admins, 600),
            Verdict::Refused(Refusal::NotYours {
                owner: "A (@a)".into(),
                command: CommandName::Shutdown
            }),
            "someone who may run the command learns whose conversation it is"
        );
        assert_eq!(
            judge(&state, tap(9, 10), 50, &admins, 600),
            Verdict::Refused(Refusal::SomeoneElses),
            "someone who may not learns neither the owner nor the command"
        );
        assert_eq!(
            judge(&state, typed(None), 50, &open, 600),
            Verdict::Refused(Refusal::SomeoneElses),
            "nor does a post as the group"
        );
        assert_eq!(
            judge(&state, tap(7, 10), 101, &open, 600),
            Verdict::Refused(Refusal::Expired(CommandName::Shutdown))
        );
        let closed = Authz::default();
        assert_eq!(
            judge(&state, tap(7, 10), 50, &closed, 600),
            Verdict::Refused(Refusal::Denied(CommandName::Shutdown)),
            "authz is asked again on every turn"
        );
        assert_eq!(
            judge(&State::Idle, tap(7, 10), 50, &open, 600),
            Verdict::Refused(Refusal::NoConversation)
        );
    }

    #[test]
    fn a_tap_on_any_message_but_the_question_is_out_of_date() {
        let open = open();
        let confirming = State::ConfirmingShutdown {
            owner: owner(7, 100),
            action: crate::command::ShutdownAction::Now,
        };
        assert_eq!(
            judge(&confirming, tap(7, 9), 50, &open, 600),
            Verdict::Refused(Refusal::OutOfDate),
            "an older confirmation does not run this one"
        );
        assert_eq!(
            judge(&confirming, tap(8, 9), 50, &open, 600),
            Verdict::Refused(Refusal::OutOfDate),
            "whoever taps it"
        );
        let sending = State::ChoosingShutdown {
            owner: Owner {
                asked_on: AskedOn::Sending,
                ..owner(7, 100)
            },
        };
        assert_eq!(
            judge(&sending, tap(7, 10), 50, &open, 600),
            Verdict::Refused(Refusal::OutOfDate),
            "no button acts while the question is on its way"
        );
        assert!(matches!(
            judge(&confirming, tap(7, 10), 50, &open, 600),
            Verdict::Admitted(_)
        ));
    }

    #[test]
    fn a_conversation_saved_without_its_message_takes_any_tap_and_learns_it() {
        let open = open();
        let unknown = Owner {
            asked_on: AskedOn::Unknown,
            ..owner(7, 100)
        };
        let state = State::ChoosingShutdown { owner: unknown };
        assert_eq!(
            judge(&state, tap(7, 42), 50, &open, 600),
            Verdict::Admitted(Turn {
                owner: Owner {
                    asked_on: AskedOn::Message(42),
                    ..owner(7, 650)
                }
            }),
            "taken as before the upgrade, and asked on the tapped message from now on"
        );
    }

    #[test]
    fn typed_answers_are_not_judged_by_a_message() {
        let open = open();
        let state = State::ChoosingShutdown {
            owner: Owner {
                asked_on: AskedOn::Sending,
                ..owner(7, 100)
            },
        };
        let Verdict::Admitted(turn) = judge(&state, typed(Some(7)), 50, &open, 600) else {
            panic!("a typed answer is taken whatever message the question is on");
        };
        assert_eq!(turn.owner.asked_on, AskedOn::Sending, "and moves nothing");
    }
}
