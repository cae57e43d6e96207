//! Who may run which command, as Buildbot's bot decides it.
//!
//! Keys are command names, several joined by commas, `""` for every harmless command and `"!"`
//! for the dangerous ones; values are true, false or a list of Telegram user ids. A command's
//! own key wins over `""`/`"!"`. Handlers ask [`Authz::allows`] when a command starts *and*
//! when a button is tapped, so a keyboard sent to a group cannot be used by someone who could
//! not type the command.
//!
//! What a command without any key gets is the [`Baseline`], which the settings choose:
//! dangerous commands are always closed; harmless ones are open ([`Baseline::Open`], as in
//! Buildbot's bot) or closed ([`Baseline::Closed`]) — except the [`DOOR`] commands, which a
//! stranger needs to ask for access and which tell nothing about the master.

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

/// What harmless commands without a key of their own (or `""`) get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// Open to everybody, as in Buildbot's bot: for a master anybody may read anyway.
    Open,
    /// Closed to everybody but the [`DOOR`]: for a master that requires a login, whose
    /// builders, changes and logs the bot would otherwise show to anyone who finds it.
    Closed,
}

/// The commands that stay open under [`Baseline::Closed`] unless their own key closes them
/// (`""` does not: it grants, it never locks the door). They are what a stranger needs to ask
/// the admin for access, and none of them reads the master:
/// - `/getid` tells people the id the admin must add (the reason this list exists);
/// - `/start`, `/help`, `/commands` and `/hello` show fixed text (the command list is public
///   anyway: Telegram shows it as one types "/");
/// - `/nay` only ends a conversation its owner started (the conversation guard checks that),
///   and a conversation's Cancel button counts as `/nay`: someone granted `/force` alone must
///   still be able to cancel their own.
///
/// `/source` and `/version` are not here: they name the master's URL and version.
pub const DOOR: [CommandName; 6] = [
    CommandName::Start,
    CommandName::Help,
    CommandName::Commands,
    CommandName::Hello,
    CommandName::Getid,
    CommandName::Nay,
];

static EVERYBODY: Access = Access::Everybody;

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

    fn admits_nobody(&self) -> bool {
        match self {
            Access::Everybody => false,
            Access::Nobody => true,
            Access::Users(ids) => ids.is_empty(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Authz {
    per_command: BTreeMap<CommandName, Access>,
    harmless: Access,
    dangerous: Access,
    baseline: Baseline,
}

impl Default for Authz {
    /// No keys, [`Baseline::Open`]: Buildbot's defaults.
    fn default() -> Self {
        Authz::empty(Baseline::Open)
    }
}

impl Authz {
    fn empty(baseline: Baseline) -> Authz {
        Authz {
            per_command: BTreeMap::new(),
            harmless: match baseline {
                Baseline::Open => Access::Everybody,
                Baseline::Closed => Access::Nobody,
            },
            dangerous: Access::Nobody,
            baseline,
        }
    }

    /// [`Authz::from_table`] with [`Baseline::Open`], Buildbot's defaults.
    pub fn from_settings(table: &BTreeMap<String, serde_json::Value>) -> Result<Authz, AuthzError> {
        Authz::from_table(table, Baseline::Open)
    }

    /// Builds the rules from the `[authz]` table on top of `baseline`, rejecting anything
    /// ambiguous or unknown.
    pub fn from_table(
        table: &BTreeMap<String, serde_json::Value>,
        baseline: Baseline,
    ) -> Result<Authz, AuthzError> {
        let mut authz = Authz::empty(baseline);
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

    pub fn baseline(&self) -> Baseline {
        self.baseline
    }

    /// The harmless commands nobody may run, in alphabetical order: what a closed baseline
    /// left closed and `[authz]` did not open (for the start-up notice).
    pub fn closed_harmless(&self) -> Vec<CommandName> {
        CommandName::ALL
            .into_iter()
            .filter(|c| !c.is_dangerous() && self.access(*c).admits_nobody())
            .collect()
    }

    fn access(&self, command: CommandName) -> &Access {
        if let Some(access) = self.per_command.get(&command) {
            access
        } else if command.is_dangerous() {
            &self.dangerous
        } else if self.baseline == Baseline::Closed && DOOR.contains(&command) {
            &EVERYBODY
        } else {
            &self.harmless
        }
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

    fn closed(table: serde_json::Value) -> Authz {
        let map: BTreeMap<String, serde_json::Value> = serde_json::from_value(table).unwrap();
        Authz::from_table(&map, Baseline::Closed).unwrap()
    }

    #[test]
    fn a_closed_baseline_leaves_only_the_door_open() {
        let a = closed(json!({}));
        for command in CommandName::ALL {
            let open = DOOR.contains(&command);
            assert_eq!(a.allows(command, 1), open, "{command}");
            assert_eq!(a.allows_anonymous(command), open, "{command}");
        }
        assert_eq!(
            a.closed_harmless(),
            [
                Flaky, Last, List, Mute, Notify, Source, Status, Unmute, Version, Watch
            ]
        );
        assert_eq!(a.baseline(), Baseline::Closed);
        assert_eq!(Authz::default().baseline(), Baseline::Open);
        assert!(Authz::default().closed_harmless().is_empty());
    }

    #[test]
    fn keys_open_a_closed_baseline_and_only_own_keys_close_the_door() {
        let a = closed(json!({"": [7], "getid": false, "version": true}));
        assert!(a.allows(Status, 7) && a.allows(Notify, 7));
        assert!(!a.allows(Status, 8));
        assert!(a.allows(Version, 8), "its own key opens it to everybody");
        assert!(!a.allows(Getid, 7), "its own key closes the door");
        assert!(a.allows(Help, 8), "\"\" grants; it does not close /help");
        assert!(!a.allows(Force, 7), "dangerous stays closed");
        assert!(a.closed_harmless() == [Getid]);
        let a = closed(json!({"": false}));
        assert!(a.allows(Getid, 8) && a.allows(Nay, 8));
        let a = closed(json!({"": true}));
        assert!(a.closed_harmless().is_empty());
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
