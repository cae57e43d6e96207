//! What a build's messages say of it besides its builder and result: why it ran, who asked
//! for it, what it contains and whose changes those are; and for a failure, the end of the
//! failing step's log.
//!
//! Read once per build, when the mirror sees its `new` (the master sets a build's properties
//! just before) or a load finds it running, in a task of its own and a few builds at a time; so when the build ends, its message is ready without asking the
//! master. A reader that comes while the read is under way waits for it rather than asking
//! again; one that comes after a read failed asks again itself.
//!
//! The log tail of a failure is read the same way as soon as a step's end says it failed,
//! while the master is still ending the build.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{OnceCell, Semaphore};

use crate::buildbot::{Client, Result};

/// Builds read at once: a burst of starts does not flood the master.
const AT_ONCE: usize = 8;
/// Builds whose notes are kept: far more than run at once on any master; the oldest go
/// first (an end announced after that asks the master again).
const KEPT: usize = 1024;

/// What is read besides the reason and the owner, as the notifications' settings ask.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wanted {
    /// The revisions the build was asked for (`notify.use_revisions`).
    pub revisions: bool,
    /// The authors of its changes (`notify.show_blame_list`).
    pub authors: bool,
    /// The lines of a failing step's log shown (`notify.log_tail_lines`).
    pub tail_lines: usize,
}

/// The notes of one build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    pub reason: Option<String>,
    pub owner: Option<String>,
    /// With [`Wanted::revisions`]: the revisions it was asked for.
    pub revisions: Option<Vec<String>>,
    /// With [`Wanted::authors`]: the authors of its changes, each once, in order.
    pub authors: Option<Vec<String>>,
}

pub(super) type Cell = Arc<OnceCell<Arc<Notes>>>;

/// The end of a step's main log, and the log's slug (for its page); `None` for a step
/// without logs.
pub type LogTail = Option<(String, Vec<String>)>;

pub(super) type TailCell = Arc<OnceCell<LogTail>>;

/// Every build's notes, read or being read.
pub(super) struct Book {
    wanted: Wanted,
    cells: BTreeMap<i64, Cell>,
    /// By build: the failing step whose log tail is read, and the tail.
    tails: BTreeMap<i64, (i64, TailCell)>,
    reads: Arc<Semaphore>,
}

impl Default for Book {
    fn default() -> Book {
        Book::new(Wanted::default())
    }
}

impl Book {
    pub(super) fn new(wanted: Wanted) -> Book {
        Book {
            wanted,
            cells: BTreeMap::new(),
            tails: BTreeMap::new(),
            reads: Arc::new(Semaphore::new(AT_ONCE)),
        }
    }

    pub(super) fn wanted(&self) -> Wanted {
        self.wanted
    }

    /// The cell of build `buildid`, and whether it is new (nobody reads it yet).
    pub(super) fn cell(&mut self, buildid: i64) -> (Cell, bool) {
        if let Some(cell) = self.cells.get(&buildid) {
            return (cell.clone(), false);
        }
        let cell = Cell::default();
        self.cells.insert(buildid, cell.clone());
        while self.cells.len() > KEPT {
            self.cells.pop_first();
        }
        (cell, true)
    }

    /// The log tail cell of step `stepid` of build `buildid`, and whether it is new. A build
    /// has one: the first failing step's.
    pub(super) fn tail(&mut self, buildid: i64, stepid: i64) -> (TailCell, bool) {
        if let Some((step, cell)) = self.tails.get(&buildid)
            && *step == stepid
        {
            return (cell.clone(), false);
        }
        let cell = TailCell::default();
        self.tails.insert(buildid, (stepid, cell.clone()));
        while self.tails.len() > KEPT {
            self.tails.pop_first();
        }
        (cell, true)
    }

    /// Whether a failing step's log tail is read (or being read) for build `buildid`.
    pub(super) fn has_tail(&self, buildid: i64) -> bool {
        self.tails.contains_key(&buildid)
    }

    pub(super) fn forget(&mut self, buildid: i64) {
        self.cells.remove(&buildid);
        self.tails.remove(&buildid);
    }

    pub(super) fn reads(&self) -> Arc<Semaphore> {
        self.reads.clone()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.cells.len()
    }
}

/// Reads the notes of build `buildid` (none when the master does not know it).
pub(super) async fn read(client: &Client, buildid: i64, wanted: Wanted) -> Result<Notes> {
    let Some((build, reason, owner)) = client.build_with_reason_and_owner(buildid).await? else {
        return Ok(Notes::default());
    };
    let revisions = async {
        match (wanted.revisions, build.buildrequestid) {
            (true, Some(request)) => client.build_revisions(request).await.map(Some),
            _ => Ok(None),
        }
    };
    let authors = async {
        if !wanted.authors {
            return Ok(None);
        }
        let mut authors: Vec<String> = Vec::new();
        for change in client.build_changes(buildid).await? {
            if let Some(author) = change.author.filter(|a| !authors.contains(a)) {
                authors.push(author);
            }
        }
        Ok(Some(authors))
    };
    let (revisions, authors) = tokio::try_join!(revisions, authors)?;
    Ok(Notes {
        reason,
        owner,
        revisions,
        authors,
    })
}
