//! Every event the mirror applies, from frames recorded on the tests' master
//! (`fixtures/frames.jsonl`: `runtests` #1 succeeds, `failing` #1 fails, then local-worker
//! is stopped and started again).

use serde_json::{Value, json};

use super::{Mirror, Miss, Shared, State};
use crate::outcome::Outcome;

const RECORDED: &str = include_str!("fixtures/frames.jsonl");

fn frames() -> Vec<Value> {
    RECORDED
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The recorded frames up to (and with) the `nth` one whose key is `key`.
fn up_to(key: &str, nth: usize) -> Vec<Value> {
    let all = frames();
    let at = all
        .iter()
        .enumerate()
        .filter(|(_, f)| f["k"] == key)
        .nth(nth)
        .unwrap_or_else(|| panic!("no frame {key} #{nth}"))
        .0;
    all[..=at].to_vec()
}

/// The test master's state before the recording: its builders and its connected worker.
fn loaded() -> State {
    let mut state = State::default();
    let builders = (1..=6)
        .map(|id| json!({"builderid": id, "name": format!("b{id}"), "masterids": [1]}))
        .collect::<Vec<_>>();
    state.set_builders(serde_json::from_value(json!(builders)).unwrap());
    let worker = json!({"workerid": 1, "name": "local-worker", "connected_to": [{"masterid": 1}],
        "configured_on": [{"builderid": 1}, {"builderid": 3}]});
    state
        .workers
        .insert(1, serde_json::from_value(worker).unwrap());
    state
}

fn applied(frames: &[Value]) -> State {
    let mut state = loaded();
    for frame in frames {
        assert_eq!(state.apply(frame), None, "{frame}");
    }
    state
}

#[test]
fn a_started_build_runs_in_the_step_it_is_in() {
    let state = applied(&up_to("builds/1/steps/2/updated", 1));
    let running: Vec<_> = state.running().collect();
    assert_eq!(running.len(), 1);
    assert_eq!((running[0].build.buildid, running[0].build.number), (1, 1));
    let step = running[0].step().expect("in a step");
    assert_eq!(
        (step.name.as_str(), step.state_string.as_deref()),
        ("compile", Some("'true'"))
    );
}

#[test]
fn a_finished_step_leaves_no_current_step_until_the_next_starts() {
    let state = applied(&up_to("builds/1/steps/2/finished", 0));
    assert!(state.running().next().unwrap().step().is_none());
    let state = applied(&up_to("builds/1/steps/3/new", 0));
    let step = state.running().next().unwrap().step().cloned().unwrap();
    assert_eq!(step.name, "test");
}

#[test]
fn an_older_step_does_not_replace_a_newer_one() {
    let mut state = applied(&up_to("builds/1/steps/3/started", 0));
    let older = up_to("builds/1/steps/2/updated", 1).pop().unwrap();
    state.apply(&older);
    assert_eq!(state.running().next().unwrap().step().unwrap().name, "test");
}

#[test]
fn a_finished_build_is_its_builders_last() {
    let state = applied(&frames());
    assert_eq!(state.running().count(), 0);
    let runtests = state.last_finished(3).expect("runtests #1");
    assert_eq!(
        (runtests.number, runtests.results),
        (1, Some(Outcome::Success))
    );
    let failing = state.last_finished(1).expect("failing #1");
    assert_eq!(failing.results, Some(Outcome::Failure));
    assert!(state.last_finished(2).is_none());
}

#[test]
fn frames_read_again_change_nothing() {
    let all = frames();
    let mut state = applied(&all);
    // a REST load that already saw the end, then the stream's older frames again
    for frame in &all {
        state.apply(frame);
    }
    assert_eq!(
        state.running().count(),
        0,
        "a start read after its end is old news"
    );
    assert_eq!(state.last_finished(3).unwrap().number, 1);
    let older = json!({"k": "builders/3/builds/0/finished", "m": {"buildid": 0, "number": 0,
        "builderid": 3, "complete": true, "results": 2}});
    state.apply(&older);
    assert_eq!(
        state.last_finished(3).unwrap().results,
        Some(Outcome::Success)
    );
}

#[test]
fn an_end_never_seen_starting_still_counts() {
    let finished = up_to("builders/1/builds/1/finished", 0).pop().unwrap();
    let mut state = loaded();
    state.apply(&finished);
    assert_eq!(state.last_finished(1).unwrap().number, 1);
}

#[test]
fn workers_go_and_come_back() {
    let online = |frames: &[Value]| applied(frames).online_builders().contains(&3);
    assert!(online(&up_to("builders/1/builds/1/finished", 0)));
    assert!(!online(&up_to("workers/1/disconnected", 0)));
    assert!(!online(&up_to("workers/1/missing", 0)));
    assert!(online(&up_to("workers/1/connected", 0)));
    let state = applied(&frames());
    let builders: Vec<i64> = state
        .workers()
        .next()
        .unwrap()
        .configured_on
        .iter()
        .map(|b| b.builderid)
        .collect();
    assert_eq!(
        builders,
        [1, 3, 4, 5, 6],
        "a worker event brings the whole worker"
    );
}

#[test]
fn steps_before_their_builds_new_are_its_step_once_it_comes() {
    assert_eq!(
        frames()[0]["k"],
        "builds/1/steps/1/new",
        "as Buildbot sends them"
    );
    let state = applied(&up_to("builders/3/builds/1/new", 0));
    let step = state.running().next().unwrap().step().cloned();
    assert_eq!(step.unwrap().name, "worker_preparation");
    assert!(state.early.is_empty());
}

#[test]
fn early_steps_of_builds_that_never_come_are_few() {
    let mut state = loaded();
    for buildid in 100..200 {
        let step = json!({"k": format!("builds/{buildid}/steps/1/new"), "m": {"stepid": buildid,
            "number": 0, "name": "s", "complete": false}});
        state.apply(&step);
    }
    assert_eq!(state.early.len(), 32);
    assert_eq!(state.early.keys().next(), Some(&168), "the newest are kept");
}

#[test]
fn a_build_of_an_unknown_builder_is_a_miss() {
    let mut state = loaded();
    let started = json!({"k": "builders/9/builds/1/new", "m": {"buildid": 50, "number": 1,
        "builderid": 9, "complete": false}});
    assert_eq!(state.apply(&started), Some(Miss::Builder(9)));
    assert_eq!(
        state.running().count(),
        1,
        "the build is shown all the same"
    );
}

#[test]
fn frames_the_mirror_does_not_use_change_nothing() {
    let mut state = applied(&frames());
    for frame in [
        json!({"k": "builders/3/builds/1/update", "m": {"buildid": 1}}),
        json!({"k": "builders/3/builds/1/new", "m": "junk"}),
        json!({"k": "workers/1/connected", "m": {"name": "no id"}}),
        json!({"msg": "pong"}),
    ] {
        assert_eq!(state.apply(&frame), None);
    }
    assert_eq!(state.running().count(), 0);
    assert_eq!(state.workers().count(), 1);
}

#[test]
fn frames_that_come_during_a_load_are_applied_on_what_it_read() {
    let mirror = Mirror::default();
    assert!(
        mirror.write(Shared::begin_load).is_none(),
        "no load while the stream is down"
    );
    mirror.connected();
    let load = mirror.write(Shared::begin_load).unwrap();
    // the master is read before build 1 starts; its frames come while the load runs
    let all = frames();
    for frame in &all[..8] {
        let _ = mirror.record(frame); // a mirror not loaded yet knows no builder: a miss
    }
    assert!(mirror.live().is_none(), "not live before the load is over");
    mirror.write(|shared| {
        let journal = shared.end_load(load);
        assert_eq!(journal.len(), 8);
        shared.loaded(load, loaded(), &journal);
    });
    let state = mirror.live().expect("live");
    assert_eq!(state.running().next().unwrap().build.buildid, 1);
    assert!(mirror.write(|shared| shared.journals.is_empty()));
}

#[test]
fn a_load_during_which_the_stream_broke_changes_nothing() {
    let mirror = Mirror::default();
    mirror.connected();
    let load = mirror.write(Shared::begin_load).unwrap();
    mirror.lost();
    mirror.connected();
    mirror.write(|shared| {
        let journal = shared.end_load(load);
        shared.loaded(load, loaded(), &journal);
    });
    assert!(mirror.live().is_none(), "what it read may miss the outage");
    let again = mirror.write(Shared::begin_load).unwrap();
    mirror.write(|shared| shared.loaded(again, loaded(), &[]));
    assert_eq!(mirror.live().unwrap().builders().count(), 6);
    mirror.lost();
    assert!(mirror.live().is_none(), "a broken stream is not live");
}

#[test]
fn an_ended_build_keeps_every_step_it_ran() {
    let state = applied(&frames());
    let steps = state.steps_of(2).expect("failing #1 was seen whole");
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["worker_preparation", "compile", "unit tests"]);
    let failed = steps.iter().find(|s| s.results == Some(Outcome::Failure));
    assert_eq!(failed.map(|s| s.stepid), Some(6));
    assert!(steps.iter().all(|s| s.complete), "{steps:?}");
    assert_eq!(state.steps_of(1).map(<[_]>::len), Some(3));
    assert!(state.steps_of(99).is_none());
}

