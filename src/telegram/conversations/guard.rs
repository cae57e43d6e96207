//! The one guard every tap and typed answer of a conversation passes, and what the person
//! is told when it does not let them through.

use std::sync::Arc;

use teloxide::prelude::*;

use super::{Conversation, Owner, State};
use crate::authz::Authz;
use crate::clock::now;
use crate::command::CommandName;
use crate::telegram::HandlerResult;
use crate::telegram::answer::say;
use crate::telegram::context::Context;
use crate::telegram::who::{sender, user_id};
use crate::text;

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
pub fn judge(state: &State, user: Option<i64>, now: i64, authz: &Authz, timeout: i64) -> Verdict {
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

pub(super) fn timeout(ctx: &Context) -> i64 {
    i64::from(ctx.settings.telegram.conversation_timeout)
}

/// The guard for a tapped conversation button (the schema's `map`).
pub fn judge_tap(ctx: Arc<Context>, state: State, query: CallbackQuery) -> Verdict {
    let tapper = Some(user_id(&query.from));
    judge(&state, tapper, now(), &ctx.settings.authz, timeout(&ctx))
}

/// The guard for a typed answer (the schema's `map`).
pub fn judge_answer(ctx: Arc<Context>, state: State, msg: Message) -> Verdict {
    let author = sender(&msg).map(user_id);
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
        Refusal::NotYours { owner, command } => {
            text::conversation_not_yours(owner, command.as_str())
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::telegram::conversations::test_owner as owner;

    fn authz(table: serde_json::Value) -> Authz {
        Authz::from_settings(&serde_json::from_value(table).unwrap()).unwrap()
    }

    #[test]
    fn the_guard_admits_only_the_owner_in_time_and_allowed() {
        let open = authz(serde_json::json!({"!": true}));
        let state = State::ChoosingShutdown {
            owner: owner(7, 100),
        };
        let admitted = judge(&state, Some(7), 50, &open, 600);
        assert_eq!(
            admitted,
            Verdict::Admitted(Turn {
                owner: owner(7, 650)
            }),
            "a turn gives the conversation its full time again"
        );
        assert_eq!(
            judge(&state, Some(8), 50, &open, 600),
            Verdict::Refused(Refusal::NotYours {
                owner: "A (@a)".into(),
                command: CommandName::Shutdown
            })
        );
        assert!(matches!(
            judge(&state, None, 50, &open, 600),
            Verdict::Refused(Refusal::NotYours { .. })
        ));
        assert_eq!(
            judge(&state, Some(7), 101, &open, 600),
            Verdict::Refused(Refusal::Expired(CommandName::Shutdown))
        );
        let closed = Authz::default();
        assert_eq!(
            judge(&state, Some(7), 50, &closed, 600),
            Verdict::Refused(Refusal::Denied(CommandName::Shutdown)),
            "authz is asked again on every turn"
        );
        assert_eq!(
            judge(&State::Idle, Some(7), 50, &open, 600),
            Verdict::Refused(Refusal::NoConversation)
        );
    }
}
