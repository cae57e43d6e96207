//! The values in the settings that must never be written anywhere: the caller registers
//! them with `logging::add_secret` right after the settings are read, before any network call
//! or child process could carry them out.

use url::Url;

use super::{ENV_PREFIX, Settings};

impl Settings {
    /// Every secret these settings hold: the bot token (whole, and the part after `:` that
    /// makes it secret), the webhook's secret token, the Buildbot password, and the password in
    /// the storage's PostgreSQL URL (as written and percent-decoded).
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = token_secrets(&self.telegram.bot_token);
        if let Some(secret) = self
            .telegram
            .webhook
            .as_ref()
            .and_then(|w| w.secret_token.clone())
        {
            secrets.push(secret);
        }
        if let Some(credentials) = &self.buildbot.credentials {
            secrets.push(credentials.password.clone());
        }
        // the other URLs are refused when they carry credentials; checked anyway
        let urls = [
            Some(self.buildbot.url.as_str()),
            Some(self.telegram.api_url.as_str()),
            Some(self.storage.url.as_str()),
        ];
        secrets.extend(urls.into_iter().flatten().flat_map(url_password));
        secrets
    }
}

/// Secrets in `BBTG_*` environment variables, for the moments before the settings are
/// validated (an error message then can only be redacted by what is known): the values of
/// `…TOKEN`, `…PASSWORD` and `…SECRET` variables, and passwords in URLs.
pub fn secrets_in_environment(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let mut secrets = Vec::new();
    for (name, value) in vars {
        let name = name.to_uppercase();
        if !name.starts_with(&format!("{ENV_PREFIX}_")) {
            continue;
        }
        if ["TOKEN", "PASSWORD", "SECRET"]
            .iter()
            .any(|end| name.ends_with(end))
        {
            secrets.extend(token_secrets(value.trim()));
        }
        secrets.extend(url_password(value.trim()));
    }
    secrets
}

/// A bot token and the part after `:`: the number before it is the bot's public id.
fn token_secrets(token: &str) -> Vec<String> {
    let mut secrets = vec![token.to_owned()];
    if let Some((_, secret)) = token.split_once(':') {
        secrets.push(secret.to_owned());
    }
    secrets
}

/// The password in `url`, as written and percent-decoded (either may be printed); for a
/// PostgreSQL URL also one given as `?password=…`.
fn url_password(url: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(password) = Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        let decoded = percent_decoded(&password);
        secrets.extend([password, decoded]);
    }
    if super::is_postgres_url(url)
        && let Some(password) = url.parse::<postgres::Config>().ok().and_then(|c| {
            c.get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        })
        && !secrets.contains(&password)
    {
        secrets.push(password);
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some(("password", value)) = pair.split_once('=') {
                secrets.extend([value.to_owned(), percent_decoded(value)]);
            }
        }
    }
    secrets.retain(|s| !s.is_empty());
    secrets
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{TOKEN, load_toml, with_token};
    use super::*;

    #[test]
    fn every_secret_in_the_settings_is_listed() {
        let s = load_toml(&with_token(
            "use_webhook = true\n[telegram.webhook]\nurl = \"https://ci.example.org/tg\"\n\
             secret_token = \"hook-secret-0123456789\"\n\
             [buildbot]\nusername = \"tg\"\npassword = \"hunter2\"\n\
             [storage]\nurl = \"postgres://bbtg:p%40ss@127.0.0.1:5432/bbtg\"\n",
        ))
        .unwrap();
        let secrets = s.secrets();
        for secret in [
            TOKEN,
            "ABCdef",
            "hook-secret-0123456789",
            "hunter2",
            "p%40ss",
            "p@ss",
        ] {
            assert!(
                secrets.contains(&secret.to_owned()),
                "{secret} in {secrets:?}"
            );
        }
    }

    #[test]
    fn a_postgres_password_in_the_query_is_a_secret_too() {
        let s = load_toml(&with_token(
            "[storage]\nurl = \"postgres://bbtg@db.example.org/bbtg?password=q%40pw\"\n",
        ))
        .unwrap();
        let secrets = s.secrets();
        assert!(secrets.contains(&"q%40pw".to_owned()), "{secrets:?}");
        assert!(secrets.contains(&"q@pw".to_owned()), "{secrets:?}");
    }

    #[test]
    fn secrets_in_the_environment() {
        let vars = [
            ("BBTG_TELEGRAM__BOT_TOKEN", "42:tokenpart"),
            ("BBTG_BUILDBOT__PASSWORD", "hunter2"),
            ("BBTG_STORAGE__URL", "postgres://u:redispw@h/0"),
            ("BBTG_TELEGRAM__POLL_TIMEOUT", "5"),
            ("HOME_PASSWORD", "not ours"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let secrets = secrets_in_environment(vars);
        assert_eq!(
            secrets,
            ["42:tokenpart", "tokenpart", "hunter2", "redispw", "redispw"]
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decoded("a%40b%2"), "a@b%2");
        assert_eq!(percent_decoded("%e2%82%ac"), "€");
    }
}
