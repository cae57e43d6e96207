//! Fair input: every person, and every chat, gets a budget of updates; what goes beyond it is
//! dropped before it reaches the dispatcher.
//!
//! A chat's updates wait for its turn (`turns.rs`), one at a time, and the bot answers at most
//! one message a second per chat (20 a minute in a group): without a budget, one person
//! sending 150 messages would keep 150 updates waiting in memory for minutes, hold one of the
//! places for updates handled at once all that time, and the answers to the flood would crowd
//! out notifications. With it, a flood costs its sender a few answers and one "slow down", and
//! everybody else is answered as if it were not there.
//!
//! Each budget is a token bucket: `capacity` updates at once, one more every `refill`. The
//! person is told to slow down once per flood (again only after their bucket filled up).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A person: a burst of 30 (filling in a `/force` form quickly is no flood), then one update
/// a second — the pace at which the bot may answer in one chat anyway.
const PERSON: Bucket = Bucket::new(30, Duration::from_secs(1));
/// A chat (a group shared by many people): a burst of 40, then one a second.
const CHAT: Bucket = Bucket::new(40, Duration::from_secs(1));
/// Idle budgets are forgotten once there are more than this many, so that chats which talked
/// once cost nothing.
const REMEMBERED: usize = 1_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    capacity: u32,
    refill: Duration,
}

impl Bucket {
    const fn new(capacity: u32, refill: Duration) -> Bucket {
        Bucket { capacity, refill }
    }
}

/// Where one person or chat stands: tokens at `at`, and whether they were told to slow down
/// during this flood.
#[derive(Clone, Copy, Debug)]
struct Level {
    tokens: f64,
    at: Instant,
    warned: bool,
}

impl Level {
    fn full(bucket: Bucket, now: Instant) -> Level {
        Level {
            tokens: f64::from(bucket.capacity),
            at: now,
            warned: false,
        }
    }

    /// Tokens earned since `at`, up to the capacity; a full bucket ends a flood.
    fn refill(&mut self, bucket: Bucket, now: Instant) {
        let earned =
            now.saturating_duration_since(self.at).as_secs_f64() / bucket.refill.as_secs_f64();
        self.tokens = (self.tokens + earned).min(f64::from(bucket.capacity));
        self.at = now;
        if self.tokens >= f64::from(bucket.capacity) {
            self.warned = false;
        }
    }

    fn is_full(&self, bucket: Bucket, now: Instant) -> bool {
        let mut copy = *self;
        copy.refill(bucket, now);
        copy.tokens >= f64::from(bucket.capacity)
    }
}

/// What to do with an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Admit,
    /// Over budget: drop it, and tell this chat to slow down (first drop of a flood).
    DropAndWarn,
    /// Over budget, already told: drop it quietly.
    Drop,
}

/// Every person's and chat's budget.
#[derive(Debug, Default)]
pub struct Budget {
    people: HashMap<u64, Level>,
    chats: HashMap<i64, Level>,
}

impl Budget {
    /// Admits an update from `person` (when Telegram names one) in `chat` at `now`, spending
    /// from both budgets; a dropped update spends nothing.
    pub fn admit(&mut self, person: Option<u64>, chat: Option<i64>, now: Instant) -> Admission {
        self.forget_idle(now);
        let mut levels: Vec<(&mut Level, Bucket)> = Vec::with_capacity(2);
        if let Some(id) = person {
            let level = self
                .people
                .entry(id)
                .or_insert_with(|| Level::full(PERSON, now));
            levels.push((level, PERSON));
        }
        if let Some(id) = chat {
            let level = self
                .chats
                .entry(id)
                .or_insert_with(|| Level::full(CHAT, now));
            levels.push((level, CHAT));
        }
        for (level, bucket) in &mut levels {
            level.refill(*bucket, now);
        }
        if levels.iter().all(|(level, _)| level.tokens >= 1.0) {
            for (level, _) in &mut levels {
                level.tokens -= 1.0;
            }
            return Admission::Admit;
        }
        let warned = levels.iter().any(|(level, _)| level.warned);
        for (level, _) in &mut levels {
            level.warned = true;
        }
        if warned {
            Admission::Drop
        } else {
            Admission::DropAndWarn
        }
    }

    fn forget_idle(&mut self, now: Instant) {
        if self.people.len() > REMEMBERED {
            self.people.retain(|_, l| !l.is_full(PERSON, now));
        }
        if self.chats.len() > REMEMBERED {
            self.chats.retain(|_, l| !l.is_full(CHAT, now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_after_the_burst_and_warned_once() {
        let mut budget = Budget::default();
        let start = Instant::now();
        let answers: Vec<Admission> = (0..150)
            .map(|_| budget.admit(Some(1), Some(1), start))
            .collect();
        assert!(answers[..30].iter().all(|a| *a == Admission::Admit));
        assert_eq!(answers[30], Admission::DropAndWarn);
        assert!(answers[31..].iter().all(|a| *a == Admission::Drop));
        // someone else, elsewhere, is not touched by it
        assert_eq!(budget.admit(Some(2), Some(2), start), Admission::Admit);
    }

    #[test]
    fn the_budget_refills_and_a_new_flood_is_warned_again() {
        let mut budget = Budget::default();
        let start = Instant::now();
        for _ in 0..31 {
            budget.admit(Some(1), Some(1), start);
        }
        let later = start + Duration::from_secs(1);
        assert_eq!(
            budget.admit(Some(1), Some(1), later),
            Admission::Admit,
            "one earned"
        );
        assert_eq!(
            budget.admit(Some(1), Some(1), later),
            Admission::Drop,
            "still the same flood"
        );
        let rested = later + Duration::from_secs(60);
        for _ in 0..30 {
            assert_eq!(budget.admit(Some(1), Some(1), rested), Admission::Admit);
        }
        assert_eq!(
            budget.admit(Some(1), Some(1), rested),
            Admission::DropAndWarn
        );
    }

    #[test]
    fn a_busy_group_is_limited_as_a_chat_too() {
        let mut budget = Budget::default();
        let now = Instant::now();
        let admitted = (0..100u64)
            .filter(|person| budget.admit(Some(*person), Some(-5), now) == Admission::Admit)
            .count();
        assert_eq!(admitted, 40, "the chat's burst");
        assert_eq!(budget.admit(Some(500), Some(-6), now), Admission::Admit);
        assert_eq!(
            budget.admit(None, None, now),
            Admission::Admit,
            "nobody to count"
        );
    }

    #[test]
    fn idle_budgets_are_forgotten() {
        let mut budget = Budget::default();
        let now = Instant::now();
        for person in 0..=REMEMBERED as u64 {
            budget.admit(Some(person), None, now);
        }
        let later = now + Duration::from_secs(60);
        budget.admit(Some(9_999_999), None, later);
        assert!(budget.people.len() <= 2, "{}", budget.people.len());
    }
}
