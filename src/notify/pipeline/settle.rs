//! Settling a build: its announcements attempted in order, a failure turned into a retry on a
//! timer (or, after `give_up_after`, into one error line), and the cursor moved only as far
//! as nothing pending is left behind it.

use tokio::time::Instant;

use super::retry::{Owed, Verdict};
use super::{Notifier, NotifyError, Result};
use crate::buildbot::models::Build;
use crate::storage::Cursor;

impl Notifier {
    /// Announces what `build` is owed, together with whatever an earlier failure left pending
    /// for it (its start before its end). A failure does not hold up the events after it: the
    /// build waits for its retry in `pending`, which keeps the cursor before it.
    pub(super) async fn settle(&mut self, build: &Build, owed: Owed) {
        let (build, owed) = self.pending.merged(build, owed);
        match self.announce(&build, owed).await {
            Ok(()) => {
                if let Some(failures) = self.pending.settled(build.buildid) {
                    log::info!(
                        "notifications for build {} went through after {failures} failed attempt(s)",
                        build.buildid
                    );
                }
            }
            Err((error, left)) => self.failed(&build, left, &error),
        }
    }

    /// The start, then the end; on a failure, what is still owed (a start that went through
    /// is claimed, and is not owed again).
    async fn announce(
        &mut self,
        build: &Build,
        owed: Owed,
    ) -> std::result::Result<(), (NotifyError, Owed)> {
        if owed.started {
            self.started(build).await.map_err(|e| (e, owed))?;
        }
        if owed.finished {
            self.finished(build).await.map_err(|e| (e, Owed::FINISH))?;
        }
        Ok(())
    }

    /// Schedules the retry of a failed build, or gives it up with one error line that names
    /// it, for the admin who will not see its announcement.
    fn failed(&mut self, build: &Build, owed: Owed, error: &NotifyError) {
        let what = if owed.started { "started" } else { "finished" };
        match self.pending.failed(build, owed, Instant::now()) {
            Verdict::RetryIn(wait) => log::warn!(
                "notifications for build {} {what} failed: {error}; trying again in {} s",
                build.buildid,
                wait.as_secs()
            ),
            Verdict::GiveUp {
                failing_for,
                failures,
            } => {
                let builder = self.builders.get(&build.builderid).map_or_else(
                    || format!("builder id {}", build.builderid),
                    |b| b.name.clone(),
                );
                log::error!(
                    "giving up the announcement of the {owed} of build #{} of {builder} (build id {}) after {failures} failed attempts in {} s; the last failure: {error}",
                    build.number,
                    build.buildid,
                    failing_for.as_secs()
                );
            }
        }
    }

    /// Tries again what is due: the catch-up, if it stopped half-way, then every build whose
    /// wait is over. The cursor then follows as far as nothing pending holds it back.
    pub(super) async fn retry_due(&mut self) {
        let now = Instant::now();
        if self.pending.catch_up_due(now) {
            self.catch_up_now().await;
        }
        for (build, owed) in self.pending.due(now) {
            self.settle(&build, owed).await;
        }
        self.advance_logged(self.reached).await;
    }

    /// Catches up; a catch-up that fails (a page the master did not give) is tried again with
    /// backoff, reconnect or not, and until one went through the cursor stays before what it
    /// did not read.
    pub(super) async fn catch_up_now(&mut self) {
        match self.catch_up().await {
            Ok(()) => {
                self.pending.caught_up();
                self.advance_logged(self.reached).await;
            }
            Err(error) => {
                let wait = self.pending.catch_up_failed(Instant::now());
                log::warn!(
                    "notifications for catching up failed: {error}; trying again in {} s",
                    wait.as_secs()
                );
            }
        }
    }

    /// Moves the cursor towards `to`: everything before `to` is announced or pending. It goes
    /// no further than the pending builds and an unfinished catch-up allow
    /// ([`Pending::clamp`](super::retry::Pending::clamp)); how far it would have gone is kept,
    /// to go there once they are settled.
    pub(super) async fn advance(&mut self, to: Cursor) -> Result<()> {
        self.reached = Cursor {
            last_buildid: self.reached.last_buildid.max(to.last_buildid),
            last_complete_at: self.reached.last_complete_at.max(to.last_complete_at),
        };
        match self.pending.clamp(self.reached) {
            Some(cursor) => Ok(self.store.advance_cursor(cursor).await?),
            None => Ok(()),
        }
    }

    /// [`Notifier::advance`] for a live event: a cursor that did not move only makes the
    /// next catch-up read more (and the claims keep that quiet).
    pub(super) async fn advance_logged(&mut self, to: Cursor) {
        if let Err(error) = self.advance(to).await {
            log::warn!("cannot move the catch-up cursor: {error}");
        }
    }
}
