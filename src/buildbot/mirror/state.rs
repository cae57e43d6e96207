//! What the mirror knows of the master at one moment, and how one websocket frame changes it.
//!
//! Every change is idempotent and keeps what is newer: a frame read again, or one that comes
//! after a REST load that already saw its effect, leaves the state as it was. That is what
//! lets the mirror load from REST while the stream is already live.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::recent::Recent;
use crate::buildbot::models::{Build, Builder, Step, Worker};
use crate::outcome::Outcome;

/// A build that has not finished, with its steps so far.
#[derive(Debug, Clone)]
pub struct Running {
    pub build: Build,
    /// By number, as far as the mirror saw them.
    pub steps: Vec<Step>,
}

impl Running {
    /// The step it is in: its newest step that is not complete.
    pub fn step(&self) -> Option<&Step> {
        self.steps.last().filter(|s| !s.complete)
    }
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
    /// The steps of builds whose `new` has not come yet: Buildbot sends a build's `new` only
    /// after its first step started (half a second after REST shows the build, on the tests'
    /// master). A few at most; the oldest go first.
    pub(super) early: BTreeMap<i64, Vec<Step>>,
    /// The steps of the builds that ended last, by build id: what their end is announced
    /// with. The last [`ENDED`] to end.
    pub(super) ended: Recent<Vec<Step>, ENDED>,
    /// The results of each builder's newest finished builds, by number: the previous
    /// build's result, which a notification compares with.
    pub(super) results: HashMap<i64, BTreeMap<i64, Outcome>>,
}

/// How many builds' early steps are kept.
const EARLY: usize = 32;
/// How many ended builds' steps are kept.
const ENDED: usize = 64;
/// How many results are kept per builder.
const RESULTS: usize = 4;

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

    pub fn builder(&self, builderid: i64) -> Option<&Builder> {
        self.builders.get(&builderid)
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

    /// The builder of a running build.
    pub fn builder_of(&self, buildid: i64) -> Option<i64> {
        Some(self.running.get(&buildid)?.build.builderid)
    }

    /// Every step of a lately ended build, when the mirror saw every one of them (numbers
    /// 0, 1, 2, …): what its failure is told from. Not of a build the mirror still shows
    /// running: its end was not seen, so later steps may be missing.
    pub fn steps_of(&self, buildid: i64) -> Option<&[Step]> {
        let steps = self.ended.get(&buildid)?;
        let whole = (0..).zip(steps).all(|(n, s)| s.number == n);
        (whole && !steps.is_empty()).then_some(steps.as_slice())
    }

    /// The result of build `number` of a builder, when it is one of the newest finished.
    pub fn result_of(&self, builderid: i64, number: i64) -> Option<Outcome> {
        self.results.get(&builderid)?.get(&number).copied()
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

    /// The newest finished build of a builder, as a load reads it.
    pub(super) fn set_last(&mut self, build: Build) {
        self.remember(&build);
        self.last.insert(build.builderid, build);
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
            let mut steps = self.early.remove(&build.buildid).unwrap_or_default();
            if let Some(running) = self.running.remove(&build.buildid) {
                for step in running.steps {
                    follow(&mut steps, step);
                }
            }
            self.running.insert(build.buildid, Running { build, steps });
        }
        miss
    }

    /// The end of a build, seen start or not.
    fn finished(&mut self, build: Build) {
        let mut steps = self.early.remove(&build.buildid).unwrap_or_default();
        if let Some(running) = self.running.remove(&build.buildid) {
            for step in running.steps {
                follow(&mut steps, step);
            }
        }
        if !self.ended.contains_key(&build.buildid) {
            self.ended.insert(build.buildid, steps);
        }
        self.remember(&build);
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
        if let Some(running) = self.running.get_mut(&buildid) {
            follow(&mut running.steps, step);
        } else if let Some(ended) = self.ended.get_mut(&buildid) {
            follow(ended, step);
        } else {
            follow(self.early.entry(buildid).or_default(), step);
            while self.early.len() > EARLY {
                self.early.pop_first();
            }
        }
    }

    /// Keeps the result of a finished build among its builder's newest.
    fn remember(&mut self, build: &Build) {
        let Some(result) = build.results.filter(|_| build.complete) else {
            return;
        };
        let results = self.results.entry(build.builderid).or_default();
        results.insert(build.number, result);
        while results.len() > RESULTS {
            results.pop_first();
        }
    }
}

/// Steps once `step` was added, started, changed or finished: in number order, and a step
/// seen complete stays complete (a frame read again is older news).
fn follow(steps: &mut Vec<Step>, step: Step) {
    match steps.binary_search_by_key(&step.number, |s| s.number) {
        Ok(at) if steps[at].complete && !step.complete => {}
        Ok(at) => steps[at] = step,
        Err(at) => steps.insert(at, step),
    }
}

/// The build whose `new` a frame is, and its builder: by then the master has set its
/// properties.
pub(super) fn new_build_of(frame: &Value) -> Option<(i64, i64)> {
    let key = frame["k"].as_str()?;
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        ["builders", _, "builds", _, "new"] => Some((
            frame["m"]["buildid"].as_i64()?,
            frame["m"]["builderid"].as_i64()?,
        )),
        _ => None,
    }
}

/// The build and step whose end a frame is, when the step failed (and is not hidden): its
/// log tail is what the build's failure message shows.
pub(super) fn failed_step_of(frame: &Value) -> Option<(i64, i64)> {
    let key = frame["k"].as_str()?;
    let parts: Vec<&str> = key.split('/').collect();
    let ["builds", buildid, "steps", _, "finished"] = parts.as_slice() else {
        return None;
    };
    let step: Step = decode(&frame["m"])?;
    let failed = step.results.is_some_and(Outcome::is_failure) && !step.hidden;
    failed.then_some((buildid.parse().ok()?, step.stepid))
}

/// Whether the master had set a running build's properties when it was read: it does just
/// before it says `starting` and sends the build's `new` (Buildbot's `Build.startBuild`);
/// a build read before that is `created`.
pub(super) fn has_properties(build: &Build) -> bool {
    build.state_string.as_deref() != Some("created")
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
