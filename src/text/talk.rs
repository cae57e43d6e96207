//! Small talk: greetings, `/start`, `/getid`, `/source`, `/version`, and the answer to words
//! that are not a command. The bot's version is compiled in, so `/version` can never lie.

use rand::seq::SliceRandom;

use super::html::{code, escape, link};

const GREETINGS: [&str; 16] = [
    "Hello",
    "Hi there",
    "Hey",
    "Greetings",
    "Bonjour",
    "Hallo",
    "Hola",
    "Ciao",
    "Olá",
    "Hej",
    "Cześć",
    "Ahoj",
    "Привет",
    "Merhaba",
    "Konnichiwa",
    "Namaste",
];

/// A greeting in one of many languages, picked at random: the same word every time reads like
/// a machine.
pub fn greeting() -> String {
    let word = GREETINGS
        .choose(&mut rand::thread_rng())
        .unwrap_or(&"Hello");
    greeting_with(word)
}

fn greeting_with(word: &str) -> String {
    format!("{word}! 👋")
}

pub fn start(greeting: &str, help: &str) -> String {
    format!(
        "{greeting} I am a bot for <b>Buildbot</b>: ask me about builders, builds and workers.\n\n{help}"
    )
}

pub fn getid_private(user_id: i64) -> String {
    format!("Your ID is {}.", code(&user_id.to_string()))
}

/// What kind of chat `/getid` was sent in, as the answer names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKindWord {
    Group,
    Supergroup,
    Channel,
    Chat,
}

impl ChatKindWord {
    fn word(self) -> &'static str {
        match self {
            ChatKindWord::Group => "group",
            ChatKindWord::Supergroup => "supergroup",
            ChatKindWord::Channel => "channel",
            ChatKindWord::Chat => "chat",
        }
    }
}

pub fn getid_group(first_name: &str, user_id: i64, kind: ChatKindWord, chat_id: i64) -> String {
    let chat_kind = kind.word();
    format!(
        "{}, your ID is {}.\nThis {chat_kind} ID is {}.",
        escape(first_name),
        code(&user_id.to_string()),
        code(&chat_id.to_string())
    )
}

pub fn source(web_ui: &str) -> String {
    format!(
        "This Buildbot's home page is {}\nBuildbot's source can be found at {}\nThis bot is buildbot-telegram {}.",
        link(web_ui, web_ui),
        link(
            "https://github.com/buildbot/buildbot",
            "github.com/buildbot/buildbot"
        ),
        env!("CARGO_PKG_VERSION")
    )
}

pub fn version(master_version: Option<&str>, web_ui: &str) -> String {
    let master = match master_version {
        Some(v) => format!("buildbot-{} at {}", escape(v), link(web_ui, web_ui)),
        None => format!(
            "a Buildbot master of unknown version at {}",
            link(web_ui, web_ui)
        ),
    };
    format!(
        "This is buildbot-telegram {}, talking to {master}, at your service.",
        env!("CARGO_PKG_VERSION")
    )
}

pub fn never_mind(first_name: Option<&str>) -> String {
    match first_name {
        Some(name) => format!("Never mind, {}...", escape(name)),
        None => "Never mind...".to_owned(),
    }
}

/// Plain text in a private chat that is not a command.
pub fn say_what() -> String {
    "Say what? I only understand commands: send /help to see them.".to_owned()
}

pub fn getid_anonymous(chat_id: i64) -> String {
    format!(
        "You are posting as the group or as a channel, so Telegram does not tell me who you are: post as yourself to learn your ID.\nThis chat's ID is {}.",
        code(&chat_id.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getid() {
        insta::assert_snapshot!(
            "getid_group",
            getid_group("Harry <3", 123_456_789, ChatKindWord::Group, -12_345_678)
        );
        insta::assert_snapshot!("getid_private", getid_private(123_456_789));
        insta::assert_snapshot!("getid_anonymous", getid_anonymous(-1_001_234_567_890));
    }

    #[test]
    fn greetings() {
        let all: Vec<String> = GREETINGS.iter().map(|w| greeting_with(w)).collect();
        insta::assert_snapshot!("greetings", all.join("\n"));
        for _ in 0..20 {
            assert!(all.contains(&greeting()));
        }
    }

    #[test]
    fn small_talk() {
        // the bot's own version changes with every release; the sentence around it must not
        let version_free = |text: String| text.replace(env!("CARGO_PKG_VERSION"), "[version]");
        insta::assert_snapshot!(
            "small_talk",
            [
                start(
                    &greeting_with("Hello"),
                    "Here is what I can do:\n/hello - say hello"
                ),
                version_free(source("http://bb/")),
                version_free(version(Some("4.3.0"), "http://bb/")),
                version_free(version(None, "http://bb/")),
                never_mind(Some("Harry <3")),
                never_mind(None),
                say_what(),
            ]
            .join("\n\n")
        );
    }
}
