//! A button acts only on what its message shows: any client can send any data (up to 64
//! bytes) on any message of the bot, so a tap whose data the message does not carry is
//! answered with a notice and touches nothing — no edit, no removed keyboard, no question,
//! no build on the real master.

use crate::rebuild::{alice_hears_failures_and_forces, failure_notice, rebuilds_of};
use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, BOB, CAROL, Call, FakeTelegram, Person};

const GROUP: i64 = -7301;

/// The notice `who`'s tap of `data` on `message` got.
async fn notice(fake: &FakeTelegram, message: &Call, data: &str, who: &Person) -> String {
    let answer = fake.tap_and_answer(who, message, data).await;
    answer.params["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The calls since `mark` that edit `message` (its text or keyboard) or reply to it.
fn touches(fake: &FakeTelegram, mark: usize, message: &Call) -> Vec<Call> {
    let id = message.result["message_id"].clone();
    fake.calls()
        .into_iter()
        .skip(mark)
        .filter(|c| {
            (c.method.starts_with("edit") && c.params["message_id"] == id)
                || (c.method == "sendmessage" && c.params["reply_parameters"]["message_id"] == id)
        })
        .collect()
}

#[tokio::test]
async fn forged_data_on_a_failure_or_any_reply_touches_nothing() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let settings = alice_hears_failures_and_forces();
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    let help = fake.ask(&ALICE, "/help").await;
    let mark = fake.mark();
    let (failed, succeeded) = tokio::join!(master.build("failing"), master.build("runtests"));
    let failure = failure_notice(&fake, mark, &failed).await;
    let start = fake.mark();

    // Alice may force, but a Rebuild forged on a /help reply asks nothing
    let refused = notice(&fake, &help, &format!("1/r/{}", failed["buildid"]), &ALICE).await;
    assert!(refused.contains("not on this message"), "{refused}");

    // on the failure notice, only its own button counts
    let forged = [
        format!("1/r/{}", succeeded["buildid"]),
        format!("1/ry/{}", failed["buildid"]),
        format!("1/rn/{}", failed["buildid"]),
        format!("1/w/{}", failed["buildid"]),
        "1/n/done".to_owned(),
        "1/n/0".to_owned(),
        "1/c/x".to_owned(),
        "1/l/b/-".to_owned(),
        "1/wp/0".to_owned(),
        "garbage".to_owned(),
        "0/r/1".to_owned(),
    ];
    for data in &forged {
        for who in [&ALICE, &BOB] {
            let refused = notice(&fake, &failure, data, who).await;
            assert!(refused.contains("not on this message"), "{data}: {refused}");
        }
    }
    // a tap on a message Telegram no longer gives cannot be checked: told to start again
    let old = fake
        .tap_inaccessible(&ALICE, &failure, &format!("1/r/{}", failed["buildid"]))
        .await;
    let too_old = old.params["text"].as_str().unwrap_or_default();
    assert!(too_old.contains("too old"), "{too_old}");

    let touched = touches(&fake, start, &failure);
    assert!(touched.is_empty(), "{touched:?}");
    let touched = touches(&fake, start, &help);
    assert!(touched.is_empty(), "{touched:?}");
    assert!(
        !fake
            .calls()
            .iter()
            .skip(start)
            .any(|c| c.text().starts_with("🔁 Rebuild")),
        "no rebuild question was asked"
    );
    assert_eq!(rebuilds_of(&master, &failed).await, 0);
    assert_eq!(rebuilds_of(&master, &succeeded).await, 0);

    // the failure's own button still asks
    let (_, rebuild) = failure
        .buttons()
        .into_iter()
        .find(|(label, _)| label == "🔁 Rebuild")
        .expect("a Rebuild button");
    let mark = fake.mark();
    fake.tap(&ALICE, &failure, &rebuild);
    fake.wait_for(mark, "sendMessage", |c| {
        c.text().starts_with("🔁 Rebuild <b>failing</b>")
    })
    .await;
}

#[tokio::test]
async fn forged_data_on_someones_force_screen_touches_nothing_and_strangers_learn_no_names() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let authz = format!("[authz]\nforce = [{}, {}]\n", ALICE.id, CAROL.id);
    let _bot = BotProcess::start(&fake, &master.url, &authz).await;

    let mark = fake.mark();
    fake.group_message(GROUP, &ALICE, "/force");
    let schedulers = fake
        .wait_for(mark, "sendMessage", |c| {
            c.chat_id() == Some(GROUP) && c.text().starts_with("Which force scheduler")
        })
        .await;
    // the quick scheduler has one builder: its form, with a Cancel button, follows
    let (_, quick) = schedulers
        .buttons()
        .into_iter()
        .find(|(label, _)| label == "Quick build")
        .expect("the quick scheduler");
    let mark = fake.mark();
    fake.tap(&ALICE, &schedulers, &quick);
    let screen = fake
        .wait_for_any(mark, &["sendMessage", "editMessageText"], |c| {
            c.chat_id() == Some(GROUP) && c.text().starts_with("🚀 New build of <b>runtests</b>")
        })
        .await;
    let start = fake.mark();
    for data in [
        "1/n/done", "1/n/0", "1/c/p/1", "1/c/s/0", "1/c/e/99", "1/wp/0", "nonsense",
    ] {
        let refused = notice(&fake, &screen, data, &BOB).await;
        assert!(refused.contains("not on this message"), "{data}: {refused}");
    }
    // the real Cancel: Bob may not force, so he learns neither whose nor what it is
    let (_, cancel) = screen
        .buttons()
        .into_iter()
        .find(|(label, _)| label.contains("Cancel"))
        .expect("a Cancel button");
    let refused = notice(&fake, &screen, &cancel, &BOB).await;
    assert_eq!(
        refused,
        "This conversation belongs to someone else, so nothing was done."
    );
    let mark = fake.mark();
    fake.group_message(GROUP, &BOB, "/nay");
    let nay = fake.reply_in(mark, GROUP).await;
    assert_eq!(
        nay.text(),
        "This conversation belongs to someone else, so nothing was done."
    );
    // Carol may force: she may learn whose it is
    let refused = notice(&fake, &screen, &cancel, &CAROL).await;
    assert!(refused.contains("belongs to Alice"), "{refused}");
    let touched = touches(&fake, start, &screen);
    assert!(touched.is_empty(), "{touched:?}");

    // Alice's own Cancel still ends it, in place
    let mark = fake.mark();
    fake.tap(&ALICE, &screen, &cancel);
    let done = fake
        .wait_for(mark, "editMessageText", |c| {
            c.params["message_id"] == screen.result["message_id"]
        })
        .await;
    assert_eq!(done.text(), "✖️ Cancelled: nothing was changed.");
}
