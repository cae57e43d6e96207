//! Settings: `settings/default.toml` (built in), then the file given with `--config`, then
//! `BBTG_*` environment variables, merged by the `config` crate and checked once at start.
//!
//! Everything that can be wrong with a setting is found here, before the bot talks to anybody,
//! and reported with the key, the bad value and what is allowed: an admin should never have to
//! read a stack trace or a log to learn that a key was misspelt.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;
use url::Url;

use crate::authz::Authz;
use crate::event::Event;

/// The documented defaults, compiled in so the binary needs no file beside it.
pub const DEFAULTS: &str = include_str!("../settings/default.toml");

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
    pub limits: crate::delivery::limits::Limits,
    /// How long a notification is retried through network trouble before it is dropped.
    pub give_up_after: std::time::Duration,
    /// Set when `use_webhook` is on.
    pub webhook: Option<WebhookSettings>,
}

/// `[telegram.webhook]`: where Telegram posts updates, and where the bot listens for them.
#[derive(Clone)]
pub struct WebhookSettings {
    pub url: Url,
    pub listen: std::net::SocketAddr,
    /// Telegram sends it back in `X-Telegram-Bot-Api-Secret-Token`; generated when empty.
    pub secret_token: Option<String>,
    pub max_connections: u8,
}

impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("listen", &self.listen)
            .field(
                "secret_token",
                &self.secret_token.as_ref().map(|_| "<redacted>"),
            )
            .field("max_connections", &self.max_connections)
            .finish()
    }
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

#[derive(Debug, Clone)]
pub struct BuildbotSettings {
    /// How `/shutdown` reaches the master process, if at all.
    pub master_control: MasterControlSettings,
    /// Always ends with `/`, so `url.join("api/v2/...")` stays under it.
    pub url: Url,
    pub credentials: Option<Credentials>,
}

/// `[buildbot.master_control]`: Buildbot has no API to shut a master down, so `/shutdown`
/// signals a local master through its pid file, or runs the admin's commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterControlSettings {
    None,
    Pidfile(std::path::PathBuf),
    Commands {
        check: Option<Vec<String>>,
        start: Option<Vec<String>>,
        stop: Option<Vec<String>>,
        now: Option<Vec<String>>,
    },
}

#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// One message per build, edited as it progresses and turned into the result.
    pub live: bool,
    /// Forum topics by builder name or "tag:<tag>": where a supergroup's notifications go.
    pub routes: Vec<(String, i32)>,
    /// Every day from the first to the second minute of the day (UTC), notifications arrive
    /// without a sound.
    pub quiet_hours: Option<(u32, u32)>,
    /// Lines of the failing step's log shown in failure messages (0: none).
    pub log_tail_lines: usize,
    pub chat_ids: Vec<ChatTarget>,
    pub events: Vec<Event>,
    pub tags: Vec<String>,
    pub show_blame_list: bool,
    pub use_revisions: bool,
}

/// A chat that gets notifications: a numeric id, or a public channel's `@username`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTarget {
    Id(i64),
    Channel(String),
}

#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub path: String,
    /// Conversations go to Redis when set (shared by several bot replicas).
    pub redis_url: Option<String>,
}

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

impl From<crate::authz::AuthzError> for SettingsError {
    fn from(error: crate::authz::AuthzError) -> Self {
        SettingsError::Invalid {
            key: error.setting,
            value: error.value,
            allowed: error.allowed,
        }
    }
}

