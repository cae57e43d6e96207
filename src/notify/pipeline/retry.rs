//! What the pipeline still owes: builds whose announcement failed, and a catch-up that stopped
//! half-way. Pure bookkeeping (no I/O, the time is passed in), so every rule is tested here.
//!
//! A failure is not the end of a build's announcement: the build waits here and is tried
//! again on a timer, with a backoff from [`FIRST_RETRY`] doubling up to [`RETRY_CAP`], while
//! later events are handled as they come. Only after `give_up_after` of failures is it given
//! up. Meanwhile the catch-up cursor must not move past it, or a restart of the bot would
//! never read it again: [`Pending::clamp`] keeps every cursor move below the oldest thing
//! owed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::buildbot::models::Build;
use crate::storage::Cursor;

/// How long after the first failure the first retry comes.
pub(super) const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two retries.
pub(super) const RETRY_CAP: Duration = Duration::from_secs(60);

/// The announcements a build is owed: its start, its end, or both (in that order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Owed {
    pub started: bool,
    pub finished: bool,
}

impl Owed {
    pub const START: Owed = Owed {
        started: true,
        finished: false,
    };
    pub const FINISH: Owed = Owed {
        started: false,
        finished: true,
    };
    pub const BOTH: Owed = Owed {
        started: true,
        finished: true,
    };

    fn and(self, other: Owed) -> Owed {
        Owed {
            started: self.started || other.started,
            finished: self.finished || other.finished,
        }
    }
}

impl fmt::Display for Owed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.started, self.finished) {
            (true, true) => "start and end",
            (true, false) => "start",
            _ => "end",
        })
    }
}

/// Failures in a row: since when, how many, and when to try again.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    since: Instant,
    failures: u32,
    due: Instant,
}

impl Backoff {
    fn first(now: Instant) -> Backoff {
        Backoff {
            since: now,
            failures: 1,
            due: now + delay(1),
        }
    }

    fn again(self, now: Instant) -> Backoff {
        let failures = self.failures.saturating_add(1);
        Backoff {
            failures,
            due: now + delay(failures),
            ..self
        }
    }

    fn after(backoff: Option<Backoff>, now: Instant) -> Backoff {
        backoff.map_or_else(|| Backoff::first(now), |b| b.again(now))
    }
}

/// The wait before the next try after `failures` failures in a row: 1 s, 2 s, 4 s, … 60 s.
fn delay(failures: u32) -> Duration {
    let doubled = FIRST_RETRY.saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled.min(RETRY_CAP)
}

/// A build whose announcement failed, as the last attempt left it.
#[derive(Debug, Clone)]
struct PendingBuild {
    build: Build,
    owed: Owed,
    backoff: Backoff,
}

/// What became of a failed build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Tried again after this long; the cursor stays before it meanwhile.
    RetryIn(Duration),
    /// Failing for `failing_for` (at least `give_up_after`), `failures` times: dropped.
    GiveUp {
        failing_for: Duration,
        failures: u32,
    },
}

/// How far the cursor may go while a catch-up is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// No catch-up owed.
    Free,
    /// Up to where the catch-up has read (what is after that, it has not).
    At(Cursor),
    /// Not at all: the catch-up has not even learned where it starts.
    Everything,
}

/// The builds and the catch-up the pipeline still owes.
#[derive(Debug)]
pub(super) struct Pending {
    builds: BTreeMap<i64, PendingBuild>,
    give_up_after: Duration,
    hold: Hold,
    /// Set while a failed catch-up waits for its next try.
    catch_up: Option<Backoff>,
}

impl Pending {
    pub fn new(give_up_after: Duration) -> Pending {
        Pending {
            builds: BTreeMap::new(),
            give_up_after,
            hold: Hold::Free,
            catch_up: None,
        }
    }

    /// What to attempt for `build` now that it is `owed` again: with what is still pending
    /// for it added, on the newest copy of it (a complete one over one that is not).
    pub fn merged(&self, build: &Build, owed: Owed) -> (Build, Owed) {
        match self.builds.get(&build.buildid) {
            None => (build.clone(), owed),
            Some(pending) => {
                let newest = if pending.build.complete && !build.complete {
                    &pending.build
                } else {
                    build
                };
                (newest.clone(), owed.and(pending.owed))
            }
        }
    }

    /// `build` is announced: nothing is owed for it any more. The failures it had, if any.
    pub fn settled(&mut self, buildid: i64) -> Option<u32> {
        self.builds.remove(&buildid).map(|p| p.backoff.failures)
    }

