//! Notifications on a real master: build and worker events reach exactly the chats that asked
//! for them, once, across restarts of the master and of the bot.

use serde_json::json;

use crate::support::bot::BotProcess;
use crate::support::buildbot::{self, Master};
use crate::support::fake_telegram::{ALICE, BOB, CAROL, Call, FakeTelegram, Fault};

/// Messages the bot sent to `chat` since `mark` that mention `needle`.
pub(crate) fn sent_with(fake: &FakeTelegram, mark: usize, chat: i64, needle: &str) -> Vec<Call> {
    fake.sent_since(mark, "sendMessage", chat)
        .into_iter()
        .filter(|c| c.text().contains(needle))
        .collect()
}

/// Alice taps the `/watch` button labelled `label` under `prompt`, and the bot confirms in
/// place: the mark before the tap, and the button's data.
pub(crate) async fn watch_by_tap(
    fake: &FakeTelegram,
    prompt: &Call,
    label: &str,
) -> (usize, String) {
    let (_, data) = prompt
        .buttons()
        .into_iter()
        .find(|(text, _)| text == label)
        .expect("a button for the build");
    let mark = fake.mark();
    fake.tap(&ALICE, prompt, &data);
    let watching = fake
        .wait_for(mark, "editMessageText", |c| c.chat_id() == Some(ALICE.id))
        .await;
    assert!(
        watching.text().starts_with("👀 Watching build"),
        "{}",
        watching.text()
    );
    (mark, data)
}

/// "#7</a> of <b>toggle</b>", as started and finished messages name a build.
pub(crate) fn build_ref(build: &serde_json::Value, builder: &str) -> String {
    format!("#{}</a> of <b>{builder}</b>", build["number"])
}

async fn force_toggle(master: &Master, exit_code: &str) -> serde_json::Value {
    let request = master
        .force("toggle", json!({"exit_code": exit_code}))
        .await;
    master.wait_build(request, true).await
}