// The raw shape of the merged sources. `deny_unknown_fields` turns a misspelt key into an error
// instead of a silently ignored line.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    telegram: RawTelegram,
    buildbot: RawBuildbot,
    notify: RawNotify,
    #[serde(default)]
    authz: BTreeMap<String, serde_json::Value>,
    storage: RawStorage,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTelegram {
    conversation_timeout: i64,
    limits: RawLimits,
    webhook: RawWebhook,
    bot_token: String,
    bot_username: String,
    api_url: String,
    poll_timeout: i64,
    retry_delay: i64,
    use_webhook: bool,
    certificate: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: String,
    listen: String,
    secret_token: String,
    max_connections: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    overall_per_second: i64,
    chat_per_second: i64,
    group_per_minute: i64,
    give_up_after: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuildbot {
    url: String,
    username: String,
    password: String,
    master_control: RawMasterControl,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMasterControl {
    pidfile: String,
    check: Vec<String>,
    start: Vec<String>,
    stop: Vec<String>,
    now: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    #[serde(deserialize_with = "list_or_commas")]
    chat_ids: Vec<serde_json::Value>,
    #[serde(deserialize_with = "list_or_commas")]
    events: Vec<serde_json::Value>,
    #[serde(deserialize_with = "list_or_commas")]
    tags: Vec<serde_json::Value>,
    show_blame_list: bool,
    use_revisions: bool,
    log_tail_lines: i64,
    quiet_hours: String,
    live: bool,
    #[serde(default)]
    routes: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: String,
    redis_url: String,
}

/// A list from a file, or a comma-separated string from the environment
/// (`BBTG_NOTIFY__EVENTS=failure,recovery`). Values stay as given: "007" is not a number.
fn list_or_commas<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<serde_json::Value>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<serde_json::Value>),
        Text(String),
    }
    Ok(match ListOrString::deserialize(deserializer)? {
        ListOrString::List(items) => items,
        ListOrString::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| serde_json::Value::String(item.to_owned()))
            .collect(),
    })
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

