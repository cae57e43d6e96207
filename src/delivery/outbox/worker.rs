//! The worker's loop: it starts the oldest waiting message of every free chat, up to
//! [`CONCURRENCY`] at once, and looks again whenever a send finishes, a notification is
//! queued, or a chat's backoff ends — never waiting for a whole batch, so that a chat in
//! trouble holds up no one but itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;

use super::schedule::{Outcome, Schedule};
use super::{CONCURRENCY, DRAIN, recipient, topic};
use crate::clock::now;
use crate::delivery::Delivery;
use crate::delivery::actions;
use crate::settings::QuietHours;
use crate::shutdown::Shutdown;
use crate::storage::{Chat, OutboxRow, StorageError, Store};

/// How often deleting a settled row that could not be deleted is tried again.
const DELETE_AGAIN: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub(super) struct Worker {
    pub store: Store,
    pub delivery: Delivery,
    pub give_up_after: Duration,
    pub wake: Arc<Notify>,
    pub shutdown: Shutdown,
    pub quiet_hours: Option<QuietHours>,
}

/// What the loop keeps between two looks: the schedule and the sends in flight.
#[derive(Default)]
struct Running {
    schedule: Schedule,
    tasks: JoinSet<Outcome>,
    /// The chat and row of each send in flight, by task, so that even a send that panicked
    /// frees its chat.
    in_flight: HashMap<Id, (Chat, i64)>,
    /// When deleting the rows that could not be deleted is tried again.
    delete_again_at: Option<Instant>,
}

impl Worker {
    pub async fn run(self) {
        let this = Arc::new(self);
        let mut running = Running::default();
        while !this.shutdown.is_triggered() {
            if let Err(error) = this.start_due(&mut running).await {
                log::error!("cannot read the outbox: {error}");
                this.pause(Duration::from_secs(5)).await;
                continue;
            }
            this.delete_again(&mut running).await;
            this.wait(&mut running).await;
        }
        drain(running.tasks).await;
    }

    /// Starts the oldest waiting message of each chat that is neither busy nor waiting out a
    /// backoff, as many as there are free slots.
    async fn start_due(self: &Arc<Self>, running: &mut Running) -> Result<(), StorageError> {
        let free = CONCURRENCY.saturating_sub(running.tasks.len());
        if free == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let held = running.schedule.held(now);
        let undeleted = running.schedule.undeleted();
        let rows = self.store.outbox_heads(&held, &undeleted, free).await?;
        for row in running.schedule.start(rows, now, free) {
            // stopping wins: no send starts after the shutdown
            if self.shutdown.is_triggered() {
                break;
            }
            let key = (row.chat.clone(), row.id);
            let worker = self.clone();
            let task = running
                .tasks
                .spawn(async move { worker.deliver(row).await });
            running.in_flight.insert(task.id(), key);
        }
        Ok(())
    }

    /// Waits for something that may let a message start: a send finished, a notification was
    /// queued, a backoff ended (or the time to delete again came), or the shutdown.
    async fn wait(&self, running: &mut Running) {
        let now = Instant::now();
        let due = [running.schedule.next_due(now), running.delete_again_at]
            .into_iter()
            .flatten()
            .min();
        let due = async move {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(done) = running.tasks.join_next_with_id() => {
                running.finished(done);
                // others that finished meanwhile, in the same look
                while let Some(done) = running.tasks.try_join_next_with_id() {
                    running.finished(done);
                }
            }
            _ = self.wake.notified() => {}
            _ = due => {}
            _ = self.shutdown.triggered() => {}
        }
    }

    /// Tries again to delete the rows that were settled but could not be deleted.
    async fn delete_again(&self, running: &mut Running) {
        let now = Instant::now();
        if running.delete_again_at.is_none_or(|at| at > now) {
            return;
        }
        for row in running.schedule.undeleted() {
            match self.store.outbox_done(row).await {
                Ok(()) => {
                    log::info!("outbox row {row}, settled earlier, is deleted at last");
                    running.schedule.deleted(row);
                }
                Err(error) => log::debug!("still cannot delete outbox row {row}: {error}"),
            }
        }
        running.delete_again_at =
            (!running.schedule.undeleted().is_empty()).then(|| Instant::now() + DELETE_AGAIN);
    }

    /// Waits `delay`, or less when the bot is stopping.
    async fn pause(&self, delay: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.shutdown.triggered() => {}
        }
    }

    /// Sends one waiting message, once; what became of it decides when its chat goes on.
    async fn deliver(&self, row: OutboxRow) -> Outcome {
        let keyboard = row.markup.as_deref().and_then(actions::stored_keyboard);
        let silent = row.silent || self.silent(&row.chat).await;
        let sent = self
            .delivery
            .send_bulk(
                recipient(&row.chat),
                topic(&row.chat),
                &row.text,
                keyboard,
                silent,
            )
            .await;
        match sent {
            Ok(sent) => {
                if let (Some(build), Some(id)) = (row.live_build, sent)
                    && let Err(error) = self.store.live_put(build, &row.chat, id.0).await
                {
                    log::warn!("cannot remember the live message of build {build}: {error}");
                }
                self.settle(&row).await
            }
            Err(error) => self.refused(&row, error).await,
        }
    }

    /// Muted chats and quiet hours: delivered all the same, without a sound.
    async fn silent(&self, chat: &Chat) -> bool {
        let muted_until = self.store.muted_until(chat, now()).await;
        muted_until.ok().flatten().is_some() || self.quiet_hours.is_some_and(|w| w.contains(now()))
    }

    /// Deletes a settled row. When that fails the row is left alone, not sent again: said
    /// once here, since the row is never tried again.
    pub(super) async fn settle(&self, row: &OutboxRow) -> Outcome {
        match self.store.outbox_done(row.id).await {
            Ok(()) => Outcome::Settled,
            Err(error) => {
                log::error!(
                    "cannot mark a notification to chat {} as sent: {error}; it is not sent again, and deleting it is retried",
                    row.chat
                );
                Outcome::NotDeleted
            }
        }
    }
}

impl Running {
    /// A send ended: its chat is free, or waits a backoff; a panic counts as a failure.
    fn finished(&mut self, done: Result<(Id, Outcome), JoinError>) {
        let (id, outcome) = match done {
            Ok(done) => done,
            Err(error) => {
                log::error!("a notification send failed: {error}");
                (error.id(), Outcome::Failed)
            }
        };
        let Some((chat, row)) = self.in_flight.remove(&id) else {
            return;
        };
        let now = Instant::now();
        if let Some(wait) = self.schedule.finished(&chat, row, outcome, now) {
            log::debug!("outbox: chat {chat} waits {wait:?} before its next attempt");
        }
        if outcome == Outcome::NotDeleted {
            self.delete_again_at.get_or_insert(now + DELETE_AGAIN);
        }
    }
}

/// Gives the messages in flight at shutdown [`DRAIN`] to finish; the rest stay in the
/// storage and are sent at the next start (at most one duplicate: a message Telegram took
/// just as it was cut off).
async fn drain(mut tasks: JoinSet<Outcome>) {
    let finished =
        tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        log::warn!(
            "stopping with {} notification(s) in flight; they are sent again at the next start",
            tasks.len()
        );
    }
}
