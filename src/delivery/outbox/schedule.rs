//! Which waiting message goes next: the worker's bookkeeping, kept apart from Telegram and
//! the storage so that it can be tested as plain data.
//!
//! Every chat has its own line. Its oldest waiting message goes first and never two at once,
//! so the chat sees its notifications in the order they were queued; a chat that failed waits
//! out its own backoff while every other chat goes on.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::storage::{Chat, OutboxRow};

/// What became of a message the worker started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Settled (Telegram took it, it was dropped, or it moved to another chat) and its row is
    /// gone or moved: the chat's next message may go at once.
    Settled,
    /// Settled, but its row could not be deleted. It is never sent again by this process (a
    /// chat flooded with copies is worse than a row left over); deleting it is retried, and a
    /// restart before that works sends it once more.
    NotDeleted,
    /// Trouble that may pass: the message stays first in its chat's line and the chat waits a
    /// backoff that grows with the message's failures.
    Failed,
}

/// The schedule: which chats are busy or waiting, and which rows must not be sent again.
#[derive(Debug, Default)]
pub(super) struct Schedule {
    /// Chats with a message in flight.
    busy: HashSet<Chat>,
    /// Chats waiting out a backoff, and until when.
    not_before: HashMap<Chat, Instant>,
    /// Transient failures of each row so far: the backoff grows with them. In memory only,
    /// because `give_up_after` counts from the row's `created_at`, which the storage keeps.
    failures: HashMap<i64, u32>,
    /// Rows that were settled but could not be deleted.
    undeleted: BTreeSet<i64>,
}

/// The wait before a message's next attempt after its `failures`-th transient failure: 1 s,
/// doubling, at most a minute.
pub(super) fn backoff(failures: u32) -> Duration {
    Duration::from_millis(500u64 << failures.clamp(1, 7)).min(Duration::from_secs(60))
}

/// Up to a quarter more, so that chats that failed together do not all come back together.
fn jitter(wait: Duration) -> Duration {
    Duration::from_millis(rand::random::<u64>() % (wait.as_millis() as u64 / 4 + 1))
}

impl Schedule {
    /// The chats that may not start a message at `now`: busy, or waiting out a backoff.
    /// Backoffs that have ended are forgotten here.
    pub fn held(&mut self, now: Instant) -> Vec<Chat> {
        self.not_before.retain(|_, at| *at > now);
        let mut held: Vec<Chat> = self.busy.iter().cloned().collect();
        held.extend(
            self.not_before
                .keys()
                .filter(|chat| !self.busy.contains(*chat))
                .cloned(),
        );
        held
    }

    /// The rows that must not be sent again.
    pub fn undeleted(&self) -> Vec<i64> {
        self.undeleted.iter().copied().collect()
    }

    /// Out of `rows` (waiting messages in the order they were queued), the ones to start at
    /// `now`, at most `free`: each the oldest of its chat, for a chat neither busy nor waiting.
    /// Their chats are busy from here until [`Schedule::finished`].
    pub fn start(&mut self, rows: Vec<OutboxRow>, now: Instant, free: usize) -> Vec<OutboxRow> {
        let mut seen = HashSet::new();
        let mut started = Vec::new();
        for row in rows {
            if started.len() == free {
                break;
            }
            if self.undeleted.contains(&row.id) || !seen.insert(row.chat.clone()) {
                continue;
            }
            let waiting = self.not_before.get(&row.chat).is_some_and(|at| *at > now);
            if waiting || self.busy.contains(&row.chat) {
                continue;
            }
            self.busy.insert(row.chat.clone());
            started.push(row);
        }
        started
    }

    /// The message `row` to `chat` came back at `now` with `outcome`; returns how long the
    /// chat now waits, if it failed.
    pub fn finished(
        &mut self,
        chat: &Chat,
        row: i64,
        outcome: Outcome,
        now: Instant,
    ) -> Option<Duration> {
        self.busy.remove(chat);
        if outcome != Outcome::Failed {
            self.failures.remove(&row);
            self.not_before.remove(chat);
            if outcome == Outcome::NotDeleted {
                self.undeleted.insert(row);
            }
            return None;
        }
        let failures = self.failures.entry(row).or_default();
        *failures = failures.saturating_add(1);
        let wait = backoff(*failures);
        let wait = wait + jitter(wait);
        self.not_before.insert(chat.clone(), now + wait);
        Some(wait)
    }

    /// A row that could not be deleted earlier is gone now.
    pub fn deleted(&mut self, row: i64) {
        self.undeleted.remove(&row);
    }

