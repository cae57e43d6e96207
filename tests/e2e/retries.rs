//! A master that fails now and then: the bot reads it through a fault-injecting proxy
//! (`support/proxy.rs`), and no build's announcement may be lost for a transient error, nor
//! made twice. Each failing call is retried with backoff (1 s, 2 s, 4 s, …), so these tests
//! take seconds, not minutes.

use serde_json::json;

use crate::notifications::{build_ref, sent_with, watch_by_tap};
use crate::support::bot::BotProcess;
use crate::support::buildbot::{self, Master};
use crate::support::fake_telegram::{ALICE, FakeTelegram};
use crate::support::proxy::{Fault, Proxy};

/// What a failure message still reads from the master when the build ends: the failing
/// step's logs (the steps themselves come from the event stream).
const LOGS: &str = "/api/v2/steps/*/logs";
/// One build: its reason and owner, read when its `new` arrives (and again at its end when
/// that read failed).
const BUILD: &str = "/api/v2/builds/*";
/// The build lists the catch-up reads page by page.
const BUILDS: &str = "/api/v2/builds";
/// The event websocket.
const WS: &str = "/ws";

/// A proxy in front of `master`, and the bot reading the master through it with `settings`,
/// past its first catch-up.
async fn through_proxy(master: &Master, settings: &str) -> (Proxy, FakeTelegram, BotProcess) {
    let proxy = Proxy::start(&master.url).await;
    let fake = FakeTelegram::start().await;
    let bot = BotProcess::start(&fake, &proxy.url, settings).await;
    bot.wait_for_log("listening to Buildbot events").await;
    fake.ask(&ALICE, "/hello").await;
    (proxy, fake, bot)
}

fn alice_hears(events: &str) -> String {
    format!("[notify]\nchat_ids = [{}]\nevents = [{events}]\n", ALICE.id)
}

#[tokio::test]
async fn a_failure_is_announced_once_after_its_log_failed_to_load_a_few_times() {
    let master = buildbot::dedicated("stepsfail").await;
    let (proxy, fake, bot) = through_proxy(&master, &alice_hears("\"failure\"")).await;
    proxy.fail(LOGS, Fault::Status(500), 3);
    let mark = fake.mark();
    let build = master.build("failing").await;
    let reference = build_ref(&build, "failing");
    let notice = fake
        .wait_for(mark, "sendMessage", |c| c.text().contains(&reference))
        .await;
    assert!(
        notice.text().contains("Failed step: <b>unit tests</b>"),
        "{}",
        notice.text()
    );
    assert_eq!(proxy.faults(LOGS), 3, "it met every 500 on its way");
    let id = &build["buildid"];
    // the log is first read when the step fails, in the background; the build's end meets
    // what that read left of the 500s
    let line = bot
        .wait_for_log(&format!("notifications for build {id} went through after "))
        .await;
    assert!(
        ["2", "3"]
            .iter()
            .any(|n| line.contains(&format!(" after {n} failed attempt(s)"))),
        "{line}"
    );
    assert!(
        bot.log()
            .contains(&format!("notifications for build {id} finished failed")),
        "each failure is logged"
    );

    // a later failure comes after anything the first one could still repeat
    let later = master.build("failing").await;
    let later_ref = build_ref(&later, "failing");
    fake.wait_for(mark, "sendMessage", |c| c.text().contains(&later_ref))
        .await;
    assert_eq!(
        sent_with(&fake, mark, ALICE.id, &reference).len(),
        1,
        "once"
    );
}

#[tokio::test]
async fn a_build_still_failing_is_not_skipped_when_a_later_one_went_through() {
    let master = buildbot::dedicated("pending").await;
    let (proxy, fake, bot) = through_proxy(&master, &alice_hears("\"finished\"")).await;
    proxy.fail(LOGS, Fault::Status(500), usize::MAX);
    let mark = fake.mark();
    let failed = master.build("failing").await;
    let failed_ref = build_ref(&failed, "failing");
    let id = &failed["buildid"];
    bot.wait_for_log(&format!("notifications for build {id} finished failed"))
        .await;
    let ok = master.build("runtests").await;
    let ok_ref = build_ref(&ok, "runtests");
    fake.wait_for(mark, "sendMessage", |c| c.text().contains(&ok_ref))
        .await;
    assert!(sent_with(&fake, mark, ALICE.id, &failed_ref).is_empty());

    // The bot stops while the master still fails; the failing build is read again at start.
    let bot = bot.restart_after(&fake, async { proxy.heal_all() }).await;
    let notice = fake
        .wait_for(mark, "sendMessage", |c| c.text().contains(&failed_ref))
        .await;
    assert!(
        notice.text().contains(&format!("{failed_ref}: failure")),
        "{}",
        notice.text()
    );
    let later = master.build("runtests").await;
    let later_ref = build_ref(&later, "runtests");
    fake.wait_for(mark, "sendMessage", |c| c.text().contains(&later_ref))
        .await;
    for reference in [&failed_ref, &ok_ref, &later_ref] {
        assert_eq!(
            sent_with(&fake, mark, ALICE.id, reference).len(),
            1,
            "{reference} once:\n{}",
            bot.log()
        );
    }
}

