//! What the bot says when it will not or cannot do what was asked: not allowed, a button that
//! is no longer valid, or trouble with the master or its own storage. Each says what to do next.

use super::html::{code, escape};

pub fn not_allowed(command: &str, user_id: i64, dangerous: bool) -> String {
    let group_key = if dangerous { "\"!\"" } else { "\"\"" };
    format!(
        "⛔ Sorry, you are not allowed to use /{command}.\nAsk the bot's admin to add your user id {} (/getid shows it) to the <code>[authz]</code> key <code>\"{command}\"</code> (or <code>{group_key}</code>) in the settings.",
        code(&user_id.to_string())
    )
}

pub fn anonymous_not_allowed(command: &str) -> String {
    format!(
        "⛔ You are posting as the group or as a channel, so I cannot tell who you are, and /{command} needs that. Post as yourself to use it."
    )
}

pub fn button_not_allowed(command: &str) -> String {
    format!("⛔ Sorry, you are not allowed to use /{command}.")
}

/// A tap whose data names a build the bot does not show (`notify.tags`), or none at all:
/// forged, since the bot never draws such a button. Plain text: it is the notice of a tap.
pub fn build_not_shown() -> String {
    "⛔ This button names a build I do not show here, so nothing was done.".to_owned()
}

pub fn storage_failed() -> String {
    "⚠️ Something went wrong with my storage; the bot's admin will find the details in its log."
        .to_owned()
}

/// A tap whose data the tapped message does not carry: forged, or from a keyboard the bot
/// has replaced since. Plain text (a tap's notice).
pub fn button_not_on_message() -> String {
    "⛔ This button is not on this message (any more), so nothing was done. Use the buttons the message shows now, or send the command again.".to_owned()
}

/// A tap on a message Telegram no longer gives the bot (older than 48 hours): its buttons
/// cannot be checked. Plain text (a tap's notice).
pub fn button_too_old() -> String {
    "⌛ This message is too old for its buttons to work, so nothing was done. Send the command again.".to_owned()
}

pub fn stale_button() -> String {
    "Sorry, this button is no longer valid. Send the command again.".to_owned()
}

/// Said once to a chat whose messages come faster than the bot takes them; the rest of the
/// flood is skipped, so the person knows why some got no answer.
pub fn slow_down() -> String {
    "🐢 That is more than I can take at once: I skip messages from you for a little while. Send one command at a time.".to_owned()
}

pub fn master_unavailable(error: &str) -> String {
    format!(
        "⚠️ I could not get an answer from the Buildbot master: {}\nTry again in a moment; if it keeps happening, tell the bot's admin.",
        escape(error)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_refusals() {
        insta::assert_snapshot!(
            "tap_refusals",
            [button_not_on_message(), button_too_old()].join("\n\n")
        );
    }

    #[test]
    fn slow_down_notice() {
        insta::assert_snapshot!("slow_down", slow_down());
    }

    #[test]
    fn access_and_errors() {
        insta::assert_snapshot!("not_allowed_dangerous", not_allowed("force", 123_456, true));
        insta::assert_snapshot!("not_allowed_harmless", not_allowed("status", 42, false));
        insta::assert_snapshot!(
            "master_unavailable",
            master_unavailable("cannot reach the Buildbot master at http://x/: connection failed")
        );
        insta::assert_snapshot!(
            "refusals",
            [
                anonymous_not_allowed("force"),
                button_not_allowed("stop"),
                build_not_shown(),
                stale_button(),
                storage_failed(),
            ]
            .join("\n\n")
        );
    }
}
