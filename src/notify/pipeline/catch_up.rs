//! The catch-up after every (re)connect: what happened while the event stream was down, or
//! the bot was not running, read from the REST API from the persistent cursor on.

use super::{Notifier, PAGE, Result};
use crate::clock::now;
use crate::storage::Cursor;

impl Notifier {
    /// Announces what happened since the cursor: builds started or finished while the event
    /// stream was down (or the bot was not running), and workers that came back meanwhile.
    pub(super) async fn catch_up(&mut self) -> Result<()> {
        let Some(cursor) = self.store.cursor().await? else {
            // First start: history is not news. Announce from now on.
            let newest = self.client.newest_build().await?;
            let cursor = Cursor {
                last_buildid: newest.map_or(0, |b| b.buildid),
                last_complete_at: now(),
            };
            self.store.advance_cursor(cursor).await?;
            log::info!(
                "first start: announcing builds after build id {}",
                cursor.last_buildid
            );
            return Ok(());
        };
        let mut after = cursor.last_buildid;
        loop {
            let page = self.client.builds_after(after, PAGE).await?;
            for build in &page {
                self.started(build).await?;
                if build.complete {
                    self.finished(build).await?;
                }
                after = after.max(build.buildid);
            }
            if page.len() < PAGE {
                break;
            }
        }
        let mut since = cursor.last_complete_at;
        loop {
            let page = self.client.builds_completed_since(since, PAGE).await?;
            let before = since;
            for build in &page {
                self.finished(build).await?;
                since = since.max(build.complete_at.unwrap_or(since));
            }
            // a full page of one second would repeat forever; the claims make re-reads harmless
            if page.len() < PAGE || since == before {
                break;
            }
        }
        for worker in self.client.workers().await? {
            if worker.is_connected() {
                self.worker_back(worker.workerid, &worker.name).await?;
            }
        }
        Ok(())
    }
}
