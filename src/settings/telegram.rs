//! `[telegram]`: how the bot reaches Telegram and how fast it may talk there. The token is a
//! secret, so it is checked for shape without ever being echoed, and `Debug` hides it.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use url::Url;

use super::SettingsError;
use super::error::env_name;
use super::raw::{RawLimits, RawTelegram};
use super::values::{in_range, parse_http_url, shown_url};
use super::webhook::{WebhookSettings, validate_webhook};

/// `[telegram.limits]`: how many messages Telegram takes before it answers 429. The settings
/// own the numbers because the admin sets them; `delivery` keeps the bot inside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub overall_per_second: u32,
    pub chat_per_second: u32,
    pub group_per_minute: u32,
}

/// Telegram's published limits, for code that runs without settings (tests, benchmarks).
impl Default for Limits {
    fn default() -> Self {
        Limits {
            overall_per_second: 30,
            chat_per_second: 1,
            group_per_minute: 20,
        }
    }
}

#[derive(Clone)]
pub struct TelegramSettings {
    pub bot_token: String,
    /// Without the leading `@`; `None` means "ask Telegram with getMe".
    pub bot_username: Option<String>,
    pub api_url: Url,
    pub poll_timeout: u32,
    pub retry_delay: u32,
    pub use_webhook: bool,
    pub certificate: Option<String>,
    /// Seconds a conversation (/force, /stop, /shutdown) waits for its next answer.
    pub conversation_timeout: u32,
    /// Telegram's sending limits, as the bot keeps them.
    pub limits: Limits,
    /// How long a notification is retried through network trouble before it is dropped.
    pub give_up_after: Duration,
    /// Set when `use_webhook` is on.
    pub webhook: Option<WebhookSettings>,
}

impl fmt::Debug for TelegramSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramSettings")
            .field("bot_token", &"<redacted>")
            .field("bot_username", &self.bot_username)
            .field("api_url", &self.api_url)
            .field("poll_timeout", &self.poll_timeout)
            .field("retry_delay", &self.retry_delay)
            .field("use_webhook", &self.use_webhook)
            .field("certificate", &self.certificate)
            .field("conversation_timeout", &self.conversation_timeout)
            .field("limits", &self.limits)
            .field("give_up_after", &self.give_up_after)
            .field("webhook", &self.webhook)
            .finish()
    }
}

pub(super) fn validate_telegram(raw: RawTelegram) -> Result<TelegramSettings, SettingsError> {
    let bot_token = bot_token(&raw.bot_token)?;
    let bot_username = bot_username(&raw.bot_username)?;
    let api_url = api_url(&raw.api_url)?;
    let poll_timeout = in_range("telegram.poll_timeout", raw.poll_timeout, 1, 600)?;
    let retry_delay = in_range("telegram.retry_delay", raw.retry_delay, 1, 3600)?;
    let conversation_timeout = in_range(
        "telegram.conversation_timeout",
        raw.conversation_timeout,
        2,
        86_400,
    )?;
    let (limits, give_up_after) = limits(&raw.limits)?;
    let certificate_path = raw.certificate.trim();
    if raw.use_webhook && !certificate_path.is_empty() && !Path::new(certificate_path).is_file() {
        return Err(SettingsError::invalid(
            "telegram.certificate",
            format!("{certificate_path:?}"),
            "the path of a PEM file with the webhook's self-signed certificate, or empty",
        ));
    }
    let webhook = if raw.use_webhook {
        Some(validate_webhook(raw.webhook, certificate_path)?)
    } else {
        None
    };
    let certificate = Some(certificate_path.to_owned()).filter(|c| !c.is_empty());
    Ok(TelegramSettings {
        bot_token,
        bot_username,
        api_url,
        poll_timeout,
        retry_delay,
        use_webhook: raw.use_webhook,
        certificate,
        conversation_timeout,
        limits,
        give_up_after,
        webhook,
    })
}

