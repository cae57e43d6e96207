//! Small talk and help: `/start`, `/help`, `/commands`, `/hello`, `/getid`, `/source`,
//! `/version`, and the answers to unknown commands and private chatter.

use std::sync::Arc;

use teloxide::types::{ChatKind, Message, PublicChatKind};

use super::Command;
use crate::command::CommandName;
use crate::delivery::Outgoing;
use crate::telegram::HandlerResult;
use crate::telegram::answer::{Answer, Failure, reply, say, usage_failure, words};
use crate::telegram::context::Context;
use crate::telegram::who::{sender, user_id};
use crate::text::{self, ChatKindWord};

pub async fn start(ctx: Arc<Context>, msg: Message) -> HandlerResult {
    let help = text::help(&Command::listed());
    say(&ctx, &msg, text::start(&text::greeting(), &help)).await
}

pub async fn hello(ctx: Arc<Context>, msg: Message) -> HandlerResult {
    say(&ctx, &msg, text::greeting()).await
}

pub async fn getid(ctx: Arc<Context>, msg: Message) -> HandlerResult {
    let Some(user) = sender(&msg) else {
        return say(&ctx, &msg, text::getid_anonymous(msg.chat.id.0)).await;
    };
    let answer = if msg.chat.is_private() {
        text::getid_private(user_id(user))
    } else {
        let kind = match &msg.chat.kind {
            ChatKind::Public(public) => match public.kind {
                PublicChatKind::Channel(_) => ChatKindWord::Channel,
                PublicChatKind::Supergroup(_) => ChatKindWord::Supergroup,
                _ => ChatKindWord::Group,
            },
            ChatKind::Private(_) => ChatKindWord::Chat,
        };
        text::getid_group(&user.first_name, user_id(user), kind, msg.chat.id.0)
    };
    say(&ctx, &msg, answer).await
}

pub async fn help(ctx: Arc<Context>, msg: Message, args: String) -> HandlerResult {
    reply(&ctx, &msg, help_answer(&args)).await
}

fn help_answer(args: &str) -> Answer {
    let words = words(args, CommandName::Help)?;
    let Some(first) = words.first() else {
        return Ok(Outgoing::text(text::help(&Command::listed())));
    };
    let Ok(name) = first.parse::<CommandName>() else {
        return Err(Failure::Usage(text::no_such_command(first)));
    };
    let arg = words.get(1).map(|a| a.to_lowercase());
    match (text::usage_of(name, arg.as_deref()), words.len()) {
        (Some(usage), 1 | 2) => Ok(Outgoing::text(text::usage(usage))),
        _ => Err(Failure::Usage(text::no_usage_for(&words))),
    }
}

pub async fn commands(ctx: Arc<Context>, msg: Message, args: String) -> HandlerResult {
    let answer = match args.trim().to_lowercase().as_str() {
        "" => Ok(Outgoing::text(text::commands(
            &CommandName::ALL.map(CommandName::as_str),
        ))),
        "botfather" => Ok(Outgoing::text(text::botfather_commands(&Command::listed()))),
        _ => Err(usage_failure(
            CommandName::Commands,
            &text::commands_argument(),
        )),
    };
    reply(&ctx, &msg, answer).await
}

pub async fn source(ctx: Arc<Context>, msg: Message) -> HandlerResult {
    say(&ctx, &msg, text::source(ctx.buildbot.base_url().as_str())).await
}

pub async fn version(ctx: Arc<Context>, msg: Message) -> HandlerResult {
    let answer = async {
        let config = ctx.buildbot.master_config().await?;
        Ok(Outgoing::text(text::version(
            config.buildbot_version(),
            ctx.buildbot.base_url().as_str(),
        )))
    };
    reply(&ctx, &msg, answer.await).await
}

pub async fn unknown(ctx: Arc<Context>, msg: Message, name: String) -> HandlerResult {
    say(&ctx, &msg, text::unknown_command(&name)).await
}

/// Plain text in a private chat: point to /help. In groups the bot stays quiet.
pub async fn chatter(ctx: Arc<Context>, msg: Message) -> HandlerResult {
    say(&ctx, &msg, text::say_what()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_arguments() {
        let text = |args: &str| match help_answer(args) {
            Ok(o) => o.text,
            Err(Failure::Usage(t)) => t,
            Err(Failure::Master(_) | Failure::Storage(_)) => panic!("help asks nobody"),
        };
        assert!(text("").contains("/status - list status"));
        assert!(text("/status").starts_with("Usage: /status [builder|all]"));
        assert!(text("shutdown start").starts_with("Usage: /shutdown start"));
        assert_eq!(text("status foo"), "No usage info for 'status' 'foo'.");
        assert!(text("fly").starts_with("There is no such command 'fly'"));
    }
}