#[tokio::test]
async fn build_events_reach_exactly_the_chats_that_asked() {
    const GROUP: i64 = -5001;
    const CONFIGURED: i64 = -5002;
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    // Only the toggle builder, which no other test uses; CONFIGURED is subscribed by settings.
    let settings = format!(
        "[notify]\ntags = [\"toggle\"]\nchat_ids = [{CONFIGURED}]\nevents = [\"failure\"]\n"
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;

    let on = fake.ask(&ALICE, "/notify on started finished").await;
    assert!(
        on.text().ends_with("🔔 <b>started</b>\n🔔 <b>finished</b>"),
        "{}",
        on.text()
    );
    let mark = fake.mark();
    fake.group_message(GROUP, &BOB, "/notify on problem recovery");
    assert!(
        fake.reply_in(mark, GROUP)
            .await
            .text()
            .contains("🔔 <b>problem</b>")
    );
    let bad = fake.ask(&ALICE, "/notify on explosions").await;
    assert!(
        bad.text().starts_with(
            "There is no event <code>explosions</code>. Events are: started, finished"
        ),
        "{}",
        bad.text()
    );

    let start = fake.mark();
    let ok = force_toggle(&master, "0").await;
    let broken = force_toggle(&master, "1").await;
    let fixed = force_toggle(&master, "0").await;
    let (ok_ref, broken_ref, fixed_ref) = (
        build_ref(&ok, "toggle"),
        build_ref(&broken, "toggle"),
        build_ref(&fixed, "toggle"),
    );

    // Alice: started and finished of each build, nothing else.
    fake.wait_for(start, "sendMessage", |c| {
        c.chat_id() == Some(ALICE.id) && c.text().contains(&format!("{fixed_ref}: success"))
    })
    .await;
    let alice = fake.sent_since(start, "sendMessage", ALICE.id);
    let texts: Vec<&str> = alice.iter().map(Call::text).collect();
    assert_eq!(alice.len(), 6, "{texts:#?}");
    for r in [&ok_ref, &broken_ref, &fixed_ref] {
        assert_eq!(
            texts
                .iter()
                .filter(|t| t.starts_with("🚀") && t.contains(r.as_str()))
                .count(),
            1,
            "{r}: {texts:#?}"
        );
    }
    let failure = texts
        .iter()
        .find(|t| t.contains(&format!("{broken_ref}: failure")))
        .expect("failure message");
    assert!(failure.starts_with("❌ Build <a href="), "{failure}");
    assert!(failure.contains("Failed step: <b>check</b>"), "{failure}");
    assert!(
        failure.contains("Reason: e2e test"),
        "the forcing reason: {failure}"
    );
    assert!(
        failure.contains(&format!("{}#/builders/", master.url)),
        "links to the build page: {failure}"
    );

    // The group asked for problem and recovery: the failure after a success, then the fix.
    fake.wait_for(start, "sendMessage", |c| {
        c.chat_id() == Some(GROUP) && c.text().contains(&fixed_ref)
    })
    .await;
    let group = fake.sent_since(start, "sendMessage", GROUP);
    assert_eq!(
        group.len(),
        2,
        "{:#?}",
        group.iter().map(Call::text).collect::<Vec<_>>()
    );
    assert!(
        group[0].text().contains(&format!("{broken_ref}: failure"))
            && group[0].text().contains("🆕 New failure: build #")
    );
    assert!(
        group[1].text().contains(&format!("{fixed_ref}: success"))
            && group[1].text().contains("🩹 Recovered: red since #")
    );

    // The configured chat gets failures only; Bob's private chat asked for nothing.
    let configured = fake.sent_since(start, "sendMessage", CONFIGURED);
    assert_eq!(configured.len(), 1);
    assert!(
        configured[0]
            .text()
            .contains(&format!("{broken_ref}: failure"))
    );
    assert!(fake.sent_since(start, "sendMessage", BOB.id).is_empty());

    let off = fake.ask(&ALICE, "/notify off").await;
    assert_eq!(off.text(), "🔕 No events are being notified in this chat.");
}

#[tokio::test]
async fn notify_keyboard_toggles_in_place() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, "").await;

    let prompt = fake.ask(&ALICE, "/notify").await;
    let buttons = prompt.buttons();
    assert_eq!(
        buttons.len(),
        14,
        "12 events, Builders… and Done: {buttons:?}"
    );
    assert_eq!(buttons[4].0, "Failure 🔕");

    let mark = fake.mark();
    fake.tap(&ALICE, &prompt, &buttons[4].1);
    let edit = fake
        .wait_for(mark, "editMessageReplyMarkup", |c| {
            c.chat_id() == Some(ALICE.id)
        })
        .await;
    assert_eq!(
        edit.buttons()[4].0,
        "Failure 🔔",
        "the keyboard shows the new state in place"
    );
    assert_eq!(
        fake.ask(&ALICE, "/notify list").await.text(),
        "The following events are being notified in this chat:\n🔔 <b>failure</b>"
    );

    let mark = fake.mark();
    fake.tap(&ALICE, &prompt, &buttons[13].1);
    let done = fake
        .wait_for(mark, "editMessageText", |c| c.chat_id() == Some(ALICE.id))
        .await;
    assert!(
        done.text().contains("🔔 <b>failure</b>") && done.params["reply_markup"].is_null(),
        "{}",
        done.text()
    );
}

#[tokio::test]
async fn watch_announces_the_end_of_a_running_build() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, "").await;

    let request = master.force("slow", json!({"sleep": "3"})).await;
    let build = master.wait_build(request, false).await;
    let label = format!("🔎 slow #{}", build["number"]);

    let prompt = fake.ask(&ALICE, "/watch").await;
    assert!(
        prompt
            .text()
            .starts_with("Which build do you want to watch?"),
        "{}",
        prompt.text()
    );
    let (mark, data) = watch_by_tap(&fake, &prompt, &label).await;

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
    assert_eq!(
        sent_with(&fake, mark, ALICE.id, &reference).len(),
        1,
        "announced once, and the watch is over"
    );

    // A tap on the same button after the end says so instead of watching forever.
    let mark = fake.mark();
    fake.tap(&ALICE, &prompt, &data);
    let late = fake
        .wait_for(mark, "editMessageText", |c| c.chat_id() == Some(ALICE.id))
        .await;
    assert!(
        late.text().contains("has already finished: ✅ success"),
        "{}",
        late.text()
    );
}

#[tokio::test]
async fn worker_missing_and_back() {
    let master = buildbot::dedicated("workers").await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"worker\"]\n",
        ALICE.id
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    // the bot listens once it has caught up; a /hello round trip is after that start
    fake.ask(&ALICE, "/hello").await;

    let mark = fake.mark();
    master.stop_worker().await;
    let missing = fake
        .wait_for(mark, "sendMessage", |c| c.text().contains("is missing"))
        .await;
    assert!(
        missing
            .text()
            .starts_with("⚠️ Worker <code>local-worker</code> is missing. It was seen last on"),
        "{}",
        missing.text()
    );
    master.start_worker().await;
    let back = fake
        .wait_for(mark, "sendMessage", |c| c.text().contains("back online"))
        .await;
    assert_eq!(
        back.text(),
        "✅ Worker <code>local-worker</code> is back online."
    );
    assert_eq!(fake.sent_since(mark, "sendMessage", ALICE.id).len(), 2);
}

