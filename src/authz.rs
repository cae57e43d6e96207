//! Who may run which command, as Buildbot's bot decides it.
//!
//! Keys are command names, several joined by commas, `""` for every harmless command and `"!"`
//! for the dangerous ones; values are true, false or a list of Telegram user ids. A command's
//! own key wins over `""`/`"!"`; without any key harmless commands are open and dangerous ones
//! closed. Handlers ask [`Authz::allows`] when a command starts *and* when a button is tapped,
//! so a keyboard sent to a group cannot be used by someone who could not type the command.

use std::collections::{BTreeMap, BTreeSet};

use crate::command::CommandName;

/// An `[authz]` entry that cannot be used: the setting, its value, and what is allowed. The
/// settings layer turns it into its own error, which names the environment variable too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting `{setting}` has a bad value {value}.\n  Allowed: {allowed}")]
pub struct AuthzError {
    pub setting: String,
    pub value: String,
    pub allowed: String,
}

impl AuthzError {
    fn new(
        setting: impl Into<String>,
        value: impl std::fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        AuthzError {
            setting: setting.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Everybody,
    Nobody,
    Users(BTreeSet<i64>),
}

impl Access {
    fn admits(&self, user_id: i64) -> bool {
        match self {
            Access::Everybody => true,
            Access::Nobody => false,
            Access::Users(ids) => ids.contains(&user_id),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Authz {
    per_command: BTreeMap<CommandName, Access>,
    harmless: Access,
    dangerous: Access,
}

impl Default for Authz {
    fn default() -> Self {
        Authz {
            per_command: BTreeMap::new(),
            harmless: Access::Everybody,
            dangerous: Access::Nobody,
        }
    }
}

impl Authz {
    /// Builds the rules from the `[authz]` table, rejecting anything ambiguous or unknown.
    pub fn from_settings(table: &BTreeMap<String, serde_json::Value>) -> Result<Authz, AuthzError> {
        let mut authz = Authz::default();
        for (key, value) in table {
            let setting = format!("authz.{key:?}");
            let access = parse_access(&setting, value)?;
            match key.trim() {
                "" => authz.harmless = access,
                "!" => authz.dangerous = access,
                names => {
                    for name in names.split(',').map(|n| n.trim().to_lowercase()) {
                        let Ok(command) = name.parse::<CommandName>() else {
                            return Err(AuthzError::new(
                                "authz",
                                format!("key {key:?} (no command {name:?})"),
                                format!(
                                    "\"\", \"!\", or command names joined by commas: {}",
                                    CommandName::allowed_list()
                                ),
                            ));
                        };
                        if authz.per_command.insert(command, access.clone()).is_some() {
                            let name = command.as_str();
                            return Err(AuthzError::new(
                                "authz",
                                format!("key {key:?}"),
                                format!("each command in one key only; {name:?} appears twice"),
                            ));
                        }
                    }
                }
            }
        }
        Ok(authz)
    }

    /// May an unknown sender (someone posting as the group or as a channel) run `command`?
    /// Only where the command is open to everybody.
    pub fn allows_anonymous(&self, command: CommandName) -> bool {
        *self.access(command) == Access::Everybody
    }

    /// May `user_id` run `command`?
    pub fn allows(&self, command: CommandName, user_id: i64) -> bool {
        self.access(command).admits(user_id)
    }

    fn access(&self, command: CommandName) -> &Access {
        self.per_command
            .get(&command)
            .unwrap_or(if command.is_dangerous() {
                &self.dangerous
            } else {
                &self.harmless
            })
    }
}

fn parse_access(setting: &str, value: &serde_json::Value) -> Result<Access, AuthzError> {
    let allowed = "true (everybody), false (nobody) or a list of numeric Telegram user ids, e.g. [123456, 789012]";
    match value {
        serde_json::Value::Bool(true) => Ok(Access::Everybody),
        serde_json::Value::Bool(false) => Ok(Access::Nobody),
        // The environment can only give strings; accept what they obviously mean.
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Access::Everybody),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Access::Nobody),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| match item {
                serde_json::Value::Number(n) => n.as_i64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            // user ids are positive; a negative one is a group, which authz cannot name
            .map(|id| id.filter(|id| *id > 0))
            .collect::<Option<BTreeSet<i64>>>()
            .map(Access::Users)
            .ok_or_else(|| AuthzError::new(setting, value, allowed)),
        _ => Err(AuthzError::new(setting, value, allowed)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    use CommandName::*;

    fn authz(table: serde_json::Value) -> Result<Authz, AuthzError> {
        let map: BTreeMap<String, serde_json::Value> = serde_json::from_value(table).unwrap();
        Authz::from_settings(&map)
    }

    #[test]
    fn defaults_open_harmless_and_close_dangerous() {
        let a = Authz::default();
        assert!(a.allows(Status, 1));
        assert!(a.allows(Getid, 1));
        for cmd in CommandName::DANGEROUS {
            assert!(!a.allows(cmd, 1), "{cmd}");
        }
    }

    #[test]
    fn seed_example() {
        // the example from Buildbot's documentation
        let a =
            authz(json!({"getid": true, "": [123456, 789012], "force,stop": [123456]})).unwrap();
        assert!(a.allows(Getid, 5));
        assert!(a.allows(Status, 789012));
        assert!(!a.allows(Status, 5));
        assert!(a.allows(Force, 123456));
        assert!(a.allows(Stop, 123456));
        assert!(!a.allows(Force, 789012));
        assert!(
            !a.allows(Shutdown, 123456),
            "shutdown still falls back to the closed \"!\""
        );
    }

    #[test]
    fn bang_opens_dangerous_and_own_key_wins() {
        let a = authz(json!({"!": [7], "shutdown": false, "": false, "help": true})).unwrap();
        assert!(a.allows(Force, 7));
        assert!(!a.allows(Shutdown, 7));
        assert!(!a.allows(Status, 7));
        assert!(a.allows(Help, 8));
    }

    #[test]
    fn bad_values_and_keys_are_rejected() {
        let err = authz(json!({"force": "alice"})).unwrap_err().to_string();
        assert!(
            err.contains("authz.\"force\"") && err.contains("list of numeric"),
            "{err}"
        );
        let err = authz(json!({"force": [-1001234]})).unwrap_err().to_string();
        assert!(
            err.contains("authz.\"force\""),
            "a group id is not a user id: {err}"
        );
        let err = authz(json!({"force": [1, "x"]})).unwrap_err().to_string();
        assert!(err.contains("authz.\"force\""), "{err}");
        let err = authz(json!({"fly": true})).unwrap_err().to_string();
        assert!(err.contains("\"fly\"") && err.contains("status"), "{err}");
        let err = authz(json!({"force": true, "stop,force": false}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("appears twice"), "{err}");
    }
}
