//! The morning digest (`notify.quiet_hours_mode = "digest"`): what the quiet hours held, in
//! one message per chat. The first line is the night in a sentence, for the chat list; one
//! line per builder follows, the troubled ones first. Too many builders for one message are
//! cut with "… and N more" rather than split: a digest is one message.

use std::fmt::Write as _;

use super::html::{escape, link};
use super::results::result_emoji;
use crate::outcome::Outcome;

/// Telegram's limit on a message, in UTF-16 units (the HTML source, which is longer).
const LIMIT: usize = 4096;
/// Builders named on the first line; the others are counted.
const NAMED: usize = 3;
/// Failed builds linked on a builder's line; the others are counted.
const LINKED: usize = 5;
/// Runs of build numbers written on a builder's line; the others are counted.
const RUNS: usize = 10;

/// One builder's night, as the digest tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NightOfBuilder {
    pub name: String,
    pub builds: usize,
    /// The numbers of its builds, in order: every build is named, in runs ("#41–#45").
    pub numbers: Vec<i64>,
    /// The result of its newest build.
    pub last: Outcome,
    /// Its failed builds (failure or exception), oldest first: number and page.
    pub failed: Vec<(i64, String)>,
    /// Failing at the end: since when.
    pub red: Option<RedSince>,
    /// Failing earlier (or before the night), passing at the end.
    pub recovered: bool,
}

/// Since when a builder fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedSince {
    /// Since the build that ended at this time (epoch seconds), asked for by this person.
    At(i64, Option<String>),
    /// It failed before the quiet hours began already.
    Before,
}

/// The longest builder or person name shown: a name is said, not quoted in full, so that
/// one long name cannot crowd the night out of its one message.
const NAME_MAX: usize = 64;