    /// An attempt for `build` failed with `owed` still to do: when to try again, or, after
    /// `give_up_after` of failures, that it is given up (and forgotten).
    pub fn failed(&mut self, build: &Build, owed: Owed, now: Instant) -> Verdict {
        let earlier = self.builds.get(&build.buildid).map(|p| p.backoff);
        let backoff = Backoff::after(earlier, now);
        let failing_for = now.saturating_duration_since(backoff.since);
        if failing_for >= self.give_up_after {
            self.builds.remove(&build.buildid);
            return Verdict::GiveUp {
                failing_for,
                failures: backoff.failures,
            };
        }
        let pending = PendingBuild {
            build: build.clone(),
            owed,
            backoff,
        };
        self.builds.insert(build.buildid, pending);
        Verdict::RetryIn(backoff.due - now)
    }

    /// The builds whose next try is due, oldest first, with what each is owed.
    pub fn due(&self, now: Instant) -> Vec<(Build, Owed)> {
        self.builds
            .values()
            .filter(|p| p.backoff.due <= now)
            .map(|p| (p.build.clone(), p.owed))
            .collect()
    }

    /// When the next retry (of a build or of the catch-up) is due.
    pub fn next_due(&self) -> Option<Instant> {
        let builds = self.builds.values().map(|p| p.backoff.due);
        builds.chain(self.catch_up.map(|b| b.due)).min()
    }

    /// A catch-up starts: until it has read where it starts, the cursor stays where it is.
    pub fn catch_up_started(&mut self) {
        self.hold = Hold::Everything;
    }

    /// The catch-up has read everything before `read`: the cursor may go that far.
    pub fn caught_up_to(&mut self, read: Cursor) {
        self.hold = Hold::At(read);
    }

    /// The catch-up finished: the cursor is free again.
    pub fn caught_up(&mut self) {
        self.hold = Hold::Free;
        self.catch_up = None;
    }

    /// The catch-up failed: it is tried again after the returned delay, and the cursor stays
    /// before what it did not read until one succeeds.
    pub fn catch_up_failed(&mut self, now: Instant) -> Duration {
        let backoff = Backoff::after(self.catch_up, now);
        self.catch_up = Some(backoff);
        backoff.due - now
    }

    /// Whether the failed catch-up's next try is due.
    pub fn catch_up_due(&self, now: Instant) -> bool {
        self.catch_up.is_some_and(|b| b.due <= now)
    }

