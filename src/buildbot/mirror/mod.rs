//! A live mirror of the master: builders, workers, running builds with their current step,
//! and each builder's last finished build, so that `/status`, `/last` and `/list` answer
//! without asking the master anything.
//!
//! The event listener (`events.rs`) feeds it every frame it reads and says when the stream
//! breaks; the notifier loads the whole state by REST after its catch-up, at start and after
//! every reconnect (in a task of its own: frames applied meanwhile are applied again on what
//! it read). The master is asked again only on a miss (a build of a builder the mirror does
//! not know). While the stream is down, or before the
//! first load went through, the mirror is not *live*: whatever happened meanwhile was never
//! sent, so [`Mirror::current`] reads the master instead, as the commands did before the
//! mirror existed (and an unreachable master is an error, as it was).
//!
//! The state sits behind one lock as an `Arc`: a reader clones the `Arc` and never waits on
//! the network; a writer changes it in place, or a copy of it when a reader still holds the
//! old one.
//!
//! Each build's notes (reason, owner, revisions, authors: `notes.rs`) are read once, at its
//! `new` (or at the load that finds it running), so that its end is announced without a
//! round trip.
//!
//! Not followed live (read again at each reconnect): a reconfiguration that changes a
//! builder's tags or a worker's builders without a build of a new builder.

mod load;
mod notes;
mod recent;
mod state;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;

pub use load::load;
pub use notes::{LogTail, Notes, Wanted};
pub use state::{Miss, Running, State};

use notes::{Book, ToRead};

use super::{Client, Result};

/// A load that fails is tried again after 1 s, 2 s, … up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The shared handle: cheap to clone, one per task that reads or feeds it.
#[derive(Clone, Default)]
pub struct Mirror {
    shared: Arc<RwLock<Shared>>,
}

#[derive(Default)]
struct Shared {
    state: Arc<State>,
    /// Loaded, and every event since has been applied.
    live: bool,
    /// The stream is up, every subscription acknowledged.
    connected: bool,
    /// Bumped when the stream breaks: a load begun before belongs to a stream that is gone.
    generation: u64,
    /// For each load under way (by its number), the frames applied meanwhile, to apply again
    /// on the state it read (which may have been read before them).
    journals: Vec<(u64, Vec<Value>)>,
    loads: u64,
    book: Book,
}

/// Which load, and for which stream.
#[derive(Debug, Clone, Copy)]
struct LoadOf {
    number: u64,
    generation: u64,
}

impl Shared {
    /// A load begins (while the stream is up): frames are kept for it from now on.
    fn begin_load(&mut self) -> Option<LoadOf> {
        self.connected.then(|| {
            self.loads += 1;
            self.journals.push((self.loads, Vec::new()));
            LoadOf {
                number: self.loads,
                generation: self.generation,
            }
        })
    }

    /// The load is over, gone through or not: the frames kept for it.
    fn end_load(&mut self, load: LoadOf) -> Vec<Value> {
        let at = self.journals.iter().position(|(n, _)| *n == load.number);
        at.map(|at| self.journals.remove(at).1).unwrap_or_default()
    }

    /// What the load read, with the frames that came meanwhile, becomes the live state;
    /// unless the stream broke meanwhile.
    fn loaded(&mut self, load: LoadOf, mut state: State, journal: &[Value]) {
        if self.generation != load.generation {
            return;
        }
        for frame in journal {
            let _ = state.apply(frame);
        }
        log::info!(
            "commands answer from the master's state: {} builders, {} workers, {} running builds",
            state.builders.len(),
            state.workers.len(),
            state.running.len()
        );
        self.state = Arc::new(state);
        self.live = true;
    }
}

impl Mirror {
    /// A mirror that reads, for each build, what `wanted` names besides its reason and owner.
    pub fn new(wanted: Wanted) -> Mirror {
        let mirror = Mirror::default();
        mirror.write(|shared| shared.book = Book::new(wanted));
        mirror
    }