    /// When the first backoff after `now` ends: the worker looks again then.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        self.not_before
            .values()
            .copied()
            .filter(|at| *at > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, chat: i64) -> OutboxRow {
        OutboxRow {
            id,
            chat: Chat::Id(chat),
            text: format!("message {id}"),
            created_at: 0,
            markup: None,
            live_build: None,
            silent: false,
        }
    }

    /// The waiting table: chat 1 has rows 1, 3, 5; chat 2 rows 2, 6; chat 3 row 4.
    fn table() -> Vec<OutboxRow> {
        vec![
            row(1, 1),
            row(2, 2),
            row(3, 1),
            row(4, 3),
            row(5, 1),
            row(6, 2),
        ]
    }

    fn ids(rows: &[OutboxRow]) -> Vec<i64> {
        rows.iter().map(|r| r.id).collect()
    }

    #[test]
    fn each_chat_starts_with_its_oldest_message_and_one_at_a_time() {
        let mut schedule = Schedule::default();
        let now = Instant::now();
        assert_eq!(ids(&schedule.start(table(), now, 16)), [1, 2, 4]);
        assert_eq!(
            ids(&schedule.start(table()[2..].to_vec(), now, 16)),
            [] as [i64; 0],
            "busy chats start nothing more"
        );
        schedule.finished(&Chat::Id(1), 1, Outcome::Settled, now);
        assert_eq!(ids(&schedule.start(table()[1..].to_vec(), now, 16)), [3]);
        assert_eq!(schedule.held(now).len(), 3, "chats 1, 2 and 3 are busy");
    }

    #[test]
    fn no_more_than_the_free_slots() {
        let mut schedule = Schedule::default();
        let now = Instant::now();
        assert_eq!(ids(&schedule.start(table(), now, 2)), [1, 2]);
        assert_eq!(ids(&schedule.start(table(), now, 2)), [4], "chat 3 is next");
    }

    #[test]
    fn a_chat_in_backoff_waits_alone() {
        let mut schedule = Schedule::default();
        let now = Instant::now();
        schedule.start(table(), now, 16);
        let wait = schedule
            .finished(&Chat::Id(1), 1, Outcome::Failed, now)
            .expect("a failure waits");
        assert!(
            (backoff(1)..=backoff(1) * 5 / 4).contains(&wait),
            "{wait:?}"
        );
        schedule.finished(&Chat::Id(2), 2, Outcome::Settled, now);
        schedule.finished(&Chat::Id(3), 4, Outcome::Settled, now);
        let left = vec![row(1, 1), row(3, 1), row(5, 1), row(6, 2)];
        assert_eq!(
            ids(&schedule.start(left.clone(), now, 16)),
            [6],
            "chat 1 waits, its later rows too, chat 2 goes on"
        );
        assert_eq!(schedule.held(now), [Chat::Id(2), Chat::Id(1)]);
        assert_eq!(schedule.next_due(now), Some(now + wait));
        let later = now + wait;
        assert_eq!(schedule.next_due(later), None);
        assert_eq!(
            ids(&schedule.start(left, later, 16)),
            [1],
            "when the backoff ends, the message that failed goes first"
        );
    }

    #[test]
    fn the_backoff_grows_with_each_failure_of_a_message() {
        let mut schedule = Schedule::default();
        let mut now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..9 {
            assert_eq!(ids(&schedule.start(vec![row(7, 1)], now, 1)), [7]);
            let wait = schedule.finished(&Chat::Id(1), 7, Outcome::Failed, now);
            waits.push(wait.unwrap());
            now += wait.unwrap();
        }
        for (n, wait) in waits.iter().enumerate() {
            let base = backoff(n as u32 + 1);
            assert!((base..=base * 5 / 4).contains(wait), "{n}: {wait:?}");
        }
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(9), Duration::from_secs(60));
        // A settled message takes its count with it: the next one starts from 1 s again.
        schedule.start(vec![row(7, 1)], now, 1);
        schedule.finished(&Chat::Id(1), 7, Outcome::Settled, now);
        schedule.start(vec![row(8, 1)], now, 1);
        let wait = schedule.finished(&Chat::Id(1), 8, Outcome::Failed, now);
        assert!(wait.unwrap() <= backoff(1) * 5 / 4);
    }

    #[test]
    fn a_row_that_could_not_be_deleted_is_never_started_again() {
        let mut schedule = Schedule::default();
        let now = Instant::now();
        assert_eq!(ids(&schedule.start(table(), now, 16)), [1, 2, 4]);
        schedule.finished(&Chat::Id(1), 1, Outcome::NotDeleted, now);
        assert_eq!(schedule.undeleted(), [1]);
        assert_eq!(
            ids(&schedule.start(table(), now, 16)),
            [3],
            "row 1 is still in the table; chat 1 goes on with row 3"
        );
        schedule.deleted(1);
        assert!(schedule.undeleted().is_empty());
    }
}
