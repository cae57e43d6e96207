//! Settings: `settings/default.toml` (built in), then the file given with `--config`, then
//! `BBTG_*` environment variables, merged by the `config` crate and checked once at start.
//!
//! Everything that can be wrong with a setting is found here, before the bot talks to anybody,
//! and reported with the key, the bad value (unless it is a secret) and what is allowed, and a
//! required value that is missing with the environment variable that sets it: an admin should
//! never have to read a stack trace or a log to learn that a key was misspelt.
//!
//! The sources are read into the `raw` shapes that hold the values exactly as written; each
//! section's `validate_*` turns its raw shape into the type the rest of the bot uses, in which
//! every value has been checked and normalised and text that means something (a chat, a route,
//! a time window) has become a type. Nothing past start-up parses a setting again or meets a
//! value that could be wrong.

use std::path::Path;

use config::{Config, Environment, File, FileFormat};

use crate::authz::Authz;

mod authz;
mod buildbot;
mod error;
mod notify;
mod raw;
mod secrets;
mod storage;
mod telegram;
mod values;
mod webhook;

pub use authz::closed_notice;
pub use buildbot::{BuildbotSettings, Credentials, MasterControlSettings};
pub use error::{SettingsError, env_name};
pub use notify::{
    ChatTarget, FlakySettings, NotifySettings, QuietHours, QuietHoursMode, Route, RouteTarget,
    tags_show,
};
pub use secrets::secrets_in_environment;
pub use storage::{StorageSettings, is_postgres_url};
pub use telegram::{Limits, TelegramSettings};
pub use webhook::{WebhookSettings, WebhookTls};

use error::explain_config_error;
use raw::Raw;

/// The documented defaults, compiled in so the binary needs no file beside it.
pub const DEFAULTS: &str = include_str!("../../settings/default.toml");

/// Prefix of the environment variables that override settings (`BBTG_TELEGRAM__BOT_TOKEN`).
pub const ENV_PREFIX: &str = "BBTG";

/// Validated settings: every value here has been checked and normalised.
#[derive(Debug, Clone)]
pub struct Settings {
    pub telegram: TelegramSettings,
    pub buildbot: BuildbotSettings,
    pub notify: NotifySettings,
    pub authz: Authz,
    pub storage: StorageSettings,
}

/// Loads the defaults, the optional settings file and the process environment.
pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
    load_with_env(file, None)
}

/// Like [`load`], with the environment given as a map (tests must not touch the process's).
pub fn load_with_env(
    file: Option<&Path>,
    env: Option<std::collections::HashMap<String, String>>,
) -> Result<Settings, SettingsError> {
    let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(SettingsError::Source(format!(
                "the settings file {} does not exist (or is not a file). Copy settings/example.toml there, or fix the --config path.",
                path.display()
            )));
        }
        builder = builder.add_source(File::from(path).format(FileFormat::Toml).required(true));
    }
    let environment = Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("_")
        .separator("__")
        .source(env);
    let config = builder
        .add_source(environment)
        .build()
        .map_err(|e| SettingsError::Source(explain_config_error(&e.to_string())))?;
    let raw: Raw = config
        .try_deserialize()
        .map_err(|e| SettingsError::Source(explain_config_error(&e.to_string())))?;
    validate(raw)
}

/// Section by section; the first bad value stops it, so the admin fixes one thing at a time.
fn validate(raw: Raw) -> Result<Settings, SettingsError> {
    let telegram = telegram::validate_telegram(raw.telegram)?;
    let buildbot = buildbot::validate_buildbot(raw.buildbot)?;
    let notify = notify::validate_notify(raw.notify)?;
    // the login decides what commands without a key get
    let authz = authz::validate_authz(&raw.authz, &buildbot)?;
    let storage = storage::validate_storage(raw.storage)?;
    if storage.is_postgres()
        && let Some(webhook) = &telegram.webhook
        && webhook.secret_token.is_none()
    {
        // each replica would register a secret of its own, and refuse the others' posts
        return Err(SettingsError::invalid(
            "telegram.webhook.secret_token",
            "\"\"",
            "a secret every replica shares (16-256 letters, digits, _ or -, e.g. from `openssl rand -hex 32`): replicas sharing PostgreSQL serve one webhook",
        ));
    }
    Ok(Settings {
        telegram,
        buildbot,
        notify,
        authz,
        storage,
    })
}

