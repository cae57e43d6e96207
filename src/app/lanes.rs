//! Which lane of the dispatcher an update takes: chats share a fixed set of lanes instead of
//! having one each.
//!
//! teloxide hands each distribution key a worker: a task and a queue whose first block holds
//! 32 updates (about 60 kB) whether it is used or not. It drops idle workers only while there
//! are more of them than the most that were ever busy at once, and with its default key (the
//! chat) a burst of chats keeps every one of them busy: 2,000 chats that each sent one
//! command while the answers waited for Telegram's 30 a second left 2,000 workers and
//! ~120 MB behind for good (measured with dhat, `tests/e2e/memory.rs`).
//!
//! A chat always takes the same lane, so one chat's updates are still handled one at a time
//! and in order (a conversation's answers, a tap after the message that drew it). The price:
//! chats in the same lane wait for each other, so a chat whose answers are held back (by
//! Telegram's one message a second per chat, or by a flood its input budget still admits)
//! delays the chats that share its lane: one in [`LANES`]. Updates with no chat have no lane
//! and are handled at once, as before.

use teloxide::types::Update;

/// How many chats are handled at once, at most; the workers left behind after any burst
/// cost at most this many times 60 kB.
pub(super) const LANES: u64 = 64;

/// Updates a lane holds before the dispatcher waits for it (which holds back every lane):
/// room for a burst from a few hundred chats. A queue takes memory beyond its first block
/// only while it is that full.
pub(super) const LANE_QUEUE: usize = 256;

/// The lane of `update`'s chat: `LANES` lanes, chosen by a multiplicative hash of the chat
/// id so that consecutive ids (users, groups) spread over all of them.
pub(super) fn lane(update: &Update) -> Option<u64> {
    update.chat().map(|chat| lane_of(chat.id.0))
}

fn lane_of(chat: i64) -> u64 {
    const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
    (chat as u64).wrapping_mul(GOLDEN) >> (64 - LANES.trailing_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_keeps_its_lane_and_lanes_are_bounded() {
        assert!(LANES.is_power_of_two());
        for chat in [1, -1, 42, -100_123_456_789, i64::MAX, i64::MIN] {
            assert_eq!(lane_of(chat), lane_of(chat));
            assert!(lane_of(chat) < LANES, "{chat}");
        }
    }

    #[test]
    fn consecutive_chats_spread_over_every_lane() {
        let mut counts = [0u32; LANES as usize];
        for chat in 50_000_000..50_000_000 + 64 * LANES as i64 {
            counts[lane_of(chat) as usize] += 1;
        }
        assert!(counts.iter().all(|n| (32..=96).contains(n)), "{counts:?}");
        let mut groups = [0u32; LANES as usize];
        for chat in (0..64 * LANES as i64).map(|n| -1_001_000_000_000 - n) {
            groups[lane_of(chat) as usize] += 1;
        }
        assert!(groups.iter().all(|n| (32..=96).contains(n)), "{groups:?}");
    }
}
