//! Rebuild under a failure message: it asks first, its question is answered once, by someone
//! allowed to force, in time; and no build button acts on a build the bot does not show.
//! Rebuilds are counted on the real master by the build they rebuild (`rebuilt_buildid`), so
//! other tests building the same builders do not disturb the counts.

use std::time::Duration;

use crate::notifications::build_ref;
use crate::support::bot::BotProcess;
use crate::support::buildbot::{self, Master};
use crate::support::fake_telegram::{ALICE, BOB, Call, FakeTelegram, Person};

/// Settings for a bot that tells Alice of failures of the "unit" builders (not "lint") and
/// lets her force, so that she may rebuild.
pub(crate) fn alice_hears_failures_and_forces() -> String {
    format!(
        "[notify]\ntags = [\"unit\"]\nchat_ids = [{0}]\nevents = [\"failure\"]\n[authz]\nforce = [{0}]\n",
        ALICE.id
    )
}

/// The failure message for `build` of "failing", sent after `mark`.
pub(crate) async fn failure_notice(
    fake: &FakeTelegram,
    mark: usize,
    build: &serde_json::Value,
) -> Call {
    let reference = build_ref(build, "failing");
    fake.wait_for(mark, "sendMessage", |c| c.text().contains(&reference))
        .await
}

/// How many times the master was asked to rebuild `build`.
pub(crate) async fn rebuilds_of(master: &Master, build: &serde_json::Value) -> usize {
    let sets = master
        .get(&format!("buildsets?rebuilt_buildid={}", build["buildid"]))
        .await
        .unwrap();
    sets["buildsets"].as_array().unwrap().len()
}

/// `who` taps the button labelled `label` under `message`; the notice the tap got.
async fn tap_label(fake: &FakeTelegram, who: &Person, message: &Call, label: &str) -> String {
    let (_, data) = message
        .buttons()
        .into_iter()
        .find(|(text, _)| text == label)
        .unwrap_or_else(|| panic!("no button {label:?} in {:?}", message.buttons()));
    let answer = fake.tap_and_answer(who, message, &data).await;
    answer.params["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Alice taps Rebuild under `failure`: the question, as Telegram took it.
async fn ask_rebuild(fake: &FakeTelegram, failure: &Call) -> Call {
    let mark = fake.mark();
    tap_label(fake, &ALICE, failure, "🔁 Rebuild").await;
    let question = fake
        .wait_for(mark, "sendMessage", |c| c.chat_id() == Some(ALICE.id))
        .await;
    assert!(
        question
            .text()
            .starts_with("🔁 Rebuild <b>failing</b> <a href=")
            && question.text().ends_with("</a>?"),
        "{}",
        question.text()
    );
    let labels: Vec<String> = question.buttons().into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["🔁 Yes, rebuild", "✖️ Cancel"]);
    question
}

/// The text `message` was edited to after `mark`.
async fn edited(fake: &FakeTelegram, mark: usize, message: &Call) -> String {
    let id = message.result["message_id"].clone();
    fake.wait_for(mark, "editMessageText", |c| c.params["message_id"] == id)
        .await
        .text()
        .to_owned()
}

#[tokio::test]
async fn rebuild_asks_first_and_yes_starts_one_build() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let settings = alice_hears_failures_and_forces();
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    fake.ask(&ALICE, "/hello").await;
    let mark = fake.mark();
    let build = master.build("failing").await;
    let failure = failure_notice(&fake, mark, &build).await;
    let start = fake.mark();

    let denied = tap_label(&fake, &BOB, &failure, "🔁 Rebuild").await;
    assert!(denied.contains("not allowed to use /force"), "{denied}");

    // Cancel starts nothing
    let question = ask_rebuild(&fake, &failure).await;
    let mark = fake.mark();
    tap_label(&fake, &ALICE, &question, "✖️ Cancel").await;
    assert_eq!(
        edited(&fake, mark, &question).await,
        "✖️ Cancelled: nothing was changed."
    );
    assert_eq!(rebuilds_of(&master, &build).await, 0);

    // someone not allowed to force cannot answer the question; Alice's yes rebuilds once
    let question = ask_rebuild(&fake, &failure).await;
    let denied = tap_label(&fake, &BOB, &question, "🔁 Yes, rebuild").await;
    assert!(denied.contains("not allowed to use /force"), "{denied}");
    let mark = fake.mark();
    tap_label(&fake, &ALICE, &question, "🔁 Yes, rebuild").await;
    let done = edited(&fake, mark, &question).await;
    assert!(
        done.starts_with("🔁 Rebuild requested by Alice: build request <a"),
        "{done}"
    );
    // a second yes on the same question (a double tap) is refused
    let again = fake
        .tap_and_answer(&ALICE, &question, &question.buttons()[0].1)
        .await;
    let notice = again.params["text"].as_str().unwrap();
    assert!(notice.contains("no longer open"), "{notice}");
    assert_eq!(rebuilds_of(&master, &build).await, 1);

    // the failure message itself was never touched
    let failure_id = failure.result["message_id"].clone();
    let touched = fake
        .calls()
        .into_iter()
        .skip(start)
        .filter(|c| c.method.starts_with("edit") && c.params["message_id"] == failure_id)
        .count();
    assert_eq!(touched, 0);
}

#[tokio::test]
async fn build_buttons_act_only_on_builds_the_bot_shows_and_questions_expire() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    // "lint" is not among the tags: the bot never shows its builds
    let settings = alice_hears_failures_and_forces();
    let _bot = BotProcess::start_with_telegram(
        &fake,
        &master.url,
        "conversation_timeout = 2\n",
        &settings,
    )
    .await;
    let message = fake.ask(&ALICE, "/hello").await;
    let mark = fake.mark();
    let (hidden, shown) = tokio::join!(master.build("lint_*[x]<&>"), master.build("failing"));
    let failure = failure_notice(&fake, mark, &shown).await;

    // forged data under any message: refused with a notice, nothing done
    for data in [
        format!("1/r/{}", hidden["buildid"]),
        format!("1/w/{}", hidden["buildid"]),
        "1/r/999999999".to_owned(),
        format!("1/r/{}", shown["buildid"]),
        // a yes forged under another message does not skip the question
        format!("1/ry/{}", shown["buildid"]),
    ] {
        let answer = fake.tap_and_answer(&ALICE, &message, &data).await;
        let notice = answer.params["text"].as_str().unwrap();
        assert!(notice.contains("not on this message"), "{data}: {notice}");
        assert_eq!(answer.params["show_alert"], true);
    }

    // a question answered after telegram.conversation_timeout is refused
    let mark = fake.mark();
    tap_label(&fake, &ALICE, &failure, "🔁 Rebuild").await;
    let question = fake
        .wait_for(mark, "sendMessage", |c| {
            c.text().starts_with("🔁 Rebuild <b>failing</b>")
        })
        .await;
    // time passing is the condition itself; the question's date is in whole seconds, so 4 s
    // makes it surely older than the 2 s timeout
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mark = fake.mark();
    let late = tap_label(&fake, &ALICE, &question, "🔁 Yes, rebuild").await;
    assert!(late.contains("no longer open"), "{late}");
    fake.wait_for(mark, "editMessageReplyMarkup", |c| {
        c.params["message_id"] == question.result["message_id"]
    })
    .await;

    assert_eq!(rebuilds_of(&master, &hidden).await, 0);
    assert_eq!(rebuilds_of(&master, &shown).await, 0);
}
