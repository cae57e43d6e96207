//! Conversations that change the master: /force, /stop, /shutdown, /nay, on real masters.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::bot::BotProcess;
use crate::support::buildbot::{self, Master};
use crate::support::fake_telegram::{ALICE, BOB, CAROL, Call, FakeTelegram, Person};

mod group_owner;
mod old_questions;
mod one_line;
mod pages;
mod pidfile;

const FORCERS: &str = "[authz]\n\"force,stop,shutdown\" = [111111, 333333]\n";

/// The next message to `chat` after `mark` (sent or edited) whose text starts with `prefix`.
async fn next_screen(fake: &FakeTelegram, mark: usize, chat: i64, prefix: &str) -> Call {
    fake.wait_for_any(mark, &["sendMessage", "editMessageText"], |c| {
        c.chat_id() == Some(chat) && c.text().starts_with(prefix)
    })
    .await
}

/// The data of the button labelled `label` under `screen`.
fn button(screen: &Call, label: &str) -> String {
    let (_, data) = screen
        .buttons()
        .into_iter()
        .find(|(text, _)| text == label)
        .unwrap_or_else(|| panic!("no button {label:?} in {:?}", screen.buttons()));
    data
}

/// Taps the button labelled `label` under `screen` and returns the call mark before the tap.
fn tap_label(fake: &FakeTelegram, who: &Person, screen: &Call, label: &str) -> usize {
    let data = button(screen, label);
    let mark = fake.mark();
    fake.tap(who, screen, &data);
    mark
}

/// Types `text` privately as `who` and returns the mark before it.
fn say(fake: &FakeTelegram, who: &Person, text: &str) -> usize {
    let mark = fake.mark();
    fake.private_message(who, text);
    mark
}

async fn properties(master: &Master, request: i64) -> Value {
    let build = master.wait_build(request, true).await;
    let answer = master
        .get(&format!("builds/{}?property=*", build["buildid"]))
        .await
        .unwrap();
    answer["builds"][0]["properties"].clone()
}

