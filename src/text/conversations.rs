//! Conversations in general (`/nay`, whose conversation it is, expiry) and `/stop`. A
//! conversation spans several messages in a group, so each text names what it is about.

use super::html::{code, escape};
use super::talk::never_mind;

/// "Alice Smith (@alice)": who owns a conversation, as notices and Buildbot's build reason
/// name them. The username is what others can mention; the full name is what they recognise.
/// Plain text: messages escape it where they quote it.
pub fn person(full_name: &str, username: Option<&str>) -> String {
    match username {
        Some(username) => format!("{full_name} (@{username})"),
        None => full_name.to_owned(),
    }
}

pub fn nay(first_name: Option<&str>, ended: Option<&str>) -> String {
    match ended {
        Some(command) => format!(
            "{} I forgot the /{command} conversation.",
            never_mind(first_name)
        ),
        None => format!("{} There was nothing to forget.", never_mind(first_name)),
    }
}

pub fn conversation_not_yours(owner: &str, command: &str) -> String {
    format!(
        "This /{command} conversation belongs to {}. Start your own with /{command}.",
        escape(owner)
    )
}

/// Someone else's conversation, told to a person who may not run its command: neither who
/// owns it nor what it is about is theirs to learn.
pub fn conversation_of_someone_else() -> String {
    "This conversation belongs to someone else, so nothing was done.".to_owned()
}

/// Someone else's command would start a conversation in a group where `owner`'s is still going:
/// theirs is left alone. `seconds` is how long it has left unless they answer.
pub fn conversation_busy(owner: &str, command: &str, seconds: i64) -> String {
    let left = match seconds.max(1) {
        s @ 1..=59 => format!("{s} s"),
        s => format!("{} min", (s + 59) / 60),
    };
    format!(
        "{} is in the middle of /{command} here; wait until it ends (or it expires in {left}).",
        escape(owner)
    )
}

pub fn conversation_expired(command: &str) -> String {
    format!("This conversation expired; start again with /{command}.")
}

pub fn conversation_over() -> String {
    "This conversation is over; start again with the command.".to_owned()
}

/// A tap on a question a newer one replaced (an earlier step's, or an earlier conversation's).
pub fn question_out_of_date() -> String {
    "This question is out of date, so nothing was done. Answer the latest one, or send the command again.".to_owned()
}

pub fn cancelled() -> String {
    "✖️ Cancelled: nothing was changed.".to_owned()
}

pub fn nothing_to_stop(builder: Option<&str>) -> String {
    match builder {
        Some(name) => format!("There are no running builds of {} to stop.", code(name)),
        None => "There are no running builds to stop.".to_owned(),
    }
}

pub fn stop_choose() -> String {
    "Which build do you want to stop?".to_owned()
}

pub fn stop_confirm(label: &str) -> String {
    format!("Stop build <b>{}</b>?", escape(label))
}

pub fn stop_reason(who: &str, user_id: i64) -> String {
    format!("stopped from Telegram by {who}, id {user_id}")
}

pub fn stop_done(label: &str) -> String {
    format!("🚫 Stopping build <b>{}</b>.", escape(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversations() {
        insta::assert_snapshot!(
            "conversations",
            [
                person("Alice Smith", Some("alice")),
                person("Bob", None),
                nay(Some("Harry <3"), Some("force")),
                nay(None, None),
                conversation_not_yours("Alice <A> (@alice)", "stop"),
                conversation_of_someone_else(),
                conversation_busy("Alice <A> (@alice)", "force", 300),
                conversation_busy("Alice (@alice)", "shutdown", 61),
                conversation_busy("Alice (@alice)", "stop", 3),
                conversation_expired("force"),
                conversation_over(),
                question_out_of_date(),
                cancelled(),
            ]
            .join("\n\n")
        );
    }

    #[test]
    fn stop() {
        insta::assert_snapshot!(
            "stop",
            [
                nothing_to_stop(None),
                nothing_to_stop(Some("slow<")),
                stop_choose(),
                stop_confirm("slow<1> #4, running 1 min 5 s"),
                stop_reason("Alice (@alice)", 42),
                stop_done("slow<1> #4, running 1 min 5 s"),
            ]
            .join("\n\n")
        );
    }
}
