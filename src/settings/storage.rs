//! `[storage]`: where the bot keeps what must survive a restart — a SQLite file, or a
//! PostgreSQL database that several replicas share. A database URL may hold a password, so
//! a bad one is shown without it.

use super::SettingsError;
use super::raw::RawStorage;
use super::values::shown_url;

#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// A SQLite file's path, or a `postgres://` URL.
    pub url: String,
}

impl StorageSettings {
    /// Whether the state lives in PostgreSQL, where replicas share it.
    pub fn is_postgres(&self) -> bool {
        is_postgres_url(&self.url)
    }
}

/// Whether a storage location names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Where the state lives when neither `storage.url` nor its old name `storage.path` says.
const DEFAULT: &str = "buildbot-telegram.sqlite";

pub(super) fn validate_storage(raw: RawStorage) -> Result<StorageSettings, SettingsError> {
    if !raw.redis_url.trim().is_empty() {
        return Err(SettingsError::invalid(
            "storage.redis_url",
            shown_url(raw.redis_url.trim()),
            "empty: conversations now live with the rest of the state. Remove the key; for replicas that share conversations, set storage.url = \"postgres://user:password@host/db\"",
        ));
    }
    let (key, url) = match (raw.url.trim(), raw.path.trim()) {
        ("", "") => ("storage.url", DEFAULT),
        (url, "") => ("storage.url", url),
        ("", path) => ("storage.path", path),
        (_, path) => {
            return Err(SettingsError::invalid(
                "storage.path",
                format!("{path:?}"),
                "empty when storage.url is set: storage.path is the old name of storage.url, keep only storage.url",
            ));
        }
    };
    let settings = StorageSettings {
        url: url.to_owned(),
    };
    if settings.is_postgres() {
        // a host in the URL, or in its query (`?host=/run/postgresql` for a socket)
        let valid = url
            .parse::<postgres::Config>()
            .is_ok_and(|c| !c.get_hosts().is_empty());
        if !valid {
            // not shown: its query may hold a password as well
            return Err(SettingsError::invalid(
                key,
                "(not shown)",
                "a PostgreSQL URL such as postgres://bbtg:password@db.example.org:5432/bbtg",
            ));
        }
    } else if url.contains("://") {
        return Err(SettingsError::invalid(
            key,
            shown_url(url),
            "a SQLite file path such as buildbot-telegram.sqlite, or a postgres:// URL",
        ));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error_text, load_toml, with_token};

    #[test]
    fn a_path_or_a_postgres_url() {
        let s = load_toml(&with_token("[storage]\nurl = \"/var/lib/bbtg/s.sqlite\"\n")).unwrap();
        assert!(!s.storage.is_postgres());
        let s = load_toml(&with_token(
            "[storage]\nurl = \"postgres://bbtg:pw@db.example.org/bbtg\"\n",
        ))
        .unwrap();
        assert!(s.storage.is_postgres());
        let old = load_toml(&with_token(
            "[storage]\nurl = \"\"\npath = \"old-name.sqlite\"\n",
        ))
        .unwrap();
        assert_eq!(
            old.storage.url, "old-name.sqlite",
            "the old key still works"
        );
        let socket = "[storage]\nurl = \"postgres:///bbtg?host=/run/postgresql&user=bbtg\"\n";
        assert!(load_toml(&with_token(socket)).is_ok(), "a socket");
        let err = error_text(&with_token(
            "[storage]\nurl = \"postgres:///bbtg?password=hunter2\"\n",
        ));
        assert!(
            err.contains("storage.url") && !err.contains("hunter2"),
            "{err}"
        );
        for (toml, says) in [
            ("url = \"redis://h/0\"", "storage.url"),
            ("url = \"postgres://:pw@/x\"", "storage.url"),
            (
                "url = \"a.sqlite\"\npath = \"other.sqlite\"",
                "keep only storage.url",
            ),
            ("redis_url = \"redis://h/0\"", "postgres://"),
        ] {
            let err = error_text(&with_token(&format!("[storage]\n{toml}\n")));
            assert!(err.contains(says), "{toml}: {err}");
        }
    }

    #[test]
    fn replicas_share_one_webhook_secret() {
        let webhook =
            "use_webhook = true\n[telegram.webhook]\nurl = \"https://ci.example.org/tg\"\n";
        let postgres = "[storage]\nurl = \"postgres://bbtg:pw@db.example.org/bbtg\"\n";
        let err = error_text(&with_token(&format!("{webhook}{postgres}")));
        assert!(err.contains("telegram.webhook.secret_token"), "{err}");
        let shared = format!("{webhook}secret_token = \"s3cret-s3cret-s3cret\"\n{postgres}");
        if let Err(error) = load_toml(&with_token(&shared)) {
            panic!("{error}");
        }
    }
}
