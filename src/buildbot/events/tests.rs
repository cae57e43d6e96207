//! The listener's acknowledgements and forwarding, and the events it reads from recorded frames.

use super::*;

#[test]
fn only_the_ids_we_sent_acknowledge_a_subscription() {
    assert_eq!(
        subscription_of(&json!({"_id": 1, "code": 200})),
        Some(PATHS[0])
    );
    assert_eq!(
        subscription_of(&json!({"_id": PATHS.len(), "code": 200})),
        Some(PATHS[PATHS.len() - 1])
    );
    for frame in [
        json!({"_id": 0, "code": 200}),
        json!({"_id": PATHS.len() + 1, "code": 200}),
        json!({"_id": -1}),
        json!({"_id": "1"}),
        json!({"k": "builders/1/builds/2/new"}),
    ] {
        assert_eq!(subscription_of(&frame), None, "{frame}");
    }
}

#[tokio::test]
async fn build_events_before_the_last_acknowledgement_are_left_to_the_catch_up() {
    let url = Url::parse("ws://127.0.0.1:8010/ws").unwrap();
    let (events, mut received) = mpsc::channel(16);
    let (mut failures, mut outage_reported) = (3, true);
    // a master that is not there: a miss of the mirror fails at once and changes nothing
    let client = std::sync::Arc::new(Client::new(&crate::settings::BuildbotSettings {
        master_control: crate::settings::MasterControlSettings::None,
        url: Url::parse("http://127.0.0.1:1/").unwrap(),
        credentials: None,
    }));
    let mirror = Mirror::default();
    let mut listener = Listener {
        url: &url,
        events: &events,
        client: &client,
        mirror: &mirror,
        failures: &mut failures,
        outage_reported: &mut outage_reported,
        acknowledged: 0,
    };
    let build = |id: i64, key: &str| {
        json!({"k": format!("builders/3/builds/{id}/{key}"), "m": {"buildid": id,
            "number": id, "builderid": 3, "complete": key == "finished", "results": 0}})
        .to_string()
    };
    let ack = |id: usize| json!({"_id": id, "code": 200}).to_string();
    let missing = json!({"k": "workers/4/missing", "m": {"workerid": 4, "name": "w1"}});
    let early = [
        ack(1),
        build(12, "new"),
        build(11, "finished"),
        missing.to_string(),
    ];
    let rest = (2..=PATHS.len()).map(ack);
    let live = [build(13, "new"), build(12, "finished")];
    for frame in early.into_iter().chain(rest).chain(live) {
        assert!(listener.text(&frame).await.unwrap().is_continue());
    }
    drop(events);
    let mut seen = Vec::new();
    while let Some(event) = received.recv().await {
        seen.push(event);
    }
    assert!(
        matches!(seen.as_slice(), [MasterEvent::WorkerMissing { .. }, MasterEvent::Connected,
            MasterEvent::BuildStarted(s), MasterEvent::BuildFinished(f)]
            if s.buildid == 13 && f.buildid == 12),
        "no build event before Connected, the catch-up reads those: {seen:?}"
    );
    assert_eq!(
        (failures, outage_reported),
        (0, false),
        "the stream is back"
    );
}

#[test]
fn parses_recorded_frames() {
    let started = json!({"k": "builders/3/builds/7/new", "m": {"buildid": 12, "number": 7, "builderid": 3,
        "buildrequestid": 9, "complete": false, "results": null, "started_at": 1795616756, "state_string": "starting"}});
    assert!(
        matches!(parse_event(&started), Some(MasterEvent::BuildStarted(b)) if b.buildid == 12 && b.number == 7)
    );
    let finished = json!({"k": "builders/3/builds/7/finished", "m": {"buildid": 12, "number": 7, "builderid": 3,
        "complete": true, "results": 2, "complete_at": 1795616760}});
    assert!(
        matches!(parse_event(&finished), Some(MasterEvent::BuildFinished(b)) if b.results == Some(crate::outcome::Outcome::Failure))
    );
    let missing = json!({"k": "workers/4/missing", "m": {"workerid": 4, "name": "w1", "last_connection": "Wed Nov 25 14:00:00 2026"}});
    assert!(matches!(
        parse_event(&missing),
        Some(MasterEvent::WorkerMissing { workerid: 4, .. })
    ));
    let step = json!({"k": "builds/12/steps/40/started", "m": {"stepid": 40, "buildid": 12}});
    assert!(matches!(
        parse_event(&step),
        Some(MasterEvent::StepChanged { buildid: 12 })
    ));
    let back = json!({"k": "workers/4/connected", "m": {"workerid": 4, "name": "w1"}});
    assert!(matches!(
        parse_event(&back),
        Some(MasterEvent::WorkerConnected { workerid: 4, .. })
    ));
    for other in [
        json!({"k": "builds/12/update", "m": {}}),
        json!({"msg": "pong"}),
        json!({"k": "builders/3/builds/7/new", "m": "junk"}),
    ] {
        assert!(parse_event(&other).is_none(), "{other}");
    }
}
