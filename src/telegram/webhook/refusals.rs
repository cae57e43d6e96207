//! The requests the webhook refuses, counted and logged at most once a minute.
//!
//! Anybody who finds the port can post to it, so a log line per refusal would let them fill the
//! disk. The first refusal opens a short gathering window (a burst reads as one line); after a
//! line, the next one waits until a minute has passed and says how many came meanwhile.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why the webhook refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no `X-Telegram-Bot-Api-Secret-Token`, or not ours.
    Secret,
    /// 413: a body over the cap; Telegram's updates are far smaller.
    TooLarge,
    /// 503: `max_connections` requests were already being served.
    Busy,
    /// 408: the body did not arrive in time.
    TooSlow,
}

const REASONS: [Refusal; 4] = [
    Refusal::Secret,
    Refusal::TooLarge,
    Refusal::Busy,
    Refusal::TooSlow,
];

impl Refusal {
    fn describe(self) -> &'static str {
        match self {
            Refusal::Secret => "without the right secret token",
            Refusal::TooLarge => "too large",
            Refusal::Busy => "over max_connections at once",
            Refusal::TooSlow => "too slow to send their body",
        }
    }
}

/// How long the first refusal waits for the rest of its burst.
const GATHER: Duration = Duration::from_secs(2);
/// The least time between two lines.
const EVERY: Duration = Duration::from_secs(60);

/// The counts since the last line, shared by every request the webhook serves.
pub struct Refusals {
    listen: SocketAddr,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    counts: [u64; REASONS.len()],
    /// A line is due at this time (a task waits for it).
    due: Option<Instant>,
    last_line: Option<Instant>,
}

impl Refusals {
    pub fn new(listen: SocketAddr) -> Arc<Refusals> {
        Arc::new(Refusals {
            listen,
            state: Mutex::new(State::default()),
        })
    }

    /// Counts `refusal`; the line that reports it is logged later, by a task this starts.
    pub fn note(self: &Arc<Self>, refusal: Refusal) {
        let Some(due) = self.count(refusal, Instant::now()) else {
            return; // a line is already due; it will carry this one
        };
        let refusals = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(due.into()).await;
            if let Some(line) = refusals.flush(Instant::now()) {
                log::warn!("{line}");
            }
        });
    }

    /// Counts `refusal`; returns when the line must be logged if none was due yet.
    fn count(&self, refusal: Refusal, now: Instant) -> Option<Instant> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.counts[refusal as usize] += 1;
        if state.due.is_some() {
            return None;
        }
        let after_last = state.last_line.map_or(now, |last| last + EVERY);
        let due = after_last.max(now + GATHER);
        state.due = Some(due);
        Some(due)
    }

    /// How many refusals are counted and not logged yet.
    #[cfg(test)]
    pub fn pending(&self) -> u64 {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.counts.iter().sum()
    }

    /// The line for the refusals counted since the last one, which it resets.
    fn flush(&self, now: Instant) -> Option<String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let counts = std::mem::take(&mut state.counts);
        state.due = None;
        state.last_line = Some(now);
        line(self.listen, &counts)
    }
}

fn line(listen: SocketAddr, counts: &[u64; REASONS.len()]) -> Option<String> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let reasons: Vec<String> = REASONS
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(reason, n)| format!("{n} {}", reason.describe()))
        .collect();
    let requests = if total == 1 { "request" } else { "requests" };
    Some(format!(
        "refused {total} webhook {requests} in the last minute ({}): is something other than Telegram posting to {listen}?",
        reasons.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusals() -> Arc<Refusals> {
        Refusals::new("127.0.0.1:8443".parse().unwrap())
    }

    #[test]
    fn a_burst_is_one_line_with_its_counts() {
        let refusals = refusals();
        let start = Instant::now();
        assert_eq!(refusals.count(Refusal::Secret, start), Some(start + GATHER));
        for _ in 0..97 {
            assert_eq!(refusals.count(Refusal::Secret, start), None);
        }
        refusals.count(Refusal::TooLarge, start);
        refusals.count(Refusal::TooLarge, start);
        assert_eq!(
            refusals.flush(start + GATHER).as_deref(),
            Some(
                "refused 100 webhook requests in the last minute (98 without the right secret token, 2 too large): is something other than Telegram posting to 127.0.0.1:8443?"
            )
        );
        assert_eq!(refusals.flush(start + GATHER), None, "counts are reset");
    }

    #[test]
    fn the_next_line_waits_a_minute_after_the_last() {
        let refusals = refusals();
        let start = Instant::now();
        refusals.count(Refusal::Busy, start);
        let first = start + GATHER;
        let line = refusals.flush(first).unwrap();
        assert!(line.starts_with("refused 1 webhook request in"), "{line}");
        let soon = first + Duration::from_secs(5);
        assert_eq!(refusals.count(Refusal::Secret, soon), Some(first + EVERY));
        assert_eq!(refusals.count(Refusal::TooSlow, soon), None);
        // long after the last line, only the gathering window
        refusals.flush(first + EVERY);
        let later = first + 10 * EVERY;
        assert_eq!(refusals.count(Refusal::Secret, later), Some(later + GATHER));
    }
}
