//! What the mirror knows of the master at one moment, and how one websocket frame changes it.
//!
//! Every change is idempotent and keeps what is newer: a frame read again, or one that comes
//! after a REST load that already saw its effect, leaves the state as it was. That is what
//! lets the mirror load from REST while the stream is already live.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::buildbot::models::{Build, Builder, Step, Worker};

/// A build that has not finished, with the step it is in (its newest step not complete).
#[derive(Debug, Clone)]
pub struct Running {
    pub build: Build,
    pub step: Option<Step>,
}

/// The master as the commands show it: builders, workers, running builds and each
/// builder's last finished build.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub(super) builders: BTreeMap<i64, Builder>,
    pub(super) workers: BTreeMap<i64, Worker>,
    /// By build id, so in the order the builds were created.
    pub(super) running: BTreeMap<i64, Running>,
    /// By builder id.
    pub(super) last: HashMap<i64, Build>,
    /// The current step of builds whose `new` has not come yet: Buildbot sends a build's
    /// `new` only after its first step started (half a second after REST shows the build, on
    /// the tests' master). A few at most; the oldest go first.
    pub(super) early: BTreeMap<i64, Step>,
}

/// How many builds' early steps are kept.
const EARLY: usize = 32;

/// What applying a frame found missing, for the mirror to ask the master (once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// A build of a builder the mirror does not know: the builders were reconfigured.
    Builder(i64),
}

impl State {
    /// Every builder, retired ones too, by id.
    pub fn builders(&self) -> impl Iterator<Item = &Builder> {
        self.builders.values()
    }

    pub fn workers(&self) -> impl Iterator<Item = &Worker> {
        self.workers.values()
    }

    /// Running builds, oldest first.
    pub fn running(&self) -> impl Iterator<Item = &Running> {
        self.running.values()
    }

    /// The newest finished build of a builder.
    pub fn last_finished(&self, builderid: i64) -> Option<&Build> {
        self.last.get(&builderid)
    }

    /// Builder ids that a connected worker can serve.
    pub fn online_builders(&self) -> BTreeSet<i64> {
        self.workers
            .values()
            .filter(|w| w.is_connected())
            .flat_map(|w| w.configured_on.iter().map(|b| b.builderid))
            .collect()
    }

    /// Replaces the builders, after a [`Miss::Builder`].
    pub(super) fn set_builders(&mut self, builders: Vec<Builder>) {
        self.builders = builders.into_iter().map(|b| (b.builderid, b)).collect();
    }

    /// Applies one event frame (`{"k": routing key, "m": message}`); frames the mirror does
    /// not use change nothing.
    pub fn apply(&mut self, frame: &Value) -> Option<Miss> {
        let key = frame["k"].as_str()?;
        let message = &frame["m"];
        let parts: Vec<&str> = key.split('/').collect();
        match parts.as_slice() {
            ["builders", _, "builds", _, "new"] => return self.started(decode(message)?),
            ["builders", _, "builds", _, "finished"] => self.finished(decode(message)?),
            ["builds", buildid, "steps", _, _] => {
                self.stepped(buildid.parse().ok()?, decode(message)?);
            }
            ["workers", _, "connected" | "disconnected" | "state_updated"] => {
                // these carry the whole worker; `missing` only says what was already known
                let worker: Worker = decode(message)?;
                self.workers.insert(worker.workerid, worker);
            }
            _ => {}
        }
        None
    }

    /// A build started (its `new` frame).
    fn started(&mut self, build: Build) -> Option<Miss> {
        let miss = (!self.builders.contains_key(&build.builderid))
            .then_some(Miss::Builder(build.builderid));
        let ended_already = self
            .last
            .get(&build.builderid)
            .is_some_and(|last| last.number >= build.number);
        if !build.complete && !ended_already {
            let early = self.early.remove(&build.buildid);
            let step = self.running.remove(&build.buildid).and_then(|r| r.step);
            let step = step.or(early);
            self.running.insert(build.buildid, Running { build, step });
        }
        miss
    }

    /// The end of a build, seen start or not.
    fn finished(&mut self, build: Build) {
        self.running.remove(&build.buildid);
        self.early.remove(&build.buildid);
        let newer = self
            .last
            .get(&build.builderid)
            .is_none_or(|last| last.number <= build.number);
        if newer {
            self.last.insert(build.builderid, build);
        }
    }

    /// A step started, changed its state or finished.
    fn stepped(&mut self, buildid: i64, step: Step) {
        match self.running.get_mut(&buildid) {
            Some(running) => follow(&mut running.step, step),
            None => {
                let mut early = self.early.remove(&buildid);
                follow(&mut early, step);
                if let Some(early) = early {
                    self.early.insert(buildid, early);
                }
                while self.early.len() > EARLY {
                    self.early.pop_first();
                }
            }
        }
    }
}

/// The current step once `step` started, changed or finished: the newest not complete.
fn follow(current: &mut Option<Step>, step: Step) {
    let number = current.as_ref().map(|s| s.number);
    if !step.complete {
        if number.is_none_or(|number| number <= step.number) {
            *current = Some(step);
        }
    } else if number == Some(step.number) {
        *current = None;
    }
}

fn decode<T: DeserializeOwned>(message: &Value) -> Option<T> {
    match T::deserialize(message) {
        Ok(value) => Some(value),
        Err(error) => {
            log::debug!("an event the mirror cannot read ({error}): {message:.200}");
            None
        }
    }
}
