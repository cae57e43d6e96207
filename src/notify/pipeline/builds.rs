//! A build's two announcements, its start and its end: who asked, what the message says,
//! and the claim that makes a repeat of either quiet. Neither moves the catch-up cursor:
//! the caller knows how far everything before the build is done (`settle.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::{Notifier, Result};
use crate::buildbot::models::{Build, Builder};
use crate::clock::now;
use crate::delivery::Notification;
use crate::event::Event;
use crate::notify::{classify, routing};
use crate::outcome::Outcome;
use crate::storage::{Announcement, Chat};
use crate::text;

/// A finished build, its result, the previous build's result (when asked), and who watched
/// it.
struct Finish<'a> {
    build: &'a Build,
    result: Outcome,
    previous: Option<Outcome>,
    watchers: &'a BTreeSet<Chat>,
}

impl Notifier {
    /// Announces the start of `build` to the chats that asked, unless it was claimed already.
    /// Queued first, claimed after: a crash in between repeats the message, never loses it.
    /// A failure (the master, the storage) leaves it unclaimed, for the caller to try again.
    pub(super) async fn started(&mut self, build: &Build) -> Result<()> {
        if self
            .store
            .is_claimed(build.buildid, Announcement::Started)
            .await?
        {
            return Ok(());
        }
        let Some(builder) = self
            .builder(build.builderid)
            .await?
            .filter(|b| self.reported(b))
        else {
            self.store
                .claim(build.buildid, Announcement::Started, now())
                .await?;
            return Ok(());
        };
        let chats = self.unless_digesting(self.subscribers(&[Event::Started]).await?);
        let chats = self.filtered(chats, &builder, build).await?;
        if !chats.is_empty() {
            log::info!(
                "build {} of {} started: announcing to {} chat(s)",
                build.number,
                builder.name,
                chats.len()
            );
            let message = text::build_started(&self.note(&builder, build).await?.0);
            let chats: Vec<Chat> = self.routed(&chats, &builder).into_iter().collect();
            // live: the start message is the one that progress and the result edit later
            let live = self.settings.live.then_some(build.buildid);
            self.outbox
                .enqueue_live(&chats, &Notification::new(message, Vec::new()), live)
                .await?;
        }
        self.store
            .claim(build.buildid, Announcement::Started, now())
            .await?;
        Ok(())
    }

    /// Announces the end of `build` to the chats that asked and to its watchers, unless it
    /// was claimed already. Every call that can fail comes before the claim, which also ends
    /// the watches (one transaction): a failure leaves the build as it was, for a retry.
    pub(super) async fn finished(&mut self, build: &Build) -> Result<()> {
        let Some(result) = self.unclaimed_result(build).await? else {
            return Ok(());
        };
        self.remember(build, result);
        // read, not taken: the claim below ends them, so a failure before it keeps them
        let watchers: BTreeSet<Chat> = self
            .store
            .watchers(build.buildid)
            .await?
            .into_iter()
            .collect();
        let builder = self.builder(build.builderid).await?;
        let reported = builder.as_ref().is_some_and(|b| self.reported(b));

        // one read of the subscriptions serves both questions below
        let subscriptions = if reported {
            self.store.subscriptions().await?
        } else {
            BTreeMap::new()
        };
        let comparing = [Event::Worse, Event::Better, Event::Problem, Event::Recovery];
        // a digest tells a recovery by the result before the night
        let wants_comparison =
            !routing::wanting(&subscriptions, &comparing).is_empty() || self.digesting();
        let previous = self
            .previous_result(build, result, wants_comparison)
            .await?;
        let events = classify::finished(result, previous);
        let mut chats = routing::wanting(&subscriptions, &events);
        if let Some(builder) = &builder {
            chats = self.filtered(chats, builder, build).await?;
        }
        let kept = (result, previous);
        chats = self
            .held_for_digest(chats, &subscriptions, builder.as_ref(), build, kept)
            .await?;
        chats.extend(watchers.iter().cloned());
        let live = self.live_messages(build.buildid).await?;
        if let (Some(builder), false) = (builder, chats.is_empty() && live.is_empty()) {
            log_finished(build, &builder, &events, chats.len());
            let finish = Finish {
                build,
                result,
                previous,
                watchers: &watchers,
            };
            self.announce_finished(&builder, finish, &chats, &live)
                .await?;
        }
        if !live.is_empty() {
            self.store.live_drop(build.buildid).await?;
        }
        self.store.claim_finished(build.buildid, now()).await?;
        self.mirror.forget(build.buildid);
        Ok(())
    }

    /// The result of a finished build whose end was not announced yet.
    async fn unclaimed_result(&self, build: &Build) -> Result<Option<Outcome>> {
        let Some(result) = build.results.filter(|_| build.complete) else {
            return Ok(None);
        };
        let claimed = self
            .store
            .is_claimed(build.buildid, Announcement::Finished)
            .await?;
        Ok((!claimed).then_some(result))
    }

    /// The result message: live messages become it, every other chat gets it new.
    async fn announce_finished(
        &self,
        builder: &Builder,
        finish: Finish<'_>,
        chats: &BTreeSet<Chat>,
        live: &[(Chat, i32)],
    ) -> Result<()> {
        let (note, notes) = self.note(builder, finish.build).await?;
        let (failure, actions) = self
            .failure_details(finish.build, finish.result, &notes)
            .await?;
        let past = self.past(finish.build, finish.result, &notes).await;
        let hushed = self.hushed(chats, finish.watchers, &past).await?;
        let text = text::build_finished(&note, finish.previous, &failure, &past);
        let message = Notification::new(text, actions);
        let mut recipients = self.routed(chats, builder);
        self.turn_live_into_result(live, &message, &mut recipients)
            .await;
        let recipients: Vec<Chat> = recipients.into_iter().collect();
        let hushed = self.routed(&hushed, builder);
        self.outbox
            .enqueue_silent(&recipients, &message, None, &hushed)
            .await?;
        Ok(())
    }

    /// The result of the builder's previous build, when a chat compares (worse, better,
    /// problem, recovery): remembered when the build follows the newest one seen, or by the
    /// mirror, asked otherwise. Remembers `result` as the newest when it is.
    async fn previous_result(
        &mut self,
        build: &Build,
        result: Outcome,
        wanted: bool,
    ) -> Result<Option<Outcome>> {
        let previous = match self.last_results.get(&build.builderid) {
            _ if !wanted => None,
            Some((number, outcome)) if *number == build.number - 1 => Some(*outcome),
            _ => match self.mirrored_result(build.builderid, build.number - 1) {
                Some(outcome) => Some(outcome),
                None => self
                    .client
                    .previous_finished_build(build.builderid, build.number)
                    .await?
                    .and_then(|b| b.results),
            },
        };
        let newest = self
            .last_results
            .get(&build.builderid)
            .is_none_or(|(n, _)| *n < build.number);
        if newest {
            self.last_results
                .insert(build.builderid, (build.number, result));
        }
        Ok(previous)
    }

    /// Build `number`'s result, as the mirror has it.
    fn mirrored_result(&self, builderid: i64, number: i64) -> Option<Outcome> {
        self.mirror.live()?.result_of(builderid, number)
    }
}

fn log_finished(build: &Build, builder: &Builder, events: &[Event], chats: usize) {
    let names: Vec<&str> = events.iter().map(|e| e.name()).collect();
    log::info!(
        "build {} of {} finished ({}): announcing to {chats} chat(s)",
        build.number,
        builder.name,
        names.join(", "),
    );
}
