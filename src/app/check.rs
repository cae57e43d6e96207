//! `buildbot-telegram --check`: every link the bot needs, tried once, one line each, with
//! what to fix. Meant for the first run and for "why is it silent?" moments.

use std::time::Duration;

use teloxide::prelude::*;

use crate::buildbot::{self, events};
use crate::settings::{Settings, closed_notice};
use crate::storage::Store;
use crate::telegram::bot::make_bot;

/// The outcome of one check: what was tried, and Ok(detail) or Err(what to fix).
pub struct Check {
    pub name: &'static str,
    pub outcome: Result<String, String>,
}

/// Runs every check; the settings have already been read and validated.
pub async fn run(settings: &Settings) -> Vec<Check> {
    let client = std::sync::Arc::new(buildbot::Client::new(&settings.buildbot));
    vec![
        Check {
            name: "settings",
            outcome: Ok("valid".to_owned()),
        },
        Check {
            name: "authz",
            outcome: Ok(authz(settings)),
        },
        Check {
            name: "telegram",
            outcome: telegram(settings).await,
        },
        Check {
            name: "buildbot REST API",
            outcome: rest(&client).await,
        },
        Check {
            name: "buildbot events",
            outcome: websocket(&client).await,
        },
        Check {
            name: "storage",
            outcome: storage(settings).await,
        },
    ]
}

/// Who may use the bot when `[authz]` is silent: never a failure, but a bot that answers
/// nobody is a surprise worth a line.
fn authz(settings: &Settings) -> String {
    closed_notice(&settings.authz).unwrap_or_else(|| {
        "no buildbot.username, so harmless commands are open to everybody unless [authz] closes them; /force, /stop and /shutdown only as [authz] grants them".to_owned()
    })
}

/// The token, by asking Telegram who it belongs to.
async fn telegram(settings: &Settings) -> Result<String, String> {
    let bot = make_bot(&settings.telegram, Duration::from_secs(20)).map_err(|e| e.to_string())?;
    match bot.get_me().await {
        Ok(me) => Ok(format!(
            "the token belongs to @{}",
            me.username.clone().unwrap_or_default()
        )),
        Err(teloxide::RequestError::Api(error)) => Err(format!(
            "Telegram refused the token ({error}): check telegram.bot_token (BotFather: /mybots → API Token)"
        )),
        Err(teloxide::RequestError::InvalidJson { raw, .. }) => Err(format!(
            "{} does not answer like the Bot API (it said: {}): check telegram.api_url, and any proxy on the way",
            settings.telegram.api_url,
            gist(&raw)
        )),
        Err(error) => Err(format!(
            "cannot reach Telegram at {} ({error}): check the network, or telegram.api_url",
            settings.telegram.api_url
        )),
    }
}

/// The start of an answer that is not the Bot API's (often an HTML error page), on one line.
/// Secrets go first: a page may echo the URL, token included, and a cut must not leave half
/// a token that no longer matches.
fn gist(raw: &str) -> String {
    let text = crate::logging::redact(raw);
    let words: Vec<&str> = text.split_whitespace().collect();
    let line = words.join(" ");
    match line.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// The REST API: the master's version and its builders (the login too, when it needs one).
async fn rest(client: &buildbot::Client) -> Result<String, String> {
    let config = client
        .master_config()
        .await
        .map_err(|error| format!("{error}: check buildbot.url (the master's buildbotURL)"))?;
    let builders = client.builders().await.map_err(|error| error.to_string())?;
    Ok(format!(
        "Buildbot {} with {} builder(s)",
        config.buildbot_version().unwrap_or("of unknown version"),
        builders.len()
    ))
}

/// The event websocket: connected, and every subscription acknowledged.
async fn websocket(client: &std::sync::Arc<buildbot::Client>) -> Result<String, String> {
    match tokio::time::timeout(Duration::from_secs(20), events::probe(client)).await {
        Ok(Ok(url)) => Ok(format!("events arrive from {url}")),
        Ok(Err(error)) => Err(format!(
            "{error}: notifications need the master's websocket (<url>ws) reachable, through any proxy"
        )),
        Err(_) => Err("no answer from the websocket within 20 s".to_owned()),
    }
}

/// The storage: it opens (and migrates), and its subscriptions can be read; which of them
/// the next start drops, now that nobody may subscribe who could before; and with
/// PostgreSQL, which replica is the active one.
async fn storage(settings: &Settings) -> Result<String, String> {
    let location = settings.storage.url.clone();
    // connecting blocks (up to 10 s for PostgreSQL): off the async workers
    let store = tokio::task::spawn_blocking(move || Store::open(&location))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let subscriptions = store.subscriptions().await.map_err(|e| e.to_string())?;
    let dropped = super::chats::to_drop(&store, settings)
        .await
        .map_err(|e| e.to_string())?;
    let dropping = if dropped.is_empty() {
        String::new()
    } else {
        let chats: Vec<String> = dropped.iter().map(ToString::to_string).collect();
        format!(
            "; the next start drops the subscriptions of {} chat(s) that subscribed while anybody could \
             and that notify.chat_ids does not name ({}): /notify and /watch are closed now that buildbot.username is set",
            dropped.len(),
            chats.join(", ")
        )
    };
    let (what, active) = if store.is_shared() {
        let active = match store.lease_holder().await.map_err(|e| e.to_string())? {
            Some(holder) if holder.left_ms > 0 => {
                format!("; the active replica is {}", holder.replica)
            }
            _ => "; no replica is active now".to_owned(),
        };
        (
            format!(
                "PostgreSQL {}",
                crate::storage::describe(&settings.storage.url)
            ),
            active,
        )
    } else {
        (settings.storage.url.clone(), String::new())
    };
    Ok(format!(
        "{what} is usable ({} chat(s) subscribed){active}{dropping}",
        subscriptions.len()
    ))
}