/// Every finished build of `builder` was announced finished (and, with `started`, started)
/// exactly once.
async fn assert_each_build_announced_once(
    master: &Master,
    fake: &FakeTelegram,
    mark: usize,
    chat: i64,
    builder: &str,
    started: bool,
) {
    let id = master.builder_id(builder).await;
    let builds = master.get(&format!("builders/{id}/builds")).await.unwrap();
    let builds = builds["builds"].as_array().unwrap().clone();
    assert!(!builds.is_empty());
    for build in builds.iter().filter(|b| b["complete"] == true) {
        let reference = build_ref(build, builder);
        let messages = sent_with(fake, mark, chat, &reference);
        let starts = messages
            .iter()
            .filter(|c| c.text().starts_with("🚀"))
            .count();
        let finishes = messages.len() - starts;
        assert_eq!(
            (starts, finishes),
            (usize::from(started), 1),
            "build {reference}: {:#?}",
            messages.iter().map(Call::text).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn master_restart_loses_and_doubles_nothing() {
    let master = buildbot::dedicated("restart").await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"started\", \"finished\"]\n",
        ALICE.id
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    fake.ask(&ALICE, "/hello").await;
    let mark = fake.mark();

    let request = master.force("slow", json!({"sleep": "5"})).await;
    let first = master.wait_build(request, false).await;
    fake.wait_for(mark, "sendMessage", |c| {
        c.text().starts_with("🚀") && c.text().contains(&build_ref(&first, "slow"))
    })
    .await;
    // Builds finish and start while the bot cannot hear the master.
    master.restart().await;
    let after = master.build("runtests").await;
    let finished = fake
        .wait_for(mark, "sendMessage", |c| {
            c.text()
                .contains(&format!("{}: success", build_ref(&after, "runtests")))
        })
        .await;
    assert!(finished.text().starts_with("✅"));
    // wait for the interrupted build to be settled by the master, then count
    let first_done = master.wait_build(request, true).await;
    fake.wait_for(mark, "sendMessage", |c| {
        !c.text().starts_with("🚀") && c.text().contains(&build_ref(&first_done, "slow"))
    })
    .await;
    assert_each_build_announced_once(&master, &fake, mark, ALICE.id, "slow", true).await;
    assert_each_build_announced_once(&master, &fake, mark, ALICE.id, "runtests", true).await;
}

#[tokio::test]
async fn bot_restart_keeps_subscriptions_and_catches_up() {
    let master = buildbot::dedicated("botrestart").await;
    let fake = FakeTelegram::start().await;
    let bot = BotProcess::start(&fake, &master.url, "").await;
    fake.ask(&ALICE, "/notify on finished").await;
    let mark = fake.mark();
    let first = master.build("runtests").await;
    fake.wait_for(mark, "sendMessage", |c| {
        c.text().contains(&build_ref(&first, "runtests"))
    })
    .await;

    // Down while a build runs and finishes: nothing of it may be lost.
    let mut missed = serde_json::Value::Null;
    let bot = bot
        .restart_after(&fake, async {
            missed = master.build("runtests").await;
        })
        .await;
    let missed_ref = build_ref(&missed, "runtests");
    fake.wait_for(mark, "sendMessage", |c| c.text().contains(&missed_ref))
        .await;
    assert_eq!(
        fake.ask(&ALICE, "/notify list").await.text(),
        "The following events are being notified in this chat:\n🔔 <b>finished</b>"
    );

    // And a second restart announces nothing again.
    let before = fake.mark();
    let _bot = bot.restart_after(&fake, async {}).await;
    fake.ask(&ALICE, "/hello").await;
    assert_each_build_announced_once(&master, &fake, mark, ALICE.id, "runtests", false).await;
    assert_eq!(
        fake.sent_since(before, "sendMessage", ALICE.id).len(),
        1,
        "only the hello"
    );
}

#[tokio::test]
async fn blocked_chats_are_dropped_and_migrated_groups_follow() {
    const OLD_GROUP: i64 = -6001;
    const NEW_GROUP: i64 = -1_000_000_006_001;
    let master = buildbot::dedicated("delivery").await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\nchat_ids = [{OLD_GROUP}, {}]\nevents = [\"finished\"]\n",
        BOB.id
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    fake.ask(&ALICE, "/hello").await;

    fake.inject_for("sendMessage", OLD_GROUP, Fault::migrated(NEW_GROUP));
    fake.inject_for(
        "sendMessage",
        BOB.id,
        Fault::api_error(403, "Forbidden: bot was blocked by the user"),
    );
    let mark = fake.mark();
    let build = master.build("runtests").await;
    let reference = build_ref(&build, "runtests");
    let moved = fake
        .wait_for(mark, "sendMessage", |c| c.chat_id() == Some(NEW_GROUP))
        .await;
    // Bob's turn comes after the group's: wait for the refusal before counting anew
    fake.wait_for(mark, "sendMessage", |c| c.chat_id() == Some(BOB.id))
        .await;
    assert!(
        moved.text().contains(&reference),
        "re-sent to the supergroup: {}",
        moved.text()
    );

    let mark = fake.mark();
    let second = master.build("runtests").await;
    let second_ref = build_ref(&second, "runtests");
    fake.wait_for(mark, "sendMessage", |c| {
        c.chat_id() == Some(NEW_GROUP) && c.text().contains(&second_ref)
    })
    .await;
    assert!(
        fake.sent_since(mark, "sendMessage", OLD_GROUP).is_empty(),
        "the old id is forgotten"
    );
    assert!(
        fake.sent_since(mark, "sendMessage", BOB.id).is_empty(),
        "a chat that blocked the bot is dropped"
    );
    let bob = fake.ask(&BOB, "/notify list").await;
    assert_eq!(bob.text(), "🔕 No events are being notified in this chat.");
}

#[tokio::test]
async fn blame_list_and_revisions() {
    let master = buildbot::dedicated("blame").await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"started\", \"failure\"]\nshow_blame_list = true\nuse_revisions = true\n",
        ALICE.id
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    fake.ask(&ALICE, "/hello").await;
    let mark = fake.mark();

    let revision = "deadbeefcafe0123456789abcdef0123456789ab";
    master
        .add_change_on(
            "blame",
            "Dana <dana@example.org>",
            "Break the check",
            revision,
        )
        .await;
    let started = fake
        .wait_for(mark, "sendMessage", |c| c.text().starts_with("🚀"))
        .await;
    assert!(
        started
            .text()
            .contains("of <b>toggle</b> containing revision <code>deadbee</code> started."),
        "{}",
        started.text()
    );
    let failed = fake
        .wait_for(mark, "sendMessage", |c| c.text().starts_with("❌"))
        .await;
    let text = failed.text();
    assert!(
        text.contains("containing revision <code>deadbee</code>: failure"),
        "{text}"
    );
    assert!(text.contains("Failed step: <b>check</b>"), "{text}");
    assert!(
        text.contains("Blame: Dana &lt;dana@example.org&gt;"),
        "{text}"
    );
    assert!(!text.contains(revision), "hashes are shortened: {text}");
}

#[tokio::test]
async fn events_flow_from_a_master_that_requires_a_login() {
    let master = buildbot::with_login().await;
    let (user, password) = buildbot::LOGIN;
    let fake = FakeTelegram::start().await;
    let login = format!("username = \"{user}\"\npassword = \"{password}\"\n");
    let settings = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"finished\"]\n",
        ALICE.id
    );
    let bot = BotProcess::start_with(&fake, &master.url, &login, &settings).await;
    fake.ask(&ALICE, "/hello").await;
    let mark = fake.mark();
    let build = master.build("runtests").await;
    let done = fake
        .wait_for(mark, "sendMessage", |c| {
            c.text().contains(&build_ref(&build, "runtests"))
        })
        .await;
    assert!(done.text().contains(": success"), "{}", done.text());
    assert!(
        bot.log().contains("listening to Buildbot events"),
        "the websocket took the session cookie"
    );
}

/// A failure notification on `master` reaching `fake`, with the bot reading the master at
/// `bot_url` and `before_build` run once the bot answers: the message Telegram took.
async fn failure_notice(
    fake: &FakeTelegram,
    master: &Master,
    bot_url: &str,
    before_build: impl FnOnce(&FakeTelegram),
) -> Call {
    let settings = format!(
        "[notify]\ntags = [\"unit\"]\nchat_ids = [{}]\nevents = [\"failure\"]\n",
        ALICE.id
    );
    let _bot = BotProcess::start(fake, bot_url, &settings).await;
    fake.ask(&ALICE, "/hello").await;
    before_build(fake);
    let mark = fake.mark();
    let build = master.build("failing").await;
    let reference = build_ref(&build, "failing");
    fake.wait_for(mark, "sendMessage", |c| {
        c.text().contains(&reference) && c.result["message_id"].is_i64()
    })
    .await
}

#[tokio::test]
async fn failures_arrive_from_a_master_on_localhost_with_the_log_link_in_the_text() {
    // Telegram refuses URL buttons on hosts without a dot; the default buildbot.url is one.
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let on_localhost = master.url.replace("127.0.0.1", "localhost");
    let failure = failure_notice(&fake, &master, &on_localhost, |_| {}).await;
    let text = failure.text();
    assert!(
        text.contains(&format!("<a href=\"{on_localhost}#/builders/"))
            && text.contains("/logs/stdio\">📄 Full log</a>"),
        "the log link is in the text: {text}"
    );
    let buttons: Vec<String> = failure.buttons().into_iter().map(|(l, _)| l).collect();
    assert_eq!(
        buttons,
        ["🔁 Rebuild"],
        "no URL button Telegram would refuse"
    );
}

#[tokio::test]
async fn a_link_button_telegram_refuses_anyway_becomes_a_link_in_the_text() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    // the next message after /hello's answer is the failure: Telegram refuses its link
    let failure = failure_notice(&fake, &master, &master.url, |fake| {
        fake.inject(
            "sendMessage",
            Fault::api_error(400, "Bad Request: BUTTON_URL_INVALID"),
        )
    })
    .await;
    assert!(
        failure.text().contains("/logs/stdio\">📄 Full log</a>"),
        "{}",
        failure.text()
    );
    let buttons: Vec<String> = failure.buttons().into_iter().map(|(l, _)| l).collect();
    assert_eq!(buttons, ["🔁 Rebuild"]);
}

#[tokio::test]
async fn failure_messages_quote_the_log_and_offer_a_rebuild() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\ntags = [\"unit\"]\nchat_ids = [{}]\nevents = [\"failure\"]\n[authz]\nforce = [{}]\n",
        ALICE.id, ALICE.id
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    fake.ask(&ALICE, "/hello").await;
    let mark = fake.mark();
    let build = master.build("failing").await;
    let reference = build_ref(&build, "failing");
    let failure = fake
        .wait_for(mark, "sendMessage", |c| c.text().contains(&reference))
        .await;
    let text = failure.text();
    assert!(
        text.contains("Failed step: <b>unit tests</b>\n<pre>"),
        "{text}"
    );
    assert!(text.contains("boom"), "the step's real output: {text}");
    let row = &failure.params["reply_markup"]["inline_keyboard"][0];
    assert_eq!(row[0]["text"], "📄 Full log");
    let log_url = row[0]["url"].as_str().unwrap();
    assert!(
        log_url.starts_with(&master.url) && log_url.ends_with("/logs/stdio"),
        "{log_url}"
    );

    assert_eq!(
        row[1]["text"], "🔁 Rebuild",
        "tapping it is tests/e2e/rebuild.rs"
    );
}

#[tokio::test]
async fn muted_chats_get_notifications_without_a_sound() {
    let master = buildbot::dedicated("mute").await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"finished\"]\n",
        ALICE.id
    );
    let bot = BotProcess::start(&fake, &master.url, &settings).await;

    let muted = fake.ask(&ALICE, "/mute 2h").await;
    assert!(
        muted
            .text()
            .starts_with("🔕 Notifications in this chat arrive without a sound until"),
        "{}",
        muted.text()
    );
    let bad = fake.ask(&ALICE, "/mute forever").await;
    assert!(bad.text().contains("Usage: /mute"), "{}", bad.text());

    let mark = fake.mark();
    let quiet = master.build("runtests").await;
    let message = fake
        .wait_for(mark, "sendMessage", |c| {
            c.text().contains(&build_ref(&quiet, "runtests"))
        })
        .await;
    assert_eq!(
        message.params["disable_notification"], true,
        "delivered, silently"
    );

    assert_eq!(
        fake.ask(&ALICE, "/unmute").await.text(),
        "🔔 Notifications in this chat make a sound again."
    );
    let mark = fake.mark();
    let loud = master.build("runtests").await;
    let message = fake
        .wait_for(mark, "sendMessage", |c| {
            c.text().contains(&build_ref(&loud, "runtests"))
        })
        .await;
    assert!(
        message
            .params
            .get("disable_notification")
            .is_none_or(|v| v == false),
        "{}",
        message.params
    );

    drop(bot);

    // Quiet hours around now: the same, every day, from the settings.
    let minute = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 86_400
        / 60) as u32;
    let (from, to) = ((minute + 1440 - 5) % 1440, (minute + 60) % 1440);
    let quiet = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"finished\"]\nquiet_hours = \"{:02}:{:02}-{:02}:{:02}\"\n",
        BOB.id,
        from / 60,
        from % 60,
        to / 60,
        to % 60
    );
    let _night = BotProcess::start(&fake, &master.url, &quiet).await;
    fake.ask(&BOB, "/hello").await;
    let mark = fake.mark();
    let late = master.build("runtests").await;
    let message = fake
        .wait_for(mark, "sendMessage", |c| {
            c.chat_id() == Some(BOB.id) && c.text().contains(&build_ref(&late, "runtests"))
        })
        .await;
    assert_eq!(
        message.params["disable_notification"], true,
        "quiet hours: {}",
        message.params
    );
}