fn request_id(text: &str) -> i64 {
    let start = text.find("buildrequests/").expect("a build request link") + "buildrequests/".len();
    text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// A word no other run of a test on the shared master uses, to find what this one forced.
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// How many buildsets the master has whose reason contains `marker` (Buildbot writes the
/// forced reason into the buildset's: "A build was forced by '...': <reason>").
async fn forced_with(master: &Master, marker: &str) -> usize {
    let sets = master.get("buildsets?order=-bsid&limit=500").await.unwrap();
    sets["buildsets"]
        .as_array()
        .expect("buildsets")
        .iter()
        .filter(|set| set["reason"].as_str().unwrap_or_default().contains(marker))
        .count()
}

#[tokio::test]
async fn force_dialogue_with_every_parameter_type() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, FORCERS).await;
    let me = ALICE.id;

    let mark = say(&fake, &ALICE, "/force");
    let schedulers = next_screen(&fake, mark, me, "Which force scheduler").await;
    assert_eq!(schedulers.buttons().len(), 2, "{:?}", schedulers.buttons());
    let mark = tap_label(&fake, &ALICE, &schedulers, "Force a build");
    let builders = next_screen(&fake, mark, me, "Which builder").await;
    let mark = tap_label(&fake, &ALICE, &builders, "toggle");
    let form = next_screen(&fake, mark, me, "🚀 New build of <b>toggle</b>").await;
    assert!(
        form.text().contains("• Reason: <i>(empty)</i> (required)"),
        "{}",
        form.text()
    );
    assert!(
        !form.text().contains("pipeline"),
        "fixed parameters are not offered: {}",
        form.text()
    );

    // Start without the required reason: refused, and the form comes back marked.
    let mark = tap_label(&fake, &ALICE, &form, "🚀 Start build");
    let refused = next_screen(&fake, mark, me, "⚠️ Set <b>Reason</b> first").await;
    assert!(refused.text().contains("the build needs it"));
    let form = next_screen(&fake, mark, me, "🚀 New build").await;
    assert!(
        form.text().contains("Reason: <i>(empty)</i> ⚠️ required"),
        "{}",
        form.text()
    );

    // Text
    let mark = tap_label(&fake, &ALICE, &form, "✏️ Reason");
    let ask = next_screen(&fake, mark, me, "Send the new value for <b>Reason</b>").await;
    assert_eq!(
        ask.params["reply_markup"]["force_reply"], true,
        "a typed answer is asked for"
    );
    let mark = say(&fake, &ALICE, "release candidate");
    let form = next_screen(&fake, mark, me, "🚀 New build").await;
    assert!(
        form.text()
            .contains("• Reason: <code>release candidate</code>"),
        "{}",
        form.text()
    );

    // Int: a bad value is refused and asked again
    let mark = tap_label(&fake, &ALICE, &form, "✏️ Retries");
    next_screen(&fake, mark, me, "Send the new value for <b>Retries</b>").await;
    let mark = say(&fake, &ALICE, "many");
    let bad = next_screen(
        &fake,
        mark,
        me,
        "That is not a good value for <b>Retries</b>",
    )
    .await;
    assert!(
        bad.text().contains("whole number") && bad.text().ends_with("Send it again."),
        "{}",
        bad.text()
    );
    let mark = say(&fake, &ALICE, "3");
    let form = next_screen(&fake, mark, me, "🚀 New build").await;

    // Bool, by button
    let mark = tap_label(&fake, &ALICE, &form, "✏️ Clean build");
    let choices = next_screen(&fake, mark, me, "Send the new value for <b>Clean build</b>").await;
    let mark = tap_label(&fake, &ALICE, &choices, "true");
    let form = next_screen(&fake, mark, me, "🚀 New build").await;

    // Choice: a typed value outside the list is refused, then a button picks one
    let mark = tap_label(&fake, &ALICE, &form, "✏️ Target");
    let choices = next_screen(&fake, mark, me, "Send the new value for <b>Target</b>").await;
    let mark = say(&fake, &ALICE, "fast");
    let bad = next_screen(
        &fake,
        mark,
        me,
        "That is not a good value for <b>Target</b>",
    )
    .await;
    assert!(bad.text().contains("debug, release"), "{}", bad.text());
    let mark = tap_label(&fake, &ALICE, &choices, "release");
    let form = next_screen(&fake, mark, me, "🚀 New build").await;

    // Textarea and the strings the build uses; each answer brings the form back as a new
    // message, and only that one's buttons answer
    let mut form = form;
    for (label, value) in [
        ("Notes", "line one"),
        ("Sleep seconds", "1"),
        ("Exit code of toggle", "0"),
    ] {
        let mark = tap_label(&fake, &ALICE, &form, &format!("✏️ {label}"));
        next_screen(
            &fake,
            mark,
            me,
            &format!("Send the new value for <b>{label}</b>"),
        )
        .await;
        let mark = say(&fake, &ALICE, value);
        form = next_screen(&fake, mark, me, "🚀 New build").await;
    }
    assert!(
        form.text()
            .contains("• Exit code of toggle: <code>0</code>")
            && form.text().contains("• Notes: <code>line one</code>"),
        "{}",
        form.text()
    );
    let mark = tap_label(&fake, &ALICE, &form, "🚀 Start build");
    let done = next_screen(&fake, mark, me, "✅ Build of <b>toggle</b> requested").await;

    let props = properties(&master, request_id(done.text())).await;
    assert_eq!(props["retries"][0], 3);
    assert_eq!(props["clean"][0], true);
    assert_eq!(props["target"][0], "release");
    assert_eq!(props["notes"][0], "line one");
    assert_eq!(
        props["pipeline"][0], "telegram",
        "fixed parameters keep their value"
    );
    let reason = props["reason"][0].as_str().unwrap();
    assert_eq!(
        reason,
        "release candidate (forced from Telegram by Alice (@alice), id 111111)"
    );
}

