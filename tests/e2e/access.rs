//! authz: who may run which command, checked when a command starts and again on every tap.

use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, BOB, FakeTelegram};

const GROUP: i64 = -4002;

#[tokio::test]
async fn harmless_and_dangerous_commands_follow_authz() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let authz = "[authz]\n\"\" = [111111]\n\"force,stop\" = [111111]\ngetid = true\n";
    let _bot = BotProcess::start(&fake, &master.url, authz).await;

    let denied = fake.ask(&BOB, "/status").await;
    assert!(
        denied.text().contains("not allowed to use /status"),
        "{}",
        denied.text()
    );
    assert!(
        denied.text().contains("<code>222222</code>"),
        "names the id to add: {}",
        denied.text()
    );
    // getid stays open, so Bob can learn his id
    assert!(fake.ask(&BOB, "/getid").await.text().contains("222222"));

    let allowed = fake.ask(&ALICE, "/status runtests").await;
    assert!(allowed.text().contains("runtests"), "{}", allowed.text());

    let force = fake.ask(&BOB, "/force").await;
    assert!(
        force.text().contains("not allowed to use /force") && force.text().contains("\"!\""),
        "{}",
        force.text()
    );
    let force = fake.ask(&ALICE, "/force").await;
    assert!(
        force.text().starts_with("Which force scheduler"),
        "{}",
        force.text()
    );
    let shutdown = fake.ask(&ALICE, "/shutdown now").await;
    assert!(
        shutdown.text().contains("not allowed to use /shutdown"),
        "dangerous stays closed: {}",
        shutdown.text()
    );
}

#[tokio::test]
async fn dangerous_commands_are_closed_by_default() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, "").await;
    for command in ["/force", "/stop", "/shutdown"] {
        let reply = fake.ask(&ALICE, command).await;
        assert!(
            reply.text().contains("not allowed"),
            "{command}: {}",
            reply.text()
        );
    }
    assert!(
        fake.ask(&ALICE, "/status")
            .await
            .text()
            .contains("runtests")
    );
}

#[tokio::test]
async fn buttons_check_authz_again_and_refuse_forged_data() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, "[authz]\nlist = [111111]\n").await;

    let mark = fake.mark();
    fake.group_message(GROUP, &ALICE, "/list");
    let prompt = fake.reply_in(mark, GROUP).await;
    let builders = prompt.buttons()[0].1.clone();

    // Bob sees the keyboard in the group, but may not list.
    let answer = fake.tap_and_answer(&BOB, &prompt, &builders).await;
    let notice = answer.params["text"].as_str().unwrap();
    assert!(notice.contains("not allowed to use /list"), "{notice}");
    assert_eq!(answer.params["show_alert"], true);

    // Forged data is refused and the keyboard is taken away.
    let mark = fake.mark();
    let answer = fake.tap_and_answer(&ALICE, &prompt, "/list builders").await;
    let notice = answer.params["text"].as_str().unwrap();
    assert!(notice.contains("no longer valid"), "{notice}");
    fake.wait_for(mark, "editMessageReplyMarkup", |c| {
        c.chat_id() == Some(GROUP)
    })
    .await;

    // Nothing Bob or the forgery did changed the message; Alice's real tap does.
    let edits = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "editmessagetext")
        .count();
    assert_eq!(edits, 0);
    let mark = fake.mark();
    fake.tap(&ALICE, &prompt, &builders);
    let edit = fake
        .wait_for(mark, "editMessageText", |c| c.chat_id() == Some(GROUP))
        .await;
    assert!(edit.text().contains("runtests"), "{}", edit.text());
}

#[tokio::test]
async fn anonymous_admins_are_nobody_for_authz() {
    const ANONYMOUS_GROUP: i64 = -4003;
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    // even if the stand-in's id were listed, posting as the group must not unlock /force
    let authz = "[authz]\n\"force,stop\" = [111111, 1087968824]\n";
    let _bot = BotProcess::start(&fake, &master.url, authz).await;

    let mark = fake.mark();
    fake.anonymous_group_message(ANONYMOUS_GROUP, "/force");
    let denied = fake.reply_in(mark, ANONYMOUS_GROUP).await;
    assert!(
        denied
            .text()
            .contains("posting as the group or as a channel"),
        "{}",
        denied.text()
    );

    let mark = fake.mark();
    fake.anonymous_group_message(ANONYMOUS_GROUP, "/getid");
    let id = fake.reply_in(mark, ANONYMOUS_GROUP).await;
    assert!(
        id.text().contains("post as yourself") && id.text().contains("<code>-4003</code>"),
        "{}",
        id.text()
    );

    // harmless commands open to everybody still work for them
    let mark = fake.mark();
    fake.anonymous_group_message(ANONYMOUS_GROUP, "/hello");
    assert!(
        fake.reply_in(mark, ANONYMOUS_GROUP)
            .await
            .text()
            .ends_with("👋")
    );
}
