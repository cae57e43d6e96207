//! Old questions cannot act (issue 12): button data holds only indexes, so a button under a
//! message that is no longer the conversation's question (an earlier `/stop` confirmation, a
//! replaced `/force` form, an earlier `/shutdown` confirmation) must be refused and change
//! nothing, while the current question still works. A new question takes the old one's
//! buttons away, so a client that still shows them sends data its message no longer carries.

use serde_json::json;

use super::{FORCERS, button, next_screen, say, tap_label};
use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, Call, FakeTelegram};

/// Taps `label` under `screen` as Alice and returns the bot's answer to the tap.
async fn answer_to(fake: &FakeTelegram, screen: &Call, label: &str) -> Call {
    fake.tap_and_answer(&ALICE, screen, &button(screen, label))
        .await
}

/// The old question's buttons were taken away, so Telegram hands the tap over with a message
/// that no longer carries its data: the first check of every tap refuses it, touching nothing.
fn assert_out_of_date(answer: &Call) {
    let notice = answer.params["text"].as_str().unwrap_or_default();
    assert!(
        notice.starts_with("⛔ This button is not on this message (any more), so nothing was done"),
        "{}",
        answer.params
    );
}

/// Whether the buttons under `screen` were taken away between two marks. A new conversation
/// takes the old one's away before it sends its question, so once that question has been
/// seen there is nothing to wait for.
fn taken_away(fake: &FakeTelegram, (from, to): (usize, usize), screen: &Call) -> bool {
    fake.calls()[from..to].iter().any(|c| {
        c.method == "editmessagereplymarkup"
            && c.params["message_id"] == screen.result["message_id"]
            && c.params["reply_markup"].is_null()
    })
}

/// How many messages to Alice after `mark` (sent or edited) start with `prefix`.
fn count(fake: &FakeTelegram, mark: usize, prefix: &str) -> usize {
    fake.calls()
        .iter()
        .skip(mark)
        .filter(|c| matches!(c.method.as_str(), "sendmessage" | "editmessagetext"))
        .filter(|c| c.chat_id() == Some(ALICE.id) && c.text().starts_with(prefix))
        .count()
}

#[tokio::test]
async fn an_earlier_stop_confirmation_stops_nothing() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, FORCERS).await;
    // one build: the shared master runs one build of `slow` at a time, and no other builder
    // runs long, so both confirmations are for it; the first must still not act
    let request = master.force("slow", json!({"sleep": "60"})).await;
    let build = master.wait_build(request, false).await;
    let title = format!("Stop build <b>slow #{}", build["number"]);

    let mark = say(&fake, &ALICE, "/stop slow");
    let first = next_screen(&fake, mark, ALICE.id, &title).await;
    let replaced = say(&fake, &ALICE, "/stop slow");
    let second = next_screen(&fake, replaced, ALICE.id, &title).await;

    // a client that still shows the first confirmation taps it
    let mark = fake.mark();
    let answer = answer_to(&fake, &first, "🚫 Yes, stop it").await;
    assert_out_of_date(&answer);
    let now = master
        .get(&format!("builds/{}", build["buildid"]))
        .await
        .unwrap();
    assert_eq!(
        now["builds"][0]["complete"], false,
        "the earlier confirmation stopped nothing: {now}"
    );
    assert!(
        taken_away(&fake, (replaced, mark), &first),
        "the second /stop took the first one's buttons away"
    );

    tap_label(&fake, &ALICE, &second, "🚫 Yes, stop it");
    let done = next_screen(&fake, mark, ALICE.id, "🚫 Stopping build").await;
    assert_eq!(done.params["message_id"], second.result["message_id"]);
    assert_eq!(count(&fake, mark, "🚫 Stopping build"), 1);
    let stopped = master.wait_build(request, true).await;
    assert_eq!(stopped["results"], 6, "cancelled: {stopped}");
}

/// `/force` with the quick scheduler (one builder, nothing required): its form.
async fn quick_form(fake: &FakeTelegram) -> Call {
    let mark = say(fake, &ALICE, "/force");
    let schedulers = next_screen(fake, mark, ALICE.id, "Which force scheduler").await;
    let mark = tap_label(fake, &ALICE, &schedulers, "Quick build");
    next_screen(fake, mark, ALICE.id, "🚀 New build of <b>runtests</b>").await
}

