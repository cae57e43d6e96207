//! The notification pipeline: master events in, messages to the chats that asked for them out.
//!
//! One task handles every event in order, live ones and those the catch-up finds after a
//! (re)connect, so the bookkeeping needs no locks: an event is *claimed* in storage before it
//! is announced (a repeat finds the claim and stays quiet), and the cursor remembers where the
//! next catch-up starts. That is what makes a build announced once, even across restarts of
//! the master or of the bot.
//!
//! A build whose announcement fails (the master times out or answers 5xx, the storage
//! fails) is not lost: it is tried again on a timer while later events go on
//! (`settle.rs`, `retry.rs`), and the cursor stays before it until it went through or was
//! given up after `telegram.limits.give_up_after`, so a restart of the bot reads it again.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::buildbot::events::MasterEvent;
use crate::buildbot::mirror::{Mirror, Notes};
use crate::buildbot::models::{Build, Builder};
use crate::buildbot::{self, Client};
use crate::delivery::outbox::Outbox;
use crate::delivery::{Delivery, Notification};
use crate::event::Event;
use crate::filter::About;
use crate::notify::history::Histories;
use crate::notify::routing;
use crate::outcome::Outcome;
use crate::settings::NotifySettings;
use crate::shutdown::Shutdown;
use crate::storage::{Chat, Cursor, StorageError, Store};
use crate::text;
use retry::{Owed, Pending};

/// Builds fetched per page during a catch-up.
const PAGE: usize = 200;

mod builds;
mod catch_up;
mod failure;
mod live;
mod overnight;
mod past;
mod retry;
mod settle;

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
    /// Builds whose announcement failed and the catch-up if it stopped half-way: tried again
    /// on a timer, and the cursor kept before them.
    pending: Pending,
    /// How far the events handled so far reach, whatever the pending ones hold back: where
    /// the cursor goes once nothing holds it.
    reached: Cursor,
    /// Loaded again after each catch-up ([`Notifier::feeding`]).
    mirror: Mirror,
    /// Each builder's recent results, shared with `/flaky` ([`Notifier::keeping`]).
    histories: Histories,
}

impl Notifier {
    /// `give_up_after`: how long a build whose announcement keeps failing is tried again
    /// before it is dropped (`telegram.limits.give_up_after`, as for the outbox's sends).
    pub fn new(
        client: Arc<Client>,
        store: Store,
        outbox: Outbox,
        delivery: Delivery,
        settings: NotifySettings,
        give_up_after: Duration,
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
            pending: Pending::new(give_up_after),
            reached: Cursor {
                last_buildid: 0,
                last_complete_at: 0,
            },
            mirror: Mirror::default(),
            histories: Histories::default(),
        }
    }

    /// The builders' histories, shared with whoever else reads them (`/flaky`).
    pub fn keeping(mut self, histories: Histories) -> Notifier {
        self.histories = histories;
        self
    }

    /// The mirror the commands read: loaded after each catch-up, once the stream is live
    /// again. After, so that the catch-up's own reads come first, as before the mirror.
    pub fn feeding(mut self, mirror: Mirror) -> Notifier {
        self.mirror = mirror;
        self
    }

    /// Handles events until `shutdown` (or until the stream ends), and tries again what
    /// failed when its time comes. The event in hand is finished first: what it queued is in
    /// the outbox, what it had not reached the catch-up finds again.
    pub async fn run(mut self, mut events: mpsc::Receiver<MasterEvent>, shutdown: Shutdown) {
        // live messages are brought up to date at most this often (an edit per chat each time)
        let mut progress = tokio::time::interval(Duration::from_secs(5));
        progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let retry = self.pending.next_due();
            // without a retry the branch is off, and its instant is never waited for
            let retry_at = retry.unwrap_or_else(tokio::time::Instant::now);
            tokio::select! {
                biased;
                _ = shutdown.triggered() => return,
                _ = tokio::time::sleep_until(retry_at), if retry.is_some() => {
                    self.retry_due().await;
                }
                event = events.recv() => match event {
                    Some(event) => self.handle(event).await,
                    None => return,
                },
                _ = progress.tick(), if self.settings.live => {
                    if let Err(error) = self.progress().await {
                        log::warn!("updating live build messages failed: {error}");
                    }
                }
            }
        }
    }

    /// One event from the master. A build's announcement that fails is tried again later
    /// (`settle`); the cursor moves past the event, but no further than what is pending.
    async fn handle(&mut self, event: MasterEvent) {
        match event {
            MasterEvent::Connected => {
                self.catch_up_now().await;
                self.mirror.load_in_background(self.client.clone());
            }
            MasterEvent::BuildStarted(build) => {
                self.settle(&build, Owed::START).await;
                self.advance_logged(Cursor {
                    last_buildid: build.buildid,
                    last_complete_at: 0,
                })
                .await;
            }
            MasterEvent::BuildFinished(build) => {
                self.settle(&build, Owed::FINISH).await;
                self.advance_logged(Cursor {
                    last_buildid: 0,
                    last_complete_at: build.complete_at.unwrap_or(0),
                })
                .await;
            }
            MasterEvent::WorkerMissing {
                workerid,
                name,
                last_connection,
            } => {
                let missing = self.worker_missing(workerid, &name, last_connection.as_deref());
                if let Err(error) = missing.await {
                    log::warn!("notifications for worker {name} missing failed: {error}");
                }
            }
            MasterEvent::WorkerConnected { workerid, name } => {
                if let Err(error) = self.worker_back(workerid, &name).await {
                    log::warn!("notifications for worker {name} connected failed: {error}");
                }
            }
            MasterEvent::StepChanged { buildid } => {
                // edits are coalesced: the next progress tick shows the change
                if self.settings.live {
                    self.stepped.insert(buildid);
                }
            }
        }
    }

    /// Builder `builderid`: as last read, or as the mirror has it, else read again.
    async fn builder(&mut self, builderid: i64) -> Result<Option<Builder>> {
        if !self.builders.contains_key(&builderid)
            && let Some(builder) = self
                .mirror
                .live()
                .and_then(|m| m.builder(builderid).cloned())
        {
            self.builders.insert(builderid, builder);
        }
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

    /// What the build's messages say besides its result: read when the mirror first saw the
    /// build, so usually without asking the master now.
    async fn note<'a>(
        &self,
        builder: &'a Builder,
        build: &'a Build,
    ) -> Result<(text::BuildNote<'a>, Arc<Notes>)> {
        let notes = self.mirror.notes(build.buildid, &self.client).await?;
        let note = text::BuildNote {
            builder,
            build,
            url: self.client.build_url(build.builderid, build.number),
            reason: notes.reason.clone(),
            owner: notes.owner.clone(),
            revisions: notes
                .revisions
                .clone()
                .filter(|_| self.settings.use_revisions),
        };
        Ok((note, notes))
    }

    /// The chats among `chats` whose filter (`/notify … builder:linux-*`) lets `build`
    /// through. The build's branch is asked for only when a chat filters on branches.
    async fn filtered(
        &self,
        chats: BTreeSet<Chat>,
        builder: &Builder,
        build: &Build,
    ) -> Result<BTreeSet<Chat>> {
        if chats.is_empty() {
            return Ok(chats);
        }
        let filters = self.store.filters().await?;
        let notes = match routing::by_branch(&chats, &filters) {
            true => Some(self.mirror.notes(build.buildid, &self.client).await?),
            false => None,
        };
        let about = About {
            builder: &builder.name,
            tags: &builder.tags,
            branch: notes.as_ref().and_then(|n| n.branch.as_deref()),
        };
        Ok(routing::passing(chats, &filters, &about))
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
