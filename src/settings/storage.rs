//! `[storage]`: where the bot keeps what must survive a restart. A Redis URL may hold a
//! password, so a bad one is shown without it.

use url::Url;

use super::SettingsError;
use super::raw::RawStorage;
use super::values::shown_url;

#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub path: String,
    /// Conversations go to Redis when set (shared by several bot replicas).
    pub redis_url: Option<String>,
}

pub(super) fn validate_storage(raw: RawStorage) -> Result<StorageSettings, SettingsError> {
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
                shown_url(url),
                "empty (conversations in the SQLite file), or a Redis URL such as redis://127.0.0.1:6379/0",
            ));
        }
    }
    Ok(StorageSettings { path, redis_url })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error_text, with_token};

    #[test]
    fn redis_url_must_be_redis() {
        let err = error_text(&with_token("[storage]\nredis_url = \"http://x\"\n"));
        assert!(err.contains("storage.redis_url"), "{err}");
    }
}
