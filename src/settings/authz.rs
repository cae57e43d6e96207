//! `[authz]`: its defaults depend on `[buildbot]`. A bot that reads a master with its own www
//! login would otherwise show that master's builders, changes and failure logs to anyone who
//! finds the bot; so with `buildbot.username` set, harmless commands are closed until
//! `[authz]` grants them (only the door stays open: `authz::DOOR`). Without a login the master
//! is readable by anybody anyway, and Buildbot's defaults stay: harmless open, dangerous
//! closed.

use std::collections::BTreeMap;

use super::{BuildbotSettings, SettingsError};
use crate::authz::{Authz, Baseline, DOOR};

pub(super) fn validate_authz(
    table: &BTreeMap<String, serde_json::Value>,
    buildbot: &BuildbotSettings,
) -> Result<Authz, SettingsError> {
    let baseline = if buildbot.credentials.is_some() {
        Baseline::Closed
    } else {
        Baseline::Open
    };
    Ok(Authz::from_table(table, baseline)?)
}

/// The one line the start-up log and `--check` show when the login closed the commands:
/// what is closed and why, and the key that opens it; `None` for an open baseline.
pub fn closed_notice(authz: &Authz) -> Option<String> {
    if authz.baseline() == Baseline::Open {
        return None;
    }
    let door = slashed(&DOOR.map(|c| c.as_str()));
    let closed = authz.closed_harmless();
    if closed.is_empty() {
        return Some(format!(
            "buildbot.username is set, so commands are closed except to the users [authz] names ({door} stay open to everybody)"
        ));
    }
    let closed = slashed(&closed.iter().map(|c| c.as_str()).collect::<Vec<_>>());
    Some(format!(
        "buildbot.username is set, so {closed} are closed to everybody until [authz] grants them; \
         to grant every harmless command, add `\"\" = [12345]` (the user ids /getid shows) under [authz] \
         in the settings file ({door} stay open to everybody)"
    ))
}

fn slashed(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("/{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::testing::{load_toml, with_token};
    use super::*;
    use crate::command::CommandName;

    const LOGIN: &str = "[buildbot]\nusername = \"tg\"\npassword = \"pw\"\n";

    #[test]
    fn a_login_closes_harmless_commands_until_authz_grants_them() {
        let s = load_toml(&with_token(LOGIN)).unwrap();
        assert!(!s.authz.allows(CommandName::Status, 5));
        assert!(s.authz.allows(CommandName::Getid, 5));
        let notice = closed_notice(&s.authz).unwrap();
        assert!(
            notice.starts_with("buildbot.username is set, so /flaky, /last, /list, /mute")
                && notice.contains("`\"\" = [12345]`")
                && notice.contains("/start, /help, /commands, /hello, /getid, /nay stay open"),
            "{notice}"
        );
        assert!(!notice.contains("pw"), "never the password: {notice}");

        let granted = format!("{LOGIN}[authz]\n\"\" = [5]\n");
        let s = load_toml(&with_token(&granted)).unwrap();
        assert!(s.authz.allows(CommandName::Status, 5));
        assert!(!s.authz.allows(CommandName::Status, 6));
        let notice = closed_notice(&s.authz).unwrap();
        assert!(
            notice.contains("closed except to the users [authz] names"),
            "{notice}"
        );
    }

    #[test]
    fn without_a_login_buildbots_defaults_stay() {
        let s = load_toml(&with_token("")).unwrap();
        assert!(s.authz.allows(CommandName::Status, 5));
        assert!(!s.authz.allows(CommandName::Force, 5));
        assert_eq!(closed_notice(&s.authz), None);
    }
}
