//! What a build's messages say of it besides its builder and result: why it ran, who asked
//! for it, what it contains and whose changes those are; and for a failure, the end of the
//! failing step's log.
//!
//! Read once per build of a builder the bot shows, when the mirror sees its `new` (the
//! master sets a build's properties just before) or a load finds it running, in a task of its
//! own and a few builds at a time: so when the build ends, its message is ready without
//! asking the master. A reader that comes while the read is under way waits for it rather
//! than asking again; one that comes after a read failed asks again itself. Notes read from
//! a build the master has only just created (the catch-up can announce its start then) are
//! used but not kept: its `new` reads them again, properties and all.
//!
//! The log tail of a failure is read the same way as soon as a step's end says it failed,
//! while the master is still ending the build.

use std::sync::Arc;

use tokio::sync::{OnceCell, Semaphore};

use super::recent::Recent;
use super::{Mirror, state};
use crate::buildbot::models::Build;
use crate::buildbot::{Client, Error, Result};

/// Builds read at once: a burst of starts does not flood the master.
const AT_ONCE: usize = 8;
/// Builds whose notes are kept: far more than run at once on any master; the first put in
/// go first (an end announced after that asks the master again).
const KEPT: usize = 1024;

/// What is read, as the notifications' settings ask.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// The revisions the build was asked for (`notify.use_revisions`).
    pub revisions: bool,
    /// The authors of its changes (`notify.show_blame_list`).
    pub authors: bool,
    /// The lines of a failing step's log shown (`notify.log_tail_lines`).
    pub tail_lines: usize,
    /// `notify.tags`: builds of other builders are never announced, so never read.
    pub tags: Vec<String>,
}

impl Wanted {
    fn shows(&self, tags: &[String]) -> bool {
        crate::settings::tags_show(&self.tags, tags)
    }
}

/// The notes of one build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    pub reason: Option<String>,
    pub owner: Option<String>,
    /// Its `branch` property: what `branch:` filters look at.
    pub branch: Option<String>,
    /// What it built (`got_revision`, else `revision`): what flaky detection compares.
    pub revision: Option<String>,
    /// With [`Wanted::revisions`]: the revisions it was asked for.
    pub revisions: Option<Vec<String>>,
    /// With [`Wanted::authors`]: the authors of its changes, each once, in order.
    pub authors: Option<Vec<String>>,
    /// An older build of the same builder was running when the authors were read. Buildbot
    /// counts a build's changes from the previous *successful* build, so if that one ends
    /// well meanwhile, the authors are read again when this one ends.
    pub raced: bool,
}

/// The end of a step's main log, and the log's slug (for its page); `None` for a step
/// without logs.
pub type LogTail = Option<(String, Vec<String>)>;

pub(super) type Cell = Arc<OnceCell<Arc<Notes>>>;
pub(super) type TailCell = Arc<OnceCell<LogTail>>;

/// Every build's notes and failure tail, read or being read.
#[derive(Default)]
pub(super) struct Book {
    wanted: Wanted,
    cells: Recent<Cell, KEPT>,
    /// By build: the failing step whose log tail is read, and the tail.
    tails: Recent<(i64, TailCell), KEPT>,
    reads: Option<Arc<Semaphore>>,
}

impl Book {
    pub(super) fn new(wanted: Wanted) -> Book {
        Book {
            wanted,
            ..Book::default()
        }
    }

    /// The cell of build `buildid`, and whether nothing is in it yet.
    fn cell(&mut self, buildid: i64) -> (Cell, bool) {
        let cell = match self.cells.get(&buildid) {
            Some(cell) => cell.clone(),
            None => {
                let cell = Cell::default();
                self.cells.insert(buildid, cell.clone());
                cell
            }
        };
        let empty = !cell.initialized();
        (cell, empty)
    }

