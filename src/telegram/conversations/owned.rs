//! A conversation belongs to its owner until it ends or expires: in a group, someone else's
//! `/force`, `/stop` or `/shutdown` does not take it over. The dialogue storage keeps one
//! conversation per chat, so without this rule Bob's `/force` would silently end Alice's
//! half-filled form. The owner's own new command still replaces theirs, as it always did.

use teloxide::prelude::*;

use super::{Conversation, State, ask, retire};
use crate::clock::now;
use crate::command::CommandName;
use crate::delivery::Outgoing;
use crate::telegram::HandlerResult;
use crate::telegram::answer::say;
use crate::telegram::context::Context;
use crate::text;

/// Someone else's conversation in progress, which a command must leave alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Busy {
    /// "Alice (@alice)".
    pub owner: String,
    pub command: CommandName,
    /// How long it has left unless its owner answers.
    pub seconds_left: i64,
}

/// May `user`'s command replace the chat's conversation `current`? Not when it is someone
/// else's, in a group, and not expired (the guard's rule: expired once `expires_at` is past).
/// Private chats have one person, whose new command always replaces their conversation.
pub fn busy(current: &State, user: i64, private: bool, now: i64) -> Option<Busy> {
    let (owner, command) = (current.owner()?, current.command()?);
    let someone_elses = owner.user_id != user && owner.expires_at >= now;
    (someone_elses && !private).then(|| Busy {
        owner: owner.name.clone(),
        command,
        seconds_left: owner.expires_at - now,
    })
}

/// What `msg`'s sender is told when the chat's conversation is someone else's.
fn wait_for(busy: &Busy) -> String {
    text::conversation_busy(&busy.owner, busy.command.as_str(), busy.seconds_left)
}

/// A command starts a conversation: the chat's unfinished one gives way, unless it is someone
/// else's in progress (the sender is told to wait), and `first` is asked in answer to the
/// command.
pub(super) async fn begin(
    ctx: &Context,
    dialogue: &Conversation,
    msg: &Message,
    first: State,
    prompt: Outgoing,
) -> HandlerResult {
    let previous = dialogue.get().await?.unwrap_or_default();
    let user = first.owner().map_or(0, |o| o.user_id);
    if let Some(busy) = busy(&previous, user, msg.chat.is_private(), now()) {
        return say(ctx, msg, wait_for(&busy)).await;
    }
    retire(ctx, &previous, msg.chat.id).await;
    let to = (msg.chat.id, Context::quote(msg));
    ask(ctx, dialogue, first, to, prompt).await
}

/// A command that needs no conversation (a one-line `/force`, `/shutdown check`) ends the
/// sender's unfinished one; someone else's in progress is left alone.
pub(super) async fn end(
    ctx: &Context,
    dialogue: &Conversation,
    msg: &Message,
    user: i64,
) -> HandlerResult {
    let previous = dialogue.get().await?.unwrap_or_default();
    if busy(&previous, user, msg.chat.is_private(), now()).is_some() {
        return Ok(());
    }
    dialogue.exit().await?;
    retire(ctx, &previous, msg.chat.id).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::telegram::conversations::test_owner as owner;

    #[test]
    fn someone_elses_conversation_in_a_group_is_theirs_until_it_expires() {
        // user 7's /shutdown, until 100
        let state = State::ChoosingShutdown {
            owner: owner(7, 100),
        };
        assert_eq!(
            busy(&state, 8, false, 40),
            Some(Busy {
                owner: "A (@a)".into(),
                command: CommandName::Shutdown,
                seconds_left: 60
            })
        );
        assert!(busy(&state, 8, false, 100).is_some(), "still theirs at 100");
        assert_eq!(
            busy(&state, 8, false, 101),
            None,
            "expired: anyone may start"
        );
        assert_eq!(
            busy(&state, 7, false, 40),
            None,
            "the owner replaces their own"
        );
        assert_eq!(
            busy(&state, 8, true, 40),
            None,
            "a private chat is one person's"
        );
        assert_eq!(busy(&State::Idle, 8, false, 40), None);
    }
}
