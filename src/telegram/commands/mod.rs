//! The commands, as Telegram users type them, and one small module of handlers per topic.
//!
//! The `#[derive(BotCommands)]` enum parses a command line; its names are the
//! [`CommandName`]s that authz keys use. `/help`, `/commands`, `/commands botfather` and
//! setMyCommands list the commands with `text::description_of`, the descriptions Buildbot's
//! documentation tells admins to paste into BotFather, word for word.
//!
//! - [`help`]: `/start`, `/help`, `/commands`, `/hello`, `/getid`, `/source`, `/version`, and
//!   what the bot says to an unknown command or to chatter.
//! - [`list`]: `/list builders|workers|changes`.
//! - [`status`]: `/status` and `/last`.
//! - [`flaky`](mod@flaky): `/flaky`.
//! - [`subscriptions`]: `/notify`, `/watch`, `/mute`, `/unmute`.
//!
//! The conversations (`/force`, `/stop`, `/shutdown`, `/nay`) live in
//! [`super::conversations`].

pub mod flaky;
pub mod help;
pub mod list;
pub mod status;
pub mod subscriptions;

use std::sync::Arc;

use teloxide::types::Message;
use teloxide::utils::command::{BotCommands, ParseError};

use super::HandlerResult;
use super::answer::say;
use super::context::Context;
use super::who::{sender, user_id};
use crate::command::CommandName;
use crate::text;

/// Every command carries the rest of its line; each handler parses its own arguments. The
/// descriptions users read (help, BotFather, the menu Telegram shows) are in
/// `text::description_of`, beside every other sentence.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    Commands(String),
    Flaky(String),
    Force(String),
    Getid(String),
    Hello(String),
    Help(String),
    Last(String),
    List(String),
    Mute(String),
    Nay(String),
    Notify(String),
    Shutdown(String),
    Source(String),
    Start(String),
    Status(String),
    Stop(String),
    Unmute(String),
    Version(String),
    Watch(String),
}

impl Command {
    /// The name authz keys and help use.
    pub fn name(&self) -> CommandName {
        match self {
            Command::Commands(_) => CommandName::Commands,
            Command::Flaky(_) => CommandName::Flaky,
            Command::Force(_) => CommandName::Force,
            Command::Getid(_) => CommandName::Getid,
            Command::Hello(_) => CommandName::Hello,
            Command::Help(_) => CommandName::Help,
            Command::Last(_) => CommandName::Last,
            Command::List(_) => CommandName::List,
            Command::Mute(_) => CommandName::Mute,
            Command::Nay(_) => CommandName::Nay,
            Command::Notify(_) => CommandName::Notify,
            Command::Shutdown(_) => CommandName::Shutdown,
            Command::Source(_) => CommandName::Source,
            Command::Start(_) => CommandName::Start,
            Command::Status(_) => CommandName::Status,
            Command::Stop(_) => CommandName::Stop,
            Command::Unmute(_) => CommandName::Unmute,
            Command::Version(_) => CommandName::Version,
            Command::Watch(_) => CommandName::Watch,
        }
    }

    /// The commands users are told about, `(name, description)`, sorted; `start` is left out
    /// as in Buildbot's bot, since Telegram sends it by itself.
    pub fn listed() -> Vec<(String, String)> {
        CommandName::ALL
            .into_iter()
            .filter_map(|name| {
                let description = text::description_of(name)?;
                Some((name.as_str().to_owned(), description.to_owned()))
            })
            .collect()
    }
}

/// True when the sender may not run this command; the schema then routes to [`deny`].
/// Posts made as the group or a channel count as nobody: only commands open to everybody.
pub fn is_denied(ctx: Arc<Context>, msg: Message, command: Command) -> bool {
    match sender(&msg) {
        Some(user) => !ctx.allows(command.name(), user_id(user)),
        None => !ctx.settings.authz.allows_anonymous(command.name()),
    }
}

/// Tells a denied sender why, naming their id so that an admin can grant it.
pub async fn deny(ctx: Arc<Context>, msg: Message, command: Command) -> HandlerResult {
    let name = command.name();
    let Some(user) = sender(&msg) else {
        log::info!("denied /{name} to an anonymous sender");
        return say(&ctx, &msg, text::anonymous_not_allowed(name.as_str())).await;
    };
    log::info!("denied /{name} to user {}", user_id(user));
    let denial = text::not_allowed(name.as_str(), user_id(user), name.is_dangerous());
    say(&ctx, &msg, denial).await
}

/// What a message's text means to this bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Command(Command),
    /// Looks like a command for this bot, but there is no such command (e.g. `/fly`).
    Unknown(String),
    /// `/cmd@SomeOtherBot`: not for us, stay silent.
    ForAnotherBot,
    /// Not a command at all.
    Text,
}

/// Parses `/name[@bot] args...`: case-insensitive name, any whitespace after it.
pub fn parse(text: &str, bot_username: &str) -> Parsed {
    let text = text.trim_start();
    if !text.starts_with('/') {
        return Parsed::Text;
    }
    let (head, rest) = text
        .split_once(char::is_whitespace)
        .map_or((text, ""), |(head, rest)| (head, rest.trim()));
    let (name, addressee) = match head.split_once('@') {
        Some((name, bot)) => (name, Some(bot)),
        None => (head, None),
    };
    if addressee.is_some_and(|bot| !bot.eq_ignore_ascii_case(bot_username)) {
        return Parsed::ForAnotherBot;
    }
    let name = name.to_lowercase();
    match Command::parse(&format!("{name} {rest}"), bot_username) {
        Ok(command) => Parsed::Command(command),
        Err(ParseError::WrongBotName(_)) => Parsed::ForAnotherBot,
        Err(_) => Parsed::Unknown(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_commands_are_the_botfather_list() {
        let names: Vec<String> = Command::listed().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "commands", "flaky", "force", "getid", "hello", "help", "last", "list", "mute",
                "nay", "notify", "shutdown", "source", "status", "stop", "unmute", "version",
                "watch"
            ]
        );
        let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
        all.push("start");
        all.sort_unstable();
        let every: Vec<&str> = CommandName::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(all, every, "CommandName::ALL lists every variant");
    }

    #[test]
    fn every_command_has_a_usage_and_its_own_name() {
        for command in CommandName::ALL {
            let usage =
                text::usage_of(command, None).unwrap_or_else(|| panic!("no usage for {command}"));
            let name = command.as_str();
            assert!(usage.starts_with(&format!("/{name}")), "{usage}");
            match parse(&format!("/{name}"), "TestBot") {
                Parsed::Command(c) => assert_eq!(c.name(), command),
                other => panic!("/{name} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn parses_arguments_mentions_and_case() {
        assert_eq!(
            parse("/status", "TestBot"),
            Parsed::Command(Command::Status(String::new()))
        );
        assert_eq!(
            parse("  /Status@testbot   runtests  ", "TestBot"),
            Parsed::Command(Command::Status("runtests".into()))
        );
        assert_eq!(
            parse("/list\nall builders", "TestBot"),
            Parsed::Command(Command::List("all builders".into()))
        );
        assert_eq!(parse("/status@OtherBot", "TestBot"), Parsed::ForAnotherBot);
        assert_eq!(parse("/fly@OtherBot", "TestBot"), Parsed::ForAnotherBot);
        assert_eq!(
            parse("/fly away", "TestBot"),
            Parsed::Unknown("/fly".into())
        );
        assert_eq!(parse("/", "TestBot"), Parsed::Unknown("/".into()));
        assert_eq!(parse("hello /status", "TestBot"), Parsed::Text);
    }
}
