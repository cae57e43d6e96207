//! The Telegram budget replicas share in PostgreSQL (`storage::budget`), as delivery uses
//! it: every send takes its place there after the replica's own limiter let it go, on a
//! connection of the budget's own. A place is given back (marked answered) however the send
//! ends, even dropped. A budget that does not answer in time (the database slow or gone) is
//! left alone for a few seconds: sends go on within the replica's own limits, never stop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::limits::{Limiter, Priority};
use crate::storage::Store;
use teloxide::types::Recipient;

/// How long a reply waits for the database to give its place, and a notification.
const REPLY_PATIENCE: Duration = Duration::from_millis(300);
const BULK_PATIENCE: Duration = Duration::from_secs(2);
/// How long a budget that failed is left alone.
const LEFT_ALONE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct SharedBudget {
    store: Store,
    off_until: Arc<Mutex<Option<Instant>>>,
}

/// A place taken in the budget: given back when dropped.
pub struct Place {
    store: Store,
    id: i64,
}

impl Drop for Place {
    fn drop(&mut self) {
        let (store, id) = (self.store.clone(), self.id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = store.send_answered(id).await {
                    log::debug!("cannot mark a send answered in the shared budget: {error}");
                }
            });
        }
    }
}

impl SharedBudget {
    pub fn new(store: Store) -> SharedBudget {
        SharedBudget {
            store,
            off_until: Arc::default(),
        }
    }

    /// Waits for this send's place in the budget; `None` when the budget is not answering.
    pub async fn place(
        &self,
        limiter: &Limiter,
        chat: &Recipient,
        priority: Priority,
    ) -> Option<Place> {
        if self.is_off() {
            return None;
        }
        let (key, group) = Limiter::key_of(chat);
        let patience = match priority {
            Priority::Urgent => REPLY_PATIENCE,
            Priority::Bulk => BULK_PATIENCE,
        };
        loop {
            let asked = self.store.reserve_send(&key, group, limiter.limits());
            match tokio::time::timeout(patience, asked).await {
                Ok(Ok(Ok(id))) => {
                    let store = self.store.clone();
                    return Some(Place { store, id });
                }
                Ok(Ok(Err(wait))) => {
                    let wait = u64::try_from(wait.clamp(1, 61_000)).unwrap_or(1);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                Ok(Err(error)) => return self.fail(&error.to_string()),
                Err(_) => return self.fail("no answer in time"),
            }
        }
    }

    fn is_off(&self) -> bool {
        let off = self.off_until.lock().map(|o| *o).unwrap_or_default();
        off.is_some_and(|until| Instant::now() < until)
    }

    fn fail(&self, why: &str) -> Option<Place> {
        if let Ok(mut off) = self.off_until.lock() {
            if off.is_none_or(|until| Instant::now() >= until) {
                log::warn!(
                    "the budget replicas share does not answer ({why}): sending within this replica's own limits for {} s",
                    LEFT_ALONE.as_secs()
                );
            }
            *off = Some(Instant::now() + LEFT_ALONE);
        }
        None
    }
}
