//! Per-chat filters (`/notify on finished builder:run*`): each chat hears only about the
//! builds its terms let through, by builder glob, tag and branch, in a private chat and in a
//! group; terms are listed, removed, and refused when they mean nothing.

use serde_json::{Value, json};

use crate::notifications::build_ref;
use crate::support::bot::BotProcess;
use crate::support::buildbot::{self, Master};
use crate::support::fake_telegram::{ALICE, BOB, CAROL, Call, FakeTelegram};

const GROUP: i64 = -5301;
/// Subscribed by the settings, with a filter written after it.
const CONFIGURED: i64 = -5302;

/// Forces `builder` with `properties` and waits until it finished on the master.
async fn finished(master: &Master, builder: &str, properties: Value) -> String {
    let request = master.force(builder, properties).await;
    build_ref(&master.wait_build(request, true).await, builder)
}

#[tokio::test]
async fn each_chat_hears_only_the_builds_its_filter_lets_through() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\nchat_ids = [\"{CONFIGURED} builder:toggle\"]\nevents = [\"finished\"]\n"
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;

    let alice = fake.ask(&ALICE, "/notify on finished builder:RUN*").await;
    assert!(
        alice
            .text()
            .ends_with("🔔 <b>finished</b>\n🔎 Only builds of builder <code>RUN*</code>. <code>/notify off builder:…</code> (or tag:, branch:) removes one."),
        "{}",
        alice.text()
    );
    let mark = fake.mark();
    fake.group_message(GROUP, &BOB, "/notify on finished tag:toggle");
    let group = fake.reply_in(mark, GROUP).await;
    assert!(
        group.text().contains("tagged <code>toggle</code>"),
        "{}",
        group.text()
    );
    let carol = fake.ask(&CAROL, "/notify on finished branch:main").await;
    assert!(
        carol.text().contains("on branch <code>main</code>"),
        "{}",
        carol.text()
    );

    let start = fake.mark();
    let on_main = finished(&master, "runtests", json!({"branch": "main"})).await;
    let toggle = finished(&master, "toggle", json!({"exit_code": "0"})).await;
    let plain = finished(&master, "runtests", json!({})).await;
    // the last one every chat that asked for it hears: once it arrived, the others have
    let lasts = [
        (ALICE.id, &plain),
        (GROUP, &toggle),
        (CAROL.id, &on_main),
        (CONFIGURED, &toggle),
    ];
    for (chat, last) in lasts {
        fake.wait_for(start, "sendMessage", |c| {
            c.chat_id() == Some(chat) && c.text().contains(last.as_str())
        })
        .await;
    }
    fake.ask(&ALICE, "/hello").await; // anything still on its way has come by now
    let heard = |chat: i64, build: &str| {
        fake.sent_since(start, "sendMessage", chat)
            .iter()
            .filter(|c| c.text().contains(build))
            .count()
    };
    // how many times each chat heard of: on_main, plain, toggle
    let expected = [
        (ALICE.id, [1, 1, 0], "Alice: builders run*"),
        (GROUP, [0, 0, 1], "the group: tag toggle"),
        (
            CAROL.id,
            [1, 0, 0],
            "Carol: branch main (a build without one is not on main)",
        ),
        (CONFIGURED, [0, 0, 1], "the settings' chat: builder toggle"),
    ];
    for (chat, counts, who) in expected {
        let got = [&on_main, &plain, &toggle].map(|build| heard(chat, build));
        assert_eq!(got, counts, "{who}");
    }

    // a term goes as it came; the chat hears everything again
    let off = fake.ask(&ALICE, "/notify off builder:RUN*").await;
    assert!(!off.text().contains("🔎"), "{}", off.text());
    assert!(off.text().contains("🔔 <b>finished</b>"), "{}", off.text());
    let bad = fake.ask(&ALICE, "/notify on failure owner:bob").await;
    assert!(
        bad.text()
            .starts_with("There is no filter <code>owner:bob</code>."),
        "{}",
        bad.text()
    );
    let list = fake.ask(&ALICE, "/notify list").await;
    assert!(
        !list.text().contains("failure"),
        "a refused line changes nothing: {}",
        list.text()
    );
    let start = fake.mark();
    let next = finished(&master, "toggle", json!({"exit_code": "0"})).await;
    fake.wait_for(start, "sendMessage", |c| {
        c.chat_id() == Some(ALICE.id) && c.text().contains(&next)
    })
    .await;
}

