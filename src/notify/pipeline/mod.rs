//! The notification pipeline: master events in, messages to the chats that asked for them out.
//!
//! One task handles every event in order, live ones and those the catch-up finds after a
//! (re)connect, so the bookkeeping needs no locks: an event is *claimed* in storage before it
//! is announced (a repeat finds the claim and stays quiet), and the cursor remembers where the
//! next catch-up starts. That is what makes a build announced once, even across restarts of
//! the master or of the bot.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::buildbot::events::MasterEvent;
use crate::buildbot::models::{Build, Builder};
use crate::buildbot::{self, Client};
use crate::clock::now;
use crate::delivery::outbox::Outbox;
use crate::delivery::{Delivery, Notification};
use crate::event::Event;
use crate::notify::{classify, routing};
use crate::outcome::Outcome;
use crate::settings::NotifySettings;
use crate::shutdown::Shutdown;
use crate::storage::{Announcement, Chat, Cursor, StorageError, Store};
use crate::text;

/// Builds fetched per page during a catch-up.
const PAGE: usize = 200;

mod catch_up;
mod failure;
mod live;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Buildbot(#[from] buildbot::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

type Result<T> = std::result::Result<T, NotifyError>;

/// A finished build, its result, and the previous build's result (when asked).
struct Finish<'a> {
    build: &'a Build,
    result: Outcome,
    previous: Option<Outcome>,
}

pub struct Notifier {
    client: Arc<Client>,
    store: Store,
    outbox: Outbox,
    /// For live messages, which are edited in place.
    delivery: Delivery,
    settings: NotifySettings,
    /// The last progress text of each live build, to edit only on change.
    last_progress: HashMap<i64, String>,
    /// Live builds whose steps moved since the last progress edit.
    stepped: std::collections::HashSet<i64>,
    builders: HashMap<i64, Builder>,
    /// The newest finished build seen per builder, `(number, result)`: when a build's number
    /// follows it, the previous result is known without asking the master.
    last_results: HashMap<i64, (i64, Outcome)>,
}

impl Notifier {
    pub fn new(
        client: Arc<Client>,
        store: Store,
        outbox: Outbox,
        delivery: Delivery,
        settings: NotifySettings,
    ) -> Notifier {
        Notifier {
            client,
            store,
            outbox,
            delivery,
            last_progress: HashMap::new(),
            stepped: std::collections::HashSet::new(),
            settings,
            builders: HashMap::new(),
            last_results: HashMap::new(),
        }
    }

