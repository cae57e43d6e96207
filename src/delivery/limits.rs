//! Telegram's sending limits, kept as sliding windows: at most `overall_per_second` messages in
//! any second, `chat_per_second` to one chat, `group_per_minute` to one group or channel.
//!
//! Sliding windows are exactly how Telegram states its limits, so staying inside them never
//! earns a 429 — as long as each send is counted when Telegram may have counted it. A request
//! reaches Telegram some time between the moment it is let go and its answer, and requests let
//! go together can arrive in another order (one waits for a connection, the next does not): so
//! a send counts as "now" while it is in flight and at its answer's time once answered, never
//! at the moment it was let go. A 200-chat fan-out counted from the moments sends were let go
//! drew a dozen 429s from a strict server; a token bucket (GCRA, as in `governor`) would allow twice the rate over a
//! window after an idle spell. Two priorities share the windows: replies to people go first,
//! a notification fan-out takes what is left. A 429 pauses everything for its `retry_after`.
//!
//! teloxide's `Throttle` adaptor was evaluated and not used: it has no priorities (a fan-out
//! would delay every reply), keeps nothing across restarts, does not pace edits, and cannot
//! tell supergroups from channels, so it holds supergroups to 10 messages a minute.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use teloxide::types::Recipient;
use tokio::time::Instant;

use crate::settings::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// An answer someone is waiting for.
    Urgent,
    /// A notification fan-out.
    Bulk,
}

/// Clocks differ a little between the bot and Telegram: every window is this much longer.
const MARGIN: Duration = Duration::from_millis(50);

#[derive(Default)]
struct State {
    /// Answered sends, by the time of their answer.
    overall: VecDeque<Instant>,
    chats: HashMap<String, VecDeque<Instant>>,
    /// Sends not answered yet: each counts as made now.
    in_flight: usize,
    chats_in_flight: HashMap<String, usize>,
    paused_until: Option<Instant>,
    /// Chats of the urgent sends that are waiting.
    urgent: Vec<String>,
}

pub struct Limiter {
    limits: Limits,
    state: Mutex<State>,
}