#[tokio::test]
async fn a_build_that_ends_while_the_websocket_is_cut_is_announced_once() {
    let master = buildbot::dedicated("wscut").await;
    let (proxy, fake, bot) =
        through_proxy(&master, &alice_hears("\"started\", \"finished\"")).await;
    let mark = fake.mark();
    let request = master.force("slow", json!({"sleep": "3"})).await;
    let build = master.wait_build(request, false).await;
    let reference = build_ref(&build, "slow");
    fake.wait_for(mark, "sendMessage", |c| {
        c.text().starts_with("🚀") && c.text().contains(&reference)
    })
    .await;

    // The stream breaks mid-build and stays down until the build is over; then the first
    // catch-up fails on its first page, and nothing reconnects again.
    proxy.fail(WS, Fault::Status(503), usize::MAX);
    proxy.cut_websockets();
    master.wait_build(request, true).await;
    proxy.fail(BUILDS, Fault::Status(500), 1);
    let attempts = proxy.requests(WS);
    proxy.heal(WS);
    proxy.wait_requests(WS, attempts + 1).await;
    let done = fake
        .wait_for(mark, "sendMessage", |c| {
            !c.text().starts_with("🚀") && c.text().contains(&reference)
        })
        .await;
    assert!(
        done.text().contains(&format!("{reference}: success")),
        "{}",
        done.text()
    );
    assert_eq!(proxy.faults(BUILDS), 1, "the catch-up met the failing page");
    bot.wait_for_log("notifications for catching up failed")
        .await;

    let later = master.build("runtests").await;
    let later_ref = build_ref(&later, "runtests");
    fake.wait_for(mark, "sendMessage", |c| {
        !c.text().starts_with("🚀") && c.text().contains(&later_ref)
    })
    .await;
    let slow = sent_with(&fake, mark, ALICE.id, &reference);
    assert_eq!(
        slow.len(),
        2,
        "its start and its end, once each: {:#?}",
        slow.iter().map(|c| c.text()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_watcher_hears_the_end_even_when_its_first_announcement_fails() {
    let master = buildbot::shared().await;
    let (proxy, fake, bot) = through_proxy(&master, "").await;
    // The build's notes cannot be read when its `new` arrives (the connection drops) ...
    proxy.fail(BUILD, Fault::Drop, 1);
    let request = master.force("slow", json!({"sleep": "6"})).await;
    let build = master.wait_build(request, false).await;
    proxy.wait_requests(BUILD, 1).await;
    let label = format!("🔎 slow #{}", build["number"]);
    let prompt = fake.ask(&ALICE, "/watch").await;
    let (mark, _) = watch_by_tap(&fake, &prompt, &label).await;

    // ... nor the first time its end asks for them again: that announcement fails.
    proxy.fail(BUILD, Fault::Drop, 1);
    let reference = build_ref(&build, "slow");
    let done = fake
        .wait_for(mark, "sendMessage", |c| {
            c.chat_id() == Some(ALICE.id) && c.text().contains(&reference)
        })
        .await;
    assert!(
        done.text().contains(&format!("{reference}: success")),
        "{}",
        done.text()
    );
    assert_eq!(proxy.faults(BUILD), 2);
    assert!(
        bot.log().contains(&format!(
            "notifications for build {} finished failed",
            build["buildid"]
        )),
        "the first attempt failed:\n{}",
        bot.log()
    );
    fake.ask(&ALICE, "/hello").await;
    assert_eq!(
        sent_with(&fake, mark, ALICE.id, &reference).len(),
        1,
        "announced once, and the watch is over"
    );
}

#[tokio::test]
async fn a_build_that_keeps_failing_is_given_up_with_one_error_line() {
    let master = buildbot::shared().await;
    let settings = format!(
        "{}[telegram.limits]\ngive_up_after = 10\n",
        alice_hears("\"failure\"")
    );
    let (proxy, fake, bot) = through_proxy(&master, &settings).await;
    proxy.fail(LOGS, Fault::Status(500), usize::MAX);
    let mark = fake.mark();
    let build = master.build("failing").await;
    let named = format!(
        "giving up the announcement of the end of build #{} of failing (build id {})",
        build["number"], build["buildid"]
    );
    let line = bot.wait_for_log(&named).await;
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains(" s; the last failure: ") && line.contains("answered 500"),
        "how long, and what failed: {line}"
    );
    assert!(sent_with(&fake, mark, ALICE.id, &build_ref(&build, "failing")).is_empty());
    assert_eq!(bot.log().matches(&named).count(), 1);
}
