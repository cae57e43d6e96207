//! `[buildbot]`: which master the bot watches, how it logs in, and how `/shutdown` reaches it.
//! The URL is normalised here once so that every API path joined onto it stays under it.

use std::fmt;

use url::Url;

use super::SettingsError;
use super::raw::{RawBuildbot, RawMasterControl};
use super::values::{parse_http_url, shown_url};

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

/// Both or neither: a user name without its password (or the reverse) is a mistake, not a
/// request to log in half-way.
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

pub(super) fn validate_buildbot(raw: RawBuildbot) -> Result<BuildbotSettings, SettingsError> {
    let mut url = parse_http_url("buildbot.url", &raw.url)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SettingsError::invalid(
            "buildbot.url",
            shown_url(&raw.url),
            "the master's buildbotURL without query or #fragment, e.g. http://localhost:8010/",
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    let credentials = credentials(raw.username.trim(), &raw.password)?;
    let master_control = validate_master_control(raw.master_control)?;
    Ok(BuildbotSettings {
        url,
        credentials,
        master_control,
    })
}

fn credentials(username: &str, password: &str) -> Result<Option<Credentials>, SettingsError> {
    match (username, password) {
        ("", "") => Ok(None),
        ("", _) => Err(SettingsError::invalid(
            "buildbot.username",
            "\"\"",
            "a www user name, since buildbot.password is set (or leave both empty)",
        )),
        (username, "") => Err(SettingsError::invalid(
            "buildbot.password",
            "\"\"",
            format!(
                "the password of www user {username:?}, since buildbot.username is set (or leave both empty)"
            ),
        )),
        (username, password) => Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        })),
    }
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

#[cfg(test)]
mod tests {
    use super::super::testing::{error_text, load_toml, with_token};
    use super::*;

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
    }
}