fn key(chat: &Recipient) -> (String, bool) {
    match chat {
        Recipient::Id(id) => (id.0.to_string(), id.0 < 0),
        Recipient::ChannelUsername(name) => (name.to_lowercase(), true),
    }
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    fn windows(&self) -> (Duration, Duration) {
        (
            Duration::from_secs(1) + MARGIN,
            Duration::from_secs(60) + MARGIN,
        )
    }

    /// When a message to `chat` may go, considering only that chat's own windows.
    fn chat_ready(&self, state: &State, chat: &str, group: bool, now: Instant) -> Instant {
        let (second, minute) = self.windows();
        let flying = state.chats_in_flight.get(chat).copied().unwrap_or(0);
        let sent = with_in_flight(state.chats.get(chat), flying, now);
        if sent.is_empty() {
            return now;
        }
        let mut at = now;
        let in_second = sent
            .iter()
            .filter(|t| now.duration_since(**t) < second)
            .count();
        if in_second >= self.limits.chat_per_second as usize {
            let oldest = sent[sent.len() - self.limits.chat_per_second as usize];
            at = at.max(oldest + second);
        }
        if group && sent.len() >= self.limits.group_per_minute as usize {
            let oldest = sent[sent.len() - self.limits.group_per_minute as usize];
            at = at.max(oldest + minute);
        }
        at
    }

    fn overall_ready(&self, state: &State, now: Instant) -> Instant {
        let (second, _) = self.windows();
        let limit = self.limits.overall_per_second as usize;
        let mut at = state.paused_until.unwrap_or(now).max(now);
        let sent = with_in_flight(Some(&state.overall), state.in_flight, now);
        if sent.len() >= limit {
            at = at.max(sent[sent.len() - limit] + second);
        }
        at
    }

    fn forget_old(&self, state: &mut State, now: Instant) {
        let (second, minute) = self.windows();
        while state
            .overall
            .front()
            .is_some_and(|t| now.duration_since(*t) >= second)
        {
            state.overall.pop_front();
        }
        state.chats.retain(|_, sent| {
            while sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= minute)
            {
                sent.pop_front();
            }
            !sent.is_empty()
        });
    }

    /// Waits until a message to `chat` may be sent, and counts it as in flight until the
    /// returned [`InFlight`] is dropped (when Telegram answered, or the send was given up).
    pub async fn acquire(&self, chat: &Recipient, priority: Priority) -> InFlight<'_> {
        let (chat, group) = key(chat);
        // an urgent send waiting is registered, and unregistered however the wait ends
        let mut waiting = Waiting {
            limiter: self,
            chat: None,
        };
        loop {
            let wait = {
                let Ok(mut state) = self.state.lock() else {
                    return InFlight {
                        limiter: self,
                        chat,
                    };
                };
                let now = Instant::now();
                self.forget_old(&mut state, now);
                let ready = self
                    .chat_ready(&state, &chat, group, now)
                    .max(self.overall_ready(&state, now));
                // Bulk sends stand back while a reply that could go now is waiting.
                let reply_waiting = priority == Priority::Bulk
                    && state.urgent.iter().any(|c| {
                        self.chat_ready(&state, c, c.starts_with('-') || c.starts_with('@'), now)
                            <= now
                    });
                if ready <= now && !reply_waiting {
                    state.in_flight += 1;
                    *state.chats_in_flight.entry(chat.clone()).or_default() += 1;
                    if waiting.chat.take().is_some() {
                        unregister(&mut state, &chat);
                    }
                    return InFlight {
                        limiter: self,
                        chat,
                    };
                }
                if priority == Priority::Urgent && waiting.chat.is_none() {
                    state.urgent.push(chat.clone());
                    waiting.chat = Some(chat.clone());
                }
                if reply_waiting {
                    Duration::from_millis(5)
                } else {
                    ready - now
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// A send to `chat` was answered (or given up): it counts from now on as made now.
    fn answered(&self, chat: &str) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        state.in_flight = state.in_flight.saturating_sub(1);
        if let Some(flying) = state.chats_in_flight.get_mut(chat) {
            *flying -= 1;
            if *flying == 0 {
                state.chats_in_flight.remove(chat);
            }
        }
        state.overall.push_back(now);
        state
            .chats
            .entry(chat.to_owned())
            .or_default()
            .push_back(now);
    }

    /// Counts a send made `ago` (by an earlier run of the bot) to the group or channel `chat`
    /// (the key [`Limiter::key_of`] gives), so that a restart does not start with empty
    /// windows and draw 429s.
    pub fn remember(&self, chat: &str, ago: Duration) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        let Some(at) = now.checked_sub(ago) else {
            return;
        };
        let sent = state.chats.entry(chat.to_owned()).or_default();
        let index = sent.partition_point(|t| *t <= at);
        sent.insert(index, at);
    }

    /// The limits this limiter keeps.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The key a chat's windows are kept under, and whether it is a group or channel (whose
    /// per-minute window outlives a restart).
    pub fn key_of(chat: &Recipient) -> (String, bool) {
        key(chat)
    }

    /// Telegram said "retry after": nothing goes out until then.
    pub fn pause(&self, duration: Duration) {
        if let Ok(mut state) = self.state.lock() {
            let until = Instant::now() + duration;
            state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
        }
    }
}

/// A send let go by [`Limiter::acquire`]: in flight until dropped.
#[must_use = "a send counts as in flight until this is dropped"]
pub struct InFlight<'a> {
    limiter: &'a Limiter,
    chat: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.limiter.answered(&self.chat);
    }
}

/// An urgent send registered as waiting: dropped (granted, or the send given up while it
/// waited), it is no longer waiting, so bulk sends do not stand back for it for good.
struct Waiting<'a> {
    limiter: &'a Limiter,
    chat: Option<String>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(chat) = self.chat.take()
            && let Ok(mut state) = self.limiter.state.lock()
        {
            unregister(&mut state, &chat);
        }
    }
}

fn unregister(state: &mut State, chat: &str) {
    if let Some(index) = state.urgent.iter().position(|c| c == chat) {
        state.urgent.swap_remove(index);
    }
}

/// `sent` (oldest first) with `flying` more sends made `now`.
fn with_in_flight(sent: Option<&VecDeque<Instant>>, flying: usize, now: Instant) -> Vec<Instant> {
    let mut times: Vec<Instant> = sent.into_iter().flatten().copied().collect();
    times.extend(std::iter::repeat_n(now, flying));
    times
}

#[cfg(test)]
mod tests {
    use teloxide::types::ChatId;

    use super::*;

