//! `buildbot-telegram --check`: every link the bot needs, tried once, one line each, with
//! what to fix. Meant for the first run and for "why is it silent?" moments.

use std::time::Duration;

use teloxide::prelude::*;

use crate::buildbot::{self, events};
use crate::settings::Settings;
use crate::storage::Store;
use crate::telegram::bot::make_bot;

/// The outcome of one check: what was tried, and Ok(detail) or Err(what to fix).
pub struct Check {
    pub name: &'static str,
    pub outcome: Result<String, String>,
}

/// Runs every check; the settings have already been read and validated.
pub async fn run(settings: &Settings) -> Vec<Check> {
    let mut checks = vec![Check {
        name: "settings",
        outcome: Ok("valid".to_owned()),
    }];

    let telegram = match make_bot(&settings.telegram, Duration::from_secs(20)) {
        Ok(bot) => match bot.get_me().await {
            Ok(me) => Ok(format!(
                "the token belongs to @{}",
                me.username.clone().unwrap_or_default()
            )),
            Err(teloxide::RequestError::Api(error)) => Err(format!(
                "Telegram refused the token ({error}): check telegram.bot_token (BotFather: /mybots → API Token)"
            )),
            Err(error) => Err(format!(
                "cannot reach Telegram at {} ({error}): check the network, or telegram.api_url",
                settings.telegram.api_url
            )),
        },
        Err(error) => Err(error.to_string()),
    };
    checks.push(Check {
        name: "telegram",
        outcome: telegram,
    });

    let client = buildbot::Client::new(&settings.buildbot);
    let rest = match client.master_config().await {
        Ok(config) => match client.builders().await {
            Ok(builders) => Ok(format!(
                "Buildbot {} with {} builder(s)",
                config.buildbot_version().unwrap_or("of unknown version"),
                builders.len()
            )),
            Err(error) => Err(format!("{error}")),
        },
        Err(error) => Err(format!(
            "{error}: check buildbot.url (the master's buildbotURL)"
        )),
    };
    checks.push(Check {
        name: "buildbot REST API",
        outcome: rest,
    });

    let websocket = match tokio::time::timeout(Duration::from_secs(20), events::probe(&client))
        .await
    {
        Ok(Ok(url)) => Ok(format!("events arrive from {url}")),
        Ok(Err(error)) => Err(format!(
            "{error}: notifications need the master's websocket (<url>ws) reachable, through any proxy"
        )),
        Err(_) => Err("no answer from the websocket within 20 s".to_owned()),
    };
    checks.push(Check {
        name: "buildbot events",
        outcome: websocket,
    });

    let storage = match Store::open(&settings.storage.path) {
        Ok(store) => match store.subscriptions().await {
            Ok(subscriptions) => Ok(format!(
                "{} is usable ({} chat(s) subscribed)",
                settings.storage.path,
                subscriptions.len()
            )),
            Err(error) => Err(error.to_string()),
        },
        Err(error) => Err(error.to_string()),
    };
    checks.push(Check {
        name: "storage",
        outcome: storage,
    });
    checks
}
