//! The quiet hours with `notify.quiet_hours_mode = "digest"`: a build's result is kept in
//! storage for the chats that would have heard it, and summed up when the window ends
//! (`app::digest`); a build's start is not announced at all (so no live message is made).
//! Whether a result is kept is decided when the notifier handles it, by the clock then.
//!
//! What is not held back: `/watch` answers (the chat asked for that build) and worker news,
//! which arrive at once, without a sound, as in `silent` mode; and the live message of a build
//! that started before the window, which is still edited into its result (an edit makes no
//! sound).

use std::collections::{BTreeMap, BTreeSet};

use super::{Notifier, Result};
use crate::buildbot::models::{Build, Builder};
use crate::clock::now;
use crate::event::Event;
use crate::notify::routing;
use crate::outcome::Outcome;
use crate::storage::{Chat, DigestEntry};

impl Notifier {
    /// Is it now the quiet hours of digest mode?
    pub(super) fn digesting(&self) -> bool {
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

    /// In the quiet hours of digest mode, keeps the result of `build` for the digest of the
    /// chats that hear about builds like it — `heard`, those that asked for its events, and the
    /// others that hear results of its builder (so that the night is told right: the pass
    /// between two failures of a chat that hears failures) — and hands back none of them.
    /// Otherwise hands `heard` back, to hear it now, but for the chats that kept it already
    /// (an announcement tried again after the window ended). Kept twice is kept once.
    pub(super) async fn held_for_digest(
        &self,
        heard: BTreeSet<Chat>,
        subscriptions: &BTreeMap<Chat, BTreeSet<Event>>,
        builder: Option<&Builder>,
        build: &Build,
        (result, previous): (Outcome, Option<Outcome>),
    ) -> Result<BTreeSet<Chat>> {
        let Some(builder) = builder.filter(|_| self.settings.digest_window().is_some()) else {
            return Ok(heard);
        };
        if !self.digesting() {
            let kept = self.store.digest_chats_of(build.buildid).await?;
            return Ok(heard.difference(&kept).cloned().collect());
        }
        // a chat subscribed to any event of a build's end hears results
        let ends: Vec<Event> = (Event::ALL.into_iter())
            .filter(|e| !matches!(e, Event::Started | Event::Worker))
            .collect();
        let results = routing::wanting(subscriptions, &ends);
        let results = self.filtered(results, builder, build).await?;
        if results.is_empty() && heard.is_empty() {
            return Ok(heard);
        }
        let notes = self.mirror.notes(build.buildid, &self.client).await?;
        if !self.digesting() {
            // the window ended while the master answered: heard now, as after it
            return Ok(heard);
        }
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
        let chats: Vec<(Chat, bool)> = results
            .union(&heard)
            .map(|chat| (chat.clone(), heard.contains(chat)))
            .collect();
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