    fn count_in_windows(times: &[Instant], window: Duration) -> usize {
        times
            .iter()
            .map(|start| {
                times
                    .iter()
                    .filter(|t| **t >= *start && t.duration_since(*start) < window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// A restarted bot counts what the earlier run sent to a group in the last minute: the
    /// 21st message waits until the first is a minute old.
    #[tokio::test(start_paused = true)]
    async fn sends_remembered_from_before_a_restart_count() {
        let limiter = Limiter::new(Limits::default());
        let group = Recipient::Id(ChatId(-5));
        let (key, is_group) = Limiter::key_of(&group);
        assert!(is_group);
        for _ in 0..20 {
            limiter.remember(&key, Duration::from_secs(10));
        }
        let start = Instant::now();
        drop(limiter.acquire(&group, Priority::Bulk).await);
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(50) && waited < Duration::from_secs(52),
            "{waited:?}"
        );
        let other = Recipient::Id(ChatId(-6));
        let start = Instant::now();
        drop(limiter.acquire(&other, Priority::Bulk).await);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "another group is not held"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn overall_limit_holds_in_every_window() {
        let limiter = Limiter::new(Limits {
            overall_per_second: 30,
            chat_per_second: 1,
            group_per_minute: 20,
        });
        let mut times = Vec::new();
        for chat in 1..=100 {
            drop(
                limiter
                    .acquire(&Recipient::Id(ChatId(chat)), Priority::Bulk)
                    .await,
            );
            times.push(Instant::now());
        }
        assert!(count_in_windows(&times, Duration::from_secs(1)) <= 30);
        let took = times[99].duration_since(times[0]);
        assert!(
            took < Duration::from_millis(3300),
            "close to the 30/s floor: {took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn chats_and_groups_have_their_own_windows() {
        let limiter = Limiter::new(Limits::default());
        let private = Recipient::Id(ChatId(7));
        let start = Instant::now();
        drop(limiter.acquire(&private, Priority::Urgent).await);
        drop(limiter.acquire(&private, Priority::Urgent).await);
        assert!(
            Instant::now().duration_since(start) >= Duration::from_secs(1),
            "1/s per chat"
        );

        let group = Recipient::Id(ChatId(-100));
        let mut times = Vec::new();
        for _ in 0..25 {
            drop(limiter.acquire(&group, Priority::Urgent).await);
            times.push(Instant::now());
        }
        assert!(
            count_in_windows(&times, Duration::from_secs(60)) <= 20,
            "20/min per group"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_stops_everything() {
        let limiter = Limiter::new(Limits::default());
        limiter.pause(Duration::from_secs(5));
        let start = Instant::now();
        drop(
            limiter
                .acquire(&Recipient::Id(ChatId(1)), Priority::Urgent)
                .await,
        );
        assert!(Instant::now().duration_since(start) >= Duration::from_secs(5));
    }

    /// A send counts while Telegram has not answered it: the 31st send waits until a second
    /// after the answers, however long they took, not a second after the sends were let go.
    #[tokio::test(start_paused = true)]
    async fn sends_in_flight_count_until_answered() {
        let limiter = Limiter::new(Limits::default());
        let mut flying = Vec::new();
        for chat in 1..=30 {
            flying.push(
                limiter
                    .acquire(&Recipient::Id(ChatId(chat)), Priority::Bulk)
                    .await,
            );
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let answered = Instant::now();
        drop(flying);
        drop(
            limiter
                .acquire(&Recipient::Id(ChatId(31)), Priority::Bulk)
                .await,
        );
        assert!(
            answered.elapsed() >= Duration::from_secs(1),
            "counted from the answers: {:?}",
            answered.elapsed()
        );
    }

    /// An urgent send given up while it waited does not hold bulk sends back afterwards.
    #[tokio::test(start_paused = true)]
    async fn an_urgent_send_given_up_does_not_hold_bulk_back() {
        let limiter = Limiter::new(Limits::default());
        let busy = Recipient::Id(ChatId(7));
        drop(limiter.acquire(&busy, Priority::Urgent).await);
        // waits for chat 7's second, then is given up
        let given_up = tokio::time::timeout(
            Duration::from_millis(100),
            limiter.acquire(&busy, Priority::Urgent),
        )
        .await;
        assert!(given_up.is_err());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let start = Instant::now();
        drop(
            limiter
                .acquire(&Recipient::Id(ChatId(8)), Priority::Bulk)
                .await,
        );
        assert!(
            start.elapsed() < Duration::from_millis(10),
            "{:?}",
            start.elapsed()
        );
        assert!(limiter.state.lock().unwrap().urgent.is_empty());
    }
}
