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
use crate::delivery::{Action, Delivery, Notification, Outgoing};
use crate::event::Event;
use crate::notify::classify;
use crate::outcome::Outcome;
use crate::settings::NotifySettings;
use crate::storage::{Announcement, Chat, Cursor, StorageError, Store};
use crate::text;
use teloxide::types::{ChatId, MessageId};

/// Builds fetched per page during a catch-up.
const PAGE: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Buildbot(#[from] buildbot::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

type Result<T> = std::result::Result<T, NotifyError>;

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

/// The chats subscribed to any of `events`.
fn wanting(subscriptions: &BTreeMap<Chat, BTreeSet<Event>>, events: &[Event]) -> BTreeSet<Chat> {
    subscriptions
        .iter()
        .filter(|(_, wanted)| events.iter().any(|e| wanted.contains(e)))
        .map(|(chat, _)| chat.clone())
        .collect()
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

    /// Handles events until the stream ends.
    pub async fn run(mut self, mut events: mpsc::Receiver<MasterEvent>) {
        // live messages are brought up to date at most this often (an edit per chat each time)
        let mut progress = tokio::time::interval(std::time::Duration::from_secs(5));
        progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
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

    /// Announces what happened since the cursor: builds started or finished while the event
    /// stream was down (or the bot was not running), and workers that came back meanwhile.
    async fn catch_up(&mut self) -> Result<()> {
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
        Ok(wanting(&self.store.subscriptions().await?, events))
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
        let watchers = self.store.take_watchers(build.buildid).await?;
        let builder = self.builder(build.builderid).await?;
        let reported = builder.as_ref().is_some_and(|b| self.reported(b));

        // one read of the subscriptions serves both questions below
        let subscriptions = if reported {
            self.store.subscriptions().await?
        } else {
            BTreeMap::new()
        };
        let comparing = [Event::Worse, Event::Better, Event::Problem, Event::Recovery];
        let wants_comparison = !wanting(&subscriptions, &comparing).is_empty();
        let previous = match self.last_results.get(&build.builderid) {
            _ if !wants_comparison => None,
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
        let events = classify::finished(result, previous);
        let mut chats = wanting(&subscriptions, &events);
        chats.extend(watchers);
        let live = if self.settings.live {
            self.store.live_of(build.buildid).await?
        } else {
            Vec::new()
        };
        if let (Some(builder), false) = (builder, chats.is_empty() && live.is_empty()) {
            let note = self.note(&builder, build).await?;
            let (failure, actions) = self.failure_details(build, result).await?;
            let names: Vec<&str> = events.iter().map(|e| e.name()).collect();
            log::info!(
                "build {} of {} finished ({}): announcing to {} chat(s)",
                build.number,
                builder.name,
                names.join(", "),
                chats.len()
            );
            let message =
                Notification::new(text::build_finished(&note, previous, &failure), actions);
            let mut recipients = self.routed(&chats, &builder);
            // a live message becomes the result; a chat whose edit fails gets a new message
            for (chat, message_id) in &live {
                let Some(edited) = self.edit_live(chat, *message_id, message.outgoing()).await
                else {
                    continue;
                };
                match edited {
                    Ok(()) => {
                        recipients.remove(chat);
                    }
                    Err(error) => {
                        log::warn!(
                            "cannot turn the live message in chat {chat} into the result: {error}"
                        );
                        recipients.insert(chat.clone());
                    }
                }
            }
            self.send_all(&recipients, &message).await?;
        }
        if !live.is_empty() {
            self.store.live_drop(build.buildid).await?;
        }
        self.store
            .claim(build.buildid, Announcement::Finished, now())
            .await?;
        Ok(self.store.advance_cursor(cursor).await?)
    }

    /// The failing step and, with `show_blame_list`, who is to blame.
    /// Edits the live messages of the builds whose steps moved, to show their progress.
    async fn progress(&mut self) -> Result<()> {
        let live = self.store.live_builds().await?;
        let moved: Vec<i64> = live
            .into_iter()
            .filter(|b| self.stepped.contains(b))
            .collect();
        self.stepped.clear();
        for buildid in moved {
            let Some(build) = self.client.build(buildid).await? else {
                self.store.live_drop(buildid).await?;
                continue;
            };
            if build.complete {
                continue; // the finished event turns it into the result
            }
            let Some(builder) = self.builder(build.builderid).await? else {
                continue;
            };
            let steps = self.client.steps(buildid).await?;
            let done = steps.iter().filter(|s| s.results.is_some()).count();
            let current = steps
                .iter()
                .rev()
                .find(|s| s.results.is_none())
                .map(|s| s.name.clone());
            let elapsed = build.started_at.map_or(0, |t| now().saturating_sub(t));
            let url = self.client.build_url(build.builderid, build.number);
            let text = text::build_progress(
                &builder.name,
                build.number,
                &url,
                current.as_deref(),
                done,
                steps.len(),
                elapsed,
            );
            if self.last_progress.get(&buildid) == Some(&text) {
                continue;
            }
            for (chat, message_id) in self.store.live_of(buildid).await? {
                let progress = Outgoing::text(text.clone());
                if let Some(Err(error)) = self.edit_live(&chat, message_id, progress).await {
                    log::debug!("live message in chat {chat} not updated: {error}");
                }
            }
            self.last_progress.insert(buildid, text);
        }
        Ok(())
    }

    /// The failing step, the end of its log, and with `show_blame_list` who is to blame; and
    /// the buttons under a failure message (its log page, rebuild).
    async fn failure_details(
        &self,
        build: &Build,
        result: Outcome,
    ) -> Result<(text::Failure, Vec<Action>)> {
        if !result.is_failure() {
            return Ok((
                text::Failure {
                    step: None,
                    blame: None,
                    log_tail: Vec::new(),
                },
                Vec::new(),
            ));
        }
        let steps = self.client.steps(build.buildid).await?;
        let failed = steps
            .iter()
            .find(|s| s.results.is_some_and(Outcome::is_failure) && !s.hidden);
        let mut log_tail = Vec::new();
        let mut log_url = None;
        if let Some(step) = failed
            && let Some((slug, tail)) = self
                .client
                .step_log_tail(step.stepid, self.settings.log_tail_lines)
                .await?
        {
            log_tail = tail;
            log_url = Some(format!(
                "{}/steps/{}/logs/{slug}",
                self.client.build_url(build.builderid, build.number),
                step.number
            ));
        }
        let blame = if self.settings.show_blame_list {
            let mut authors: Vec<String> = Vec::new();
            for change in self.client.build_changes(build.buildid).await? {
                if let Some(author) = change.author.filter(|a| !authors.contains(a)) {
                    authors.push(author);
                }
            }
            Some(authors)
        } else {
            None
        };
        let mut actions: Vec<Action> = log_url.map(Action::OpenLog).into_iter().collect();
        actions.push(Action::Rebuild(build.buildid));
        Ok((
            text::Failure {
                step: failed.map(|s| s.name.clone()),
                blame,
                log_tail,
            },
            actions,
        ))
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
        let thread = self.settings.topic_for(&builder.name, &builder.tags);
        chats
            .iter()
            .map(|chat| match (chat, thread) {
                (Chat::Id(id), Some(thread)) if *id <= -1_000_000_000_000 => {
                    Chat::Topic(*id, thread)
                }
                (chat, _) => chat.clone(),
            })
            .collect()
    }

    /// Queues one message for several chats in the outbox, which delivers it.
    async fn send_all(&self, chats: &BTreeSet<Chat>, message: &Notification) -> Result<()> {
        let chats: Vec<Chat> = chats.iter().cloned().collect();
        Ok(self.outbox.enqueue(&chats, message).await?)
    }

    /// Edits a build's live message in `chat`: the one path for progress and for the result.
    /// `None` for a channel named by its username, whose messages are not edited.
    async fn edit_live(
        &self,
        chat: &Chat,
        message_id: i32,
        message: Outgoing,
    ) -> Option<std::result::Result<(), teloxide::RequestError>> {
        let (Chat::Id(id) | Chat::Topic(id, _)) = chat else {
            return None;
        };
        Some(
            self.delivery
                .edit(ChatId(*id), MessageId(message_id), message)
                .await,
        )
    }
}