/// `text` cut to [`NAME_MAX`] characters, with "…" when cut.
fn short(text: &str) -> String {
    match text.char_indices().nth(NAME_MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn units(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "03:12" from epoch seconds (UTC, like the quiet hours).
fn time_of_day(epoch: i64) -> String {
    let second = epoch.rem_euclid(86_400);
    format!("{:02}:{:02}", second / 3600, second % 3600 / 60)
}

/// "red since 03:12 (alice)", "red since before the quiet hours".
fn red_since(red: &RedSince) -> String {
    match red {
        RedSince::At(at, Some(who)) => {
            format!("red since {} ({})", time_of_day(*at), escape(&short(who)))
        }
        RedSince::At(at, None) => format!("red since {}", time_of_day(*at)),
        RedSince::Before => "red since before the quiet hours".to_owned(),
    }
}

/// "🌙 Overnight: 14 builds, 2 failed — linux-x64 red since 03:12 (alice), docs recovered".
fn headline(builders: &[NightOfBuilder]) -> String {
    let builds: usize = builders.iter().map(|b| b.builds).sum();
    let failed: usize = builders.iter().map(|b| b.failed.len()).sum();
    let mut out = format!("🌙 Overnight: {}", plural(builds, "build", "builds"));
    match failed {
        0 => out.push_str(", none failed"),
        n => {
            let _ = write!(out, ", {n} failed");
        }
    }
    let news: Vec<String> = builders
        .iter()
        .filter_map(|b| match (&b.red, b.recovered) {
            (Some(red), _) => Some(format!(
                "<b>{}</b> {}",
                escape(&short(&b.name)),
                red_since(red)
            )),
            (None, true) => Some(format!("<b>{}</b> recovered", escape(&short(&b.name)))),
            (None, false) => None,
        })
        .collect();
    if !news.is_empty() {
        let named = news
            .iter()
            .take(NAMED)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(out, " — {named}");
        if news.len() > NAMED {
            let _ = write!(out, " and {} more", news.len() - NAMED);
        }
    }
    out.push('.');
    out
}

/// Build numbers in runs: "#3–#5, #8". At most [`RUNS`] runs are written; the rest are
/// counted.
fn runs(numbers: &[i64]) -> String {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &number in numbers {
        match runs.last_mut() {
            Some((_, last)) if number == last.saturating_add(1) => *last = number,
            _ => runs.push((number, number)),
        }
    }
    let mut shown: Vec<String> = runs
        .iter()
        .take(RUNS)
        .map(|&(first, last)| match first == last {
            true => format!("#{first}"),
            false => format!("#{first}–#{last}"),
        })
        .collect();
    if runs.len() > RUNS {
        shown.push(format!("{} more", runs.len() - RUNS));
    }
    shown.join(", ")
}

/// "❌ <b>linux-x64</b>: 3 builds (#3–#5), 2 failed (#4, #5), red since 03:12 (alice)".
fn builder_line(builder: &NightOfBuilder) -> String {
    let mut out = format!(
        "{} <b>{}</b>: {}",
        result_emoji(builder.last),
        escape(&short(&builder.name)),
        plural(builder.builds, "build", "builds")
    );
    if !builder.numbers.is_empty() {
        let _ = write!(out, " ({})", runs(&builder.numbers));
    }
    if !builder.failed.is_empty() {
        let links: Vec<String> = builder
            .failed
            .iter()
            .rev()
            .take(LINKED)
            .rev()
            .map(|(number, url)| link(url, &format!("#{number}")))
            .collect();
        let earlier = builder.failed.len().saturating_sub(LINKED);
        let more = if earlier > 0 {
            format!("{earlier} earlier, ")
        } else {
            String::new()
        };
        let _ = write!(
            out,
            ", {} failed ({more}{})",
            builder.failed.len(),
            links.join(", ")
        );
    }
    match (&builder.red, builder.recovered) {
        (Some(red), _) => {
            let _ = write!(out, ", {}", red_since(red));
        }
        (None, true) => out.push_str(", recovered"),
        (None, false) => {}
    }
    out
}

/// The digest of one chat's quiet hours, `builders` in the order shown. One message: lines
/// that would take it over Telegram's limit are left out and counted on the last line.
pub fn overnight_digest(builders: &[NightOfBuilder]) -> String {
    let mut out = headline(builders);
    // room for the last line, whatever the count
    let reserve = units("\n… and 999999 more builders");
    for (shown, builder) in builders.iter().enumerate() {
        let line = builder_line(builder);
        let left = builders.len() - shown;
        let room = if left == 1 { LIMIT } else { LIMIT - reserve };
        if units(&out) + 1 + units(&line) > room {
            let _ = write!(
                out,
                "\n… and {}",
                plural(left, "more builder", "more builders")
            );
            return out;
        }
        out.push('\n');
        out.push_str(&line);
    }
    out
}

/// The button under a digest that opens a failed build.
pub fn digest_build_button(builder: &str, number: i64, result: Outcome) -> String {
    format!("{} {} #{number}", result_emoji(result), short(builder))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NIGHT: i64 = 1_795_564_800; // a midnight UTC

    fn night(name: &str, builds: usize, last: Outcome, failed: &[i64]) -> NightOfBuilder {
        // the newest build is the last failed one, or the one after it when the night ends well
        let after = i64::from(!last.is_failure());
        let newest = failed
            .iter()
            .max()
            .map_or(builds as i64, |n| (n + after).max(builds as i64));
        NightOfBuilder {
            name: name.to_owned(),
            builds,
            numbers: (newest + 1 - builds as i64..=newest).collect(),
            last,
            failed: failed
                .iter()
                .map(|n| (*n, format!("http://bb.example/#/builders/1/builds/{n}")))
                .collect(),
            red: None,
            recovered: false,
        }
    }

    #[test]
    fn a_night_with_red_recovered_and_quiet_builders() {
        let red = NightOfBuilder {
            red: Some(RedSince::At(
                NIGHT + 3 * 3600 + 12 * 60,
                Some("alice <a@x>".into()),
            )),
            ..night("linux-x64", 5, Outcome::Failure, &[41, 44, 45])
        };
        let before = NightOfBuilder {
            red: Some(RedSince::Before),
            ..night("win_*[x]", 1, Outcome::Exception, &[7])
        };
        let docs = NightOfBuilder {
            recovered: true,
            ..night("docs", 2, Outcome::Success, &[12])
        };
        let many = NightOfBuilder {
            red: Some(RedSince::At(NIGHT + 60, None)),
            ..night("flaky", 9, Outcome::Failure, &[1, 2, 3, 4, 5, 6, 7, 8])
        };
        let quiet = night("runtests", 4, Outcome::Success, &[]);
        let warned = night("lint", 1, Outcome::Warnings, &[]);
        insta::assert_snapshot!(
            "digest_night",
            overnight_digest(&[red, before, many, docs, quiet, warned])
        );
        insta::assert_snapshot!(
            "digest_calm",
            overnight_digest(&[night("runtests", 1, Outcome::Success, &[])])
        );
        assert_eq!(
            digest_build_button("linux-x64", 45, Outcome::Failure),
            "❌ linux-x64 #45"
        );
    }

    #[test]
    fn a_long_night_is_cut_not_split() {
        let builders: Vec<NightOfBuilder> = (0..300)
            .map(|i| NightOfBuilder {
                red: Some(RedSince::At(NIGHT + i * 60, Some("bob".into()))),
                ..night(&format!("builder-{i:03}"), 2, Outcome::Failure, &[i, i + 1])
            })
            .collect();
        let text = overnight_digest(&builders);
        assert!(units(&text) <= LIMIT, "{}", units(&text));
        let last = text.lines().last().unwrap();
        let shown = text.lines().count() - 2;
        assert_eq!(last, format!("… and {} more builders", 300 - shown));
        assert!(shown > 10, "as many as fit: {shown}");
        insta::assert_snapshot!(
            "digest_cut_head",
            text.lines()
                .take(3)
                .chain([last])
                .collect::<Vec<_>>()
                .join("\n")
        );
        // exactly full: the last line fits without the reserve
        let one = overnight_digest(&builders[..1]);
        assert!(!one.contains("more builder"), "{one}");
    }

    #[test]
    fn a_long_name_is_cut_not_the_night() {
        let long = "x".repeat(5_000);
        let night = NightOfBuilder {
            name: long.clone(),
            builds: 2,
            numbers: vec![1, 2],
            last: Outcome::Failure,
            failed: vec![(2, "http://bb.example/#/builders/1/builds/2".into())],
            red: Some(RedSince::At(NIGHT + 60, Some(long.clone()))),
            recovered: false,
        };
        let text = overnight_digest(&[night]);
        assert!(units(&text) < LIMIT, "{} units", units(&text));
        assert!(
            text.contains(&format!("{}…", "x".repeat(NAME_MAX))),
            "{text}"
        );
        assert!(
            text.contains("(#2)") || text.contains("#2</a>"),
            "its line stays: {text}"
        );
        let button = digest_build_button(&long, 2, Outcome::Failure);
        assert!(button.chars().count() < 80, "{button}");
    }

    #[test]
    fn every_build_is_named_in_runs() {
        assert_eq!(runs(&[1, 2, 3, 5, 7, 8]), "#1–#3, #5, #7–#8");
        assert_eq!(runs(&[4]), "#4");
        let apart: Vec<i64> = (0..25).map(|i| i * 2).collect();
        let text = runs(&apart);
        assert!(text.ends_with(", #18, 15 more"), "{text}");
        assert_eq!(
            runs(&[i64::MAX - 1, i64::MAX]),
            format!("#{}–#{}", i64::MAX - 1, i64::MAX)
        );
    }
}
