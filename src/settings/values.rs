//! Checks more than one section needs, so that a number of seconds or a URL is refused in the
//! same words wherever it is set.

use url::Url;

use super::SettingsError;

/// An http(s) URL without credentials in it: a password belongs in its own key, where it is
/// never echoed, not in a URL that ends up in logs and messages.
pub(super) fn parse_http_url(key: &str, value: &str) -> Result<Url, SettingsError> {
    let allowed = "an http:// or https:// URL, e.g. http://localhost:8010/";
    let url = Url::parse(value.trim())
        .map_err(|e| SettingsError::invalid(key, format!("{} ({e})", shown_url(value)), allowed))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SettingsError::invalid(key, shown_url(value), allowed));
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

/// A URL as a settings error shows it: quoted, with any `user:password@` replaced, whether
/// or not it parses (`ftp://tg:pw@host/` → `"ftp://<redacted>@host/"`). A password may hold
/// `/`, `?` or `#` unencoded, so everything up to the last `@` goes: a path with an `@` in it
/// is shown shorter than it is, never a password.
pub(super) fn shown_url(value: &str) -> String {
    let start = value.find("://").map_or(0, |i| i + 3);
    match value[start..].rfind('@') {
        Some(at) => format!(
            "{:?}",
            format!("{}<redacted>{}", &value[..start], &value[start + at..])
        ),
        None => format!("{value:?}"),
    }
}

/// `value` when within `min..=max` (never negative), else the error naming `what` it counts.
fn bounded<T: TryFrom<i64>>(
    key: &str,
    value: i64,
    (min, max): (i64, i64),
    what: &str,
) -> Result<T, SettingsError> {
    match T::try_from(value) {
        Ok(fits) if (min..=max).contains(&value) => Ok(fits),
        _ => Err(SettingsError::invalid(
            key,
            value,
            format!("a whole number{what} from {min} to {max}"),
        )),
    }
}

/// A number of seconds within `min..=max`.
pub(super) fn in_range(key: &str, value: i64, min: i64, max: i64) -> Result<u32, SettingsError> {
    bounded(key, value, (min, max), " of seconds")
}

/// A count (lines, builds) that must lie in `min..=max`.
pub(super) fn count_in_range(
    key: &str,
    value: i64,
    min: i64,
    max: i64,
) -> Result<usize, SettingsError> {
    bounded(key, value, (min, max), "")
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error_text, with_token};

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
    fn urls_are_shown_without_credentials() {
        use super::shown_url;
        assert_eq!(
            shown_url("ftp://tg:pw@host:21/x"),
            "\"ftp://<redacted>@host:21/x\""
        );
        assert_eq!(shown_url("tg:p@ss@host/"), "\"<redacted>@host/\"");
        assert_eq!(
            shown_url("http://u:p/s#s@host/"),
            "\"http://<redacted>@host/\""
        );
        assert_eq!(shown_url("redis//:pw@h/"), "\"<redacted>@h/\"");
        assert_eq!(shown_url("not a url"), "\"not a url\"");
    }

    #[test]
    fn settings_errors_never_show_url_credentials() {
        for (toml, key) in [
            (
                "[buildbot]\nurl = \"ftp://tg:hunter2@ci.example.org/\"\n",
                "buildbot.url",
            ),
            (
                "[buildbot]\nurl = \"http://tg:hunter2@[bad/\"\n",
                "buildbot.url",
            ),
            (
                "[buildbot]\nurl = \"http://tg:hunter2@ci.example.org/\"\n",
                "buildbot.url",
            ),
            (
                "api_url = \"file://x:hunter2@example.org/\"\n",
                "telegram.api_url",
            ),
            (
                "[storage]\nurl = \"postgres://:hunter2@/x\"\n",
                "storage.url",
            ),
            (
                "[storage]\nredis_url = \"redis://:hunter2@h/\"\n",
                "storage.redis_url",
            ),
            (
                "use_webhook = true\n[telegram.webhook]\nurl = \"ftp://u:hunter2@ci.example.org/\"\n",
                "telegram.webhook.url",
            ),
        ] {
            let err = error_text(&with_token(toml));
            assert!(err.contains(key), "{toml}: {err}");
            assert!(!err.contains("hunter2"), "{toml}: {err}");
        }
        let err = error_text(&with_token(
            "[buildbot]\nurl = \"ftp://tg:hunter2@ci.example.org/\"\n",
        ));
        assert!(
            err.contains("\"ftp://<redacted>@ci.example.org/\""),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_is_rejected() {
        let err = error_text(&with_token("poll_timeout = 0\n"));
        assert!(
            err.contains("telegram.poll_timeout") && err.contains("1 to 600"),
            "{err}"
        );
    }
}
