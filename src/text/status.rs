//! `/status` and `/last`: one line per builder, so a master with many builders still splits
//! into readable messages, and a busy builder gets one line per build for the same reason.

use std::fmt::Write as _;

use super::html::{code, escape, link};
use super::results::result;
use super::time::{ago, duration, fuzzy_interval};
use crate::buildbot::models::{Build, Builder, Step};
use crate::outcome::Outcome;

/// A running build with the step it is in.
pub struct RunningBuild<'a> {
    pub build: &'a Build,
    pub url: String,
    pub step: Option<&'a Step>,
}

/// Everything `/status` says about one builder.
pub struct BuilderStatus<'a> {
    pub builder: &'a Builder,
    pub url: String,
    pub online: bool,
    pub running: Vec<RunningBuild<'a>>,
    pub last: Option<(&'a Build, String)>,
}

/// One builder per line; `long` adds tags and what every running build is doing.
pub fn status(statuses: &[BuilderStatus<'_>], long: bool, now: i64) -> String {
    if statuses.is_empty() {
        return "No builders are configured on this master.".to_owned();
    }
    let mut lines = Vec::new();
    for s in statuses {
        lines.push(status_line(s, now));
        if long {
            lines.extend(details(s, now));
        }
    }
    lines.join("\n")
}

/// What a builder is doing, in one line (a busy builder: one line per build).
fn status_line(s: &BuilderStatus<'_>, now: i64) -> String {
    let name = format!("<b>{}</b>", link(&s.url, &s.builder.name));
    if !s.running.is_empty() {
        let builds: Vec<String> = s.running.iter().map(|r| running(r, now)).collect();
        // one line per build: a busy builder must not make a line too long to send
        return match builds.as_slice() {
            [one] => format!("🌀 {name}: running {one}"),
            many => format!(
                "🌀 {name}: running {} builds:\n    {}",
                many.len(),
                many.join("\n    ")
            ),
        };
    }
    if !s.builder.is_active() {
        return format!("🗄️ {name}: retired");
    }
    if !s.online {
        return format!("🔌 {name}: offline");
    }
    let mut line = format!("💤 {name}: idle");
    if let Some((build, url)) = &s.last {
        let _ = write!(line, ", last build {}", finished(build, url, now));
    }
    line
}

/// "build #8 (step sleep: 'sleep 30', for 1 min 5 s)".
fn running(r: &RunningBuild<'_>, now: i64) -> String {
    let number = link(&r.url, &format!("#{}", r.build.number));
    let step = match r.step {
        Some(step) => match step.state_string.as_deref() {
            Some(state) if state != step.name && !state.is_empty() => {
                format!("step {}: {}", escape(&step.name), escape(state))
            }
            _ => format!("step {}", escape(&step.name)),
        },
        None => "no current step".to_owned(),
    };
    let running_for = r
        .build
        .started_at
        .map(|t| format!(", for {}", duration(now.saturating_sub(t))))
        .unwrap_or_default();
    format!("build {number} ({step}{running_for})")
}

/// "#7 ✅ success, 3 hours ago".
fn finished(build: &Build, url: &str, now: i64) -> String {
    format!(
        "{} {}{}",
        link(url, &format!("#{}", build.number)),
        result(build.results),
        ago(build.complete_at, now)
    )
}

/// The long form's extra lines: tags, description, and the last build when the status line
/// did not show it.
fn details(s: &BuilderStatus<'_>, now: i64) -> Vec<String> {
    let mut lines = Vec::new();
    if !s.builder.tags.is_empty() {
        lines.push(format!("Tags: {}", escape(&s.builder.tags.join(", "))));
    }
    if let Some(description) = s.builder.description.as_deref().filter(|d| !d.is_empty()) {
        lines.push(format!("Description: {}", escape(description)));
    }
    let last_not_shown_yet = !s.running.is_empty() || !s.online || !s.builder.is_active();
    if last_not_shown_yet && let Some((build, url)) = &s.last {
        lines.push(format!("Last finished build {}", finished(build, url, now)));
    }
    lines
}

/// A builder and its newest finished build (with the build's link), for `/last`.
pub struct BuilderLast<'a> {
    pub builder: &'a Builder,
    pub url: String,
    pub last: Option<(&'a Build, String)>,
}

/// `/last`: the newest finished build of each builder, with how long ago and how long it took.
pub fn last_builds(entries: &[BuilderLast<'_>], now: i64) -> String {
    if entries.is_empty() {
        return "No builders are configured on this master.".to_owned();
    }
    let mut lines = Vec::new();
    for BuilderLast { builder, url, last } in entries {
        let name = format!("<b>{}</b>", link(url, &builder.name));
        match last {
            None => lines.push(format!("{name}: no finished builds yet")),
            Some((build, url)) => {
                let mut line = format!(
                    "{name}: last build {} {}",
                    link(url, &format!("#{}", build.number)),
                    result(build.results)
                );
                if let Some(done) = build.complete_at {
                    let _ = write!(line, " ({} ago", fuzzy_interval(now.saturating_sub(done)));
                    if let Some(started) = build.started_at {
                        let _ = write!(line, ", took {}", duration(done.saturating_sub(started)));
                    }
                    line.push(')');
                }
                if build.results != Some(Outcome::Success)
                    && let Some(state) = build.state_string.as_deref().filter(|s| !s.is_empty())
                {
                    let _ = write!(line, ": {}", escape(state));
                }
                lines.push(line);
            }
        }
    }
    lines.join("\n")
}

pub fn no_such_builder(name: &str, suggestions: &[&str]) -> String {
    let mut out = format!("There is no builder called {}.", code(name));
    if !suggestions.is_empty() {
        let names: Vec<String> = suggestions.iter().map(|s| code(s)).collect();
        let _ = write!(out, " Did you mean {}?", names.join(" or "));
    }
    out.push_str(" Send /list builders to see them all.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fixtures::{NOW, build, builder};

    #[test]
    fn status_and_last() {
        let b1 = builder(1, "runtests", &["unit"], true);
        let b2 = builder(2, "slow", &[], true);
        let b3 = builder(3, "offline-builder", &[], true);
        let done = build(
            10,
            3,
            Some(0),
            NOW - 400,
            Some(NOW - 300),
            "build successful",
        );
        let failed = build(
            11,
            7,
            Some(2),
            NOW - 4000,
            Some(NOW - 3700),
            "failed 'sh -c ...' (failure)",
        );
        let running = build(12, 8, None, NOW - 65, None, "building");
        let step: Step = serde_json::from_value(serde_json::json!({"stepid": 5, "number": 0, "name": "sleep", "state_string": "'sleep 30'"})).unwrap();
        let statuses = vec![
            BuilderStatus {
                builder: &b1,
                url: "http://bb/#/builders/1".into(),
                online: true,
                running: vec![],
                last: Some((&done, "http://bb/#/builders/1/builds/3".into())),
            },
            BuilderStatus {
                builder: &b2,
                url: "http://bb/#/builders/2".into(),
                online: true,
                running: vec![RunningBuild {
                    build: &running,
                    url: "http://bb/#/builders/2/builds/8".into(),
                    step: Some(&step),
                }],
                last: Some((&failed, "http://bb/#/builders/2/builds/7".into())),
            },
            BuilderStatus {
                builder: &b3,
                url: "http://bb/#/builders/3".into(),
                online: false,
                running: vec![],
                last: None,
            },
        ];
        insta::assert_snapshot!("status_short", status(&statuses, false, NOW));
        insta::assert_snapshot!("status_long", status(&statuses[1..2], true, NOW));
        let entries: Vec<BuilderLast<'_>> = [
            (&b1, 1, Some((&done, "http://bb/#/builders/1/builds/3"))),
            (&b2, 2, Some((&failed, "http://bb/#/builders/2/builds/7"))),
            (&b3, 3, None),
        ]
        .into_iter()
        .map(|(builder, id, last)| BuilderLast {
            builder,
            url: format!("http://bb/#/builders/{id}"),
            last: last.map(|(b, url)| (b, url.to_owned())),
        })
        .collect();
        insta::assert_snapshot!("last", last_builds(&entries, NOW));
    }

    #[test]
    fn busy_retired_and_offline_builders() {
        let busy = builder(1, "busy", &[], true);
        let gone = builder(2, "gone", &[], false);
        let down = builder(3, "down", &[], true);
        let a = build(20, 4, None, NOW - 10, None, "building");
        let b = build(21, 5, None, NOW - 5, None, "building");
        let last = build(9, 2, Some(2), NOW - 4000, Some(NOW - 3900), "failed");
        fn running(build: &Build) -> RunningBuild<'_> {
            let url = format!("http://bb/#/builders/1/builds/{}", build.number);
            RunningBuild {
                build,
                url,
                step: None,
            }
        }
        let statuses = vec![
            BuilderStatus {
                builder: &busy,
                url: "http://bb/#/builders/1".into(),
                online: true,
                running: vec![running(&a), running(&b)],
                last: None,
            },
            BuilderStatus {
                builder: &gone,
                url: "http://bb/#/builders/2".into(),
                online: false,
                running: vec![],
                last: None,
            },
            BuilderStatus {
                builder: &down,
                url: "http://bb/#/builders/3".into(),
                online: false,
                running: vec![],
                last: Some((&last, "http://bb/#/builders/3/builds/2".into())),
            },
        ];
        insta::assert_snapshot!("status_busy", status(&statuses, false, NOW));
        insta::assert_snapshot!("status_offline_long", status(&statuses[2..], true, NOW));
    }

    #[test]
    fn unknown_builder() {
        insta::assert_snapshot!("no_such_builder", no_such_builder("runtest", &["runtests"]));
        insta::assert_snapshot!(
            "status_edges",
            [
                no_such_builder("zzz<", &[]),
                no_such_builder("tests", &["runtests", "unit tests"]),
                status(&[], false, NOW),
                last_builds(&[], NOW),
            ]
            .join("\n\n")
        );
    }
}