    /// Where the cursor may move when asked to move to `to`: below every pending build (its id
    /// and its completion time, so both halves of a catch-up read it again), and no further
    /// than an unfinished catch-up has read. `None`: it must not move at all.
    pub fn clamp(&self, to: Cursor) -> Option<Cursor> {
        let mut to = match self.hold {
            Hold::Everything => return None,
            Hold::Free => to,
            Hold::At(read) => Cursor {
                last_buildid: to.last_buildid.min(read.last_buildid),
                last_complete_at: to.last_complete_at.min(read.last_complete_at),
            },
        };
        for pending in self.builds.values() {
            to.last_buildid = to.last_buildid.min(pending.build.buildid - 1);
            if let Some(at) = pending.build.complete_at {
                to.last_complete_at = to.last_complete_at.min(at - 1);
            }
        }
        Some(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(buildid: i64, complete_at: Option<i64>) -> Build {
        serde_json::from_value(serde_json::json!({"buildid": buildid, "number": buildid,
            "builderid": 1, "complete": complete_at.is_some(), "complete_at": complete_at}))
        .unwrap()
    }

    fn cursor(last_buildid: i64, last_complete_at: i64) -> Cursor {
        Cursor {
            last_buildid,
            last_complete_at,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn retries_back_off_to_a_cap_and_give_up_after_the_limit() {
        let mut pending = Pending::new(HOUR);
        let start = Instant::now();
        let a = build(7, Some(1_000));
        let mut now = start;
        let mut waits = Vec::new();
        loop {
            match pending.failed(&a, Owed::FINISH, now) {
                Verdict::RetryIn(wait) => {
                    assert!(pending.due(now).is_empty(), "not due before its time");
                    assert_eq!(pending.next_due(), Some(now + wait));
                    now += wait;
                    assert_eq!(pending.due(now).len(), 1, "due at its time");
                    waits.push(wait.as_secs());
                }
                Verdict::GiveUp {
                    failing_for,
                    failures,
                } => {
                    assert!(failing_for >= HOUR && failing_for < HOUR + RETRY_CAP);
                    assert_eq!(failures as usize, waits.len() + 1);
                    break;
                }
            }
        }
        assert_eq!(waits[..8], [1, 2, 4, 8, 16, 32, 60, 60]);
        assert!(waits.iter().all(|w| *w <= 60));
        assert_eq!(pending.next_due(), None, "a build given up is forgotten");
        assert_eq!(pending.clamp(cursor(9, 2_000)), Some(cursor(9, 2_000)));
    }

    #[test]
    fn a_build_that_went_through_is_forgotten_and_others_wait_on_their_own() {
        let mut pending = Pending::new(HOUR);
        let now = Instant::now();
        let (a, b) = (build(7, Some(1_000)), build(8, None));
        assert_eq!(
            pending.failed(&a, Owed::FINISH, now),
            Verdict::RetryIn(FIRST_RETRY)
        );
        let later = now + Duration::from_millis(500);
        pending.failed(&b, Owed::START, later);
        let due: Vec<i64> = pending
            .due(now + FIRST_RETRY)
            .iter()
            .map(|(b, _)| b.buildid)
            .collect();
        assert_eq!(due, [7], "each build has its own schedule");
        assert_eq!(pending.settled(7), Some(1));
        assert_eq!(pending.settled(7), None);
        assert_eq!(pending.next_due(), Some(later + FIRST_RETRY));
    }

    #[test]
    fn a_new_event_for_a_pending_build_adds_to_what_it_is_owed() {
        let mut pending = Pending::new(HOUR);
        let running = build(7, None);
        let finished = build(7, Some(1_000));
        let (same, owed) = pending.merged(&running, Owed::START);
        assert_eq!(
            (same.complete, owed),
            (false, Owed::START),
            "nothing pending"
        );
        pending.failed(&running, Owed::START, Instant::now());
        let (newest, owed) = pending.merged(&finished, Owed::FINISH);
        assert_eq!(
            (newest.complete, owed),
            (true, Owed::BOTH),
            "start, then end"
        );
        // a retry with the complete copy pending keeps it over an older, running one
        pending.failed(&finished, Owed::BOTH, Instant::now());
        assert!(pending.merged(&running, Owed::START).0.complete);
        assert_eq!(Owed::BOTH.to_string(), "start and end");
    }

    #[test]
    fn the_cursor_stays_below_the_oldest_pending_build() {
        let mut pending = Pending::new(HOUR);
        let now = Instant::now();
        assert_eq!(pending.clamp(cursor(50, 5_000)), Some(cursor(50, 5_000)));
        pending.failed(&build(20, Some(2_000)), Owed::FINISH, now);
        pending.failed(&build(10, None), Owed::START, now);
        assert_eq!(
            pending.clamp(cursor(50, 5_000)),
            Some(cursor(9, 1_999)),
            "below build 10's id, below build 20's completion"
        );
        assert_eq!(
            pending.clamp(cursor(5, 1_000)),
            Some(cursor(5, 1_000)),
            "what is below already stays"
        );
        pending.settled(10);
        assert_eq!(pending.clamp(cursor(50, 5_000)), Some(cursor(19, 1_999)));
        pending.settled(20);
        assert_eq!(pending.clamp(cursor(50, 5_000)), Some(cursor(50, 5_000)));
    }

    #[test]
    fn an_unfinished_catch_up_holds_the_cursor_where_it_stopped_reading() {
        let mut pending = Pending::new(HOUR);
        let now = Instant::now();
        pending.catch_up_started();
        assert_eq!(
            pending.clamp(cursor(50, 5_000)),
            None,
            "where it starts is unknown"
        );
        pending.caught_up_to(cursor(30, 3_000));
        let wait = pending.catch_up_failed(now);
        assert_eq!(wait, FIRST_RETRY);
        assert_eq!(pending.clamp(cursor(50, 5_000)), Some(cursor(30, 3_000)));
        pending.failed(&build(25, Some(2_500)), Owed::FINISH, now);
        assert_eq!(pending.clamp(cursor(50, 5_000)), Some(cursor(24, 2_499)));
        assert!(!pending.catch_up_due(now));
        assert!(pending.catch_up_due(now + wait));
        assert_eq!(pending.catch_up_failed(now + wait), 2 * FIRST_RETRY);
        pending.caught_up();
        assert!(
            !pending.catch_up_due(now + HOUR),
            "never again once it went through"
        );
        assert_eq!(pending.clamp(cursor(50, 5_000)), Some(cursor(24, 2_499)));
    }
}
