//! A builder's recent finished builds, and what they say about one of them: a new failure, a
//! failure that goes on since some build, a recovery, a flaky builder.
//!
//! Pure: the pipeline reads the builds from the master once per builder, adds each build it
//! announces, and asks the master again only when the window does not reach the start of a
//! run of failures (`Needs::Older`) or when builds are missing from it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::buildbot::PastBuild;
use crate::outcome::Outcome;
use crate::settings::FlakySettings;
use crate::text::{Flaky, Story, Streak};

/// Every builder's history, shared by the pipeline (which keeps them up to date) and
/// `/flaky` (which reads them, and adds those it had to read).
#[derive(Clone, Default)]
pub struct Histories(Arc<Mutex<HashMap<i64, History>>>);

impl Histories {
    pub fn get(&self, builderid: i64) -> Option<History> {
        self.lock().get(&builderid).cloned()
    }

    pub fn put(&self, builderid: i64, history: History) {
        self.lock().insert(builderid, history);
    }

    /// Keeps the authors of build `buildid`, a run's first failure, in its builder's history.
    pub fn set_culprits(&self, builderid: i64, buildid: i64, authors: Vec<String>) {
        if let Some(history) = self.lock().get_mut(&builderid) {
            history.set_culprits(buildid, authors);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, History>> {
        // a panic elsewhere leaves the map as it was: still usable
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The recent finished builds of one builder, oldest first by number.
#[derive(Debug, Clone, Default)]
pub struct History {
    builds: VecDeque<PastBuild>,
    /// How many builds are kept.
    window: usize,
    /// Every build the builder ever finished is in `builds` (the master gave fewer than asked).
    from_start: bool,
    /// The first failure of the current run, when it is older than `builds` (asked for).
    red_since: Option<PastBuild>,
    /// The authors of the first failure of the current run, by its build id.
    culprits: Option<(i64, Vec<String>)>,
}

/// What [`History::story`] needs besides what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needs {
    /// The run of failures starts before the oldest build held, numbered so.
    Older(i64),
    /// The authors of the first failure (its build id).
    Culprits(i64),
}

/// Passing, failing, or saying nothing about the code (skipped, cancelled, retried).
fn verdict(result: Outcome) -> Option<bool> {
    match result {
        r if r.is_good() => Some(true),
        r if r.is_failure() => Some(false),
        _ => None,
    }
}

/// Builds kept per builder even with flaky detection off: enough for the usual story.
const AT_LEAST: usize = 5;

impl History {
    /// How many builds a history keeps with these settings.
    pub fn window(settings: &FlakySettings) -> usize {
        settings.window.max(AT_LEAST)
    }

    /// From the master's answer (any order), which asked for `window` builds.
    pub fn new(mut builds: Vec<PastBuild>, window: usize) -> History {
        let from_start = builds.len() < window.max(1);
        builds.sort_by_key(|b| b.number);
        builds.dedup_by_key(|b| b.number);
        let mut history = History {
            builds: builds.into(),
            window: window.max(1),
            from_start,
            red_since: None,
            culprits: None,
        };
        history.trim();
        history
    }

    /// Can build `number` be added without leaving a hole? (Builds of a builder can end out
    /// of order; a build after a gap means builds the bot did not see.)
    pub fn fits(&self, number: i64) -> bool {
        self.builds
            .back()
            .is_some_and(|newest| number <= newest.number.saturating_add(1))
            || (self.builds.is_empty() && self.from_start)
    }

    /// Adds (or replaces) a finished build.
    pub fn add(&mut self, build: PastBuild) {
        match self
            .builds
            .binary_search_by_key(&build.number, |b| b.number)
        {
            Ok(at) => self.builds[at] = build,
            Err(at) => self.builds.insert(at, build),
        }
        self.trim();
    }

    fn trim(&mut self) {
        while self.builds.len() > self.window {
            let dropped = self.builds.pop_front();
            self.from_start = false;
            // the run found before the window started after a pass that is now gone too
            if dropped.is_some_and(|b| b.result.is_good()) {
                self.red_since = None;
            }
        }
    }

    /// The run of failures starts with `first`, as read from the master (`None`: the master
    /// knows of none, so the oldest failure held stands for it).
    pub fn set_red_since(&mut self, first: Option<PastBuild>) {
        let oldest = || self.builds.iter().find(|b| b.result.is_failure()).cloned();
        self.red_since = first.or_else(oldest);
    }

    pub fn set_culprits(&mut self, buildid: i64, authors: Vec<String>) {
        self.culprits = Some((buildid, authors));
    }

    /// The builds held before the one at `at` that count for it, newest first: passed or
    /// failed, on its branch (a build without a branch, e.g. forced without one, counts for
    /// every branch and every branch for it).
    fn judged_before(&self, at: usize) -> impl Iterator<Item = &PastBuild> {
        let branch = &self.builds[at].branch;
        self.builds.range(..at).rev().filter(move |b| {
            verdict(b.result).is_some()
                && (branch.is_none() || b.branch.is_none() || b.branch == *branch)
        })
    }

    /// The first failure of the run that the build at `at` ends or goes on, and whether that
    /// is known without asking: `Err(Needs)` when not.
    fn first_failure(&self, at: usize) -> Result<Option<&PastBuild>, Needs> {
        let mut first = None;
        for build in self.judged_before(at) {
            if build.result.is_good() {
                return Ok(first);
            }
            first = Some(build);
        }
        if self.from_start {
            return Ok(first);
        }
        match (&self.red_since, self.builds.front()) {
            (Some(since), _) => Ok(Some(since)),
            (None, Some(oldest)) => Err(Needs::Older(oldest.number)),
            (None, None) => Ok(first),
        }
    }

    /// What build `number` (held) means for its builder; `Err` says what to ask first.
    pub fn story(&self, number: i64) -> Result<Option<Story>, Needs> {
        let Ok(at) = self.builds.binary_search_by_key(&number, |b| b.number) else {
            return Ok(None);
        };
        let build = &self.builds[at];
        let Some(passed) = verdict(build.result) else {
            return Ok(None);
        };
        let before = self.judged_before(at).next();
        match (passed, before.map(|b| b.result.is_good())) {
            (false, Some(true)) => Ok(Some(Story::NewFailure {
                last_good: before.map(|b| b.number),
            })),
            (false, _) => match self.first_failure(at)? {
                // only builds that say nothing since the last pass: this one is the first
                Some(first) if first.number < number => {
                    Ok(Some(Story::StillFailing(self.failing(first, build)?)))
                }
                _ => Ok(Some(Story::NewFailure { last_good: None })),
            },
            (true, Some(false)) => Ok(self
                .first_failure(at)?
                .filter(|first| first.number < number)
                .map(|first| {
                    let builds = build.number.saturating_sub(first.number);
                    Story::Recovered(streak(first, build, builds, Vec::new()))
                })),
            (true, _) => Ok(None),
        }
    }

    /// A run of failures from `first` that `build` goes on.
    fn failing(&self, first: &PastBuild, build: &PastBuild) -> Result<Streak, Needs> {
        let authors = match &self.culprits {
            Some((id, authors)) if *id == first.buildid => authors.clone(),
            _ => return Err(Needs::Culprits(first.buildid)),
        };
        let builds = build.number.saturating_sub(first.number).saturating_add(1);
        Ok(streak(first, build, builds, authors))
    }

    /// Is the builder flaky, judged on the builds held? `None` when not (or detection off).
    /// A failure whose revision passed later counts as passed on rebuild (an exception, often
    /// the machine's fault, does not); flips are counted within each branch.
    pub fn flaky(&self, settings: &FlakySettings) -> Option<Flaky> {
        if settings.window == 0 {
            return None;
        }
        let judged: Vec<&PastBuild> = self
            .builds
            .iter()
            .filter(|b| verdict(b.result).is_some())
            .collect();
        let failed = judged.iter().filter(|b| b.result.is_failure()).count();
        let rebuilt = judged
            .iter()
            .enumerate()
            .filter(|(i, b)| {
                b.result == Outcome::Failure
                    && b.revision.is_some()
                    && judged[i + 1..]
                        .iter()
                        .any(|later| later.result.is_good() && later.revision == b.revision)
            })
            .count();
        let mut last: HashMap<Option<&str>, bool> = HashMap::new();
        let mut flips = 0;
        for build in &judged {
            let good = build.result.is_good();
            if last
                .insert(build.branch.as_deref(), good)
                .is_some_and(|was| was != good)
            {
                flips += 1;
            }
        }
        let by_rebuilds = settings.rebuilds > 0 && rebuilt >= settings.rebuilds;
        let by_flips = settings.flips > 0 && flips >= settings.flips;
        (by_rebuilds || by_flips).then_some(Flaky {
            of: self.builds.len(),
            failed,
            rebuilt,
            flips,
        })
    }
}

/// A run of failures from `first` to `build`, counted as `builds`, started by `authors`' changes.
fn streak(first: &PastBuild, build: &PastBuild, builds: i64, authors: Vec<String>) -> Streak {
    Streak {
        since: first.number,
        seconds: build.complete_at.saturating_sub(first.complete_at),
        builds,
        authors,
        revision: first.revision.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAIL: Outcome = Outcome::Failure;
    const PASS: Outcome = Outcome::Success;
    const SKIP: Outcome = Outcome::Cancelled;

    fn past(number: i64, result: Outcome, revision: &str) -> PastBuild {
        PastBuild {
            buildid: 100 + number,
            number,
            result,
            complete_at: 1_000 + number * 600,
            revision: (!revision.is_empty()).then(|| revision.to_owned()),
            branch: None,
        }
    }

    fn history(results: &[(Outcome, &str)], window: usize) -> History {
        let builds = results
            .iter()
            .enumerate()
            .map(|(i, (r, rev))| past(i as i64 + 1, *r, rev))
            .collect();
        History::new(builds, window)
    }

    const FLAKY: FlakySettings = FlakySettings {
        window: 20,
        flips: 6,
        rebuilds: 1,
    };

    #[test]
    fn a_failure_after_a_pass_is_new() {
        let h = history(&[(PASS, ""), (SKIP, ""), (FAIL, "")], 20);
        assert_eq!(
            h.story(3),
            Ok(Some(Story::NewFailure { last_good: Some(1) }))
        );
        let first = history(&[(FAIL, "")], 20);
        assert_eq!(
            first.story(1),
            Ok(Some(Story::NewFailure { last_good: None }))
        );
        assert_eq!(h.story(1), Ok(None), "a pass after nothing says nothing");
        assert_eq!(h.story(2), Ok(None), "a cancelled build says nothing");
    }

    #[test]
    fn a_failure_that_goes_on_names_its_first_build_and_culprits() {
        let mut h = history(&[(PASS, ""), (FAIL, "abc"), (SKIP, ""), (FAIL, "def")], 20);
        assert_eq!(h.story(4), Err(Needs::Culprits(102)));
        h.set_culprits(102, vec!["alice".into()]);
        let Ok(Some(Story::StillFailing(streak))) = h.story(4) else {
            panic!("{:?}", h.story(4));
        };
        assert_eq!((streak.since, streak.builds, streak.seconds), (2, 3, 1_200));
        assert_eq!(streak.authors, ["alice"]);
        assert_eq!(streak.revision.as_deref(), Some("abc"));
    }

    #[test]
    fn a_recovery_says_how_long_and_how_many() {
        let h = history(&[(PASS, ""), (FAIL, ""), (FAIL, ""), (PASS, "")], 20);
        let Ok(Some(Story::Recovered(streak))) = h.story(4) else {
            panic!("{:?}", h.story(4));
        };
        assert_eq!((streak.since, streak.builds, streak.seconds), (2, 2, 1_200));
    }

    #[test]
    fn a_run_older_than_the_window_is_asked_for_once() {
        // a full window of failures: the run started before it
        let mut h = history(&[(FAIL, ""), (FAIL, ""), (FAIL, "")], 3);
        assert_eq!(h.story(3), Err(Needs::Older(1)));
        let mut first = past(0, FAIL, "old");
        first.number = -5;
        h.set_red_since(Some(first));
        h.set_culprits(first_id(&h), vec!["bob".into()]);
        let Ok(Some(Story::StillFailing(streak))) = h.story(3) else {
            panic!("{:?}", h.story(3));
        };
        assert_eq!((streak.since, streak.builds), (-5, 9));
        // a pass in the window ends the older run
        h.add(past(4, PASS, ""));
        assert!(matches!(h.story(4), Ok(Some(Story::Recovered(_)))));
        h.add(past(5, FAIL, ""));
        assert_eq!(
            h.story(5),
            Ok(Some(Story::NewFailure { last_good: Some(4) }))
        );
    }

    fn first_id(h: &History) -> i64 {
        h.red_since.as_ref().unwrap().buildid
    }

    #[test]
    fn builds_of_other_branches_do_not_count() {
        let on = |number: i64, result, branch: &str| PastBuild {
            branch: Some(branch.to_owned()),
            ..past(number, result, "")
        };
        // main passes, a pull request fails in between, main fails: new on main
        let mut h = History::new(vec![on(1, PASS, "main"), on(2, FAIL, "pr/7")], 20);
        h.add(on(3, FAIL, "main"));
        assert_eq!(
            h.story(3),
            Ok(Some(Story::NewFailure { last_good: Some(1) }))
        );
        // main and a pull request taking turns is not a builder that flips
        let mut turns = History::new(Vec::new(), 20);
        for n in 1..=8 {
            let (result, branch) = if n % 2 == 0 {
                (PASS, "main")
            } else {
                (FAIL, "pr/7")
            };
            turns.add(on(n, result, branch));
        }
        assert_eq!(turns.flaky(&FLAKY), None);
    }

    #[test]
    fn a_failure_after_only_cancelled_builds_is_new() {
        // the pass is out of the window, the builds since were cancelled: the master's
        // first failure after the pass is this very build
        let mut h = history(&[(PASS, ""), (SKIP, ""), (SKIP, ""), (FAIL, "")], 3);
        assert_eq!(h.story(4), Err(Needs::Older(2)));
        h.set_red_since(Some(past(4, FAIL, "")));
        assert_eq!(h.story(4), Ok(Some(Story::NewFailure { last_good: None })));
    }

    #[test]
    fn an_exception_that_passed_on_rebuild_is_not_a_flake() {
        let h = history(&[(PASS, "a"), (Outcome::Exception, "b"), (PASS, "b")], 20);
        assert_eq!(h.flaky(&FLAKY), None, "the machine's fault, not the code's");
    }

    #[test]
    fn holes_and_order() {
        let mut h = history(&[(PASS, ""), (PASS, "")], 20);
        assert!(h.fits(3) && h.fits(1) && !h.fits(5));
        h.add(past(3, FAIL, ""));
        h.add(past(3, FAIL, "again"));
        assert_eq!(h.builds.len(), 3, "a build added twice is kept once");
        assert!(
            History::new(Vec::new(), 20).fits(1),
            "a builder that never built"
        );
        let mut window = history(&[(PASS, ""), (PASS, "")], 2);
        window.add(past(3, PASS, ""));
        assert_eq!(window.builds.front().map(|b| b.number), Some(2));
    }

    #[test]
    fn flaky_by_rebuild_or_by_flips() {
        let rebuilt = history(&[(PASS, "a"), (FAIL, "b"), (PASS, "b")], 20);
        assert_eq!(
            rebuilt.flaky(&FLAKY),
            Some(Flaky {
                of: 3,
                failed: 1,
                rebuilt: 1,
                flips: 2
            })
        );
        let fixed = history(&[(PASS, "a"), (FAIL, "b"), (PASS, "c")], 20);
        assert_eq!(fixed.flaky(&FLAKY), None, "a fix is not a flake");
        let unknown = history(&[(FAIL, ""), (PASS, "")], 20);
        assert_eq!(unknown.flaky(&FLAKY), None, "no revision, no comparison");
        let flipping: Vec<(Outcome, &str)> = (0..8)
            .map(|i| (if i % 2 == 0 { PASS } else { FAIL }, ""))
            .collect();
        let flips = history(&flipping, 20).flaky(&FLAKY).expect("7 flips");
        assert_eq!((flips.flips, flips.failed, flips.of), (7, 4, 8));
        let off = FlakySettings { window: 0, ..FLAKY };
        assert_eq!(rebuilt.flaky(&off), None);
    }
}
