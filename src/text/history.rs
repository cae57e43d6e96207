//! What a result message says about the builder's past: a new failure, a failure that goes
//! on, a recovery, a flaky builder; and `/flaky`.

use std::fmt::Write as _;

use super::builds::short_revision;
use super::html::{code, escape, link};
use super::time::duration;

/// Where a build stands in its builder's run of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Story {
    /// It failed and the build before it that counts passed (`None`: no build before it).
    NewFailure { last_good: Option<i64> },
    /// It failed, as the builds before it did since `since`.
    StillFailing(Streak),
    /// It passed after the builds since `since` failed.
    Recovered(Streak),
}

/// A run of failed builds: the first, how long ago and how many builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streak {
    /// The first failed build's number.
    pub since: i64,
    /// From the first failure's end to this build's end.
    pub seconds: i64,
    /// Builds from the first failure on, this one included when it still fails.
    pub builds: i64,
    /// The authors of the first failed build's changes.
    pub authors: Vec<String>,
    /// What the first failed build built.
    pub revision: Option<String>,
}

/// A builder whose recent results do not follow its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flaky {
    /// Builds looked at.
    pub of: usize,
    pub failed: usize,
    /// Failed builds whose revision passed in a later build.
    pub rebuilt: usize,
    /// How often the result went from passing to failing or back.
    pub flips: usize,
}

/// What a result message adds about the builder's past.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Past {
    pub story: Option<Story>,
    pub flaky: Option<Flaky>,
}

/// "Alice <alice@example.org>" → "Alice": the name is enough in a chat.
fn name_of(author: &str) -> &str {
    match author.split_once(" <") {
        Some((name, _)) if !name.trim().is_empty() => name.trim(),
        _ => author.trim(),
    }
}

/// ", first failed with alice's change abc1234" and its variants; empty when nothing is known.
fn first_failed_with(streak: &Streak) -> String {
    let revision = streak.revision.as_deref().map(|r| code(short_revision(r)));
    let names: Vec<String> = streak.authors.iter().map(|a| escape(name_of(a))).collect();
    match (names.as_slice(), revision) {
        ([], None) => String::new(),
        ([], Some(revision)) => format!(", first failed at {revision}"),
        ([one], Some(revision)) => format!(", first failed with {one}'s change {revision}"),
        ([one], None) => format!(", first failed with {one}'s change"),
        (many, Some(revision)) => {
            format!(
                ", first failed with the changes of {} ({revision})",
                many.join(", ")
            )
        }
        (many, None) => format!(", first failed with the changes of {}", many.join(", ")),
    }
}

fn builds(n: i64) -> String {
    match n {
        1 => "1 build".to_owned(),
        n => format!("{n} builds"),
    }
}

/// The line a result message gets from its story, if any.
pub(super) fn story_line(story: &Story) -> String {
    match story {
        Story::NewFailure {
            last_good: Some(number),
        } => format!("🆕 New failure: build #{number} before it passed."),
        Story::NewFailure { last_good: None } => "🆕 New failure.".to_owned(),
        Story::StillFailing(streak) => format!(
            "🔁 Still failing since #{} ({}, {}){}.",
            streak.since,
            duration(streak.seconds),
            builds(streak.builds),
            first_failed_with(streak)
        ),
        Story::Recovered(streak) => format!(
            "🩹 Recovered: red since #{} for {}, {}.",
            streak.since,
            duration(streak.seconds),
            builds(streak.builds)
        ),
    }
}

/// "⚠️ Flaky: 4 of the last 20 builds failed, 3 passed on rebuild."
pub(super) fn flaky_line(flaky: &Flaky) -> String {
    let how = match flaky.rebuilt {
        0 => format!("the result changed {} times", flaky.flips),
        n => format!("{n} passed on rebuild"),
    };
    format!(
        "⚠️ Flaky: {} of the last {} builds failed, {how}.",
        flaky.failed, flaky.of
    )
}

/// Appends what the builder's past says to a result message.
pub(super) fn past_lines(past: &Past, out: &mut String) {
    if let Some(story) = &past.story {
        let _ = write!(out, "\n{}", story_line(story));
    }
    if let Some(flaky) = &past.flaky {
        let _ = write!(out, "\n{}", flaky_line(flaky));
    }
}

/// One builder in `/flaky`.
pub struct FlakyBuilder<'a> {
    pub name: &'a str,
    pub url: String,
    pub flaky: Flaky,
}

/// `/flaky`: the builders whose recent results look flaky, or that none do.
pub fn flaky_list(builders: &[FlakyBuilder<'_>], window: usize) -> String {
    if builders.is_empty() {
        return format!(
            "✅ No flaky builders: none of the last {window} builds of any builder says so."
        );
    }
    let mut out = format!("⚠️ Flaky builders (last {window} builds of each):");
    for builder in builders {
        let flaky = &builder.flaky;
        let how = match flaky.rebuilt {
            0 => format!("result changed {} times", flaky.flips),
            n => format!("{n} passed on rebuild"),
        };
        let _ = write!(
            out,
            "\n• {}: {} of {} failed, {how}",
            link(&builder.url, builder.name),
            flaky.failed,
            flaky.of
        );
    }
    out
}

/// `/flaky` when flaky detection is off in the settings.
pub fn flaky_off() -> String {
    "Flaky detection is off: <code>notify.flaky.window</code> is 0 in the settings.".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streak(authors: &[&str], revision: Option<&str>) -> Streak {
        Streak {
            since: 41,
            seconds: 7_260,
            builds: 5,
            authors: authors.iter().map(|a| a.to_string()).collect(),
            revision: revision.map(str::to_owned),
        }
    }

    #[test]
    fn stories() {
        let lines = [
            Story::NewFailure {
                last_good: Some(44),
            },
            Story::NewFailure { last_good: None },
            Story::StillFailing(streak(&["Alice <alice@example.org>"], Some("abcdef123456"))),
            Story::StillFailing(streak(&["alice", "<b>ob"], None)),
            Story::StillFailing(streak(&[], Some("v1.2"))),
            Story::StillFailing(streak(&[], None)),
            Story::Recovered(streak(&["alice"], Some("abc"))),
            Story::Recovered(Streak {
                builds: 1,
                seconds: 40,
                ..streak(&[], None)
            }),
        ]
        .iter()
        .map(story_line)
        .collect::<Vec<_>>()
        .join("\n");
        insta::assert_snapshot!(lines);
    }

    #[test]
    fn flaky_texts() {
        let flaky = Flaky {
            of: 20,
            failed: 4,
            rebuilt: 3,
            flips: 6,
        };
        let flipping = Flaky {
            rebuilt: 0,
            ..flaky
        };
        let list = [
            FlakyBuilder {
                name: "linux<x64>",
                url: "http://bb/#/builders/3".into(),
                flaky,
            },
            FlakyBuilder {
                name: "docs",
                url: "http://bb/#/builders/4".into(),
                flaky: flipping,
            },
        ];
        insta::assert_snapshot!(
            [
                flaky_line(&flaky),
                flaky_line(&flipping),
                flaky_list(&list, 20),
                flaky_list(&[], 20),
                flaky_off(),
            ]
            .join("\n\n")
        );
    }
}
