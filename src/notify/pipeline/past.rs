//! What a result message says of the builder's past, and who hears it without a sound.
//!
//! The builder's history is read from the master once (its last `notify.flaky.window`
//! builds, at least a few), then kept by adding every build announced; it is read
//! again when builds are missing from it. A run of failures longer than the history costs two
//! more requests, its first failure's authors one, once per run. Every build that ends is
//! added to its builder's history when there is one, announced or not, so a chat that hears
//! only failures still gets a story that counts the passes between them. When the master
//! cannot be read within [`WITHIN`], the message goes without these lines rather than late.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Notifier, Result};
use crate::buildbot::mirror::Notes;
use crate::buildbot::models::Build;
use crate::buildbot::{Bound, PastBuild};
use crate::clock::now;
use crate::notify::history::{History, Needs};
use crate::notify::routing;
use crate::outcome::Outcome;
use crate::storage::Chat;
use crate::text::{Past, Story};

/// Questions to the master one story may take (older run, its culprits).
const ASKS: usize = 3;

/// How long the history of a result may take to read before the message goes without it.
const WITHIN: Duration = Duration::from_secs(10);

impl Notifier {
    /// The builder's past as the result message of `build` tells it.
    pub(super) async fn past(&self, build: &Build, result: Outcome, notes: &Notes) -> Past {
        let read = tokio::time::timeout(WITHIN, self.read_past(build, result, notes));
        match read.await {
            Ok(Ok(past)) => past,
            Err(_) => {
                log::warn!(
                    "the history of builder {} for build {} took over {} s; announced without it",
                    build.builderid,
                    build.number,
                    WITHIN.as_secs()
                );
                Past::default()
            }
            Ok(Err(error)) => {
                log::warn!(
                    "cannot read the history of builder {} for build {}: {error}; announced without it",
                    build.builderid,
                    build.number
                );
                Past::default()
            }
        }
    }

    async fn read_past(&self, build: &Build, result: Outcome, notes: &Notes) -> Result<Past> {
        let window = History::window(&self.settings.flaky);
        let this = past_build(build, result, Some(notes));
        let mut history = match self.histories.get(build.builderid) {
            Some(history) if history.fits(build.number) => history,
            _ => {
                let builds = self
                    .client
                    .finished_builds(build.builderid, build.number, window)
                    .await?;
                History::new(builds, window)
            }
        };
        history.add(this);
        // kept before the questions below, which may fail or time out
        self.histories.put(build.builderid, history.clone());
        let mut story = history.story(build.number);
        for _ in 0..ASKS {
            let Err(needs) = &story else { break };
            self.ask(build.builderid, needs, &mut history).await?;
            story = history.story(build.number);
        }
        let past = Past {
            story: story.unwrap_or_default(),
            flaky: history.flaky(&self.settings.flaky),
        };
        self.histories.put(build.builderid, history);
        if matches!(past.story, Some(Story::NewFailure { .. })) {
            self.culprits_ahead(build, notes);
        }
        Ok(past)
    }

    /// A new failure starts a run: the next failure names its authors. They are known when
    /// the notes have them, else read now in the background, so that the next failure's
    /// message does not wait for them (it reads them itself if they are not there yet).
    fn culprits_ahead(&self, build: &Build, notes: &Notes) {
        let (builderid, buildid) = (build.builderid, build.buildid);
        if let Some(authors) = &notes.authors {
            self.histories
                .set_culprits(builderid, buildid, authors.clone());
            return;
        }
        let (client, histories) = (self.client.clone(), self.histories.clone());
        tokio::spawn(async move {
            match client.build_authors(buildid).await {
                Ok(authors) => histories.set_culprits(builderid, buildid, authors),
                Err(error) => log::debug!("authors of build {buildid} not read ahead: {error}"),
            }
        });
    }

    /// Adds a build that ended to its builder's history, if the bot keeps one, without
    /// asking the master anything (what it built, if its notes were read).
    pub(super) fn remember(&self, build: &Build, result: Outcome) {
        let Some(mut history) = self.histories.get(build.builderid) else {
            return;
        };
        if history.fits(build.number) {
            let notes = self.mirror.read_notes(build.buildid);
            history.add(past_build(build, result, notes.as_deref()));
            self.histories.put(build.builderid, history);
        }
    }

    /// Reads what the story needs from the master.
    async fn ask(&self, builderid: i64, needs: &Needs, history: &mut History) -> Result<()> {
        match *needs {
            Needs::Older(oldest) => {
                const GOOD: [Outcome; 2] = [Outcome::Success, Outcome::Warnings];
                const BAD: [Outcome; 2] = [Outcome::Failure, Outcome::Exception];
                let good = self
                    .client
                    .finished_build_where(builderid, Bound::Before(oldest), &GOOD)
                    .await?;
                let after = good.map_or(0, |g| g.number);
                let first = self
                    .client
                    .finished_build_where(builderid, Bound::After(after), &BAD)
                    .await?;
                history.set_red_since(first);
            }
            Needs::Culprits(buildid) => {
                let authors = self.client.build_authors(buildid).await?;
                history.set_culprits(buildid, authors);
            }
        }
        Ok(())
    }

    /// The chats among `chats` (not watchers: they asked for this build) that get the result
    /// without a sound: a repeated failure for those that chose quiet repeats, a flaky
    /// builder's change of state (new failure, recovery) for everybody.
    pub(super) async fn hushed(
        &self,
        chats: &BTreeSet<Chat>,
        watchers: &BTreeSet<Chat>,
        past: &Past,
    ) -> Result<BTreeSet<Chat>> {
        let subscribed: BTreeSet<Chat> = chats.difference(watchers).cloned().collect();
        let ping_pong = matches!(
            past.story,
            Some(Story::NewFailure { .. } | Story::Recovered(_))
        );
        if past.flaky.is_some() && ping_pong {
            return Ok(subscribed);
        }
        if !matches!(past.story, Some(Story::StillFailing(_))) {
            return Ok(BTreeSet::new());
        }
        let choices = self.store.quiet_repeats().await?;
        Ok(routing::quiet_repeats(
            &subscribed,
            &choices,
            self.settings.quiet_repeats,
        ))
    }
}

/// A build that ended, as a history keeps it.
fn past_build(build: &Build, result: Outcome, notes: Option<&Notes>) -> PastBuild {
    PastBuild {
        buildid: build.buildid,
        number: build.number,
        result,
        complete_at: build.complete_at.unwrap_or_else(now),
        revision: notes.and_then(|n| n.revision.clone()),
        branch: notes.and_then(|n| n.branch.clone()),
    }
}