#[tokio::test]
async fn forum_topics_get_their_builders() {
    const FORUM: i64 = -1_000_000_009_001;
    let master = buildbot::dedicated("topics").await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\nchat_ids = [{FORUM}]\nevents = [\"finished\"]\n[notify.routes]\nruntests = 12\n"
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;

    // /notify inside topic 11 subscribes that topic, not the whole group
    let mark = fake.mark();
    fake.topic_message(FORUM, 11, &ALICE, "/notify on failure");
    let reply = fake.reply_in(mark, FORUM).await;
    assert!(
        reply.text().ends_with("🔔 <b>failure</b>"),
        "only the topic's own events: {}",
        reply.text()
    );
    assert!(
        reply.params["reply_parameters"]["message_id"].is_i64(),
        "answered in the topic"
    );

    let mark = fake.mark();
    let ok = master.build("runtests").await;
    let routed = fake
        .wait_for(mark, "sendMessage", |c| {
            c.text().contains(&build_ref(&ok, "runtests"))
        })
        .await;
    assert_eq!(routed.chat_id(), Some(FORUM));
    assert_eq!(
        routed.params["message_thread_id"], 12,
        "[notify.routes] sends runtests to topic 12"
    );

    let mark = fake.mark();
    let bad = master.build("failing").await;
    let reference = build_ref(&bad, "failing");
    fake.wait_for(mark, "sendMessage", |c| {
        c.params["message_thread_id"] == 11 && c.text().contains(&reference)
    })
    .await;
    fake.wait_for(mark, "sendMessage", |c| {
        c.params.get("message_thread_id").is_none() && c.text().contains(&reference)
    })
    .await;
    let copies = fake
        .sent_since(mark, "sendMessage", FORUM)
        .into_iter()
        .filter(|c| c.text().contains(&reference))
        .count();
    assert_eq!(
        copies, 2,
        "one for the group (no route for failing), one for the topic that asked for failures"
    );
}

#[tokio::test]
async fn live_messages_follow_the_build_and_become_the_result() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\ntags = [\"slow\"]\nlive = true\nchat_ids = [{}]\nevents = [\"started\", \"finished\"]\n",
        CAROL.id
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    fake.ask(&CAROL, "/hello").await;
    let mark = fake.mark();
    let request = master.force("slow", json!({"sleep": "12"})).await;
    let build = master.wait_build(request, false).await;
    let reference = build_ref(&build, "slow");

    let start = fake
        .wait_for(mark, "sendMessage", |c| {
            c.chat_id() == Some(CAROL.id) && c.text().contains(&reference)
        })
        .await;
    let id = start.result["message_id"].clone();
    let progress = fake
        .wait_for(mark, "editMessageText", |c| {
            c.params["message_id"] == id
                && c.text().starts_with("🌀")
                && c.text().contains("step <b>sleep</b>")
        })
        .await;
    assert!(
        progress.text().contains("steps done), for "),
        "{}",
        progress.text()
    );
    let done = fake
        .wait_for(mark, "editMessageText", |c| {
            c.params["message_id"] == id && c.text().contains(": success")
        })
        .await;
    assert!(done.text().starts_with("✅ Build"), "{}", done.text());
    let separate = fake
        .sent_since(mark, "sendMessage", CAROL.id)
        .into_iter()
        .filter(|c| c.text().contains(&reference))
        .count();
    assert_eq!(separate, 1, "one message for the build, edited in place");
}
