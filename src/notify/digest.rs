//! The morning digest's composer: one chat's kept build results (`storage::digest`) → one
//! [`Notification`]: a [`NightOfBuilder`] per builder for the text, and a button for each
//! failed build (where Telegram takes URL buttons for the master's address).
//!
//! Which rows make which lines:
//! - a builder's builds are read in build-number order; its newest result leads its line;
//! - failed means a failure or an exception, as in failure messages;
//! - *red*: the newest build failed. Since the first failure of the run that ends the night,
//!   and its owner; "since before the quiet hours" when that run began with the night's first
//!   build and the build before it had failed too;
//! - *recovered*: the newest build did not fail, but an earlier one did (or, for the night's
//!   first build, the one before it);
//! - red builders come first (the longest red first), then recovered ones, then the rest, each
//!   group by name.

use std::collections::BTreeMap;

use crate::delivery::actions::{self, Action, Notification};
use crate::outcome::Outcome;
use crate::storage::DigestEntry;
use crate::text::{self, NightOfBuilder, RedSince};

/// One chat's digest of `entries` (its kept results, in any order).
pub fn compose(entries: &[DigestEntry]) -> Notification {
    let mut by_builder: BTreeMap<&str, Vec<&DigestEntry>> = BTreeMap::new();
    for entry in entries {
        by_builder.entry(&entry.builder).or_default().push(entry);
    }
    let mut nights: Vec<(NightOfBuilder, Vec<&DigestEntry>)> = by_builder
        .into_values()
        .map(|mut builds| {
            builds.sort_by_key(|b| b.number);
            (night_of(&builds), builds)
        })
        .collect();
    nights.sort_by_key(|(night, _)| order(night));
    let buttons = nights
        .iter()
        .flat_map(|(_, builds)| builds.iter().filter(|b| b.result.is_failure()))
        .filter(|b| actions::button_url(&b.url).is_some())
        .take(actions::MAX_BUTTONS)
        .map(|b| Action::OpenBuild {
            label: text::digest_build_button(&b.builder, b.number, b.result),
            url: b.url.clone(),
        })
        .collect();
    let nights: Vec<NightOfBuilder> = nights.into_iter().map(|(night, _)| night).collect();
    Notification::new(text::overnight_digest(&nights), buttons)
}

/// Red first (the oldest red first), then recovered, then the rest; by name within each.
fn order(night: &NightOfBuilder) -> (u8, i64, String) {
    let (group, since) = match (&night.red, night.recovered) {
        (Some(RedSince::Before), _) => (0, i64::MIN),
        (Some(RedSince::At(at, _)), _) => (0, *at),
        (None, true) => (1, 0),
        (None, false) => (2, 0),
    };
    (group, since, night.name.clone())
}