/// The button labelled `label` under `message`, as the fake shows it now.
fn button(message: &Call, label: &str) -> String {
    let buttons = message.buttons();
    buttons
        .iter()
        .find(|(text, _)| text == label)
        .unwrap_or_else(|| panic!("no {label:?} in {buttons:?}"))
        .1
        .clone()
}

/// Alice taps `label` under `prompt` (the same message, as edited since); the edit.
async fn tap(fake: &FakeTelegram, prompt: &Call, shown: &Call, label: &str) -> Call {
    let mark = fake.mark();
    fake.tap(&ALICE, prompt, &button(shown, label));
    fake.wait_for(mark, "editMessageText", |c| c.chat_id() == Some(ALICE.id))
        .await
}

#[tokio::test]
async fn builders_are_ticked_on_the_notify_keyboard() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, "").await;

    let prompt = fake.ask(&ALICE, "/notify").await;
    let page = tap(&fake, &prompt, &prompt, "Builders…").await;
    assert!(
        page.text().starts_with("Tap the builders"),
        "{}",
        page.text()
    );
    let labels: Vec<String> = page.buttons().into_iter().map(|(l, _)| l).collect();
    assert!(
        labels.contains(&"runtests".to_owned())
            && labels.ends_with(&["Events…".into(), "Done".into()]),
        "{labels:?}"
    );

    let ticked = tap(&fake, &prompt, &page, "runtests").await;
    assert!(
        ticked.buttons().iter().any(|(l, _)| l == "✅ runtests"),
        "{:?}",
        ticked.buttons()
    );
    let list = fake.ask(&ALICE, "/notify list").await;
    assert!(
        list.text()
            .contains("🔎 Only builds of builder <code>runtests</code>."),
        "{}",
        list.text()
    );
    let unticked = tap(&fake, &prompt, &ticked, "✅ runtests").await;
    assert!(unticked.buttons().iter().any(|(l, _)| l == "runtests"));
    assert!(!fake.ask(&ALICE, "/notify list").await.text().contains("🔎"));

    let events = tap(&fake, &prompt, &unticked, "Events…").await;
    assert_eq!(
        events.buttons().len(),
        14,
        "back to the events: {:?}",
        events.buttons()
    );
}

#[tokio::test]
async fn filters_alone_turn_the_basic_events_on_and_are_few() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, "").await;

    // a chat that hears nothing yet: "on" with a filter means the basic events, of it
    let on = fake.ask(&BOB, "/notify on \"builder:Linux full\"").await;
    assert!(
        on.text().contains(
            "🔔 <b>started</b>\n🔔 <b>finished</b>\n🔎 Only builds of builder <code>Linux full</code>."
        ),
        "{}",
        on.text()
    );
    // the same term in another case is the same term: removed, not doubled
    let off = fake.ask(&BOB, "/notify off \"builder:LINUX FULL\"").await;
    assert!(!off.text().contains("🔎"), "{}", off.text());

    let many: Vec<String> = (0..33).map(|i| format!("tag:t{i}")).collect();
    let refused = fake
        .ask(&BOB, &format!("/notify on {}", many.join(" ")))
        .await;
    assert!(
        refused
            .text()
            .contains("A chat can have at most 32 filters."),
        "{}",
        refused.text()
    );
    assert!(!fake.ask(&BOB, "/notify list").await.text().contains("🔎"));
}