/// `config`'s messages name the field but not always what to do; add the fix.
fn explain_config_error(message: &str) -> String {
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

fn validate(raw: Raw) -> Result<Settings, SettingsError> {
    Ok(Settings {
        telegram: validate_telegram(raw.telegram)?,
        buildbot: validate_buildbot(raw.buildbot)?,
        notify: validate_notify(raw.notify)?,
        authz: Authz::from_settings(&raw.authz)?,
        storage: validate_storage(raw.storage)?,
    })
}

fn validate_telegram(raw: RawTelegram) -> Result<TelegramSettings, SettingsError> {
    let token = raw.bot_token.trim().to_owned();
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
    let username = raw.bot_username.trim().trim_start_matches('@').to_owned();
    let username_ok = username.is_empty()
        || (username.len() >= 5
            && username.len() <= 32
            && username
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if !username_ok {
        return Err(SettingsError::invalid(
            "telegram.bot_username",
            format!("{:?}", raw.bot_username),
            "empty (read from Telegram), or the bot's username: 5-32 letters, digits or underscores",
        ));
    }
    let mut api_url = parse_http_url("telegram.api_url", &raw.api_url)?;
    if api_url.query().is_some() || api_url.fragment().is_some() {
        return Err(SettingsError::invalid(
            "telegram.api_url",
            format!("{:?}", raw.api_url),
            "the Bot API base URL without query or #fragment, e.g. https://api.telegram.org",
        ));
    }
    // teloxide appends "/bot<token>/<method>": a trailing slash would double it
    let trimmed = api_url.path().trim_end_matches('/').to_owned();
    api_url.set_path(&trimmed);
    let poll_timeout = in_range("telegram.poll_timeout", raw.poll_timeout, 1, 600)?;
    let retry_delay = in_range("telegram.retry_delay", raw.retry_delay, 1, 3600)?;
    let conversation_timeout = in_range(
        "telegram.conversation_timeout",
        raw.conversation_timeout,
        2,
        86_400,
    )?;
    let limits = crate::delivery::limits::Limits {
        overall_per_second: in_range(
            "telegram.limits.overall_per_second",
            raw.limits.overall_per_second,
            1,
            1000,
        )?,
        chat_per_second: in_range(
            "telegram.limits.chat_per_second",
            raw.limits.chat_per_second,
            1,
            30,
        )?,
        group_per_minute: in_range(
            "telegram.limits.group_per_minute",
            raw.limits.group_per_minute,
            1,
            1000,
        )?,
    };
    let give_up_after = std::time::Duration::from_secs(
        in_range(
            "telegram.limits.give_up_after",
            raw.limits.give_up_after,
            10,
            604_800,
        )?
        .into(),
    );
    let webhook = if raw.use_webhook {
        Some(validate_webhook(raw.webhook)?)
    } else {
        None
    };
    let certificate_path = raw.certificate.trim();
    if raw.use_webhook && !certificate_path.is_empty() && !Path::new(certificate_path).is_file() {
        return Err(SettingsError::invalid(
            "telegram.certificate",
            format!("{certificate_path:?}"),
            "the path of a PEM file with the webhook's self-signed certificate, or empty",
        ));
    }
    let certificate = Some(raw.certificate.trim().to_owned()).filter(|c| !c.is_empty());
    Ok(TelegramSettings {
        bot_token: token,
        bot_username: Some(username).filter(|u| !u.is_empty()),
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

fn validate_webhook(raw: RawWebhook) -> Result<WebhookSettings, SettingsError> {
    if raw.url.trim().is_empty() {
        return Err(SettingsError::invalid(
            "telegram.webhook.url",
            "\"\"",
            "the public https URL Telegram posts updates to, e.g. https://ci.example.org:8443/telegram (needed with use_webhook = true)",
        ));
    }
    let url = parse_http_url("telegram.webhook.url", &raw.url)?;
    if url.scheme() != "https" {
        return Err(SettingsError::invalid(
            "telegram.webhook.url",
            format!("{:?}", raw.url),
            "an https:// URL: Telegram only posts to https",
        ));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    if ![443, 80, 88, 8443].contains(&port) {
        return Err(SettingsError::invalid(
            "telegram.webhook.url",
            format!("{:?} (port {port})", raw.url),
            "a URL on port 443, 80, 88 or 8443: the only ports Telegram posts to",
        ));
    }
    let listen = raw.listen.trim().parse().map_err(|_| {
        SettingsError::invalid(
            "telegram.webhook.listen",
            format!("{:?}", raw.listen),
            "an address and port to listen on, e.g. 0.0.0.0:8443",
        )
    })?;
    let secret = raw.secret_token.trim();
    let secret_ok = secret.len() <= 256
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !secret_ok {
        return Err(SettingsError::invalid(
            "telegram.webhook.secret_token",
            "(not shown)",
            "1-256 letters, digits, _ or -, or empty to have one generated at every start",
        ));
    }
    let max_connections = in_range(
        "telegram.webhook.max_connections",
        raw.max_connections,
        1,
        100,
    )? as u8;
    Ok(WebhookSettings {
        url,
        listen,
        secret_token: Some(secret.to_owned()).filter(|s| !s.is_empty()),
        max_connections,
    })
}

fn validate_buildbot(raw: RawBuildbot) -> Result<BuildbotSettings, SettingsError> {
    let mut url = parse_http_url("buildbot.url", &raw.url)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SettingsError::invalid(
            "buildbot.url",
            format!("{:?}", raw.url),
            "the master's buildbotURL without query or #fragment, e.g. http://localhost:8010/",
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    let credentials = match (raw.username.trim(), raw.password.as_str()) {
        ("", "") => None,
        ("", _) => {
            return Err(SettingsError::invalid(
                "buildbot.username",
                "\"\"",
                "a www user name, since buildbot.password is set (or leave both empty)",
            ));
        }
        (username, "") => {
            return Err(SettingsError::invalid(
                "buildbot.password",
                "\"\"",
                format!(
                    "the password of www user {username:?}, since buildbot.username is set (or leave both empty)"
                ),
            ));
        }
        (username, password) => Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }),
    };
    let master_control = validate_master_control(raw.master_control)?;
    Ok(BuildbotSettings {
        url,
        credentials,
        master_control,
    })
}

fn validate_master_control(raw: RawMasterControl) -> Result<MasterControlSettings, SettingsError> {
    let pidfile = raw.pidfile.trim();
    let command = |argv: Vec<String>| Some(argv).filter(|a| !a.is_empty());
    let commands = [
        command(raw.check),
        command(raw.start),
        command(raw.stop),
        command(raw.now),
    ];
    if !pidfile.is_empty() {
        if commands.iter().any(Option::is_some) {
            return Err(SettingsError::invalid(
                "buildbot.master_control",
                "both pidfile and commands",
                "either pidfile (a master on this host) or the check/start/stop/now commands (elsewhere), not both",
            ));
        }
        return Ok(MasterControlSettings::Pidfile(pidfile.into()));
    }
    let [check, start, stop, now] = commands;
    if check.is_none() && start.is_none() && stop.is_none() && now.is_none() {
        return Ok(MasterControlSettings::None);
    }
    Ok(MasterControlSettings::Commands {
        check,
        start,
        stop,
        now,
    })
}

fn validate_notify(raw: RawNotify) -> Result<NotifySettings, SettingsError> {
    let chat_ids = raw
        .chat_ids
        .iter()
        .map(parse_chat_target)
        .collect::<Result<Vec<_>, _>>()?;
    let mut events = Vec::new();
    for value in &raw.events {
        let name = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        let event = name.trim().parse::<Event>().map_err(|_| {
            SettingsError::invalid("notify.events", format!("{name:?}"), Event::allowed_list())
        })?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    let tags = raw
        .tags
        .iter()
        .map(|t| {
            t.as_str()
                .map_or_else(|| t.to_string(), str::to_owned)
                .trim()
                .to_owned()
        })
        .filter(|t| !t.is_empty())
        .collect();
    let log_tail_lines = in_range("notify.log_tail_lines", raw.log_tail_lines, 0, 100)? as usize;
    let quiet_hours = parse_quiet_hours(&raw.quiet_hours)?;
    let mut routes = Vec::new();
    for (key, value) in &raw.routes {
        let thread = value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|t| i32::try_from(t).ok())
            .filter(|t| *t > 0)
            .ok_or_else(|| {
                SettingsError::invalid(
                    format!("notify.routes.{key:?}"),
                    value,
                    "the message_thread_id of a forum topic (a positive number)",
                )
            })?;
        routes.push((key.trim().to_owned(), thread));
    }
    Ok(NotifySettings {
        live: raw.live,
        routes,
        quiet_hours,
        log_tail_lines,
        chat_ids,
        events,
        tags,
        show_blame_list: raw.show_blame_list,
        use_revisions: raw.use_revisions,
    })
}

/// "22:00-07:00" → minutes of the day (UTC); empty → none.
fn parse_quiet_hours(text: &str) -> Result<Option<(u32, u32)>, SettingsError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let minute = |hhmm: &str| -> Option<u32> {
        let (h, m) = hhmm.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    text.split_once('-')
        .and_then(|(from, to)| Some((minute(from)?, minute(to)?)))
        .filter(|(from, to)| from != to)
        .map(Some)
        .ok_or_else(|| {
            SettingsError::invalid(
                "notify.quiet_hours",
                format!("{text:?}"),
                "empty, or HH:MM-HH:MM in UTC, e.g. 22:00-07:00",
            )
        })
}

fn validate_storage(raw: RawStorage) -> Result<StorageSettings, SettingsError> {
    let path = raw.path.trim().to_owned();
    if path.is_empty() {
        return Err(SettingsError::invalid(
            "storage.path",
            "\"\"",
            "a file path for the SQLite database, e.g. buildbot-telegram.sqlite",
        ));
    }
    let redis_url = Some(raw.redis_url.trim().to_owned()).filter(|u| !u.is_empty());
    if let Some(url) = &redis_url {
        let ok = Url::parse(url).is_ok_and(|u| {
            matches!(u.scheme(), "redis" | "rediss" | "redis+unix") && u.host_str().is_some()
        });
        if !ok {
            return Err(SettingsError::invalid(
                "storage.redis_url",
                "(not shown: it may hold a password)",
                "empty (conversations in the SQLite file), or a Redis URL such as redis://127.0.0.1:6379/0",
            ));
        }
    }
    Ok(StorageSettings { path, redis_url })
}

fn parse_chat_target(value: &serde_json::Value) -> Result<ChatTarget, SettingsError> {
    let bad = || {
        SettingsError::invalid(
            "notify.chat_ids",
            value,
            "numeric chat ids (groups are negative) or \"@channelusername\"; send /getid to the bot to learn an id",
        )
    };
    match value {
        serde_json::Value::Number(n) => n
            .as_i64()
            .filter(|id| *id != 0)
            .map(ChatTarget::Id)
            .ok_or_else(bad),
        serde_json::Value::String(s) => {
            let s = s.trim();
            if let Some(name) = s.strip_prefix('@') {
                let ok =
                    name.len() >= 5 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                ok.then(|| ChatTarget::Channel(s.to_owned()))
                    .ok_or_else(bad)
            } else {
                s.parse::<i64>()
                    .ok()
                    .filter(|id| *id != 0)
                    .map(ChatTarget::Id)
                    .ok_or_else(bad)
            }
        }
        _ => Err(bad()),
    }
}

fn parse_http_url(key: &str, value: &str) -> Result<Url, SettingsError> {
    let allowed = "an http:// or https:// URL, e.g. http://localhost:8010/";
    let url = Url::parse(value.trim()).map_err(|e| {
        let shown = if value.contains('@') {
            "(not shown: it may hold credentials)".to_owned()
        } else {
            format!("{value:?}")
        };
        SettingsError::invalid(key, format!("{shown} ({e})"), allowed)
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SettingsError::invalid(key, format!("{value:?}"), allowed));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // never echo it: the URL holds a password
        return Err(SettingsError::invalid(
            key,
            "(a URL with user:password@, not shown)",
            "a URL without credentials; put them in buildbot.username and buildbot.password",
        ));
    }
    Ok(url)
}

fn in_range(key: &str, value: i64, min: i64, max: i64) -> Result<u32, SettingsError> {
    if (min..=max).contains(&value) {
        Ok(value as u32)
    } else {
        Err(SettingsError::invalid(
            key,
            value,
            format!("a whole number of seconds from {min} to {max}"),
        ))
    }
}

/// The environment variable that sets `key` (`telegram.bot_token` → `BBTG_TELEGRAM__BOT_TOKEN`).
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}_{}", key.replace('.', "__").to_uppercase())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write;

    use super::*;

    const TOKEN: &str = "123456:ABCdef";

    fn load_toml(toml: &str) -> Result<Settings, SettingsError> {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        file.write_all(toml.as_bytes()).unwrap();
        load_with_env(Some(file.path()), Some(HashMap::new()))
    }

    fn with_token(rest: &str) -> String {
        format!("[telegram]\nbot_token = \"{TOKEN}\"\n{rest}")
    }

    fn error_text(toml: &str) -> String {
        load_toml(toml)
            .expect_err("settings should be rejected")
            .to_string()
    }

    #[test]
    fn defaults_plus_token_are_valid() {
        let s = load_toml(&with_token("")).unwrap();
        assert_eq!(s.telegram.poll_timeout, 120);
        assert_eq!(s.telegram.retry_delay, 30);
        assert_eq!(s.telegram.api_url.as_str(), "https://api.telegram.org/");
        assert_eq!(s.buildbot.url.as_str(), "http://localhost:8010/");
        assert!(s.buildbot.credentials.is_none());
        assert!(s.notify.events.is_empty());
        assert_eq!(s.storage.path, "buildbot-telegram.sqlite");
    }

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
    fn unknown_event_lists_the_valid_ones() {
        let err = error_text(&with_token(
            "[notify]\nevents = [\"started\", \"explode\"]\n",
        ));
        assert!(err.contains("notify.events"), "{err}");
        assert!(err.contains("explode"), "{err}");
        assert!(err.contains("started, finished, success"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = error_text(&with_token("bot_tokn = \"x\"\n"));
        assert!(err.contains("bot_tokn"), "{err}");
        assert!(err.contains("default.toml"), "{err}");
        let err = error_text(&with_token("[notfy]\nevents = []\n"));
        assert!(err.contains("notfy"), "{err}");
    }

    #[test]
    fn malformed_url_is_rejected() {
        let err = error_text(&with_token("[buildbot]\nurl = \"localhost:8010\"\n"));
        assert!(err.contains("buildbot.url"), "{err}");
        assert!(err.contains("localhost:8010"), "{err}");
        assert!(err.contains("http://"), "{err}");
        let err = error_text(&with_token("api_url = \"ftp://example.org\"\n"));
        assert!(err.contains("telegram.api_url"), "{err}");
    }

    #[test]
    fn bad_chat_id_and_range_are_rejected() {
        let err = error_text(&with_token("[notify]\nchat_ids = [\"general\"]\n"));
        assert!(
            err.contains("notify.chat_ids") && err.contains("general"),
            "{err}"
        );
        let err = error_text(&with_token("poll_timeout = 0\n"));
        assert!(
            err.contains("telegram.poll_timeout") && err.contains("1 to 600"),
            "{err}"
        );
    }

    #[test]
    fn credentials_in_urls_and_lonely_usernames_are_rejected() {
        let err = error_text(&with_token(
            "[buildbot]\nurl = \"http://tg:hunter2@ci.example.org/\"\n",
        ));
        assert!(
            err.contains("buildbot.url") && err.contains("buildbot.username"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let err = error_text(&with_token("[buildbot]\nusername = \"tg\"\n"));
        assert!(err.contains("buildbot.password"), "{err}");
    }

    #[test]
    fn api_url_is_normalised() {
        let s = load_toml(&with_token("api_url = \"http://127.0.0.1:8081/tg/\"\n")).unwrap();
        assert_eq!(s.telegram.api_url.as_str(), "http://127.0.0.1:8081/tg");
        let err = error_text(&with_token("api_url = \"http://127.0.0.1:8081/?x=1\"\n"));
        assert!(err.contains("telegram.api_url"), "{err}");
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

    #[test]
    fn password_without_username_is_rejected() {
        let err = error_text(&with_token("[buildbot]\npassword = \"hunter2\"\n"));
        assert!(err.contains("buildbot.username"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn master_control_modes() {
        let s = load_toml(&with_token(
            "[buildbot.master_control]\npidfile = \"/srv/master/twistd.pid\"\n",
        ))
        .unwrap();
        assert_eq!(
            s.buildbot.master_control,
            MasterControlSettings::Pidfile("/srv/master/twistd.pid".into())
        );
        let s = load_toml(&with_token(
            "[buildbot.master_control]\ncheck = [\"ssh\", \"ci\", \"check\"]\n",
        ))
        .unwrap();
        assert!(matches!(
            s.buildbot.master_control,
            MasterControlSettings::Commands {
                check: Some(_),
                start: None,
                ..
            }
        ));
        let s = load_toml(&with_token("")).unwrap();
        assert_eq!(s.buildbot.master_control, MasterControlSettings::None);
        let err = error_text(&with_token(
            "[buildbot.master_control]\npidfile = \"x\"\nnow = [\"kill\"]\n",
        ));
        assert!(
            err.contains("buildbot.master_control") && err.contains("not both"),
            "{err}"
        );
        let err = error_text(&with_token("[storage]\nredis_url = \"http://x\"\n"));
        assert!(err.contains("storage.redis_url"), "{err}");
    }

    #[test]
    fn routes() {
        let s = load_toml(&with_token(
            "[notify.routes]\nquick = 11\n\"tag:slow\" = 12\n",
        ))
        .unwrap();
        assert_eq!(
            s.notify.routes,
            vec![("quick".to_owned(), 11), ("tag:slow".to_owned(), 12)]
        );
        let err = error_text(&with_token("[notify.routes]\nquick = \"general\"\n"));
        assert!(
            err.contains("notify.routes") && err.contains("message_thread_id"),
            "{err}"
        );
    }

    #[test]
    fn quiet_hours() {
        let s = load_toml(&with_token("[notify]\nquiet_hours = \"22:00-07:30\"\n")).unwrap();
        assert_eq!(s.notify.quiet_hours, Some((22 * 60, 7 * 60 + 30)));
        let err = error_text(&with_token("[notify]\nquiet_hours = \"late\"\n"));
        assert!(
            err.contains("notify.quiet_hours") && err.contains("22:00-07:00"),
            "{err}"
        );
    }

    #[test]
    fn webhook_settings() {
        let err = error_text(&with_token("use_webhook = true\n"));
        assert!(err.contains("telegram.webhook.url"), "{err}");
        let err = error_text(&with_token(
            "use_webhook = true\n[telegram.webhook]\nurl = \"https://ci.example.org:9000/tg\"\n",
        ));
        assert!(
            err.contains("port 9000") && err.contains("443, 80, 88 or 8443"),
            "{err}"
        );
        let err = error_text(&with_token(
            "use_webhook = true\n[telegram.webhook]\nurl = \"http://ci.example.org/tg\"\n",
        ));
        assert!(err.contains("https"), "{err}");
        let err = error_text(&with_token(
            "use_webhook = true\n[telegram.webhook]\nurl = \"https://ci.example.org/tg\"\nsecret_token = \"no spaces!\"\n",
        ));
        assert!(
            err.contains("secret_token") && !err.contains("no spaces"),
            "{err}"
        );
        let s = load_toml(&with_token(
            "use_webhook = true\n[telegram.webhook]\nurl = \"https://ci.example.org:8443/tg\"\nlisten = \"127.0.0.1:9443\"\n",
        ))
        .unwrap();
        let webhook = s.telegram.webhook.unwrap();
        assert_eq!(webhook.listen.port(), 9443);
        assert_eq!(webhook.secret_token, None);
        assert_eq!(webhook.max_connections, 40);
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
        let example = include_str!("../settings/example.toml")
            .replace("bot_token = \"\"", &format!("bot_token = \"{TOKEN}\""));
        let s = load_toml(&example).unwrap();
        assert_eq!(s.notify.events, vec![Event::Started, Event::Finished]);
    }
}
