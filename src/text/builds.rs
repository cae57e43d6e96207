//! Notifications: a build started, finished or running, a worker gone or back. These reach
//! chats nobody is looking at, so the first line alone must say what happened.

use std::fmt::Write as _;

use super::history::{Past, past_lines};
use super::html::{code, escape, link};
use super::results::{result_emoji, result_word};
use super::time::duration;
use crate::buildbot::models::{Build, Builder};
use crate::outcome::Outcome;

/// What a build message says about the build, besides its result.
pub struct BuildNote<'a> {
    pub builder: &'a Builder,
    pub build: &'a Build,
    pub url: String,
    pub reason: Option<String>,
    pub owner: Option<String>,
    /// Set when `use_revisions` is on: named instead of the build number.
    pub revisions: Option<Vec<String>>,
}

/// Hashes are shortened to 7 characters, as Buildbot's bot promises.
pub(super) fn short_revision(revision: &str) -> &str {
    let is_hash = revision.len() > 7 && revision.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hash { &revision[..7] } else { revision }
}

/// "build #7 of runtests" or "build of runtests containing revision(s) abc1234".
fn build_name(note: &BuildNote<'_>) -> String {
    let builder = format!("<b>{}</b>", escape(&note.builder.name));
    match &note.revisions {
        Some(revisions) if !revisions.is_empty() => {
            let list: Vec<String> = revisions.iter().map(|r| code(short_revision(r))).collect();
            let noun = if list.len() == 1 {
                "revision"
            } else {
                "revisions"
            };
            format!(
                "{} of {builder} containing {noun} {}",
                link(&note.url, "Build"),
                list.join(", ")
            )
        }
        _ => format!(
            "Build {} of {builder}",
            link(&note.url, &format!("#{}", note.build.number))
        ),
    }
}

fn reason_and_owner(note: &BuildNote<'_>, out: &mut String) {
    if let Some(reason) = &note.reason {
        let _ = write!(out, "\nReason: {}", escape(reason));
    }
    if let Some(owner) = &note.owner {
        let _ = write!(out, "\nOwner: {}", escape(owner));
    }
}

pub fn build_started(note: &BuildNote<'_>) -> String {
    let mut out = format!("🚀 {} started.", build_name(note));
    reason_and_owner(note, &mut out);
    out
}

/// What went wrong, for failure messages.
pub struct Failure {
    pub step: Option<String>,
    /// The last lines of the failing step's log.
    pub log_tail: Vec<String>,
    /// Authors of the build's changes, when `show_blame_list` is on.
    pub blame: Option<Vec<String>>,
}

/// A result message. What the builder's `past` says comes right under the first line; the
/// previous result is named only when the past says nothing.
pub fn build_finished(
    note: &BuildNote<'_>,
    previous: Option<Outcome>,
    failure: &Failure,
    past: &Past,
) -> String {
    let outcome = note.build.results;
    // "❌ Build #7 of runtests: failure": the emoji leads, so a chat list shows it first
    let (emoji, word) = match outcome {
        Some(outcome) => (result_emoji(outcome), result_word(outcome)),
        None => ("⏳", "not finished".to_owned()),
    };
    let mut out = format!("{emoji} {}: {word}", build_name(note));
    if let (Some(started), Some(done)) = (note.build.started_at, note.build.complete_at) {
        let _ = write!(out, ", took {}", duration(done.saturating_sub(started)));
    }
    out.push('.');
    past_lines(past, &mut out);
    if outcome != Some(Outcome::Success)
        && let Some(state) = note.build.state_string.as_deref().filter(|s| !s.is_empty())
    {
        let _ = write!(out, "\n{}", escape(state));
    }
    if let Some(step) = &failure.step {
        let _ = write!(out, "\nFailed step: <b>{}</b>", escape(step));
    }
    if !failure.log_tail.is_empty() {
        let _ = write!(out, "\n{}", log_block(&failure.log_tail));
    }
    if let Some(previous) = previous.filter(|p| Some(*p) != outcome && past.story.is_none()) {
        let _ = write!(
            out,
            "\nPrevious build: {} {}",
            result_emoji(previous),
            result_word(previous)
        );
    }
    if let Some(blame) = &failure.blame {
        if blame.is_empty() {
            out.push_str("\nBlame: nobody (no changes in this build)");
        } else {
            let _ = write!(out, "\nBlame: {}", escape(&blame.join(", ")));
        }
    }
    reason_and_owner(note, &mut out);
    out
}

/// The end of a log as one `<pre>` block, on one line of the message text: kept under 2,000
/// characters (the oldest lines go first) so the message never needs splitting inside it.
fn log_block(lines: &[String]) -> String {
    const MAX: usize = 2000;
    let mut kept: Vec<String> = Vec::new();
    let mut size = 0;
    for line in lines.iter().rev() {
        let line: String = line.chars().take(300).collect();
        let escaped = line
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        if size + escaped.len() + 1 > MAX {
            break;
        }
        size += escaped.len() + 1;
        kept.push(escaped);
    }
    kept.reverse();
    // Telegram keeps the newlines inside <pre>; the splitter sees one long line it will not cut
    // because the whole block is bounded.
    format!("<pre>{}</pre>", kept.join("&#10;"))
}