    /// The log tail cell of step `stepid` of build `buildid`, and whether it is new. A build
    /// has one: the step its message names.
    fn tail(&mut self, buildid: i64, stepid: i64) -> (TailCell, bool) {
        if let Some((step, cell)) = self.tails.get(&buildid)
            && *step == stepid
        {
            return (cell.clone(), false);
        }
        let cell = TailCell::default();
        self.tails.insert(buildid, (stepid, cell.clone()));
        (cell, true)
    }

    pub(super) fn forget(&mut self, buildid: i64) {
        self.cells.remove(&buildid);
        self.tails.remove(&buildid);
    }

    fn reads(&mut self) -> Arc<Semaphore> {
        self.reads
            .get_or_insert_with(|| Arc::new(Semaphore::new(AT_ONCE)))
            .clone()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.cells.len()
    }

    #[cfg(test)]
    pub(super) fn has_tail(&self, buildid: i64) -> bool {
        self.tails.contains_key(&buildid)
    }
}

/// What a frame asks to be read, decided while the state is locked: the cells go to the
/// tasks that fill them, so a task never makes a cell of its own after the build's end was
/// announced.
#[derive(Default)]
pub(super) struct ToRead {
    pub(super) notes: Option<(i64, Cell)>,
    pub(super) tail: Option<(i64, i64, TailCell)>,
}

impl Book {
    /// What `frame` (already applied to `state`) asks to be read: the notes of a build whose
    /// `new` it is, the log tail of the first failing step of a build.
    pub(super) fn asked_by(&mut self, frame: &serde_json::Value, state: &state::State) -> ToRead {
        let shown = |wanted: &Wanted, builderid: Option<i64>| {
            match builderid.and_then(|id| state.builder(id)) {
                Some(builder) => wanted.shows(&builder.tags),
                None => true, // a builder not known yet: read, rather than miss it
            }
        };
        let mut read = ToRead::default();
        if let Some((buildid, builderid)) = state::new_build_of(frame)
            && !state.ended.contains_key(&buildid)
            && shown(&self.wanted, Some(builderid))
        {
            let (cell, empty) = self.cell(buildid);
            read.notes = empty.then_some((buildid, cell));
        }
        if let Some((buildid, stepid)) = state::failed_step_of(frame)
            && !self.tails.contains_key(&buildid)
            && shown(&self.wanted, state.builder_of(buildid))
        {
            let (cell, _) = self.tail(buildid, stepid);
            read.tail = Some((buildid, stepid, cell));
        }
        read
    }

    /// The running builds a load found whose notes are not read yet (those the master has
    /// only created are read at their `new`).
    pub(super) fn unread_running(&mut self, state: &state::State) -> Vec<(i64, Cell)> {
        let builds: Vec<i64> = state
            .running()
            .filter(|r| state::has_properties(&r.build))
            .filter(|r| {
                (state.builder(r.build.builderid)).is_none_or(|b| self.wanted.shows(&b.tags))
            })
            .map(|r| r.build.buildid)
            .collect();
        builds
            .into_iter()
            .filter_map(|id| match self.cell(id) {
                (cell, true) => Some((id, cell)),
                _ => None,
            })
            .collect()
    }
}

/// Why notes were not kept.
enum Unkept {
    Failed(Error),
    /// Read from a build the master has only just created: right for now, not for keeps.
    Early(Arc<Notes>),
}

impl Mirror {
    /// The notes of build `buildid`: read already, being read (then waited for), or read now.
    pub async fn notes(&self, buildid: i64, client: &Client) -> Result<Arc<Notes>> {
        let (cell, _) = self.write(|shared| shared.book.cell(buildid));
        self.fill(&cell, buildid, client).await
    }

    /// The end of the log of step `stepid` of build `buildid`: read already (when the step
    /// failed), being read (then waited for), or read now.
    pub async fn log_tail(&self, buildid: i64, stepid: i64, client: &Client) -> Result<LogTail> {
        let (cell, _) = self.write(|shared| shared.book.tail(buildid, stepid));
        self.fill_tail(&cell, stepid, client).await
    }