    /// Handles events until `shutdown` (or until the stream ends). The event in hand is
    /// finished first: what it queued is in the outbox, what it had not reached the catch-up
    /// finds again.
    pub async fn run(mut self, mut events: mpsc::Receiver<MasterEvent>, shutdown: Shutdown) {
        // live messages are brought up to date at most this often (an edit per chat each time)
        let mut progress = tokio::time::interval(std::time::Duration::from_secs(5));
        progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                biased;
                _ = shutdown.triggered() => return,
                event = events.recv() => event,
                _ = progress.tick(), if self.settings.live => {
                    if let Err(error) = self.progress().await {
                        log::warn!("updating live build messages failed: {error}");
                    }
                    continue;
                }
            };
            let Some(event) = event else { return };
            let what = match &event {
                MasterEvent::Connected => "catching up".to_owned(),
                MasterEvent::BuildStarted(b) => format!("build {} started", b.buildid),
                MasterEvent::BuildFinished(b) => format!("build {} finished", b.buildid),
                MasterEvent::WorkerMissing { name, .. } => format!("worker {name} missing"),
                MasterEvent::WorkerConnected { name, .. } => format!("worker {name} connected"),
                MasterEvent::StepChanged { buildid } => format!("a step of build {buildid}"),
            };
            let outcome = match event {
                MasterEvent::Connected => self.catch_up().await,
                MasterEvent::BuildStarted(build) => self.started(&build).await,
                MasterEvent::BuildFinished(build) => self.finished(&build).await,
                MasterEvent::WorkerMissing {
                    workerid,
                    name,
                    last_connection,
                } => {
                    self.worker_missing(workerid, &name, last_connection.as_deref())
                        .await
                }
                MasterEvent::WorkerConnected { workerid, name } => {
                    self.worker_back(workerid, &name).await
                }
                MasterEvent::StepChanged { buildid } => {
                    // edits are coalesced: the next progress tick shows the change
                    if self.settings.live {
                        self.stepped.insert(buildid);
                    }
                    Ok(())
                }
            };
            if let Err(error) = outcome {
                log::warn!("notifications for {what} failed: {error}");
            }
        }
    }

    async fn builder(&mut self, builderid: i64) -> Result<Option<Builder>> {
        if !self.builders.contains_key(&builderid) {
            self.builders = self
                .client
                .builders()
                .await?
                .into_iter()
                .map(|b| (b.builderid, b))
                .collect();
        }
        Ok(self.builders.get(&builderid).cloned())
    }

    /// `[notify].tags`: with tags set, only builders carrying one of them are reported.
    fn reported(&self, builder: &Builder) -> bool {
        self.settings.shows(&builder.tags)
    }

    /// Chats subscribed to any of `events`.
    async fn subscribers(&self, events: &[Event]) -> Result<BTreeSet<Chat>> {
        Ok(routing::wanting(&self.store.subscriptions().await?, events))
    }

    async fn note<'a>(
        &self,
        builder: &'a Builder,
        build: &'a Build,
    ) -> Result<text::BuildNote<'a>> {
        let (reason, owner) = self.client.build_reason_and_owner(build.buildid).await?;
        let revisions = match (self.settings.use_revisions, build.buildrequestid) {
            (true, Some(request)) => Some(self.client.build_revisions(request).await?),
            _ => None,
        };
        Ok(text::BuildNote {
            builder,
            build,
            url: self.client.build_url(build.builderid, build.number),
            reason,
            owner,
            revisions,
        })
    }

    async fn started(&mut self, build: &Build) -> Result<()> {
        // Queued first, claimed after: a crash in between repeats the message, never loses it.
        if self
            .store
            .is_claimed(build.buildid, Announcement::Started)
            .await?
        {
            return Ok(());
        }
        let cursor = Cursor {
            last_buildid: build.buildid,
            last_complete_at: 0,
        };
        let Some(builder) = self
            .builder(build.builderid)
            .await?
            .filter(|b| self.reported(b))
        else {
            self.store
                .claim(build.buildid, Announcement::Started, now())
                .await?;
            return Ok(self.store.advance_cursor(cursor).await?);
        };
        let chats = self.subscribers(&[Event::Started]).await?;
        if !chats.is_empty() {
            log::info!(
                "build {} of {} started: announcing to {} chat(s)",
                build.number,
                builder.name,
                chats.len()
            );
            let message = text::build_started(&self.note(&builder, build).await?);
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
        Ok(self.store.advance_cursor(cursor).await?)
    }

    async fn finished(&mut self, build: &Build) -> Result<()> {
        let Some(result) = build.results.filter(|_| build.complete) else {
            return Ok(());
        };
        if self
            .store
            .is_claimed(build.buildid, Announcement::Finished)
            .await?
        {
            return Ok(());
        }
        let cursor = Cursor {
            last_buildid: 0,
            last_complete_at: build.complete_at.unwrap_or(0),
        };
        // read, not taken: the claim below ends them, so a failure before it keeps them
        let watchers = self.store.watchers(build.buildid).await?;
        let builder = self.builder(build.builderid).await?;
        let reported = builder.as_ref().is_some_and(|b| self.reported(b));

        // one read of the subscriptions serves both questions below
        let subscriptions = if reported {
            self.store.subscriptions().await?
        } else {
            BTreeMap::new()
        };
        let comparing = [Event::Worse, Event::Better, Event::Problem, Event::Recovery];
        let wants_comparison = !routing::wanting(&subscriptions, &comparing).is_empty();
        let previous = self
            .previous_result(build, result, wants_comparison)
            .await?;
        let events = classify::finished(result, previous);
        let mut chats = routing::wanting(&subscriptions, &events);
        chats.extend(watchers);
        let live = self.live_messages(build.buildid).await?;
        if let (Some(builder), false) = (builder, chats.is_empty() && live.is_empty()) {
            let names: Vec<&str> = events.iter().map(|e| e.name()).collect();
            log::info!(
                "build {} of {} finished ({}): announcing to {} chat(s)",
                build.number,
                builder.name,
                names.join(", "),
                chats.len()
            );
            let finish = Finish {
                build,
                result,
                previous,
            };
            self.announce_finished(&builder, finish, &chats, &live)
                .await?;
        }
        if !live.is_empty() {
            self.store.live_drop(build.buildid).await?;
        }
        self.store.claim_finished(build.buildid, now()).await?;
        Ok(self.store.advance_cursor(cursor).await?)
    }

    /// The result message: live messages become it, every other chat gets it new.
    async fn announce_finished(
        &self,
        builder: &Builder,
        finish: Finish<'_>,
        chats: &BTreeSet<Chat>,
        live: &[(Chat, i32)],
    ) -> Result<()> {
        let Finish {
            build,
            result,
            previous,
        } = finish;
        let note = self.note(builder, build).await?;
        let (failure, actions) = self.failure_details(build, result).await?;
        let message = Notification::new(text::build_finished(&note, previous, &failure), actions);
        let mut recipients = self.routed(chats, builder);
        self.turn_live_into_result(live, &message, &mut recipients)
            .await;
        self.send_all(&recipients, &message).await
    }

    /// The result of the builder's previous build, when a chat compares (worse, better,
    /// problem, recovery): remembered when the build follows the newest one seen, asked
    /// otherwise. Remembers `result` as the newest when it is.
    async fn previous_result(
        &mut self,
        build: &Build,
        result: Outcome,
        wanted: bool,
    ) -> Result<Option<Outcome>> {
        let previous = match self.last_results.get(&build.builderid) {
            _ if !wanted => None,
            Some((number, outcome)) if *number == build.number - 1 => Some(*outcome),
            _ => self
                .client
                .previous_finished_build(build.builderid, build.number)
                .await?
                .and_then(|b| b.results),
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

    async fn worker_missing(
        &mut self,
        workerid: i64,
        name: &str,
        last_connection: Option<&str>,
    ) -> Result<()> {
        if !self.store.mark_missing(workerid, name).await? {
            return Ok(());
        }
        let chats = self.subscribers(&[Event::Worker]).await?;
        let message = Notification::new(text::worker_missing(name, last_connection), Vec::new());
        self.send_all(&chats, &message).await
    }

    async fn worker_back(&mut self, workerid: i64, name: &str) -> Result<()> {
        if !self.store.clear_missing(workerid).await? {
            return Ok(());
        }
        let chats = self.subscribers(&[Event::Worker]).await?;
        let message = Notification::new(text::worker_back(name), Vec::new());
        self.send_all(&chats, &message).await
    }

    /// `[notify.routes]`: in a forum supergroup, a builder's notifications go to its topic.
    fn routed(&self, chats: &BTreeSet<Chat>, builder: &Builder) -> BTreeSet<Chat> {
        routing::into_topic(chats, self.settings.topic_for(&builder.name, &builder.tags))
    }

    /// Queues one message for several chats in the outbox, which delivers it.
    async fn send_all(&self, chats: &BTreeSet<Chat>, message: &Notification) -> Result<()> {
        let chats: Vec<Chat> = chats.iter().cloned().collect();
        Ok(self.outbox.enqueue(&chats, message).await?)
    }
}