/// A live build message while the build runs.
pub fn build_progress(
    builder: &str,
    number: i64,
    url: &str,
    step: Option<&str>,
    done: usize,
    total: usize,
    elapsed: i64,
) -> String {
    let step = step
        .map(|s| format!(", step <b>{}</b>", escape(s)))
        .unwrap_or_default();
    format!(
        "🌀 Build {} of <b>{}</b> running{step} ({done} of {total} steps done), for {}.",
        link(url, &format!("#{number}")),
        escape(builder),
        duration(elapsed)
    )
}

pub fn worker_missing(name: &str, last_connection: Option<&str>) -> String {
    match last_connection {
        Some(when) => format!(
            "⚠️ Worker {} is missing. It was seen last on {}.",
            code(name),
            escape(when)
        ),
        None => format!("⚠️ Worker {} is missing.", code(name)),
    }
}

pub fn worker_back(name: &str) -> String {
    format!("✅ Worker {} is back online.", code(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fixtures::{NOW, build, builder};

    /// Build #7 of a builder whose name needs escaping, failed after 95 s.
    fn failed_build() -> (Builder, Build) {
        let b = builder(3, "lint_*[x]<&>", &["lint"], true);
        let failed = build(
            12,
            7,
            Some(2),
            NOW - 95,
            Some(NOW),
            "failed 'sh -c ...' (failure)",
        );
        (b, failed)
    }

    #[test]
    fn build_notifications() {
        let (b, failed) = failed_build();
        let note = BuildNote {
            builder: &b,
            build: &failed,
            url: "http://bb/#/builders/3/builds/7".into(),
            reason: Some("A build was forced by 'alice': fix <it>".into()),
            owner: Some("alice".into()),
            revisions: None,
        };
        insta::assert_snapshot!("started", build_started(&note));
        let failure = Failure {
            step: Some("unit tests".into()),
            log_tail: vec!["compiling <x>".into(), "boom & bust".into()],
            blame: Some(vec!["Bob <bob@example.org>".into(), "carol".into()]),
        };
        insta::assert_snapshot!(
            "finished_failure",
            build_finished(&note, Some(Outcome::Success), &failure, &Past::default())
        );
    }

    #[test]
    fn finished_with_its_past() {
        let (b, failed) = failed_build();
        let note = BuildNote {
            builder: &b,
            build: &failed,
            url: "http://bb/#/builders/3/builds/7".into(),
            reason: None,
            owner: None,
            revisions: None,
        };
        let failure = Failure {
            step: Some("unit tests".into()),
            log_tail: Vec::new(),
            blame: None,
        };
        let past = Past {
            story: Some(crate::text::Story::StillFailing(crate::text::Streak {
                since: 3,
                seconds: 7_300,
                builds: 5,
                authors: vec!["Alice <alice@example.org>".into()],
                revision: Some("0123456789abcdef".into()),
            })),
            flaky: Some(crate::text::Flaky {
                of: 20,
                failed: 4,
                rebuilt: 3,
                flips: 6,
            }),
        };
        insta::assert_snapshot!(
            "finished_with_past",
            build_finished(&note, Some(Outcome::Failure), &failure, &past)
        );
    }

    #[test]
    fn finished_revisions() {
        let b = builder(3, "lint_*[x]<&>", &["lint"], true);
        let ok = build(13, 8, Some(0), NOW - 5, Some(NOW), "build successful");
        let note = BuildNote {
            builder: &b,
            build: &ok,
            url: "http://bb/#/builders/3/builds/8".into(),
            reason: None,
            owner: None,
            revisions: Some(vec!["abcdef1234567890abcdef".into(), "v1.2".into()]),
        };
        insta::assert_snapshot!(
            "finished_revisions",
            build_finished(
                &note,
                Some(Outcome::Failure),
                &Failure {
                    step: None,
                    blame: None,
                    log_tail: Vec::new(),
                },
                &Past::default()
            )
        );
        insta::assert_snapshot!(
            "progress",
            build_progress(
                "slow",
                4,
                "http://bb/#/builders/2/builds/4",
                Some("sleep"),
                1,
                3,
                75
            )
        );
        insta::assert_snapshot!(
            "worker_events",
            format!(
                "{}\n{}",
                worker_missing("w<1>", Some("Wed Nov 25 14:00:00 2026")),
                worker_back("w<1>")
            )
        );
    }

    #[test]
    fn quieter_variants() {
        let b = builder(2, "slow", &[], true);
        let warned = build(14, 9, Some(1), NOW - 30, Some(NOW), "warnings (2)");
        let note = BuildNote {
            builder: &b,
            build: &warned,
            url: "http://bb/#/builders/2/builds/9".into(),
            reason: None,
            owner: None,
            revisions: None,
        };
        insta::assert_snapshot!(
            "build_variants",
            [
                build_finished(
                    &note,
                    Some(Outcome::Warnings),
                    &Failure {
                        step: None,
                        log_tail: Vec::new(),
                        blame: Some(Vec::new()),
                    },
                    &Past::default()
                ),
                build_progress("slow", 9, "http://bb/#/builders/2/builds/9", None, 0, 0, 3),
                worker_missing("w<1>", None),
            ]
            .join("\n\n")
        );
    }
}
