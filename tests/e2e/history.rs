//! What a result says of the builder's past, on the real master's `toggle` builder (which
//! fails or passes as the test forces it): a new failure, a failure that goes on since a
//! build and whose change started it, a recovery and how long it was red; repeats that
//! arrive without a sound where a chat asked for quiet repeats; a flaky builder labelled
//! after the same revision failed and passed, its ping-pong silent, listed by `/flaky`; a
//! history the master cannot give leaves the message as it was before histories.

use serde_json::{Value, json};

use crate::notifications::build_ref;
use crate::support::bot::BotProcess;
use crate::support::buildbot::{self, Master};
use crate::support::fake_telegram::{ALICE, Call, FakeTelegram};
use crate::support::proxy::{Fault, Proxy};

/// Hears failures and recoveries through the settings, with a sound.
const GROUP: i64 = -5401;

/// Forces `toggle` with `properties`; the build's reference once it finished on the master.
async fn toggle(master: &Master, properties: Value) -> (String, i64) {
    let request = master.force("toggle", properties).await;
    let build = master.wait_build(request, true).await;
    let number = build["number"].as_i64().expect("a build number");
    (build_ref(&build, "toggle"), number)
}

/// The message about build `reference` in `chat`.
async fn told(fake: &FakeTelegram, mark: usize, chat: i64, reference: &str) -> Call {
    fake.wait_for(mark, "sendMessage", |c| {
        c.chat_id() == Some(chat) && c.text().contains(reference)
    })
    .await
}

/// Asserts that `call`'s text contains `needle`, showing the text when not.
#[track_caller]
fn says(call: &Call, needle: &str) {
    assert!(
        call.text().contains(needle),
        "{needle:?} in:\n{}",
        call.text()
    );
}

fn silent(call: &Call) -> bool {
    call.params.get("disable_notification") == Some(&Value::Bool(true))
}

async fn bot(master: &Master, fake: &FakeTelegram) -> BotProcess {
    let settings = format!(
        "[notify]\nchat_ids = [{GROUP}]\nevents = [\"failure\", \"recovery\"]\n[notify.flaky]\nwindow = 20\nrebuilds = 1\nflips = 6\n"
    );
    BotProcess::start(fake, &master.url, &settings).await
}

#[tokio::test]
async fn a_failure_says_what_is_new_and_a_recovery_how_long_it_was_red() {
    let master = buildbot::dedicated("history").await;
    let fake = FakeTelegram::start().await;
    let _bot = bot(&master, &fake).await;
    fake.ask(&ALICE, "/notify on failure recovery").await;
    let quiet = fake.ask(&ALICE, "/notify quiet-repeats").await;
    assert!(
        quiet.text().starts_with("🔕 From now on"),
        "{}",
        quiet.text()
    );

    let (_, green) = toggle(&master, json!({"exit_code": "0"})).await;

    // a change by Alice breaks it: a new failure, with a sound everywhere
    let mark = fake.mark();
    master
        .add_change_on(
            "blame",
            "Alice <alice@example.org>",
            "break it",
            "deadbeef0123",
        )
        .await;
    let broken = master.wait_build_number("toggle", green + 1).await;
    let broken_ref = build_ref(&broken, "toggle");
    for chat in [GROUP, ALICE.id] {
        let new = told(&fake, mark, chat, &format!("{broken_ref}: failure")).await;
        says(
            &new,
            &format!("🆕 New failure: build #{green} before it passed."),
        );
        assert!(!silent(&new), "a new failure pings: {}", new.params);
    }

    // failing again: since the first failure, whose change it names; silent for Alice only
    let mark = fake.mark();
    let (again_ref, _) = toggle(&master, json!({"exit_code": "1"})).await;
    let first = green + 1;
    for (chat, hushed) in [(GROUP, false), (ALICE.id, true)] {
        let again = told(&fake, mark, chat, &format!("{again_ref}: failure")).await;
        says(&again, &format!("🔁 Still failing since #{first} ("));
        says(
            &again,
            ", 2 builds), first failed with Alice's change <code>deadbee</code>.",
        );
        assert_eq!(silent(&again), hushed, "chat {chat}: {}", again.params);
    }

    // fixed: how long it was red, with a sound again
    let mark = fake.mark();
    let (fixed_ref, _) = toggle(&master, json!({"exit_code": "0"})).await;
    for chat in [GROUP, ALICE.id] {
        let fixed = told(&fake, mark, chat, &format!("{fixed_ref}: success")).await;
        says(&fixed, &format!("🩹 Recovered: red since #{first} for "));
        says(&fixed, ", 2 builds.");
        assert!(!fixed.text().contains("Flaky"), "{}", fixed.text());
        assert!(!silent(&fixed), "{}", fixed.params);
    }

    // Alice turns quiet repeats off: the next repeat pings her
    let loud = fake.ask(&ALICE, "/notify quiet-repeats off").await;
    assert!(loud.text().starts_with("🔔"), "{}", loud.text());
    let list = fake.ask(&ALICE, "/notify list").await;
    assert!(!list.text().contains("🔕 Repeated"), "{}", list.text());
    toggle(&master, json!({"exit_code": "1"})).await;
    let mark = fake.mark();
    let (repeat_ref, _) = toggle(&master, json!({"exit_code": "1"})).await;
    let repeat = told(&fake, mark, ALICE.id, &format!("{repeat_ref}: failure")).await;
    says(&repeat, "🔁 Still failing");
    assert!(!silent(&repeat), "{}", repeat.params);
}