    /// The notes of build `buildid` if they were read already; never reads them.
    pub fn read_notes(&self, buildid: i64) -> Option<Arc<Notes>> {
        self.write(|shared| {
            let cell = shared.book.cells.get(&buildid)?;
            cell.get().cloned()
        })
    }

    /// The notes of build `buildid` are no longer needed: its end was announced.
    pub fn forget(&self, buildid: i64) {
        self.write(|shared| shared.book.forget(buildid));
    }

    /// Starts what `read` asks for, each in a task of its own, a few at a time.
    pub(super) fn read_in_background(&self, read: ToRead, client: &Arc<Client>) {
        if let Some((buildid, cell)) = read.notes {
            self.spawn_read(client, move |mirror, client| async move {
                if let Err(error) = mirror.fill(&cell, buildid, &client).await {
                    log::debug!("cannot read build {buildid} yet ({error}); its end asks again");
                }
            });
        }
        if let Some((buildid, stepid, cell)) = read.tail {
            self.spawn_read(client, move |mirror, client| async move {
                if let Err(error) = mirror.fill_tail(&cell, stepid, &client).await {
                    log::debug!(
                        "cannot read the log of build {buildid}'s step {stepid} yet ({error}); its end asks again"
                    );
                }
            });
        }
    }

    fn spawn_read<F, Fut>(&self, client: &Arc<Client>, read: F)
    where
        F: FnOnce(Mirror, Arc<Client>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (mirror, client) = (self.clone(), client.clone());
        let reads = self.write(|shared| shared.book.reads());
        tokio::spawn(async move {
            let Ok(_permit) = reads.acquire_owned().await else {
                return;
            };
            read(mirror, client).await;
        });
    }

    /// Fills `cell` with the notes of build `buildid` unless it is filled or being filled.
    async fn fill(&self, cell: &Cell, buildid: i64, client: &Client) -> Result<Arc<Notes>> {
        let wanted = self.write(|shared| shared.book.wanted.clone());
        let filled = cell.get_or_try_init(|| async {
            let (build, mut notes) = read(client, buildid, &wanted)
                .await
                .map_err(Unkept::Failed)?;
            notes.raced = wanted.authors && self.older_running(&build);
            let notes = Arc::new(notes);
            match state::has_properties(&build) || build.complete {
                true => Ok(notes),
                false => Err(Unkept::Early(notes)),
            }
        });
        match filled.await {
            Ok(notes) => Ok(notes.clone()),
            Err(Unkept::Early(notes)) => Ok(notes),
            Err(Unkept::Failed(error)) => Err(error),
        }
    }

    /// Whether an older build of `build`'s builder is running, as far as the mirror knows.
    fn older_running(&self, build: &Build) -> bool {
        let shared = self.shared.read().unwrap_or_else(|e| e.into_inner());
        shared
            .state
            .running()
            .any(|r| r.build.builderid == build.builderid && r.build.number < build.number)
    }

    async fn fill_tail(&self, cell: &TailCell, stepid: i64, client: &Client) -> Result<LogTail> {
        let lines = self.write(|shared| shared.book.wanted.tail_lines);
        let tail = cell.get_or_try_init(|| client.step_log_tail(stepid, lines));
        Ok(tail.await?.clone())
    }
}

/// Reads build `buildid` with the notes `wanted` names.
async fn read(client: &Client, buildid: i64, wanted: &Wanted) -> Result<(Build, Notes)> {
    let (build, properties) = client.build_with_properties(buildid).await?;
    let revisions = async {
        match (wanted.revisions, build.buildrequestid) {
            (true, Some(request)) => client.build_revisions(request).await.map(Some),
            _ => Ok(None),
        }
    };
    let authors = async {
        match wanted.authors {
            true => client.build_authors(buildid).await.map(Some),
            false => Ok(None),
        }
    };
    let (revisions, authors) = tokio::try_join!(revisions, authors)?;
    let notes = Notes {
        reason: properties.reason,
        owner: properties.owner,
        branch: properties.branch,
        revision: properties.revision,
        revisions,
        authors,
        raced: false,
    };
    Ok((build, notes))
}
