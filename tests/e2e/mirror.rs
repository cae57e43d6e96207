//! `/status`, `/last` and `/list` answer from the bot's mirror of the master (fed by the
//! event websocket): no request to the master once it is loaded, and still right after the
//! websocket dropped or the master restarted, whatever happened meanwhile.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::notifications::build_ref;
use crate::support::bot::BotProcess;
use crate::support::buildbot::{self, Master};
use crate::support::fake_telegram::{ALICE, Call, FakeTelegram};
use crate::support::proxy::{Fault, Proxy};

/// What the bot logs each time its mirror is loaded.
const LOADED: &str = "commands answer from the master's state";
/// The event websocket.
const WS: &str = "/ws";
/// The REST calls a command could make.
const API: [&str; 5] = [
    "/api/v2/*",
    "/api/v2/*/*",
    "/api/v2/*/*/*",
    "/api/v2/*/*/*/*",
    "/api/v2/*/*/*/*/*",
];

fn rest_calls(proxy: &Proxy) -> usize {
    API.iter().map(|pattern| proxy.requests(pattern)).sum()
}

/// Waits (up to 60 s) until the bot has loaded its mirror `times` times.
async fn loaded(bot: &BotProcess, times: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while bot.log().matches(LOADED).count() < times {
        assert!(
            Instant::now() < deadline,
            "the mirror was not loaded {times} time(s) within 60 s:\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A proxy in front of `master`, and the bot reading it through the proxy; Alice hears
/// every build's end, which tells the test that the bot has seen it.
async fn bot_through_proxy(master: &Master) -> (Proxy, FakeTelegram, BotProcess) {
    let proxy = Proxy::start(&master.url).await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"finished\"]\n",
        ALICE.id
    );
    let bot = BotProcess::start(&fake, &proxy.url, &settings).await;
    loaded(&bot, 1).await;
    (proxy, fake, bot)
}

/// Runs `builder` on the master and waits until the bot announced its end.
async fn built(master: &Master, fake: &FakeTelegram, builder: &str) -> serde_json::Value {
    announced(master, fake, builder).await.0
}

/// Runs `builder` on the master: the build, and the message announcing its end.
async fn announced(master: &Master, fake: &FakeTelegram, builder: &str) -> (Value, Call) {
    let mark = fake.mark();
    let build = master.build(builder).await;
    let reference = build_ref(&build, builder);
    let message = fake
        .wait_for(mark, "sendMessage", |c| c.text().contains(&reference))
        .await;
    (build, message)
}

/// How the bot links a build: through the proxy, the master's URL as the bot knows it.
fn last_line(proxy: &Proxy, builderid: i64, build: &serde_json::Value, result: &str) -> String {
    let n = &build["number"];
    format!(
        "<a href=\"{}#/builders/{builderid}/builds/{n}\">#{n}</a> {result}",
        proxy.url
    )
}

#[tokio::test]
async fn read_only_commands_ask_the_master_nothing_once_the_mirror_is_loaded() {
    // a master of its own: no other test's build may become runtests' last one
    let master = buildbot::dedicated("mirrorrest").await;
    let (proxy, fake, _bot) = bot_through_proxy(&master).await;
    let runtests = master.builder_id("runtests").await;
    let build = built(&master, &fake, "runtests").await;

    let before = rest_calls(&proxy);
    let status = fake.ask(&ALICE, "/status").await;
    assert!(
        status
            .text()
            .contains(">runtests</a></b>: idle, last build"),
        "{}",
        status.text()
    );
    assert!(
        status.text().contains(">offline-builder</a></b>: offline"),
        "{}",
        status.text()
    );
    let last = fake.ask(&ALICE, "/last runtests").await;
    let expected = last_line(&proxy, runtests, &build, "✅ success");
    assert!(
        last.text().contains(&expected),
        "{expected} in {}",
        last.text()
    );
    let one = fake.ask(&ALICE, "/status runtests").await;
    assert!(one.text().contains("Tags: unit, fast"), "{}", one.text());
    let builders = fake.ask(&ALICE, "/list builders").await;
    assert!(
        builders.text().contains(">runtests</a>"),
        "{}",
        builders.text()
    );
    let workers = fake.ask(&ALICE, "/list workers").await;
    assert!(
        workers.text().contains("local-worker"),
        "{}",
        workers.text()
    );
    let all = fake.ask(&ALICE, "/last all").await;
    assert!(all.text().contains(&expected), "{}", all.text());
    assert_eq!(rest_calls(&proxy), before, "no REST call for any of them");

    // the mirror follows the next build, still without asking
    let next = built(&master, &fake, "runtests").await;
    let before = rest_calls(&proxy);
    let last = fake.ask(&ALICE, "/last runtests").await;
    let expected = last_line(&proxy, runtests, &next, "✅ success");
    assert!(
        last.text().contains(&expected),
        "{expected} in {}",
        last.text()
    );
    assert_eq!(rest_calls(&proxy), before);
}

#[tokio::test]
async fn builds_run_while_the_websocket_is_down_are_shown_once_it_is_back() {
    let master = buildbot::dedicated("mirrorws").await;
    let (proxy, fake, bot) = bot_through_proxy(&master).await;
    let (runtests, slow) = (
        master.builder_id("runtests").await,
        master.builder_id("slow").await,
    );

    proxy.fail(WS, Fault::Status(503), usize::MAX);
    proxy.cut_websockets();
    let done = master.build("runtests").await;
    let request = master.force("slow", json!({"sleep": "8"})).await;
    let running = master.wait_build(request, false).await;
    // meanwhile the bot asks the master: right, though not from the mirror
    let last = fake.ask(&ALICE, "/last runtests").await;
    let expected = last_line(&proxy, runtests, &done, "✅ success");
    assert!(
        last.text().contains(&expected),
        "{expected} in {}",
        last.text()
    );

    // the reload finds `slow` running and reads its notes in the background, for its end's
    // message: wait for that read, so only the command's own calls are counted
    let notes = format!("/api/v2/builds/{}", running["buildid"]);
    let read = proxy.requests(&notes);
    proxy.heal(WS);
    loaded(&bot, 2).await;
    proxy.wait_requests(&notes, read + 1).await;
    let before = rest_calls(&proxy);
    let status = fake.ask(&ALICE, "/status").await;
    let text = status.text();
    assert!(
        text.contains(&format!(
            ">slow</a></b>: running build <a href=\"{}#/builders/{slow}/builds/{}\">",
            proxy.url, running["number"]
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(">runtests</a></b>: idle, last build {expected}")),
        "{text}"
    );
    assert_eq!(rest_calls(&proxy), before, "from the mirror");

    // the build that started during the outage ends while the stream is live
    let mark = fake.mark();
    let ended = master.wait_build(request, true).await;
    let reference = build_ref(&ended, "slow");
    fake.wait_for(mark, "sendMessage", |c| c.text().contains(&reference))
        .await;
    let last = fake.ask(&ALICE, "/last slow").await;
    let expected = last_line(&proxy, slow, &ended, "✅ success");
    assert!(
        last.text().contains(&expected),
        "{expected} in {}",
        last.text()
    );
    let status = fake.ask(&ALICE, "/status slow").await;
    assert!(
        status.text().contains(": idle, last build"),
        "{}",
        status.text()
    );
}

#[tokio::test]
async fn the_mirror_is_right_again_after_the_master_restarts() {
    let master = buildbot::dedicated("mirrorrestart").await;
    let (proxy, fake, bot) = bot_through_proxy(&master).await;
    let runtests = master.builder_id("runtests").await;
    let before_restart = built(&master, &fake, "runtests").await;

    master.restart().await;
    loaded(&bot, 2).await;
    let before = rest_calls(&proxy);
    let last = fake.ask(&ALICE, "/last runtests").await;
    let expected = last_line(&proxy, runtests, &before_restart, "✅ success");
    assert!(
        last.text().contains(&expected),
        "{expected} in {}",
        last.text()
    );
    let workers = fake.ask(&ALICE, "/list workers").await;
    assert!(
        workers.text().contains("local-worker"),
        "{}",
        workers.text()
    );
    let status = fake.ask(&ALICE, "/status runtests").await;
    assert!(
        status.text().contains(": idle, last build"),
        "the worker is back: {}",
        status.text()
    );
    assert_eq!(rest_calls(&proxy), before);

    let after_restart = built(&master, &fake, "runtests").await;
    let last = fake.ask(&ALICE, "/last runtests").await;
    let expected = last_line(&proxy, runtests, &after_restart, "✅ success");
    assert!(
        last.text().contains(&expected),
        "{expected} in {}",
        last.text()
    );
}

/// The REST paths the bot asked for after `mark`, with ids as `N`.
fn asked_since(proxy: &Proxy, mark: usize) -> Vec<String> {
    let numbered = |segment: &str| match segment.parse::<i64>() {
        Ok(_) => "N".to_owned(),
        Err(_) => segment.to_owned(),
    };
    proxy
        .paths_since(mark)
        .into_iter()
        .filter(|path| path != WS)
        .map(|path| path.split('/').map(numbered).collect::<Vec<_>>().join("/"))
        .collect()
}

#[tokio::test]
async fn a_builds_end_is_announced_with_what_was_read_when_it_started() {
    let master = buildbot::dedicated("mirrornotes").await;
    let (proxy, fake, bot) = bot_through_proxy(&master).await;

    // a success: the build is read once, when the bot first sees it; its end asks only for
    // the builder's history, the first time
    let mark = proxy.mark();
    built(&master, &fake, "runtests").await;
    assert_eq!(
        asked_since(&proxy, mark),
        ["/api/v2/builds/N", "/api/v2/builders/N/builds"],
        "{}",
        bot.log()
    );
    // the history is kept: the next build's end asks nothing
    let mark = proxy.mark();
    built(&master, &fake, "runtests").await;
    assert_eq!(
        asked_since(&proxy, mark),
        ["/api/v2/builds/N"],
        "{}",
        bot.log()
    );

    // a failure: only its log is read besides, for the tail shown, and its builder's
    // history; the authors of a new failure are read in the background, for the next one
    let rest = proxy.mark();
    let (_, notice) = announced(&master, &fake, "failing").await;
    assert!(
        notice.text().contains("Failed step: <b>unit tests</b>"),
        "{}",
        notice.text()
    );
    let (ahead, asked): (Vec<String>, Vec<String>) = asked_since(&proxy, rest)
        .into_iter()
        .partition(|path| path == "/api/v2/builds/N/changes");
    assert!(ahead.len() <= 1, "{ahead:?}");
    assert_eq!(
        asked,
        [
            "/api/v2/builds/N",
            "/api/v2/steps/N/logs",
            "/api/v2/logs/N/contents",
            "/api/v2/builders/N/builds"
        ]
    );
}

#[tokio::test]
async fn an_idle_bot_asks_nobody_anything_but_its_long_poll() {
    let master = buildbot::dedicated("mirroridle").await;
    let proxy = Proxy::start(&master.url).await;
    let fake = FakeTelegram::start().await;
    // as Telegram does: a long poll with nothing to give is held for the time it asks
    fake.hold_long_polls(Duration::from_secs(60));
    let env = [("BBTG_TELEGRAM__POLL_TIMEOUT", "60")];
    let bot = BotProcess::start_with_env(&fake, &proxy.url, "", "", &env).await;
    loaded(&bot, 1).await;
    fake.ask(&ALICE, "/hello").await;
    let (calls, requests) = (fake.mark(), proxy.mark());
    // nothing to wait for: what is measured is that nothing happens
    tokio::time::sleep(Duration::from_secs(5)).await;
    let telegram: Vec<String> = (fake.calls_since(calls).iter())
        .map(|c| c.method.clone())
        .collect();
    assert!(telegram.is_empty(), "{telegram:?}\n{}", bot.log());
    assert_eq!(asked_since(&proxy, requests), Vec::<String>::new());
}
