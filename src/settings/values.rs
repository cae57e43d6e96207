//! Checks more than one section needs, so that a number of seconds or a URL is refused in the
//! same words wherever it is set.

use url::Url;

use super::SettingsError;

/// An http(s) URL without credentials in it: a password belongs in its own key, where it is
/// never echoed, not in a URL that ends up in logs and messages.
pub(super) fn parse_http_url(key: &str, value: &str) -> Result<Url, SettingsError> {
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

/// A number within `min..=max`. The message speaks of seconds, which most of these keys count.
pub(super) fn in_range(key: &str, value: i64, min: i64, max: i64) -> Result<u32, SettingsError> {
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
    fn out_of_range_is_rejected() {
        let err = error_text(&with_token("poll_timeout = 0\n"));
        assert!(
            err.contains("telegram.poll_timeout") && err.contains("1 to 600"),
            "{err}"
        );
    }
}