    /// The live state, or `None` while the stream is down or not loaded yet.
    pub fn live(&self) -> Option<Arc<State>> {
        let shared = self.shared.read().unwrap_or_else(|e| e.into_inner());
        shared.live.then(|| shared.state.clone())
    }

    /// The live state; while there is none, the state read from the master now.
    pub async fn current(&self, client: &Client) -> Result<Arc<State>> {
        match self.live() {
            Some(state) => Ok(state),
            None => Ok(Arc::new(load(client).await?)),
        }
    }

    /// Applies one event frame; what it missed is asked of the master. Frames that come
    /// while the mirror is not live are applied too: the next load replaces them anyway.
    pub async fn apply(&self, frame: &Value, client: &Arc<Client>) {
        log::trace!("mirror: {}", frame["k"]);
        let (miss, to_read) = self.record(frame);
        self.read_in_background(to_read, client);
        if let Some(Miss::Builder(builderid)) = miss {
            self.read_builders(builderid, client).await;
        }
    }

    /// Applies `frame` to the state, and keeps it for every load under way; and says what
    /// it asks to be read.
    fn record(&self, frame: &Value) -> (Option<Miss>, ToRead) {
        self.write(|shared| {
            for (_, journal) in &mut shared.journals {
                journal.push(frame.clone());
            }
            let state = Arc::make_mut(&mut shared.state);
            let miss = state.apply(frame);
            (miss, shared.book.asked_by(frame, &shared.state))
        })
    }

    /// A build of builder `builderid`, which the mirror does not know: the builders again.
    async fn read_builders(&self, builderid: i64, client: &Client) {
        log::debug!("a build of unknown builder {builderid}: reading the builders again");
        match client.builders().await {
            Ok(builders) => {
                self.write(|shared| Arc::make_mut(&mut shared.state).set_builders(builders))
            }
            Err(error) => log::warn!("cannot read the master's builders again: {error}"),
        }
    }

    /// Loads the whole state from the master in a task of its own, tried again with backoff
    /// until it goes through or the stream breaks; from then on the mirror is live. Called
    /// once the stream is live, after the notifier's catch-up.
    pub fn load_in_background(&self, client: Arc<Client>) {
        let mirror = self.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            while let Err(error) = mirror.reload(&client).await {
                failures = failures.saturating_add(1);
                let wait = Duration::from_secs(1 << failures.min(5).saturating_sub(1));
                let wait = wait.min(MAX_BACKOFF);
                log::warn!(
                    "cannot load the state of the master ({error}); commands ask the master until it can be loaded, trying again in {} s",
                    wait.as_secs()
                );
                tokio::time::sleep(wait).await;
            }
        });
    }

    /// One load, while the stream is up: the frames applied while it ran are applied again
    /// on what it read. Nothing to do while the stream is down (the next `Connected` loads);
    /// a load during which the stream broke changes nothing.
    async fn reload(&self, client: &Arc<Client>) -> Result<()> {
        let Some(load_of) = self.write(Shared::begin_load) else {
            return Ok(());
        };
        let loaded = load(client).await;
        let unread = self.write(|shared| {
            let journal = shared.end_load(load_of);
            shared.loaded(load_of, loaded?, &journal);
            Ok::<_, super::Error>(shared.book.unread_running(&shared.state))
        })?;
        for notes in unread {
            let to_read = ToRead {
                notes: Some(notes),
                ..ToRead::default()
            };
            self.read_in_background(to_read, client);
        }
        Ok(())
    }

    /// Every subscription of a new stream is acknowledged: a load may begin.
    pub fn connected(&self) {
        self.write(|shared| shared.connected = true);
    }

    /// The event stream broke: what happens until it is back is not known.
    pub fn lost(&self) {
        self.write(|shared| {
            shared.live = false;
            shared.connected = false;
            shared.generation += 1;
        });
    }

    fn write<T>(&self, change: impl FnOnce(&mut Shared) -> T) -> T {
        change(&mut self.shared.write().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests;
