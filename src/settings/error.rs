//! What the admin reads when the settings cannot be used. Every message names the key, the bad
//! value (unless it is a secret) and what would be accepted, because the admin is at a terminal
//! with the settings file open, not reading the source.

use std::fmt;

use super::ENV_PREFIX;

/// A setting that cannot be used, said so that the admin knows what to change.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "setting `{key}` is required but empty.\n  Set it in your settings file, or in the environment as {env}.{hint}"
    )]
    Missing {
        key: &'static str,
        env: String,
        hint: &'static str,
    },
    #[error("setting `{key}` has a bad value {value}.\n  Allowed: {allowed}")]
    Invalid {
        key: String,
        value: String,
        allowed: String,
    },
    #[error("cannot read the settings: {0}")]
    Source(String),
}

impl SettingsError {
    pub fn invalid(
        key: impl Into<String>,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        SettingsError::Invalid {
            key: key.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

/// `authz` sits below settings and has its own error; it reads the same to the admin.
impl From<crate::authz::AuthzError> for SettingsError {
    fn from(error: crate::authz::AuthzError) -> Self {
        SettingsError::Invalid {
            key: error.setting,
            value: error.value,
            allowed: error.allowed,
        }
    }
}

/// The environment variable that sets `key` (`telegram.bot_token` → `BBTG_TELEGRAM__BOT_TOKEN`).
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}_{}", key.replace('.', "__").to_uppercase())
}

/// `config`'s messages name the field but not always what to do; add the fix.
pub(super) fn explain_config_error(message: &str) -> String {
    // TOML parse errors quote the offending line, which may hold the bot token or a password:
    // keep the position and the explanation, drop the quote.
    let message: Vec<&str> = message
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            let numbered_quote = line
                .split_once('|')
                .is_some_and(|(n, _)| n.trim().chars().all(|c| c.is_ascii_digit()));
            !numbered_quote
                && line != "|"
                && !(line.starts_with('|')
                    && line
                        .trim_start_matches('|')
                        .trim()
                        .chars()
                        .all(|c| c == '^'))
        })
        .collect();
    let message = message.join(" ");
    if message.contains("unknown field") {
        format!(
            "{message}.\n  Check the spelling against settings/default.toml, which lists every key."
        )
    } else {
        format!("{message}.\n  See settings/default.toml for every key, its type and its default.")
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error_text, load_toml, with_token};

    #[test]
    fn unknown_key_is_named() {
        let err = error_text(&with_token("bot_tokn = \"x\"\n"));
        assert!(err.contains("bot_tokn"), "{err}");
        assert!(err.contains("default.toml"), "{err}");
        let err = error_text(&with_token("[notfy]\nevents = []\n"));
        assert!(err.contains("notfy"), "{err}");
    }

    #[test]
    fn syntax_errors_do_not_quote_the_line() {
        // an unquoted token is a TOML syntax error whose message would quote the line
        let err = error_text("[telegram]\nbot_token = 123456:AAEsecret\n");
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("AAEsecret"), "{err}");
        let s = format!("{:?}", load_toml(&with_token("")).unwrap());
        assert!(!s.contains("ABCdef"), "Debug never shows the token: {s}");
    }
}
