//! The merged sources exactly as written, before anything is checked. Kept apart from the
//! validated types so that nothing past start-up can see an unchecked value.
//!
//! `deny_unknown_fields` turns a misspelt key into an error instead of a silently ignored line.
//! Numbers are read as `i64` and lists as JSON values so that validation, not serde, decides
//! what is wrong and says it in the admin's terms.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    pub telegram: RawTelegram,
    pub buildbot: RawBuildbot,
    pub notify: RawNotify,
    #[serde(default)]
    pub authz: BTreeMap<String, serde_json::Value>,
    pub storage: RawStorage,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelegram {
    pub conversation_timeout: i64,
    pub limits: RawLimits,
    pub webhook: RawWebhook,
    pub bot_token: String,
    pub bot_username: String,
    pub api_url: String,
    pub poll_timeout: i64,
    pub retry_delay: i64,
    pub use_webhook: bool,
    pub certificate: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    pub url: String,
    pub listen: String,
    pub secret_token: String,
    pub max_connections: i64,
    pub tls_certificate: String,
    pub tls_key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub overall_per_second: i64,
    pub chat_per_second: i64,
    pub group_per_minute: i64,
    pub give_up_after: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuildbot {
    pub url: String,
    pub username: String,
    pub password: String,
    pub master_control: RawMasterControl,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMasterControl {
    pub pidfile: String,
    pub check: Vec<String>,
    pub start: Vec<String>,
    pub stop: Vec<String>,
    pub now: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    #[serde(deserialize_with = "list_or_commas")]
    pub chat_ids: Vec<serde_json::Value>,
    #[serde(deserialize_with = "list_or_commas")]
    pub events: Vec<serde_json::Value>,
    #[serde(deserialize_with = "list_or_commas")]
    pub tags: Vec<serde_json::Value>,
    pub show_blame_list: bool,
    pub use_revisions: bool,
    pub log_tail_lines: i64,
    pub quiet_hours: String,
    pub quiet_hours_mode: String,
    pub live: bool,
    pub quiet_repeats: bool,
    pub flaky: RawFlaky,
    #[serde(default)]
    pub routes: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFlaky {
    pub window: i64,
    pub rebuilds: i64,
    pub flips: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorage {
    pub url: String,
    /// The old name of `url`.
    pub path: String,
    /// Refused since conversations live in the storage; kept to say so.
    pub redis_url: String,
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
