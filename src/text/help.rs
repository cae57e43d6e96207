//! `/help`, `/commands`, and what the bot says when a command is unknown or its arguments are
//! wrong: always with the usage, so the next try can be right.

use std::fmt::Write as _;

use super::html::escape;
use crate::command::CommandName;

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

/// How to use a command, and its arguments that have a usage of their own; `None` when there
/// is no such usage. The first word is always the command, so the line can be typed as shown.
pub fn usage_of(command: CommandName, arg: Option<&str>) -> Option<&'static str> {
    use CommandName::*;
    Some(match (command, arg) {
        (Commands, None) => {
            "/commands [botfather] - list available commands; with botfather, the list to paste into BotFather's /setcommands"
        }
        (Flaky, None) => {
            "/flaky - list the builders whose recent results look flaky: the same code failed and passed, or the result flips often"
        }
        (Force, None) => "/force [builder] [reason] [name=value ...] - force a build",
        (Getid, None) => {
            "/getid - get user and chat ID that can be put in the bot's settings (authz, notify.chat_ids)"
        }
        (Hello, None) => "/hello - say hello",
        (Help, None) => {
            "/help [command [argument]] - give help for a command or one of its arguments"
        }
        (Last, None) => {
            "/last [builder|all] - list the last build of a builder (or of all builders)"
        }
        (List, None) => {
            "/list [all|N] builders|workers|changes - list configured builders, workers, or N recent changes"
        }
        (List, Some("builders")) => {
            "/list [all] builders - list builders; all includes retired ones"
        }
        (List, Some("workers")) => {
            "/list [all] workers - list workers; all includes unconfigured ones"
        }
        (List, Some("changes")) => {
            "/list [all|N] changes - list the N most recent changes (10 by default)"
        }
        (Nay, None) => "/nay - never mind the command we are currently discussing",
        (Mute, None) => {
            "/mute [duration] - notifications in this chat arrive without a sound for a while (30m, 2h, 1d; 1h by default)"
        }
        (Unmute, None) => "/unmute - notifications in this chat make a sound again",
        (Notify, None) => {
            "/notify on|off|list [event ...] [builder:|tag:|branch:pattern ...] - notify me about build events, of the builds I name; /notify quiet-repeats on|off - repeated failures without a sound"
        }
        (Shutdown, None) => "/shutdown check|start|stop|now - shutdown the buildbot master",
        (Shutdown, Some("check")) => {
            "/shutdown check - check if the buildbot master is running or shutting down"
        }
        (Shutdown, Some("start")) => "/shutdown start - start a clean shutdown",
        (Shutdown, Some("stop")) => "/shutdown stop - stop the clean shutdown",
        (Shutdown, Some("now")) => {
            "/shutdown now - shutdown immediately without waiting for the builders to finish"
        }
        (Source, None) => "/source - the home page and source code of this Buildbot",
        (Start, None) => "/start - say hello and show what I can do",
        (Status, None) => "/status [builder|all] - list status of a builder (or all builders)",
        (Stop, None) => "/stop [builder] - stop a running build",
        (Version, None) => "/version - show the bot's and the master's versions",
        (Watch, None) => "/watch [builder] - announce the completion of an active build",
        _ => return None,
    })
}

/// What a command does, in one line, for `/help`, `/commands botfather` and the menu
/// Telegram shows as one types "/"; `None` for commands not listed. The words are the ones
/// Buildbot's documentation tells admins to paste into BotFather (its typo included).
pub fn description_of(command: CommandName) -> Option<&'static str> {
    Some(match command {
        CommandName::Commands => "list available commands",
        CommandName::Flaky => "list flaky builders",
        CommandName::Force => "force a build",
        CommandName::Getid => "get user and chat ID",
        CommandName::Hello => "say hello",
        CommandName::Help => "give help for a command or one of it's arguments",
        CommandName::Last => "list last build status for a builder",
        CommandName::List => "list configured builders or workers",
        CommandName::Mute => "silence notifications in this chat for a while",
        CommandName::Nay => "forget the current command",
        CommandName::Notify => "notify me about build events",
        CommandName::Shutdown => "shutdown the buildbot master",
        CommandName::Source => "the source code for buildbot",
        // Telegram sends it by itself when a chat opens: not listed, as in Buildbot's bot
        CommandName::Start => return None,
        CommandName::Status => "list status of a builder (or all builders)",
        CommandName::Stop => "stop a running build",
        CommandName::Unmute => "let notifications in this chat make a sound again",
        CommandName::Version => "show buildbot version",
        CommandName::Watch => "announce the completion of an active build",
    })
}