#[tokio::test]
async fn force_in_one_line() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, FORCERS).await;

    let done = fake
        .ask(
            &ALICE,
            "/force toggle \"nightly check\" retries=2 target=debug sleep=1",
        )
        .await;
    assert!(
        done.text()
            .starts_with("✅ Build of <b>toggle</b> requested"),
        "{}",
        done.text()
    );
    let props = properties(&master, request_id(done.text())).await;
    assert_eq!(props["retries"][0], 2);
    assert!(
        props["reason"][0]
            .as_str()
            .unwrap()
            .starts_with("nightly check (forced from Telegram by Alice")
    );

    let bad = fake.ask(&ALICE, "/force toggle retries=two").await;
    assert!(
        bad.text()
            .starts_with("That is not a good value for <b>Retries</b>"),
        "{}",
        bad.text()
    );
    let missing = fake.ask(&ALICE, "/force toggle").await;
    assert!(
        missing.text().contains("Set <b>Reason</b> first"),
        "{}",
        missing.text()
    );
    let unknown = fake.ask(&ALICE, "/force nosuch").await;
    assert!(
        unknown
            .text()
            .starts_with("No force scheduler can build <code>nosuch</code>"),
        "{}",
        unknown.text()
    );
    // Buildbot's own validation is shown field by field
    let rejected = fake.ask(&ALICE, "/force toggle why ticket=bad").await;
    assert!(
        rejected
            .text()
            .starts_with("⚠️ Buildbot did not start the build:\n• <b>Ticket</b>:"),
        "{}",
        rejected.text()
    );
}

#[tokio::test]
async fn a_button_from_an_earlier_step_does_nothing() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, FORCERS).await;

    let mark = say(&fake, &ALICE, "/force");
    let schedulers = next_screen(&fake, mark, ALICE.id, "Which force scheduler").await;
    let (_, scheduler) = schedulers
        .buttons()
        .into_iter()
        .find(|(label, _)| label == "Force a build")
        .unwrap();
    let mark = fake.mark();
    fake.tap(&ALICE, &schedulers, &scheduler);
    let builders = next_screen(&fake, mark, ALICE.id, "Which builder").await;

    // The scheduler button again, now that the same message asks for a builder: its data is
    // no longer on the message, so it is refused and the builders stay.
    let mark = fake.mark();
    let answer = fake.tap_and_answer(&ALICE, &schedulers, &scheduler).await;
    assert!(
        answer.params["text"]
            .as_str()
            .unwrap_or_default()
            .contains("not on this message"),
        "{}",
        answer.params
    );
    assert!(
        !fake
            .calls()
            .iter()
            .skip(mark)
            .any(|c| c.method.starts_with("edit")),
        "nothing was edited"
    );
    // The conversation itself goes on where it was.
    let (_, builder) = builders.buttons().into_iter().next().expect("a builder");
    let mark = fake.mark();
    fake.tap(&ALICE, &builders, &builder);
    next_screen(&fake, mark, ALICE.id, "").await;
    assert!(
        fake.calls()
            .iter()
            .skip(mark)
            .any(|c| c.text().contains("Start build")
                || c.buttons().iter().any(|(l, _)| l.contains("Start build"))),
        "the parameters screen follows the builder"
    );
}

#[tokio::test]
async fn only_the_owner_and_only_authorised_users_answer() {
    const GROUP: i64 = -7001;
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, FORCERS).await;

    let denied = fake.ask(&BOB, "/force").await;
    assert!(
        denied.text().contains("not allowed to use /force"),
        "{}",
        denied.text()
    );

    let mark = fake.mark();
    fake.group_message(GROUP, &ALICE, "/force");
    let schedulers = next_screen(&fake, mark, GROUP, "Which force scheduler").await;
    let (_, data) = schedulers
        .buttons()
        .into_iter()
        .find(|(label, _)| label == "Force a build")
        .unwrap();
    // Carol may force, but this is Alice's conversation.
    let answer = fake.tap_and_answer(&CAROL, &schedulers, &data).await;
    assert!(
        answer.params["text"]
            .as_str()
            .unwrap()
            .contains("belongs to Alice (@alice)"),
        "{}",
        answer.params
    );
    // Bob may not force at all.
    let answer = fake.tap_and_answer(&BOB, &schedulers, &data).await;
    assert!(
        answer.params["text"]
            .as_str()
            .unwrap()
            .contains("not allowed to use /force"),
        "{}",
        answer.params
    );
    // Neither changed anything: Alice's tap still works.
    let mark = fake.mark();
    fake.tap(&ALICE, &schedulers, &data);
    next_screen(&fake, mark, GROUP, "Which builder").await;
}

