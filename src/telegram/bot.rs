//! The bot's identity at Telegram: one way to build the client, who we are (`getMe`), and
//! the command list Telegram offers as people type "/".

use std::time::Duration;

use teloxide::prelude::*;
use teloxide::types::{BotCommand, Me};
use teloxide::{ApiError, RequestError};

use super::commands::Command;
use crate::settings::TelegramSettings;

/// Why the bot cannot be itself at Telegram.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(
        "Telegram at {api_url} rejected telegram.bot_token ({reason}). Check the token BotFather gave you (/mybots → API Token)."
    )]
    BadToken { api_url: String, reason: String },
    #[error(
        "Telegram's getMe answered without a username; set telegram.bot_username to the bot's username."
    )]
    NoUsername,
    #[error("cannot build the HTTP client for Telegram: {0}")]
    Client(String),
}

/// The Bot API client every part of the bot uses (start-up, polling, delivery, `--check`).
/// `timeout` bounds each request: long polls hold one open for `poll_timeout` seconds, so the
/// running bot waits longer than that.
pub fn make_bot(settings: &TelegramSettings, timeout: Duration) -> Result<Bot, BotError> {
    let client = teloxide::net::default_reqwest_settings()
        .timeout(timeout)
        .build()
        .map_err(|e| BotError::Client(e.to_string()))?;
    Ok(Bot::with_client(&settings.bot_token, client).set_api_url(settings.api_url.clone()))
}

/// The request timeout of the running bot: a long poll plus a margin.
pub fn polling_timeout(settings: &TelegramSettings) -> Duration {
    Duration::from_secs(u64::from(settings.poll_timeout) + 15)
}

/// Asks Telegram who we are, waiting out network trouble; a rejected token ends the start.
pub async fn wait_for_me(bot: &Bot, settings: &TelegramSettings) -> Result<Me, BotError> {
    let mut reported = false;
    loop {
        match bot.get_me().await {
            Ok(me) => {
                if reported {
                    log::info!("Telegram answers again");
                }
                return Ok(me);
            }
            Err(RequestError::Api(ApiError::InvalidToken)) => {
                return Err(BotError::BadToken {
                    api_url: settings.api_url.to_string(),
                    reason: "Unauthorized".into(),
                });
            }
            // Telegram (or whatever answers at api_url) said no: waiting will not change that.
            Err(RequestError::Api(error)) => {
                return Err(BotError::BadToken {
                    api_url: settings.api_url.to_string(),
                    reason: error.to_string(),
                });
            }
            Err(error) => {
                if !reported {
                    log::warn!(
                        "cannot reach Telegram at {} ({error}); trying again every {} s",
                        settings.api_url,
                        settings.retry_delay
                    );
                    reported = true;
                }
                tokio::time::sleep(Duration::from_secs(settings.retry_delay.into())).await;
            }
        }
    }
}

/// Tells Telegram the command list, so clients can offer it as you type "/".
pub async fn register_commands(bot: &Bot) {
    let commands: Vec<BotCommand> = Command::listed()
        .into_iter()
        .map(|(name, description)| BotCommand::new(name, description))
        .collect();
    if let Err(error) = bot.set_my_commands(commands).await {
        log::warn!("could not register the command list with Telegram (setMyCommands): {error}");
    }
}

/// This bot's username, as Telegram knows it; a configured `telegram.bot_username` that
/// differs is reported, and Telegram's wins.
pub fn username(me: &Me, settings: &TelegramSettings) -> Result<String, BotError> {
    let username = me.user.username.clone().ok_or(BotError::NoUsername)?;
    if let Some(configured) = &settings.bot_username
        && !configured.eq_ignore_ascii_case(&username)
    {
        log::warn!(
            "telegram.bot_username is {configured:?} but the token belongs to @{username}; answering as @{username}"
        );
    }
    Ok(username)
}