#[tokio::test]
async fn a_replaced_force_form_starts_nothing() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, FORCERS).await;

    let first = quick_form(&fake).await;
    let replaced = fake.mark();
    let second = quick_form(&fake).await;

    let mark = fake.mark();
    let answer = answer_to(&fake, &first, "🚀 Start build").await;
    assert_out_of_date(&answer);
    assert!(
        taken_away(&fake, (replaced, mark), &first),
        "the second /force took the first form's buttons away"
    );
    tap_label(&fake, &ALICE, &second, "🚀 Start build");
    let done = next_screen(
        &fake,
        mark,
        ALICE.id,
        "✅ Build of <b>runtests</b> requested",
    )
    .await;
    assert_eq!(done.params["message_id"], second.result["message_id"]);
    assert_eq!(
        count(&fake, mark, "✅ Build of"),
        1,
        "only the current form started a build"
    );
}

#[tokio::test]
async fn a_form_sent_again_after_a_refusal_is_the_only_one_that_starts() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, FORCERS).await;

    let mark = say(&fake, &ALICE, "/force");
    let schedulers = next_screen(&fake, mark, ALICE.id, "Which force scheduler").await;
    let mark = tap_label(&fake, &ALICE, &schedulers, "Force a build");
    let builders = next_screen(&fake, mark, ALICE.id, "Which builder").await;
    let mark = tap_label(&fake, &ALICE, &builders, "toggle");
    let refused_form = next_screen(&fake, mark, ALICE.id, "🚀 New build of <b>toggle</b>").await;
    // Start without the required reason: refused, and the form comes back as a new message
    let mark = tap_label(&fake, &ALICE, &refused_form, "🚀 Start build");
    next_screen(&fake, mark, ALICE.id, "⚠️ Set <b>Reason</b> first").await;
    let form = next_screen(&fake, mark, ALICE.id, "🚀 New build").await;

    let answer = answer_to(&fake, &refused_form, "🚀 Start build").await;
    assert_out_of_date(&answer);
    // the form sent again is the question now, and a typed value still reaches it
    let mark = tap_label(&fake, &ALICE, &form, "✏️ Reason");
    next_screen(
        &fake,
        mark,
        ALICE.id,
        "Send the new value for <b>Reason</b>",
    )
    .await;
    let mark = say(&fake, &ALICE, "after a refusal");
    let form = next_screen(&fake, mark, ALICE.id, "🚀 New build").await;
    let mark = tap_label(&fake, &ALICE, &form, "🚀 Start build");
    next_screen(&fake, mark, ALICE.id, "✅ Build of <b>toggle</b> requested").await;
}

#[tokio::test]
async fn an_earlier_shutdown_confirmation_runs_nothing() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    // commands that only say what they would do: nothing reaches the shared master
    let control = "\n[buildbot.master_control]\n\
        start = [\"echo\", \"clean shutdown begun\"]\n\
        now = [\"echo\", \"shut down at once\"]\n";
    let _bot = BotProcess::start_with(&fake, &master.url, control, FORCERS).await;

    let mark = say(&fake, &ALICE, "/shutdown now");
    let now = next_screen(&fake, mark, ALICE.id, "Shut the master down now?").await;
    let replaced = say(&fake, &ALICE, "/shutdown start");
    let start = next_screen(&fake, replaced, ALICE.id, "Begin a clean shutdown?").await;

    let mark = fake.mark();
    let answer = answer_to(&fake, &now, "‼️ Yes, ‼️ Shut down now").await;
    assert_out_of_date(&answer);
    assert!(
        taken_away(&fake, (replaced, mark), &now),
        "/shutdown start took the earlier confirmation's buttons away"
    );
    tap_label(&fake, &ALICE, &start, "‼️ Yes, ↘️ Begin clean shutdown");
    let done = next_screen(&fake, mark, ALICE.id, "✅").await;
    assert_eq!(done.text(), "✅ clean shutdown begun");
    assert_eq!(done.params["message_id"], start.result["message_id"]);
    assert_eq!(
        count(&fake, mark, "✅"),
        1,
        "the earlier confirmation ran nothing"
    );
}
