//! The catch-up after every (re)connect: what happened while the event stream was down, or
//! the bot was not running, read from the REST API from the persistent cursor on.
//!
//! # Two halves, each moving only its own half of the cursor
//!
//! The cursor has two halves, each read by one query in its own order: `last_buildid` by
//! "builds created after it" (in id order: their starts, and the ends of those already
//! complete), `last_complete_at` by "builds completed since it" (in completion order: the ends
//! of builds that were running before). Each half may only move past what its own query has
//! read, in its own order: then a catch-up that stops half-way (a page the master did not
//! give, the bot killed) leaves the cursor before everything it had not read yet.
//!
//! So the ends announced while reading "created after" do not move `last_complete_at`: build
//! 12 completing at 200 says nothing of the builds up to the cursor's `last_buildid` that
//! completed before 200. Read in the other order, those were only read afterwards; and read
//! first, one that completed while the catch-up ran is still waiting in the event queue.
//! Moving `last_complete_at` to 200 skipped them for good if the catch-up (or the bot) stopped
//! before they were handled; the old code did just that.
//!
//! "Completed since" is read first, and it leaves out the builds newer than the cursor's
//! `last_buildid`: those come in the second half, their start before their end, and the
//! `last_buildid` half keeps them safe meanwhile. Read in this order, the catch-up announces
//! in the order things happened: the ends of the builds that were running, then the builds
//! that started while the bot was not listening.
//!
//! A build whose own announcement fails does not stop the catch-up: it waits for its retry
//! and the cursor stays before it (`settle.rs`). A page that cannot be read ends the
//! catch-up; it is tried again with backoff, and until one went through every cursor move
//! stays before what it did not read ([`Pending::caught_up_to`](super::retry::Pending)).

use super::retry::Owed;
use super::{Notifier, PAGE, Result};
use crate::clock::now;
use crate::storage::Cursor;

impl Notifier {
    /// Announces what happened since the cursor: builds started or finished while the event
    /// stream was down (or the bot was not running), and workers that came back meanwhile.
    pub(super) async fn catch_up(&mut self) -> Result<()> {
        // until the cursor is read, nothing may move it
        self.pending.catch_up_started();
        let Some(cursor) = self.store.cursor().await? else {
            return self.first_start().await;
        };
        self.pending.caught_up_to(cursor);
        let since = self.read_completed(cursor).await?;
        self.read_created(Cursor {
            last_buildid: cursor.last_buildid,
            last_complete_at: since,
        })
        .await?;
        for worker in self.client.workers().await? {
            if worker.is_connected() {
                self.worker_back(worker.workerid, &worker.name).await?;
            }
        }
        Ok(())
    }

    /// First start: history is not news. Announce from now on.
    async fn first_start(&mut self) -> Result<()> {
        let newest = self.client.newest_build().await?;
        let cursor = Cursor {
            last_buildid: newest.map_or(0, |b| b.buildid),
            last_complete_at: now(),
        };
        self.pending.caught_up_to(cursor);
        self.advance(cursor).await?;
        log::info!(
            "first start: announcing builds after build id {}",
            cursor.last_buildid
        );
        Ok(())
    }

    /// The ends of the builds up to the cursor's `last_buildid` that completed since its
    /// `last_complete_at`, in completion order; moves `last_complete_at` page by page.
    /// Returns how far it read.
    async fn read_completed(&mut self, cursor: Cursor) -> Result<i64> {
        let mut since = cursor.last_complete_at;
        loop {
            let page = self.client.builds_completed_since(since, PAGE).await?;
            let before = since;
            for build in &page {
                if build.buildid <= cursor.last_buildid {
                    self.settle(build, Owed::FINISH).await;
                }
                since = since.max(build.complete_at.unwrap_or(since));
            }
            self.pending.caught_up_to(Cursor {
                last_complete_at: since,
                ..cursor
            });
            self.advance(Cursor {
                last_buildid: 0,
                last_complete_at: since,
            })
            .await?;
            // a full page of one second would repeat forever; the claims make re-reads harmless
            if page.len() < PAGE || since == before {
                return Ok(since);
            }
        }
    }

    /// The builds created after `read.last_buildid`, in id order: each one's start, and its
    /// end when it is complete; moves `last_buildid` page by page, and never
    /// `last_complete_at` (see the module's documentation).
    async fn read_created(&mut self, read: Cursor) -> Result<()> {
        let mut after = read.last_buildid;
        loop {
            let page = self.client.builds_after(after, PAGE).await?;
            for build in &page {
                let owed = if build.complete {
                    Owed::BOTH
                } else {
                    Owed::START
                };
                self.settle(build, owed).await;
                after = after.max(build.buildid);
            }
            self.pending.caught_up_to(Cursor {
                last_buildid: after,
                ..read
            });
            self.advance(Cursor {
                last_buildid: after,
                last_complete_at: 0,
            })
            .await?;
            if page.len() < PAGE {
                return Ok(());
            }
        }
    }
}