#[test]
fn steps_seen_in_part_are_not_taken_for_all() {
    // the bot came in after build 1's first step: what it has is not the whole build
    let all: Vec<Value> = frames()
        .into_iter()
        .filter(|f| !f["k"].as_str().unwrap().starts_with("builds/1/steps/1/"))
        .collect();
    let state = applied(&all);
    assert!(state.steps_of(1).is_none());
    assert!(state.steps_of(2).is_some());
}

#[test]
fn steps_of_ended_builds_are_few() {
    let mut state = loaded();
    for buildid in 100..200 {
        let step = json!({"k": format!("builds/{buildid}/steps/{buildid}/finished"), "m": {
            "stepid": buildid, "number": 0, "name": "s", "complete": true, "results": 0}});
        let end = json!({"k": format!("builders/1/builds/{buildid}/finished"), "m": {
            "buildid": buildid, "number": buildid, "builderid": 1, "complete": true, "results": 0}});
        state.apply(&step);
        state.apply(&end);
    }
    assert_eq!(state.ended.len(), 64);
    assert!(state.steps_of(199).is_some() && state.steps_of(100).is_none());
    assert!(state.early.len() <= 32);
}

#[test]
fn the_results_of_a_builders_newest_builds_are_remembered() {
    let mut state = applied(&frames());
    assert_eq!(state.result_of(3, 1), Some(Outcome::Success));
    assert_eq!(state.result_of(1, 1), Some(Outcome::Failure));
    assert_eq!(state.result_of(3, 0), None, "never seen");
    for number in 2..10 {
        let end = json!({"k": format!("builders/3/builds/{number}/finished"), "m": {
            "buildid": 10 + number, "number": number, "builderid": 3, "complete": true,
            "results": number % 3}});
        state.apply(&end);
    }
    assert_eq!(state.result_of(3, 9), Some(Outcome::Success));
    assert_eq!(state.result_of(3, 8), Some(Outcome::Failure));
    assert_eq!(state.result_of(3, 5), None, "only the newest few are kept");
    let running = json!({"k": "builders/3/builds/10/new", "m": {"buildid": 30, "number": 10,
        "builderid": 3, "complete": false}});
    state.apply(&running);
    assert_eq!(state.result_of(3, 10), None, "not finished");
}

