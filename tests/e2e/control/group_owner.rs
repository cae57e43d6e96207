//! A group conversation belongs to its owner until it ends or expires (issue 13): another
//! authorised user's `/force` does not take it over, and is told to wait.

use std::time::{Duration, Instant};

use super::{button, forced_with, next_screen, request_id, tap_label};
use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, BOB, FakeTelegram};

const GROUP: i64 = -7013;
/// Alice and Bob may both force.
const BOTH: &str = "[authz]\n\"force,stop,shutdown\" = [111111, 222222]\n";

#[tokio::test]
async fn bob_waits_while_alice_forces_in_the_group() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, BOTH).await;
    let marker = format!("owned-{}", super::unique());

    let mark = fake.mark();
    fake.group_message(GROUP, &ALICE, "/force");
    let schedulers = next_screen(&fake, mark, GROUP, "Which force scheduler").await;
    let mark = tap_label(&fake, &ALICE, &schedulers, "Force a build");
    let builders = next_screen(&fake, mark, GROUP, "Which builder").await;
    let mark = tap_label(&fake, &ALICE, &builders, "toggle");
    let form = next_screen(&fake, mark, GROUP, "🚀 New build of <b>toggle</b>").await;

    // Bob's /force would end Alice's half-filled form: he is told to wait instead.
    let mark = fake.mark();
    fake.group_message(GROUP, &BOB, "/force");
    let wait = fake.reply_in(mark, GROUP).await;
    assert!(
        wait.text().starts_with(
            "Alice (@alice) is in the middle of /force here; wait until it ends (or it expires in "
        ),
        "{}",
        wait.text()
    );
    // and her form still answers her: she fills it in and starts the build
    let mut form = form;
    for (label, value) in [("Reason", marker.as_str()), ("Sleep seconds", "0")] {
        let mark = tap_label(&fake, &ALICE, &form, &format!("✏️ {label}"));
        let ask = format!("@alice Send the new value for <b>{label}</b>");
        next_screen(&fake, mark, GROUP, &ask).await;
        let mark = fake.mark();
        fake.group_message(GROUP, &ALICE, value);
        form = next_screen(&fake, mark, GROUP, "🚀 New build").await;
    }
    let mark = tap_label(&fake, &ALICE, &form, "🚀 Start build");
    let done = next_screen(&fake, mark, GROUP, "✅ Build of <b>toggle</b> requested").await;
    request_id(done.text());
    assert_eq!(forced_with(&master, &marker).await, 1, "exactly one build");

    // Alice's conversation is over: now Bob's /force starts his own, which answers him.
    let mark = fake.mark();
    fake.group_message(GROUP, &BOB, "/force");
    let his = next_screen(&fake, mark, GROUP, "Which force scheduler").await;
    let answer = fake
        .tap_and_answer(&BOB, &his, &button(&his, "Force a build"))
        .await;
    assert!(
        answer.params["text"].is_null(),
        "taken without a notice: {}",
        answer.params
    );
    next_screen(&fake, mark, GROUP, "Which builder").await;
}

#[tokio::test]
async fn an_expired_conversation_gives_way_to_someone_else() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot =
        BotProcess::start_with_telegram(&fake, &master.url, "conversation_timeout = 5\n", BOTH)
            .await;

    let mark = fake.mark();
    fake.group_message(GROUP, &ALICE, "/force");
    let alices = next_screen(&fake, mark, GROUP, "Which force scheduler").await;
    let mark = fake.mark();
    fake.group_message(GROUP, &BOB, "/force");
    let wait = fake.reply_in(mark, GROUP).await;
    assert!(
        wait.text().contains("in the middle of /force here") && wait.text().ends_with(" s)."),
        "{}",
        wait.text()
    );
    // Alice leaves it: once it has expired, Bob's /force starts his own
    let deadline = Instant::now() + Duration::from_secs(20);
    let his = loop {
        let mark = fake.mark();
        fake.group_message(GROUP, &BOB, "/force");
        let answer = fake.reply_in(mark, GROUP).await;
        if answer.text().starts_with("Which force scheduler") {
            break answer;
        }
        assert!(
            answer.text().contains("in the middle of /force"),
            "{}",
            answer.text()
        );
        assert!(
            Instant::now() < deadline,
            "Alice's conversation never expired"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // his, not hers: Alice's old buttons no longer act
    let answer = fake
        .tap_and_answer(&ALICE, &alices, &button(&alices, "Force a build"))
        .await;
    assert!(!answer.params["text"].is_null(), "{}", answer.params);
    let mark = tap_label(&fake, &BOB, &his, "Force a build");
    next_screen(&fake, mark, GROUP, "Which builder").await;
}