/// Loading settings the way the bot does, from a file and an empty environment.
#[cfg(test)]
mod testing {
    use std::collections::HashMap;
    use std::io::Write;

    use super::{Settings, SettingsError, load_with_env};

    pub const TOKEN: &str = "123456:ABCdef";

    pub fn load_toml(toml: &str) -> Result<Settings, SettingsError> {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        file.write_all(toml.as_bytes()).unwrap();
        load_with_env(Some(file.path()), Some(HashMap::new()))
    }

    pub fn with_token(rest: &str) -> String {
        format!("[telegram]\nbot_token = \"{TOKEN}\"\n{rest}")
    }

    pub fn error_text(toml: &str) -> String {
        load_toml(toml)
            .expect_err("settings should be rejected")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::testing::{TOKEN, load_toml, with_token};
    use super::*;
    use crate::event::Event;

    #[test]
    fn defaults_plus_token_are_valid() {
        let s = load_toml(&with_token("")).unwrap();
        assert_eq!(s.telegram.poll_timeout, 120);
        assert_eq!(s.telegram.retry_delay, 30);
        assert_eq!(s.telegram.api_url.as_str(), "https://api.telegram.org/");
        assert_eq!(s.buildbot.url.as_str(), "http://localhost:8010/");
        assert!(s.buildbot.credentials.is_none());
        assert!(s.notify.events.is_empty());
        assert_eq!(s.storage.url, "buildbot-telegram.sqlite");
    }

    #[test]
    fn environment_overrides_file() {
        let env = HashMap::from([
            (
                "BBTG_TELEGRAM__BOT_TOKEN".to_owned(),
                "42:secret".to_owned(),
            ),
            (
                "BBTG_BUILDBOT__URL".to_owned(),
                "http://ci.example.org/bb".to_owned(),
            ),
            (
                "BBTG_NOTIFY__CHAT_IDS".to_owned(),
                "-1001,@mychannel".to_owned(),
            ),
            (
                "BBTG_NOTIFY__EVENTS".to_owned(),
                "failure,recovery".to_owned(),
            ),
            ("BBTG_TELEGRAM__POLL_TIMEOUT".to_owned(), "5".to_owned()),
        ]);
        let s = load_with_env(None, Some(env)).unwrap();
        assert_eq!(s.telegram.bot_token, "42:secret");
        assert_eq!(s.telegram.poll_timeout, 5);
        // a path without a trailing slash gets one, so api/v2 stays under it
        assert_eq!(s.buildbot.url.as_str(), "http://ci.example.org/bb/");
        assert_eq!(
            s.notify.chat_ids,
            vec![
                ChatTarget::Id(-1001),
                ChatTarget::Channel("@mychannel".into())
            ]
        );
        assert_eq!(s.notify.events, vec![Event::Failure, Event::Recovery]);

        // values keep their text: a password of digits is not a number
        let env = HashMap::from([
            (
                "BBTG_TELEGRAM__BOT_TOKEN".to_owned(),
                "42:secret".to_owned(),
            ),
            ("BBTG_BUILDBOT__USERNAME".to_owned(), "tg".to_owned()),
            ("BBTG_BUILDBOT__PASSWORD".to_owned(), "007".to_owned()),
            ("BBTG_NOTIFY__CHAT_IDS".to_owned(), "-1001234".to_owned()),
        ]);
        let s = load_with_env(None, Some(env)).unwrap();
        assert_eq!(s.buildbot.credentials.unwrap().password, "007");
        assert_eq!(s.notify.chat_ids, vec![ChatTarget::Id(-1001234)]);
    }

    #[test]
    fn missing_file_is_explained() {
        let err = load_with_env(
            Some(Path::new("/nonexistent/bbtg.toml")),
            Some(HashMap::new()),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("/nonexistent/bbtg.toml") && err.contains("--config"),
            "{err}"
        );
    }

    #[test]
    fn example_settings_parse() {
        let example = include_str!("../../settings/example.toml")
            .replace("bot_token = \"\"", &format!("bot_token = \"{TOKEN}\""));
        let s = load_toml(&example).unwrap();
        assert_eq!(s.notify.events, vec![Event::Started, Event::Finished]);
    }
}