#[tokio::test]
async fn nay_expiry_and_a_restart_in_the_middle() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let bot =
        BotProcess::start_with_telegram(&fake, &master.url, "conversation_timeout = 3\n", FORCERS)
            .await;

    let mark = say(&fake, &ALICE, "/force");
    let schedulers = next_screen(&fake, mark, ALICE.id, "Which force scheduler").await;
    let nay = fake.ask(&ALICE, "/nay").await;
    assert_eq!(
        nay.text(),
        "Never mind... I forgot the /force conversation."
    );
    // /nay took the buttons away: a client still showing them taps data no longer there
    let answer = fake
        .tap_and_answer(&ALICE, &schedulers, &schedulers.buttons()[0].1)
        .await;
    assert!(
        answer.params["text"]
            .as_str()
            .unwrap()
            .contains("not on this message"),
        "{}",
        answer.params
    );
    assert_eq!(
        fake.ask(&ALICE, "/nay").await.text(),
        "Never mind... There was nothing to forget."
    );

    // Left alone, a conversation expires.
    let mark = say(&fake, &ALICE, "/force");
    let schedulers = next_screen(&fake, mark, ALICE.id, "Which force scheduler").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let answer = fake
        .tap_and_answer(&ALICE, &schedulers, &schedulers.buttons()[0].1)
        .await;
    assert!(
        answer.params["text"]
            .as_str()
            .unwrap()
            .contains("expired; start again with /force"),
        "{}",
        answer.params
    );

    // A restart in the middle resumes from storage.
    let mark = say(&fake, &ALICE, "/force");
    let schedulers = next_screen(&fake, mark, ALICE.id, "Which force scheduler").await;
    let bot = bot.restart_after(&fake, async {}).await;
    let mark = tap_label(&fake, &ALICE, &schedulers, "Force a build");
    next_screen(&fake, mark, ALICE.id, "Which builder").await;
    drop(bot);
}

#[tokio::test]
async fn stop_cancels_a_running_build() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, FORCERS).await;
    let request = master.force("slow", json!({"sleep": "60"})).await;
    let build = master.wait_build(request, false).await;

    let denied = fake.ask(&BOB, "/stop slow").await;
    assert!(denied.text().contains("not allowed to use /stop"));
    let mark = say(&fake, &ALICE, "/stop slow");
    let confirm = next_screen(
        &fake,
        mark,
        ALICE.id,
        &format!("Stop build <b>slow #{}", build["number"]),
    )
    .await;
    let mark = tap_label(&fake, &ALICE, &confirm, "🚫 Yes, stop it");
    next_screen(&fake, mark, ALICE.id, "🚫 Stopping build").await;
    let stopped = master.wait_build(request, true).await;
    assert_eq!(stopped["results"], 6, "cancelled: {stopped}");
    let nothing = fake.ask(&ALICE, "/stop nosuch").await;
    assert_eq!(
        nothing.text(),
        "There are no running builds of <code>nosuch</code> to stop."
    );
}

#[tokio::test]
async fn shutdown_start_lets_the_running_build_finish() {
    let master = buildbot::dedicated("shutdown").await;
    let fake = FakeTelegram::start().await;
    let control = format!("pidfile = \"{}\"\n", master.pidfile().display());
    let _bot = BotProcess::start_with(
        &fake,
        &master.url,
        &format!("[buildbot.master_control]\n{control}").replace(
            "[buildbot.master_control]\n",
            "\n[buildbot.master_control]\n",
        ),
        FORCERS,
    )
    .await;

    let check = fake.ask(&ALICE, "/shutdown check").await;
    assert!(check.text().contains("is running"), "{}", check.text());
    let request = master.force("slow", json!({"sleep": "4"})).await;
    master.wait_build(request, false).await;

    let mark = say(&fake, &ALICE, "/shutdown");
    let menu = next_screen(
        &fake,
        mark,
        ALICE.id,
        "What do you want to do with the master?",
    )
    .await;
    assert!(
        menu.text()
            .contains("stop: not offered, a clean shutdown cannot be cancelled"),
        "{}",
        menu.text()
    );
    let mark = tap_label(&fake, &ALICE, &menu, "↘️ Begin clean shutdown");
    let confirm = next_screen(&fake, mark, ALICE.id, "Begin a clean shutdown?").await;
    let mark = tap_label(&fake, &ALICE, &confirm, "‼️ Yes, ↘️ Begin clean shutdown");
    next_screen(&fake, mark, ALICE.id, "✅ The master (pid").await;

    let finished = master.wait_build(request, true).await;
    assert_eq!(
        finished["results"], 0,
        "the running build finished normally: {finished}"
    );
    assert!(
        master.exits().await,
        "the master exits after its running build"
    );
}
