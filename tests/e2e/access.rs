//! authz: who may run which command, checked when a command starts and again on every tap.

use crate::support::bot::BotProcess;
use crate::support::buildbot::{self, Master};
use crate::support::fake_telegram::{ALICE, BOB, FakeTelegram, TOKEN};

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

    // Forged data is refused, and the keyboard stays.
    let answer = fake.tap_and_answer(&ALICE, &prompt, "/list builders").await;
    let notice = answer.params["text"].as_str().unwrap();
    assert!(notice.contains("not on this message"), "{notice}");
    assert!(
        !fake
            .calls()
            .iter()
            .any(|c| c.method == "editmessagereplymarkup"),
        "the keyboard stays"
    );

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

/// The `[buildbot]` keys that log the bot in to the master of [`buildbot::with_login`].
/// A build of "failing" finishes: it is announced to Alice's chat alone, never to Bob's.
async fn a_failure_reaches_alice_alone(fake: &FakeTelegram, bot: &BotProcess, master: &Master) {
    let mark = fake.mark();
    let build = master.build("failing").await;
    let reference = crate::notifications::build_ref(&build, "failing");
    fake.wait_for(mark, "sendMessage", |c| {
        c.chat_id() == Some(ALICE.id) && c.text().contains(&reference)
    })
    .await;
    let announced = bot
        .wait_for_log(&format!("build {} of failing finished", build["number"]))
        .await;
    assert!(announced.contains("announcing to 1 chat(s)"), "{announced}");
    assert_eq!(fake.delivered(mark, BOB.id, &reference), 0);
}

fn login() -> String {
    let (user, password) = buildbot::LOGIN;
    format!("username = \"{user}\"\npassword = \"{password}\"\n")
}

#[tokio::test]
async fn a_login_closes_harmless_commands_until_authz_grants_them() {
    let master = buildbot::with_login().await;
    let fake = FakeTelegram::start().await;
    // Alice's chat gets failures because the admin said so, not because she may ask
    let settings = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"failure\"]\n",
        ALICE.id
    );
    let bot = BotProcess::start_with(&fake, &master.url, &login(), &settings).await;
    let notice = bot.wait_for_log("closed to everybody until [authz]").await;
    assert!(
        notice.contains("buildbot.username is set") && notice.contains("`\"\" = [12345]`"),
        "{notice}"
    );
    assert!(!bot.log().contains(buildbot::LOGIN.1), "never the password");

    for command in ["/status", "/list changes", "/notify on failure", "/version"] {
        let denied = fake.ask(&BOB, command).await;
        let name = command.split_whitespace().next().unwrap();
        assert!(
            denied
                .text()
                .contains(&format!("not allowed to use {name}"))
                && denied
                    .text()
                    .contains("<code>222222</code> (/getid shows it)"),
            "{command}: {}",
            denied.text()
        );
    }
    // the door stays open: Bob can learn his id and what the bot does
    assert!(fake.ask(&BOB, "/getid").await.text().contains("222222"));
    assert!(fake.ask(&BOB, "/help").await.text().contains("/status"));

    // Bob's /notify subscribed nothing: the failure goes to the admin's chat alone
    a_failure_reaches_alice_alone(&fake, &bot, &master).await;
}

#[tokio::test]
async fn authz_opens_a_login_bots_commands() {
    let master = buildbot::with_login().await;
    let fake = FakeTelegram::start().await;
    let authz = format!("[authz]\n\"\" = [{}]\n", BOB.id);
    let bot = BotProcess::start_with(&fake, &master.url, &login(), &authz).await;

    let status = fake.ask(&BOB, "/status runtests").await;
    assert!(
        status.text().contains(">runtests</a></b>"),
        "{}",
        status.text()
    );
    let changes = fake.ask(&BOB, "/list changes").await;
    assert!(
        !changes.text().contains("not allowed"),
        "{}",
        changes.text()
    );
    let notify = fake.ask(&BOB, "/notify on failure").await;
    assert!(
        notify.text().contains("🔔 <b>failure</b>"),
        "{}",
        notify.text()
    );
    // Alice is not named: still closed to her
    let denied = fake.ask(&ALICE, "/status").await;
    assert!(denied.text().contains("not allowed to use /status"));
    // the start-up line says how the commands stand
    bot.wait_for_log("closed except to the users [authz] names")
        .await;
}

/// Chats that subscribed while anybody could lose their subscriptions when a login closes
/// /notify: a stranger's chat must not keep receiving the master's failure logs.
#[tokio::test]
async fn a_login_drops_the_subscriptions_anybody_could_make() {
    let master = buildbot::with_login().await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"failure\"]\n",
        ALICE.id
    );
    // no login yet: anybody may subscribe, and Bob does
    let bot = BotProcess::start(&fake, &master.url, &settings).await;
    let notify = fake.ask(&BOB, "/notify on failure").await;
    assert!(
        notify.text().contains("🔔 <b>failure</b>"),
        "{}",
        notify.text()
    );
    assert!(!bot.log().contains("were dropped"));

    // the admin adds the login
    let file = bot.settings_file();
    let bot = bot
        .restart_after(&fake, async {
            let text = std::fs::read_to_string(&file).unwrap();
            let with_login = text.replacen("[buildbot]\n", &format!("[buildbot]\n{}", login()), 1);
            std::fs::write(&file, with_login).unwrap();
            // --check, which changes nothing, says what the next start drops
            let check = file.clone();
            let out = tokio::task::spawn_blocking(move || {
                crate::support::bot::command()
                    .arg("--check")
                    .arg("--config")
                    .arg(check)
                    .env("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            let out = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.contains("the next start drops the subscriptions of 1 chat(s)")
                    && out.contains(&format!("({})", BOB.id)),
                "{out}"
            );
        })
        .await;
    let dropped = bot
        .wait_for_log(&format!(
            "chat {}: its subscriptions and watches were dropped",
            BOB.id
        ))
        .await;
    assert!(
        dropped.contains("WARN") && dropped.contains("notify.chat_ids"),
        "{dropped}"
    );
    assert_eq!(
        bot.log().matches("were dropped").count(),
        1,
        "Bob's chat alone"
    );

    a_failure_reaches_alice_alone(&fake, &bot, &master).await;

    // once is enough: a later start keeps what people [authz] allows subscribe
    let bot = bot.restart_after(&fake, async {}).await;
    bot.wait_for_log("closed to everybody until [authz]").await;
    assert_eq!(bot.log().matches("were dropped").count(), 1);
}
