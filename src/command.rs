//! The bot's commands by name: the one list that authz keys, `/help`, button routing and the
//! conversation steps refer to.
//!
//! Telegram's side of a command (its description, how its line is parsed) lives in
//! `telegram::commands`; this leaf only knows the names and which of them change the master,
//! so that `authz` and the settings can name commands without knowing about Telegram.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A command of this bot, as typed without its slash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CommandName {
    Commands,
    Flaky,
    Force,
    Getid,
    Hello,
    Help,
    Last,
    List,
    Mute,
    Nay,
    Notify,
    Shutdown,
    Source,
    Start,
    Status,
    Stop,
    Unmute,
    Version,
    Watch,
}

impl CommandName {
    /// Every command, in alphabetical order.
    pub const ALL: [CommandName; 19] = [
        CommandName::Commands,
        CommandName::Flaky,
        CommandName::Force,
        CommandName::Getid,
        CommandName::Hello,
        CommandName::Help,
        CommandName::Last,
        CommandName::List,
        CommandName::Mute,
        CommandName::Nay,
        CommandName::Notify,
        CommandName::Shutdown,
        CommandName::Source,
        CommandName::Start,
        CommandName::Status,
        CommandName::Stop,
        CommandName::Unmute,
        CommandName::Version,
        CommandName::Watch,
    ];

    /// The commands that change the master: closed unless authz opens them (`"!"` or their
    /// own key), and asked again on every tap and typed answer of their conversations.
    pub const DANGEROUS: [CommandName; 3] =
        [CommandName::Force, CommandName::Stop, CommandName::Shutdown];

    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Commands => "commands",
            CommandName::Flaky => "flaky",
            CommandName::Force => "force",
            CommandName::Getid => "getid",
            CommandName::Hello => "hello",
            CommandName::Help => "help",
            CommandName::Last => "last",
            CommandName::List => "list",
            CommandName::Mute => "mute",
            CommandName::Nay => "nay",
            CommandName::Notify => "notify",
            CommandName::Shutdown => "shutdown",
            CommandName::Source => "source",
            CommandName::Start => "start",
            CommandName::Status => "status",
            CommandName::Stop => "stop",
            CommandName::Unmute => "unmute",
            CommandName::Version => "version",
            CommandName::Watch => "watch",
        }
    }

    pub fn is_dangerous(self) -> bool {
        CommandName::DANGEROUS.contains(&self)
    }

    /// "commands, force, getid, ..." for error messages.
    pub fn allowed_list() -> String {
        CommandName::ALL.map(CommandName::as_str).join(", ")
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct UnknownCommand;

impl FromStr for CommandName {
    type Err = UnknownCommand;

    /// `status`, `/Status`: case and a leading slash do not matter.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().trim_start_matches('/');
        CommandName::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
            .ok_or(UnknownCommand)
    }
}

/// What `/shutdown` can ask of the master (`/shutdown check|start|stop|now`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShutdownAction {
    /// Is the master running (or shutting down)?
    Check,
    /// Clean shutdown: no new builds, exit when the running ones finish.
    Start,
    /// Cancel a clean shutdown.
    Stop,
    /// Stop now; running builds are interrupted.
    Now,
}

impl ShutdownAction {
    pub const ALL: [ShutdownAction; 4] = [
        ShutdownAction::Check,
        ShutdownAction::Start,
        ShutdownAction::Stop,
        ShutdownAction::Now,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ShutdownAction::Check => "check",
            ShutdownAction::Start => "start",
            ShutdownAction::Stop => "stop",
            ShutdownAction::Now => "now",
        }
    }

    pub fn parse(name: &str) -> Option<ShutdownAction> {
        ShutdownAction::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Actions that take the master away ask for a confirmation first.
    pub fn needs_confirmation(self) -> bool {
        matches!(self, ShutdownAction::Start | ShutdownAction::Now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_sorted() {
        for c in CommandName::ALL {
            assert_eq!(c.as_str().parse::<CommandName>(), Ok(c));
        }
        let names: Vec<&str> = CommandName::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert_eq!("/STOP".parse(), Ok(CommandName::Stop));
        assert_eq!("fly".parse::<CommandName>(), Err(UnknownCommand));
    }

    #[test]
    fn only_force_stop_and_shutdown_are_dangerous() {
        let dangerous: Vec<CommandName> = CommandName::ALL
            .into_iter()
            .filter(|c| c.is_dangerous())
            .collect();
        assert_eq!(
            dangerous,
            [CommandName::Force, CommandName::Shutdown, CommandName::Stop]
        );
    }
}
