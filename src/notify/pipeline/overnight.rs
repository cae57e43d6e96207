//! The quiet hours with `notify.quiet_hours_mode = "digest"`: a build's result is kept in
//! storage for the chats that would have heard it, and summed up when the window ends
//! (`app::digest`); a build's start is not announced at all (so no live message is made).
//! Whether a result is kept is decided when the notifier handles it, by the clock then.
//!
//! What is not held back: `/watch` answers (the chat asked for that build) and worker news,
//! which arrive at once, without a sound, as in `silent` mode; and the live message of a build
//! that started before the window, which is still edited into its result (an edit makes no
//! sound).

use std::collections::BTreeSet;

use super::{Notifier, Result};
use crate::buildbot::models::{Build, Builder};
use crate::clock::now;
use crate::outcome::Outcome;
use crate::storage::{Chat, DigestEntry};

impl Notifier {
    /// Is it now the quiet hours of digest mode?
    fn digesting(&self) -> bool {
        self.settings
            .digest_window()
            .is_some_and(|window| window.contains(now()))
    }

    /// `chats`, or none in the quiet hours of digest mode: for announcements that are not
    /// worth a digest line (a build's start).
    pub(super) fn unless_digesting(&self, chats: BTreeSet<Chat>) -> BTreeSet<Chat> {
        if self.digesting() && !chats.is_empty() {
            log::debug!("a build start in the quiet hours: not announced");
            return BTreeSet::new();
        }
        chats
    }

    /// In the quiet hours of digest mode, keeps the result of `build` for the digest of
    /// `chats` and hands back none of them; otherwise hands them all back, to hear it now.
    /// Keeping a result twice (an announcement tried again) keeps it once.
    pub(super) async fn held_for_digest(
        &self,
        chats: BTreeSet<Chat>,
        builder: Option<&Builder>,
        build: &Build,
        (result, previous): (Outcome, Option<Outcome>),
    ) -> Result<BTreeSet<Chat>> {
        let Some(builder) = builder.filter(|_| !chats.is_empty() && self.digesting()) else {
            return Ok(chats);
        };
        let notes = self.mirror.notes(build.buildid, &self.client).await?;
        let owner = notes.owner.clone().or_else(|| {
            let authors = notes.authors.as_ref();
            authors.and_then(|a| a.first().cloned())
        });
        let entry = DigestEntry {
            buildid: build.buildid,
            builder: builder.name.clone(),
            number: build.number,
            result,
            previous,
            complete_at: build.complete_at.unwrap_or_else(now),
            owner,
            url: self.client.build_url(build.builderid, build.number),
        };
        let chats: Vec<Chat> = chats.into_iter().collect();
        self.store.digest_add(&chats, &entry).await?;
        log::info!(
            "build {} of {} finished in the quiet hours: kept for the digest of {} chat(s)",
            build.number,
            builder.name,
            chats.len()
        );
        Ok(BTreeSet::new())
    }
}
