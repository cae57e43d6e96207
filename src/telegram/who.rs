//! Who is talking, and for which chat: the people and places behind an update.

use teloxide::types::{Message, User};

use crate::storage::Chat;

/// Telegram's stand-ins for people who post as the group (anonymous admins) or as a channel.
const STAND_INS: [u64; 2] = [1_087_968_824, 136_817_688];

/// Who sent a message, when Telegram says: `None` for posts made as the group or a channel,
/// whose `from` is a stand-in shared by everybody who posts that way.
pub fn sender(msg: &Message) -> Option<&User> {
    msg.from
        .as_ref()
        .filter(|user| msg.sender_chat.is_none() && !STAND_INS.contains(&user.id.0))
}

/// The chat a message speaks for: the forum topic it was written in, or the chat itself.
pub fn chat_of(msg: &Message) -> Chat {
    match (msg.is_topic_message, msg.thread_id) {
        (true, Some(thread)) => Chat::Topic(msg.chat.id.0, thread.0.0),
        _ => Chat::Id(msg.chat.id.0),
    }
}

pub fn user_id(user: &User) -> i64 {
    // Telegram user ids fit in 52 bits.
    i64::try_from(user.id.0).unwrap_or(i64::MAX)
}

/// "Alice Smith (@alice)": how notices and a build's reason name a person.
pub fn describe(user: &User) -> String {
    crate::text::person(&user.full_name(), user.username.as_deref())
}