#[tokio::test]
async fn a_builder_that_fails_and_passes_on_one_revision_is_flaky() {
    let master = buildbot::dedicated("flaky").await;
    let fake = FakeTelegram::start().await;
    let _bot = bot(&master, &fake).await;

    let none = fake.ask(&ALICE, "/flaky").await;
    assert!(
        none.text().starts_with("✅ No flaky builders"),
        "{}",
        none.text()
    );

    let mark = fake.mark();
    let (failed_ref, _) = toggle(&master, json!({"exit_code": "1", "revision": "cafe0001"})).await;
    let failed = told(&fake, mark, GROUP, &format!("{failed_ref}: failure")).await;
    assert!(!failed.text().contains("Flaky"), "{}", failed.text());

    // the same revision passes: flaky, and its recovery arrives without a sound
    let mark = fake.mark();
    let (passed_ref, _) = toggle(&master, json!({"exit_code": "0", "revision": "cafe0001"})).await;
    let passed = told(&fake, mark, GROUP, &format!("{passed_ref}: success")).await;
    says(
        &passed,
        "⚠️ Flaky: 1 of the last 2 builds failed, 1 passed on rebuild.",
    );
    assert!(silent(&passed), "ping-pong is silent: {}", passed.params);

    let listed = fake.ask(&ALICE, "/flaky").await;
    assert!(
        listed
            .text()
            .starts_with("⚠️ Flaky builders (last 20 builds of each):")
            && listed
                .text()
                .contains(">toggle</a>: 1 of 2 failed, 1 passed on rebuild"),
        "{}",
        listed.text()
    );
}

#[tokio::test]
async fn a_history_the_master_cannot_give_costs_only_its_lines() {
    let master = buildbot::dedicated("historyfault").await;
    let proxy = Proxy::start(&master.url).await;
    let fake = FakeTelegram::start().await;
    let settings = format!("[notify]\nchat_ids = [{GROUP}]\nevents = [\"failure\"]\n");
    let bot = BotProcess::start(&fake, &proxy.url, &settings).await;

    // the builder's history answers 500: the failure is announced at once, without it
    proxy.fail("/api/v2/builders/*/builds", Fault::Status(500), usize::MAX);
    let mark = fake.mark();
    let (first_ref, first) = toggle(&master, json!({"exit_code": "1"})).await;
    let plain = told(&fake, mark, GROUP, &format!("{first_ref}: failure")).await;
    assert!(
        !plain.text().contains("New failure") && plain.text().contains("Failed step"),
        "{}",
        plain.text()
    );
    assert!(proxy.faults("/api/v2/builders/*/builds") > 0);
    bot.wait_for_log("cannot read the history of builder").await;

    // the master answers again: the next failure tells the whole story
    proxy.heal_all();
    let mark = fake.mark();
    let (again_ref, _) = toggle(&master, json!({"exit_code": "1"})).await;
    let again = told(&fake, mark, GROUP, &format!("{again_ref}: failure")).await;
    says(&again, &format!("🔁 Still failing since #{first} ("));

    // a pass nobody here hears of still counts: the failure after it is new
    let (_, passed) = toggle(&master, json!({"exit_code": "0"})).await;
    let mark = fake.mark();
    let (new_ref, _) = toggle(&master, json!({"exit_code": "1"})).await;
    let new = told(&fake, mark, GROUP, &format!("{new_ref}: failure")).await;
    says(
        &new,
        &format!("🆕 New failure: build #{passed} before it passed."),
    );
    assert!(!bot.log().contains("panicked"), "{}", bot.log());
}

#[tokio::test]
async fn a_run_of_failures_older_than_the_history_is_found_on_the_master() {
    let master = buildbot::dedicated("historyrun").await;
    // before the bot starts: a pass, then six failures
    let (_, green) = toggle(&master, json!({"exit_code": "0"})).await;
    for _ in 0..6 {
        toggle(&master, json!({"exit_code": "1"})).await;
    }
    let fake = FakeTelegram::start().await;
    // a history of 5 builds holds only failures: where the run started is asked for
    let settings = format!(
        "[notify]\nchat_ids = [{GROUP}]\nevents = [\"failure\"]\n[notify.flaky]\nwindow = 5\n"
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    let mark = fake.mark();
    let (eighth_ref, eighth) = toggle(&master, json!({"exit_code": "1"})).await;
    let told = told(&fake, mark, GROUP, &format!("{eighth_ref}: failure")).await;
    let first = green + 1;
    says(&told, &format!("🔁 Still failing since #{first} ("));
    says(&told, &format!(", {} builds).", eighth - first + 1));
}