/// What recording `frame` asks to be read: a build's notes, a failing step's log tail.
fn reads(mirror: &Mirror, frame: &Value) -> (Option<i64>, Option<(i64, i64)>) {
    let (_, read) = mirror.record(frame);
    (
        read.notes.map(|(build, _)| build),
        read.tail.map(|(build, step, _)| (build, step)),
    )
}

#[test]
fn every_build_is_read_once_at_its_new() {
    let mirror = Mirror::new(super::Wanted::default());
    let read: Vec<i64> = frames()
        .iter()
        .filter_map(|frame| reads(&mirror, frame).0)
        .collect();
    assert_eq!(read, [1, 2], "at their `new`, once");
    mirror.forget(1);
    let stray = json!({"k": "builds/1/steps/3/finished", "m": {"stepid": 3, "number": 2,
        "name": "test", "complete": true}});
    assert_eq!(
        reads(&mirror, &stray),
        (None, None),
        "an ended build is not read again"
    );
    assert_eq!(mirror.write(|shared| shared.book.len()), 1);
}

#[test]
fn a_failing_steps_end_has_its_log_read_once_per_build() {
    let mirror = Mirror::new(super::Wanted::default());
    let tails: Vec<(i64, i64)> = frames()
        .iter()
        .filter_map(|frame| reads(&mirror, frame).1)
        .collect();
    assert_eq!(
        tails,
        [(2, 6)],
        "failing #1's `unit tests`, no passing step"
    );
    let second = json!({"k": "builds/2/steps/7/finished", "m": {"stepid": 7, "number": 3,
        "name": "more", "complete": true, "results": 2}});
    assert_eq!(
        reads(&mirror, &second).1,
        None,
        "the first failing step is shown"
    );
    let hidden = json!({"k": "builds/3/steps/8/finished", "m": {"stepid": 8, "number": 0,
        "name": "h", "complete": true, "results": 2, "hidden": true}});
    assert_eq!(
        reads(&mirror, &hidden).1,
        None,
        "a hidden step is not shown"
    );
    let exception = json!({"k": "builds/4/steps/9/finished", "m": {"stepid": 9, "number": 0,
        "name": "e", "complete": true, "results": 4}});
    assert_eq!(reads(&mirror, &exception).1, Some((4, 9)));
    mirror.forget(2);
    assert!(!mirror.write(|shared| shared.book.has_tail(2)));
    assert!(mirror.write(|shared| shared.book.has_tail(4)));
}