fn bot_token(raw: &str) -> Result<String, SettingsError> {
    let token = raw.trim().to_owned();
    if token.is_empty() {
        return Err(SettingsError::Missing {
            key: "telegram.bot_token",
            env: env_name("telegram.bot_token"),
            hint: "\n  Get a token from @BotFather in Telegram (/newbot); see the README.",
        });
    }
    // BotFather tokens look like "123456789:AAE...". Do not echo the token back: it is a secret.
    let well_formed = token.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !secret.is_empty()
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if !well_formed {
        return Err(SettingsError::invalid(
            "telegram.bot_token",
            "(not shown)",
            "a token as BotFather prints it: digits, a colon, then letters, digits, _ and -, e.g. 123456789:AAE...",
        ));
    }
    Ok(token)
}

/// Without the leading `@`; `None` when empty, so the bot asks Telegram.
fn bot_username(raw: &str) -> Result<Option<String>, SettingsError> {
    let username = raw.trim().trim_start_matches('@').to_owned();
    let username_ok = username.is_empty()
        || (username.len() >= 5
            && username.len() <= 32
            && username
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if !username_ok {
        return Err(SettingsError::invalid(
            "telegram.bot_username",
            format!("{raw:?}"),
            "empty (read from Telegram), or the bot's username: 5-32 letters, digits or underscores",
        ));
    }
    Ok(Some(username).filter(|u| !u.is_empty()))
}

fn api_url(raw: &str) -> Result<Url, SettingsError> {
    let mut api_url = parse_http_url("telegram.api_url", raw)?;
    if api_url.query().is_some() || api_url.fragment().is_some() {
        return Err(SettingsError::invalid(
            "telegram.api_url",
            shown_url(raw),
            "the Bot API base URL without query or #fragment, e.g. https://api.telegram.org",
        ));
    }
    // teloxide appends "/bot<token>/<method>": a trailing slash would double it
    let trimmed = api_url.path().trim_end_matches('/').to_owned();
    api_url.set_path(&trimmed);
    Ok(api_url)
}

fn limits(raw: &RawLimits) -> Result<(Limits, Duration), SettingsError> {
    let limits = Limits {
        overall_per_second: in_range(
            "telegram.limits.overall_per_second",
            raw.overall_per_second,
            1,
            1000,
        )?,
        chat_per_second: in_range(
            "telegram.limits.chat_per_second",
            raw.chat_per_second,
            1,
            30,
        )?,
        group_per_minute: in_range(
            "telegram.limits.group_per_minute",
            raw.group_per_minute,
            1,
            1000,
        )?,
    };
    let give_up_after = in_range(
        "telegram.limits.give_up_after",
        raw.give_up_after,
        10,
        604_800,
    )?;
    Ok((limits, Duration::from_secs(give_up_after.into())))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error_text, load_toml, with_token};

    #[test]
    fn missing_token_names_key_and_variable() {
        let err = error_text("");
        assert!(err.contains("telegram.bot_token"), "{err}");
        assert!(err.contains("BBTG_TELEGRAM__BOT_TOKEN"), "{err}");
        assert!(err.contains("BotFather"), "{err}");
    }

    #[test]
    fn malformed_token_is_rejected_without_echoing_it() {
        let err = error_text("[telegram]\nbot_token = \"not-a-token-secret\"\n");
        assert!(err.contains("telegram.bot_token"), "{err}");
        assert!(!err.contains("not-a-token-secret"), "{err}");
    }

    #[test]
    fn api_url_is_normalised() {
        let s = load_toml(&with_token("api_url = \"http://127.0.0.1:8081/tg/\"\n")).unwrap();
        assert_eq!(s.telegram.api_url.as_str(), "http://127.0.0.1:8081/tg");
        let err = error_text(&with_token("api_url = \"http://127.0.0.1:8081/?x=1\"\n"));
        assert!(err.contains("telegram.api_url"), "{err}");
    }
}