// ---------------------------------------------------------------------------------------------
// Why arguments were refused: plain text, the `reason` of [`bad_arguments`], which escapes it.

pub fn unclosed_quote() -> String {
    "I could not read the arguments: a quote is not closed.".to_owned()
}

pub fn commands_argument() -> String {
    "The only argument /commands takes is botfather.".to_owned()
}

/// `max` is the most changes one `/list` shows.
pub fn list_scope(max: u32) -> String {
    format!("Say all or a number from 1 to {max} before what to list.")
}

pub fn list_too_many_words() -> String {
    "That is too many words for /list.".to_owned()
}

pub fn list_target() -> String {
    "I can list builders, workers or changes.".to_owned()
}

pub fn list_count_only_for_changes() -> String {
    "A number only makes sense for changes.".to_owned()
}

/// For `/status` and `/last`.
pub fn one_builder_or_all() -> String {
    "Name one builder (quote a name with spaces), or all.".to_owned()
}

pub fn notify_verb() -> String {
    "Say on, off or list, then the events, and filters such as builder:linux-*, tag:nightly or branch:main.".to_owned()
}

pub fn quiet_repeats_usage() -> String {
    "Say /notify quiet-repeats on or /notify quiet-repeats off.".to_owned()
}

pub fn mute_duration() -> String {
    "Say how long, up to 30 days: 30m, 2h or 1d.".to_owned()
}

pub fn watch_one_builder() -> String {
    "Name one builder, or send /watch alone to choose.".to_owned()
}

/// `/shutdown` with an action it does not know: the whole answer, with the short usage that
/// lists only the actions.
pub fn bad_shutdown_action() -> String {
    bad_arguments(
        "I can check, start, stop or do now.",
        "/shutdown check|start|stop|now",
    )
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

    #[test]
    fn every_listed_command_with_its_description() {
        let listed: Vec<(String, String)> = CommandName::ALL
            .into_iter()
            .filter_map(|c| Some((c.as_str().to_owned(), description_of(c)?.to_owned())))
            .collect();
        insta::assert_snapshot!("botfather_all", botfather_commands(&listed));
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

    #[test]
    fn every_usage() {
        let asked = [
            (CommandName::Commands, None),
            (CommandName::Flaky, None),
            (CommandName::Force, None),
            (CommandName::Getid, None),
            (CommandName::Hello, None),
            (CommandName::Help, None),
            (CommandName::Last, None),
            (CommandName::List, None),
            (CommandName::List, Some("builders")),
            (CommandName::List, Some("workers")),
            (CommandName::List, Some("changes")),
            (CommandName::Mute, None),
            (CommandName::Nay, None),
            (CommandName::Notify, None),
            (CommandName::Shutdown, None),
            (CommandName::Shutdown, Some("check")),
            (CommandName::Shutdown, Some("start")),
            (CommandName::Shutdown, Some("stop")),
            (CommandName::Shutdown, Some("now")),
            (CommandName::Source, None),
            (CommandName::Start, None),
            (CommandName::Status, None),
            (CommandName::Stop, None),
            (CommandName::Unmute, None),
            (CommandName::Version, None),
            (CommandName::Watch, None),
        ];
        let all: Vec<&str> = asked
            .iter()
            .map(|(name, arg)| usage_of(*name, *arg).unwrap_or_else(|| panic!("{name} {arg:?}")))
            .collect();
        insta::assert_snapshot!("usage_of", all.join("\n"));
        assert_eq!(usage_of(CommandName::Status, Some("foo")), None);
    }

    #[test]
    fn usage_reasons() {
        insta::assert_snapshot!(
            "usage_reasons",
            [
                unclosed_quote(),
                commands_argument(),
                list_scope(200),
                list_too_many_words(),
                list_target(),
                list_count_only_for_changes(),
                one_builder_or_all(),
                notify_verb(),
                quiet_repeats_usage(),
                mute_duration(),
                watch_one_builder(),
                bad_shutdown_action(),
            ]
            .join("\n")
        );
    }
}
