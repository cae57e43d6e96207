//! One update at a time per chat, without a worker per chat.
//!
//! teloxide's dispatcher can keep a chat's updates in order by giving each chat a worker: a
//! task and a queue whose first block holds 32 updates (about 60 kB) whether used or not, and
//! which it drops only while there are more workers than the most that were ever busy at once.
//! After a burst of 2,000 chats (each answer waiting for Telegram's 30 a second) that is
//! ~120 MB kept for good (measured with dhat, `tests/e2e/memory.rs`).
//!
//! Instead every update is handled as soon as it arrives, and the first thing [`schema`]
//! does is take its chat's [`ChatTurn`]: a fair (first come, first served) lock per chat,
//! held until the update has been handled. So a chat's updates are still handled one at a
//! time and in order (a conversation's answers, a tap after the message that drew it), one
//! chat never waits for another chat's turn — a chat whose answers are held back by
//! Telegram's limits holds back only itself — and a chat that is not being handled costs
//! nothing: its lock is dropped with its last turn.
//!
//! At most [`AT_ONCE`] updates are handled at the same time: a handler at work holds tens of
//! kilobytes (requests, answers, Telegram's futures), and the allocator keeps what a peak
//! took, so 2,000 chats answered at once would leave ~100 MB behind. An update waiting for
//! its turn or for room holds little more than itself. A chat held back by Telegram's limits
//! takes one of the places, so chats wait for each other only when [`AT_ONCE`] of them are
//! being answered at once — when Telegram's 30 messages a second hold everybody back anyway.
//!
//! Updates waiting for their turn still take ~10 kB each (a task, the handler's future), and
//! glibc's allocator keeps what a burst took: after [`BURST`] turns, when the last chat's turn
//! ends, the memory is handed back to the system (`malloc_trim`).
//!
//! [`schema`]: super::schema

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use teloxide::types::Update;
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

/// Updates handled at the same time, at most.
pub const AT_ONCE: usize = 64;

/// Turns taken since the memory was last handed back that make a burst worth trimming after.
pub const BURST: usize = 256;

type Locks = HashMap<i64, Arc<tokio::sync::Mutex<()>>>;

/// The chats being handled now, each with its lock (waiters hold a clone), and the room for
/// updates handled at once.
#[derive(Clone)]
pub struct ChatTurns {
    locks: Arc<Mutex<Locks>>,
    room: Arc<Semaphore>,
    /// Turns taken since the last trim.
    taken: Arc<AtomicUsize>,
}

impl Default for ChatTurns {
    fn default() -> Self {
        ChatTurns {
            locks: Arc::default(),
            room: Arc::new(Semaphore::new(AT_ONCE)),
            taken: Arc::default(),
        }
    }
}

/// An update's turn in its chat (`None` for updates without a chat): the chat's next update
/// waits until every clone of it is dropped, which dptree does when the update is handled.
#[derive(Clone)]
pub struct ChatTurn(#[allow(dead_code)] Option<Arc<Held>>);

pub struct Held {
    turns: ChatTurns,
    chat: i64,
    guard: Option<OwnedMutexGuard<()>>,
    _room: Option<OwnedSemaphorePermit>,
}

impl ChatTurns {
    /// Waits for `update`'s chat to be free, in the order updates arrive, then for room.
    pub async fn take(&self, update: &Update) -> ChatTurn {
        let Some(chat) = update.chat().map(|chat| chat.id.0) else {
            return ChatTurn(None);
        };
        self.taken.fetch_add(1, Ordering::Relaxed);
        let lock = Arc::clone(self.locks().entry(chat).or_default());
        let guard = lock.lock_owned().await;
        // the semaphore is never closed; without a permit the update still goes on
        let room = Arc::clone(&self.room).acquire_owned().await.ok();
        ChatTurn(Some(Arc::new(Held {
            turns: self.clone(),
            chat,
            guard: Some(guard),
            _room: room,
        })))
    }

    fn locks(&self) -> std::sync::MutexGuard<'_, Locks> {
        self.locks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many chats have a lock now (being handled, or waited for).
    pub fn busy(&self) -> usize {
        self.locks().len()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = self.turns.locks();
        // only the map holds it: nobody is handling or waiting for this chat
        if locks
            .get(&self.chat)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            locks.remove(&self.chat);
        }
        if locks.is_empty() && self.turns.taken.load(Ordering::Relaxed) >= BURST {
            self.turns.taken.store(0, Ordering::Relaxed);
            drop(locks);
            hand_back_memory();
        }
    }
}

/// After a burst: what the allocator kept of it goes back to the system.
fn hand_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        log::debug!("a burst of updates is over; handing its memory back to the system");
        // SAFETY: malloc_trim only walks the allocator's own free lists.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn update(chat: i64) -> Update {
        let update = serde_json::json!({
            "update_id": 1,
            "message": {"message_id": 1, "date": 0, "text": "/help",
                "chat": {"id": chat, "type": "private", "first_name": "A"},
                "from": {"id": chat, "is_bot": false, "first_name": "A"}}
        });
        // teloxide reads an update from text (from a Value it finds no kind)
        let update: Update = serde_json::from_str(&update.to_string()).unwrap();
        assert!(update.chat().is_some(), "{update:?}");
        update
    }

    #[tokio::test]
    async fn a_chat_waits_for_its_own_turn_only_and_costs_nothing_after() {
        let turns = ChatTurns::default();
        let first = turns.take(&update(1)).await;
        let second_same_chat = tokio::spawn({
            let turns = turns.clone();
            async move { turns.take(&update(1)).await }
        });
        let other = tokio::time::timeout(Duration::from_secs(1), turns.take(&update(2)))
            .await
            .expect("another chat does not wait");
        drop(other);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second_same_chat.is_finished(), "the same chat waits");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(1), second_same_chat)
            .await
            .expect("its turn comes")
            .unwrap();
        assert_eq!(turns.busy(), 1);
        drop(second);
        assert_eq!(turns.busy(), 0, "an idle chat keeps nothing");
    }

    #[tokio::test]
    async fn turns_come_in_the_order_updates_arrive() {
        let turns = ChatTurns::default();
        let first = turns.take(&update(7)).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for n in 0..20 {
            let (turns, order) = (turns.clone(), Arc::clone(&order));
            waiting.push(tokio::spawn(async move {
                let _turn = turns.take(&update(7)).await;
                order.lock().unwrap().push(n);
            }));
            // each has queued before the next is spawned
            tokio::task::yield_now().await;
        }
        drop(first);
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
        assert_eq!(turns.busy(), 0);
    }

    #[tokio::test]
    async fn no_more_than_at_once_are_handled_together() {
        let turns = ChatTurns::default();
        let mut held = Vec::new();
        for chat in 0..AT_ONCE as i64 {
            held.push(turns.take(&update(chat)).await);
        }
        let one_more = tokio::spawn({
            let turns = turns.clone();
            async move { turns.take(&update(1_000)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!one_more.is_finished(), "it waits for room");
        held.pop();
        tokio::time::timeout(Duration::from_secs(1), one_more)
            .await
            .expect("room is made")
            .unwrap();
    }
}
