//! `/help`, `/commands`, and what the bot says when a command is unknown or its arguments are
//! wrong: always with the usage, so the next try can be right.

use std::fmt::Write as _;

use super::html::escape;

/// One line per command: "/status - list status of a builder (or all builders)".
pub fn help(commands: &[(String, String)]) -> String {
    let mut out = String::from("Here is what I can do:\n");
    for (name, description) in commands {
        let _ = writeln!(out, "/{name} - {}", escape(description));
    }
    out.push_str("\nSend /help <i>command</i> for the details of one.");
    out
}

pub fn usage(text: &str) -> String {
    format!("Usage: {}", escape(text))
}

pub fn no_usage_for(words: &[String]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{}'", escape(w))).collect();
    format!("No usage info for {}.", quoted.join(" "))
}

pub fn no_such_command(name: &str) -> String {
    format!(
        "There is no such command '{}'. Send /commands to see them all.",
        escape(name)
    )
}

pub fn commands(names: &[&str]) -> String {
    let list: Vec<String> = names.iter().map(|n| format!("/{n}")).collect();
    format!("Buildbot commands: {}", list.join(", "))
}

/// What BotFather's /setcommands takes: "name - description" lines, nothing else.
pub fn botfather_commands(commands: &[(String, String)]) -> String {
    commands
        .iter()
        .map(|(name, description)| format!("{name} - {}", escape(description)))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn unknown_command(name: &str) -> String {
    format!(
        "I don't know the command {}. Send /help to see what I can do.",
        escape(name)
    )
}

pub fn bad_arguments(reason: &str, usage_text: &str) -> String {
    format!("{} Usage: {}", escape(reason), escape(usage_text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_and_botfather() {
        let commands = [
            ("help", "give help for a command or one of it's arguments"),
            ("status", "list status of a builder (or all builders)"),
        ]
        .map(|(n, d)| (n.to_owned(), d.to_owned()));
        insta::assert_snapshot!("help", help(&commands));
        insta::assert_snapshot!("botfather", botfather_commands(&commands));
        insta::assert_snapshot!("commands", commands_text());
    }

    fn commands_text() -> String {
        commands(&["commands", "help", "status"])
    }

    #[test]
    fn unknown() {
        insta::assert_snapshot!("unknown_command", unknown_command("/fly"));
        insta::assert_snapshot!(
            "usage_texts",
            [
                usage("/status [builder|all] - list status of a builder (or all builders)"),
                no_usage_for(&["status".into(), "<foo>".into()]),
                no_such_command("/fly<"),
                bad_arguments(
                    "That is too many words for /list.",
                    "/list [all|N] builders|workers|changes - list configured builders, workers, or N recent changes"
                ),
            ]
            .join("\n\n")
        );
    }
}
