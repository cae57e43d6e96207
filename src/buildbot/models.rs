//! The parts of Buildbot's data API that the bot reads, as serde types.
//!
//! Only the fields the bot uses are declared, and optional ones default, so a newer master
//! that adds or drops a field does not break parsing. Times are epoch seconds, as the REST
//! API sends them.

use serde::Deserialize;

use crate::outcome::Outcome;

#[derive(Debug, Clone, Deserialize)]
pub struct Builder {
    pub builderid: i64,
    pub name: String,
    #[serde(default)]
    pub masterids: Vec<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl Builder {
    /// Configured on a running master (retired builders keep their id but lose their masters).
    pub fn is_active(&self) -> bool {
        !self.masterids.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Worker {
    pub workerid: i64,
    pub name: String,
    #[serde(default)]
    pub connected_to: Vec<MasterRef>,
    #[serde(default)]
    pub configured_on: Vec<BuilderRef>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub graceful: bool,
}

impl Worker {
    pub fn is_connected(&self) -> bool {
        !self.connected_to.is_empty()
    }

    pub fn is_configured(&self) -> bool {
        !self.configured_on.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct MasterRef {
    pub masterid: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BuilderRef {
    pub builderid: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Build {
    pub buildid: i64,
    pub number: i64,
    pub builderid: i64,
    #[serde(default)]
    pub buildrequestid: Option<i64>,
    #[serde(default)]
    pub workerid: Option<i64>,
    #[serde(default)]
    pub started_at: Option<i64>,
    #[serde(default)]
    pub complete_at: Option<i64>,
    #[serde(default)]
    pub complete: bool,
    #[serde(default)]
    pub state_string: Option<String>,
    #[serde(default)]
    pub results: Option<Outcome>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    pub stepid: i64,
    pub number: i64,
    pub name: String,
    #[serde(default)]
    pub results: Option<Outcome>,
    /// Finished (its `results` may still be unknown for a moment); the current step of a
    /// build is its newest step that is not complete.
    #[serde(default)]
    pub complete: bool,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub state_string: Option<String>,
    #[serde(default)]
    pub started_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    pub changeid: i64,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub comments: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default)]
    pub revlink: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub when_timestamp: Option<i64>,
}

/// The master's `/config` document: what its web UI is told at start.
#[derive(Debug, Clone, Deserialize)]
pub struct MasterConfig {
    #[serde(default)]
    pub versions: Vec<(String, String)>,
    #[serde(default, rename = "buildbotURL")]
    pub buildbot_url: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

impl MasterConfig {
    pub fn buildbot_version(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("buildbot"))
            .map(|(_, version)| version.as_str())
    }
}

/// A ForceScheduler, with its parameters flattened out of their nested groups.
#[derive(Debug, Clone)]
pub struct ForceScheduler {
    pub name: String,
    pub label: String,
    pub builder_names: Vec<String>,
    pub fields: Vec<ForceField>,
}

impl ForceScheduler {
    /// What the web UI calls it: its label, or its name when it has none.
    pub fn title(&self) -> &str {
        if self.label.is_empty() {
            &self.name
        } else {
            &self.label
        }
    }
}

/// One parameter of a ForceScheduler, as its `getSpec` describes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct ForceField {
    /// What the force call takes the value as (`second_branch` for nested codebases).
    pub full_name: String,
    pub label: String,
    pub kind: FieldKind,
    /// The value as a string (defaults come as strings, numbers or booleans).
    pub default: String,
    pub required: bool,
    pub maxsize: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub enum FieldKind {
    /// text, textarea, username: free text.
    Text,
    Int,
    Bool,
    /// A list; `strict` means only the choices are allowed.
    Choice {
        choices: Vec<String>,
        strict: bool,
    },
    /// Fixed, hidden, or of a kind a chat cannot edit (files): sent as its default.
    Fixed,
}

impl ForceScheduler {
    /// Reads `/forceschedulers` JSON; `None` when it is not a scheduler.
    pub fn from_json(value: &serde_json::Value) -> Option<ForceScheduler> {
        let mut fields = Vec::new();
        collect_fields(value["all_fields"].as_array()?, &mut fields);
        Some(ForceScheduler {
            name: value["name"].as_str()?.to_owned(),
            label: value["label"].as_str().unwrap_or_default().to_owned(),
            builder_names: value["builder_names"]
                .as_array()?
                .iter()
                .filter_map(|b| b.as_str().map(str::to_owned))
                .collect(),
            fields,
        })
    }
}

fn default_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        serde_json::Value::Array(items) => items.first().map(default_text).unwrap_or_default(),
        other => other.to_string(),
    }
}

fn collect_fields(specs: &[serde_json::Value], out: &mut Vec<ForceField>) {
    for spec in specs {
        if spec["type"] == "nested" {
            if let Some(inner) = spec["fields"].as_array() {
                collect_fields(inner, out);
            }
            continue;
        }
        let Some(full_name) = spec["fullName"].as_str().filter(|n| !n.is_empty()) else {
            continue;
        };
        let hidden = spec["hide"].as_bool().unwrap_or(false);
        let kind = match spec["type"].as_str().unwrap_or("") {
            _ if hidden => FieldKind::Fixed,
            "text" | "textarea" | "username" => FieldKind::Text,
            "int" => FieldKind::Int,
            "bool" => FieldKind::Bool,
            "list" if !spec["multiple"].as_bool().unwrap_or(false) => FieldKind::Choice {
                choices: spec["choices"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(default_text)
                    .collect(),
                strict: spec["strict"].as_bool().unwrap_or(true),
            },
            _ => FieldKind::Fixed,
        };
        let label = spec["label"]
            .as_str()
            .map(|l| l.trim().trim_end_matches(':').to_owned())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| full_name.to_owned());
        out.push(ForceField {
            full_name: full_name.to_owned(),
            label,
            kind,
            default: default_text(&spec["default"]),
            required: spec["required"].as_bool().unwrap_or(false),
            maxsize: spec["maxsize"].as_u64().map(|m| m as usize),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_recorded_build_and_tolerates_extra_fields() {
        // recorded from a Buildbot 4.3 master
        let json = r#"{"builderid":1,"buildid":1,"buildrequestid":1,"complete":true,"complete_at":1795616757,
            "locks_duration_s":0,"masterid":1,"number":1,"properties":{},"results":2,"started_at":1795616756,
            "state_string":"failed 'sh -c ...' (failure)","workerid":1,"a_future_field":[1]}"#;
        let b: Build = serde_json::from_str(json).unwrap();
        assert_eq!(
            (b.buildid, b.number, b.results),
            (1, 1, Some(Outcome::Failure))
        );
        let running: Build = serde_json::from_str(r#"{"buildid":3,"number":2,"builderid":4,"complete":false,"complete_at":null,"results":null}"#).unwrap();
        assert_eq!(running.results, None);
    }

    #[test]
    fn master_config_version() {
        let json = r#"{"versions": [["Python", "3.11.7"], ["Buildbot", "4.3.0"], ["Twisted", "26.10.0"]],
            "buildbotURL": "http://127.0.0.1:18010/", "title": "t", "user": {"anonymous": true}}"#;
        let c: MasterConfig = serde_json::from_str(json).unwrap();
        assert_eq!(c.buildbot_version(), Some("4.3.0"));
    }

    #[test]
    fn force_scheduler_fields_are_flattened() {
        // recorded from the test master's "force" scheduler (shortened)
        let json = serde_json::json!({"name": "force", "label": "Force a build", "builder_names": ["runtests"],
            "all_fields": [
                {"name": "", "fullName": null, "type": "nested", "fields": [
                    {"name": "username", "fullName": "username", "type": "username", "default": "", "label": "Your name:"},
                    {"name": "reason", "fullName": "reason", "type": "text", "default": "", "required": true, "label": "Reason"}]},
                {"name": "", "fullName": null, "type": "nested", "fields": [
                    {"name": "branch", "fullName": "second_branch", "type": "text", "default": "main", "label": "Branch:"}]},
                {"name": "retries", "fullName": "retries", "type": "int", "default": 1, "label": "Retries"},
                {"name": "clean", "fullName": "clean", "type": "bool", "default": false, "label": "Clean build"},
                {"name": "target", "fullName": "target", "type": "list", "default": "debug", "choices": ["debug", "release"], "strict": true, "label": "Target"},
                {"name": "pipeline", "fullName": "pipeline", "type": "fixed", "default": "telegram", "hide": true},
                {"name": "patch", "fullName": "patch", "type": "file", "default": ""}]});
        let s = ForceScheduler::from_json(&json).unwrap();
        let names: Vec<&str> = s.fields.iter().map(|f| f.full_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "username",
                "reason",
                "second_branch",
                "retries",
                "clean",
                "target",
                "pipeline",
                "patch"
            ]
        );
        assert_eq!(s.fields[0].label, "Your name");
        assert!(s.fields[1].required);
        assert_eq!(s.fields[2].default, "main");
        assert_eq!(
            (s.fields[3].kind.clone(), s.fields[3].default.as_str()),
            (FieldKind::Int, "1")
        );
        assert_eq!(
            (s.fields[4].kind.clone(), s.fields[4].default.as_str()),
            (FieldKind::Bool, "false")
        );
        assert_eq!(
            s.fields[5].kind,
            FieldKind::Choice {
                choices: vec!["debug".into(), "release".into()],
                strict: true
            }
        );
        assert_eq!(s.fields[6].kind, FieldKind::Fixed);
        assert_eq!(
            s.fields[7].kind,
            FieldKind::Fixed,
            "files cannot come from a chat"
        );
    }
}