/// One builder's night from its builds, in build-number order (at least one). Builds that
/// say nothing about the code (cancelled, skipped, retried) neither start nor end a run.
fn night_of(builds: &[&DigestEntry]) -> NightOfBuilder {
    let failed_before = builds
        .first()
        .and_then(|b| b.previous)
        .is_some_and(Outcome::is_failure);
    let last = builds.last().map_or(Outcome::Unknown(-1), |b| b.result);
    let judged: Vec<&&DigestEntry> = builds
        .iter()
        .filter(|b| b.result.is_good() || b.result.is_failure())
        .collect();
    let red_now = judged.last().is_some_and(|b| b.result.is_failure());
    // where the run of failures that ends the night begins
    let run = judged
        .iter()
        .rposition(|b| b.result.is_good())
        .map_or(0, |i| i + 1);
    let red = match judged.get(run) {
        Some(_) if !red_now => None,
        Some(_) if run == 0 && failed_before => Some(RedSince::Before),
        Some(first) => Some(RedSince::At(first.complete_at, first.owner.clone())),
        None => None,
    };
    let failed: Vec<(i64, String)> = builds
        .iter()
        .filter(|b| b.result.is_failure())
        .map(|b| (b.number, b.url.clone()))
        .collect();
    let passed_last = judged.last().is_some_and(|b| b.result.is_good());
    NightOfBuilder {
        name: builds
            .first()
            .map(|b| b.builder.clone())
            .unwrap_or_default(),
        builds: builds.len(),
        numbers: builds.iter().map(|b| b.number).collect(),
        last,
        recovered: passed_last && (failed_before || !failed.is_empty()),
        red,
        failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NIGHT: i64 = 1_795_564_800;

    fn entry(builder: &str, number: i64, result: Outcome) -> DigestEntry {
        DigestEntry {
            buildid: number * 10,
            builder: builder.to_owned(),
            number,
            result,
            previous: None,
            complete_at: NIGHT + number * 60,
            owner: Some(format!("owner of #{number}")),
            url: format!("http://bb.example/#/builders/1/builds/{number}"),
        }
    }

    fn nights(entries: &[DigestEntry]) -> Vec<NightOfBuilder> {
        let mut by: BTreeMap<&str, Vec<&DigestEntry>> = BTreeMap::new();
        for e in entries {
            by.entry(&e.builder).or_default().push(e);
        }
        by.into_values()
            .map(|mut b| {
                b.sort_by_key(|e| e.number);
                night_of(&b)
            })
            .collect()
    }

    #[test]
    fn red_since_the_first_failure_of_the_last_run_with_its_owner() {
        use Outcome::*;
        // given out of order: the composer sorts by number
        let rows = [
            entry("linux", 4, Failure),
            entry("linux", 2, Success),
            entry("linux", 1, Failure),
            entry("linux", 3, Exception),
        ];
        let [linux] = &nights(&rows)[..] else {
            panic!()
        };
        assert_eq!(
            linux.red,
            Some(RedSince::At(NIGHT + 180, Some("owner of #3".into())))
        );
        assert_eq!(
            (linux.builds, linux.last, linux.recovered),
            (4, Failure, false)
        );
        let failed: Vec<i64> = linux.failed.iter().map(|(n, _)| *n).collect();
        assert_eq!(failed, [1, 3, 4]);
    }

    #[test]
    fn recovered_and_red_all_night_need_the_build_before_the_night() {
        use Outcome::*;
        let before_red = DigestEntry {
            previous: Some(Failure),
            ..entry("docs", 1, Success)
        };
        let [docs] = &nights(&[before_red])[..] else {
            panic!()
        };
        assert!(docs.recovered && docs.red.is_none() && docs.failed.is_empty());

        let still = DigestEntry {
            previous: Some(Exception),
            ..entry("win", 5, Failure)
        };
        let [win] = &nights(&[still, entry("win", 6, Failure)])[..] else {
            panic!()
        };
        assert_eq!(win.red, Some(RedSince::Before));

        let unknown = entry("mac", 5, Failure); // previous not known: red since this one
        let [mac] = &nights(&[unknown])[..] else {
            panic!()
        };
        assert_eq!(
            mac.red,
            Some(RedSince::At(NIGHT + 300, Some("owner of #5".into())))
        );

        let green = [entry("ok", 1, Success), entry("ok", 2, Warnings)];
        let [ok] = &nights(&green)[..] else { panic!() };
        assert!(!ok.recovered && ok.red.is_none());
        assert_eq!(ok.last, Warnings);
        let back = [entry("back", 1, Failure), entry("back", 2, Cancelled)];
        let [back] = &nights(&back)[..] else { panic!() };
        assert!(
            !back.recovered && matches!(back.red, Some(RedSince::At(..))),
            "a cancelled build says nothing: still red"
        );
        let fixed = [
            entry("fixed", 1, Failure),
            entry("fixed", 2, Success),
            entry("fixed", 3, Cancelled),
        ];
        let [fixed] = &nights(&fixed)[..] else {
            panic!()
        };
        assert!(
            fixed.recovered && fixed.red.is_none(),
            "cancelled after the fix"
        );
    }

    #[test]
    fn a_digest_orders_builders_and_offers_the_failed_builds() {
        use Outcome::*;
        let rows = [
            entry("zeta", 1, Success),
            entry("docs", 2, Failure),
            entry("docs", 3, Success),
            entry("late-red", 9, Failure),
            entry("early-red", 4, Failure),
            entry("alpha", 5, Success),
        ];
        let digest = compose(&rows);
        let names: Vec<&str> = digest
            .text
            .lines()
            .skip(1)
            .map(|l| l.split("<b>").nth(1).unwrap().split("</b>").next().unwrap())
            .collect();
        assert_eq!(names, ["early-red", "late-red", "docs", "alpha", "zeta"]);
        assert!(
            digest
                .text
                .starts_with("🌙 Overnight: 6 builds, 3 failed — "),
            "{}",
            digest.text
        );
        let labels: Vec<&str> = digest
            .actions
            .iter()
            .map(|a| match a {
                Action::OpenBuild { label, .. } => label.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(labels, ["❌ early-red #4", "❌ late-red #9", "❌ docs #2"]);
    }

    #[test]
    fn no_buttons_where_telegram_takes_none_but_the_links_stay() {
        let local = DigestEntry {
            url: "http://localhost:8010/#/builders/1/builds/2".into(),
            ..entry("failing", 2, Outcome::Failure)
        };
        let digest = compose(&[local]);
        assert!(digest.actions.is_empty());
        assert_eq!(
            digest
                .text
                .matches("http://localhost:8010/#/builders/1/builds/2")
                .count(),
            1,
            "linked once, on the builder's line: {}",
            digest.text
        );
    }

    #[test]
    fn many_failures_get_at_most_a_keyboard_of_buttons() {
        let rows: Vec<DigestEntry> = (0..250)
            .map(|n| entry(&format!("b{}", n % 7), n, Outcome::Failure))
            .collect();
        let digest = compose(&rows);
        assert_eq!(digest.actions.len(), actions::MAX_BUTTONS);
        assert!(digest.text.chars().map(char::len_utf16).sum::<usize>() <= 4096);
    }
}