#[test]
fn builds_of_builders_the_bot_does_not_show_are_not_read() {
    let wanted = super::Wanted {
        tags: vec!["unit".into()],
        ..super::Wanted::default()
    };
    let mirror = Mirror::new(wanted);
    let mut state = loaded();
    let builders = json!([{"builderid": 3, "name": "runtests", "tags": ["unit"]},
        {"builderid": 1, "name": "failing", "tags": ["other"]}]);
    state.set_builders(serde_json::from_value(builders).unwrap());
    mirror.write(|shared| shared.state = std::sync::Arc::new(state));
    let read: Vec<_> = frames().iter().map(|f| reads(&mirror, f)).collect();
    let notes: Vec<i64> = read.iter().filter_map(|r| r.0).collect();
    assert_eq!(notes, [1], "runtests #1 only");
    assert!(read.iter().all(|r| r.1.is_none()), "failing is not shown");
}

#[test]
fn the_steps_of_a_build_whose_end_was_not_seen_are_not_trusted() {
    let state = applied(&up_to("builds/1/steps/3/finished", 0));
    assert_eq!(state.running().next().unwrap().steps.len(), 3);
    assert!(
        state.steps_of(1).is_none(),
        "still running: steps may be missing"
    );
}

#[test]
fn a_build_only_created_has_no_properties_yet() {
    let build = |state: Option<&str>| -> crate::buildbot::models::Build {
        serde_json::from_value(json!({"buildid": 1, "number": 1, "builderid": 3,
            "state_string": state}))
        .unwrap()
    };
    assert!(!super::state::has_properties(&build(Some("created"))));
    for state in [Some("starting"), Some("building"), None] {
        assert!(super::state::has_properties(&build(state)), "{state:?}");
    }
}
