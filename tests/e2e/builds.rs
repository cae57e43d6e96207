//! /list, /status and /last, answered with live facts from the real master.

use serde_json::json;

use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, FakeTelegram};
use crate::support::{bot_on_shared_master, closed_port};

#[tokio::test]
async fn list_keyboard_builders_and_workers() {
    let (fake, _bot, master) = bot_on_shared_master().await;

    let prompt = fake.ask(&ALICE, "/list").await;
    assert_eq!(prompt.text(), "What do you want to list?");
    let buttons = prompt.buttons();
    assert_eq!(buttons.len(), 5, "{buttons:?}");

    let mark = fake.mark();
    let tap = fake.tap(&ALICE, &prompt, &buttons[0].1);
    fake.wait_for(mark, "answerCallbackQuery", |c| {
        c.params["callback_query_id"] == tap
    })
    .await;
    let list = fake
        .wait_for(mark, "editMessageText", |c| c.chat_id() == Some(ALICE.id))
        .await;
    let text = list.text();
    for name in ["failing", "runtests", "slow", "offline-builder"] {
        assert!(text.contains(&format!(">{name}</a>")), "{name} in {text}");
    }
    // metacharacters escaped for HTML, and a link to the builder's page
    let lint = master.builder_id("lint_*[x]<&>").await;
    assert!(
        text.contains(&format!(
            "<a href=\"{}#/builders/{lint}\">lint_*[x]&lt;&amp;&gt;</a>",
            master.url
        )),
        "{text}"
    );
    assert!(
        text.contains(">offline-builder</a> <i>[ghost]</i> — offline"),
        "{text}"
    );
    assert!(
        text.contains(">runtests</a> <i>[unit, fast]</i>\n"),
        "online builders carry no marker: {text}"
    );
    assert!(
        list.params["reply_markup"].is_null(),
        "the keyboard is gone"
    );

    let workers = fake.ask(&ALICE, "/list workers").await;
    assert!(
        workers
            .text()
            .contains("<code>local-worker</code> — connected"),
        "{}",
        workers.text()
    );
    assert!(
        workers
            .text()
            .contains("<code>ghost-worker</code> — disconnected"),
        "{}",
        workers.text()
    );

    let bad = fake.ask(&ALICE, "/list cats").await;
    assert!(
        bad.text()
            .starts_with("I can list builders, workers or changes. Usage: /list"),
        "{}",
        bad.text()
    );
    let bad = fake.ask(&ALICE, "/list 5 builders").await;
    assert!(
        bad.text()
            .starts_with("A number only makes sense for changes."),
        "{}",
        bad.text()
    );
}

#[tokio::test]
async fn list_changes_newest_last() {
    let (fake, _bot, master) = bot_on_shared_master().await;
    master
        .add_change(
            "alice <alice@example.org>",
            "First: make it work",
            "1111111aaaaaaa",
        )
        .await;
    master
        .add_change(
            "bob",
            "Second: fix the _thing_ <b>\n\nbody",
            "2222222bbbbbbb",
        )
        .await;

    let changes = fake.ask(&ALICE, "/list changes").await;
    let text = changes.text();
    let first = text.find("First: make it work").expect(text);
    let second = text.find("Second: fix the _thing_ &lt;b&gt;").expect(text);
    assert!(first < second, "oldest first: {text}");
    assert!(
        text.contains("<a href=\"https://example.org/commit/2222222bbbbbbb\">"),
        "{text}"
    );
    assert!(
        text.contains("<i>Author</i>: alice &lt;alice@example.org&gt;"),
        "{text}"
    );
    assert!(
        text.contains("<i>Revision</i>: <code>2222222bbbbbbb</code>"),
        "{text}"
    );
    assert!(
        !text.contains("body"),
        "only the first line of the comment: {text}"
    );

    let one = fake.ask(&ALICE, "/list 1 changes").await;
    assert!(
        one.text().contains("Second: fix") && !one.text().contains("First: make"),
        "{}",
        one.text()
    );

    // Past 50, "all" asks before flooding the chat.
    for i in 0..55 {
        master
            .add_change("carol", &format!("Bulk change {i}"), &format!("{i:040x}"))
            .await;
    }
    let ask = fake.ask(&ALICE, "/list all changes").await;
    assert!(
        ask.text().starts_with("The master has 57 changes."),
        "{}",
        ask.text()
    );
    let buttons = ask.buttons();
    assert_eq!(buttons.len(), 2, "{buttons:?}");
    let mark = fake.mark();
    fake.tap(&ALICE, &ask, &buttons[1].1);
    // 50 changes do not fit one message: the buttons go, the list follows in parts
    fake.wait_for(mark, "editMessageReplyMarkup", |c| {
        c.chat_id() == Some(ALICE.id)
    })
    .await;
    fake.wait_for(mark, "sendMessage", |c| c.text().contains("Bulk change 54"))
        .await;
    let parts = fake.sent_since(mark, "sendMessage", ALICE.id);
    assert!(parts.len() >= 2, "{} parts", parts.len());
    assert!(
        parts
            .iter()
            .all(|p| p.text().encode_utf16().count() <= 4096)
    );
    assert!(
        parts[0]
            .text()
            .starts_with("The 50 most recent <b>changes</b>"),
        "{}",
        parts[0].text()
    );
    let all: String = parts
        .iter()
        .map(|p| p.text())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        all.matches("📄").count(),
        50,
        "nothing lost between the parts"
    );
    assert!(
        !all.contains("Bulk change 4<") && !all.contains("First: make"),
        "only the newest 50"
    );
}

#[tokio::test]
async fn status_and_last_report_real_builds() {
    let (fake, _bot, master) = bot_on_shared_master().await;
    let ok = master.build("runtests").await;
    let failed = master.build("failing").await;
    assert_eq!(
        (ok["results"].as_i64(), failed["results"].as_i64()),
        (Some(0), Some(2))
    );

    let last = fake.ask(&ALICE, "/last runtests").await;
    let runtests = master.builder_id("runtests").await;
    let expected = format!(
        "<a href=\"{}#/builders/{runtests}/builds/{n}\">#{n}</a> ✅ success (",
        master.url,
        n = ok["number"]
    );
    assert!(
        last.text().contains(&expected),
        "{expected} in {}",
        last.text()
    );
    assert!(last.text().contains("ago, took "), "{}", last.text());

    let last = fake.ask(&ALICE, "/last failing").await;
    assert!(
        last.text()
            .contains(&format!("#{}</a> ❌ failure", failed["number"])),
        "{}",
        last.text()
    );
    assert!(
        last.text().contains(": failed "),
        "the state string explains the failure: {}",
        last.text()
    );

    let status = fake.ask(&ALICE, "/status").await;
    let text = status.text();
    assert!(
        text.contains(">runtests</a></b>: idle, last build <a"),
        "{text}"
    );
    assert!(text.contains(">offline-builder</a></b>: offline"), "{text}");
    assert!(text.contains(">lint_*[x]&lt;&amp;&gt;</a></b>"), "{text}");

    let one = fake.ask(&ALICE, "/status \"lint_*[x]<&>\"").await;
    assert!(
        one.text().contains("lint_*[x]&lt;&amp;&gt;") && one.text().contains("Tags: lint"),
        "{}",
        one.text()
    );

    let nosuch = fake.ask(&ALICE, "/status runtest").await;
    assert_eq!(
        nosuch.text(),
        "There is no builder called <code>runtest</code>. Did you mean <code>runtests</code>? Send /list builders to see them all."
    );
    let nosuch = fake.ask(&ALICE, "/last nosuch").await;
    assert!(
        nosuch
            .text()
            .starts_with("There is no builder called <code>nosuch</code>."),
        "{}",
        nosuch.text()
    );
    let bad = fake.ask(&ALICE, "/status a b").await;
    assert!(
        bad.text().contains("Usage: /status [builder|all]"),
        "{}",
        bad.text()
    );
}

#[tokio::test]
async fn status_shows_a_running_build_and_its_step() {
    let (fake, _bot, master) = bot_on_shared_master().await;
    let request = master.force("slow", json!({"sleep": "6"})).await;
    let build = master.wait_build(request, false).await;
    // wait until the sleep step has started (after Buildbot's own worker_preparation)
    let buildid = build["buildid"].as_i64().unwrap();
    loop {
        let steps = master
            .get(&format!("builds/{buildid}/steps?complete=false"))
            .await
            .unwrap();
        if steps["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["name"] == "sleep")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let status = fake.ask(&ALICE, "/status slow").await;
    let text = status.text();
    assert!(text.starts_with("🌀 "), "{text}");
    assert!(
        text.contains(&format!(">#{}</a> (step ", build["number"])),
        "{text}"
    );
    assert!(text.contains("(step sleep"), "{text}");
    master.wait_build(request, true).await;
}

#[tokio::test]
async fn unreachable_master_is_explained() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &url, "").await;
    let status = fake.ask(&ALICE, "/status").await;
    assert!(
        status
            .text()
            .starts_with("⚠️ I could not get an answer from the Buildbot master"),
        "{}",
        status.text()
    );
    assert!(
        status.text().contains("connection failed"),
        "{}",
        status.text()
    );
    // and the bot is still there
    assert!(fake.ask(&ALICE, "/hello").await.text().ends_with("👋"));
}

#[tokio::test]
async fn masters_that_require_a_login() {
    let master = buildbot::with_login().await;
    let (user, password) = buildbot::LOGIN;
    let fake = FakeTelegram::start().await;

    let login = format!("username = \"{user}\"\npassword = \"{password}\"\n");
    // with a login the bot answers only the users [authz] names
    let alice = format!("[authz]\n\"\" = [{}]\n", ALICE.id);
    let bot = BotProcess::start_with(&fake, &master.url, &login, &alice).await;
    let status = fake.ask(&ALICE, "/status runtests").await;
    assert!(
        status.text().contains(">runtests</a></b>: idle"),
        "{}",
        status.text()
    );
    assert!(
        !bot.log().contains(password),
        "the password never reaches the log"
    );
    drop(bot);

    let anonymous = BotProcess::start(&fake, &master.url, "").await;
    let status = fake.ask(&ALICE, "/status").await;
    assert!(
        status
            .text()
            .contains("set buildbot.username and buildbot.password"),
        "{}",
        status.text()
    );
    drop(anonymous);

    let wrong = format!("username = \"{user}\"\npassword = \"wrong\"\n");
    let _bot = BotProcess::start_with(&fake, &master.url, &wrong, &alice).await;
    let status = fake.ask(&ALICE, "/last").await;
    assert!(
        status
            .text()
            .contains("refused the login of user &quot;tgbot&quot; (401)"),
        "{}",
        status.text()
    );
}

#[tokio::test]
async fn tags_limit_what_the_bot_shows() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, "[notify]\ntags = [\"unit\"]\n").await;

    let list = fake.ask(&ALICE, "/list builders").await;
    assert!(
        list.text().contains(">runtests</a>") && list.text().contains(">failing</a>"),
        "{}",
        list.text()
    );
    assert!(
        !list.text().contains(">slow</a>") && !list.text().contains("lint_"),
        "{}",
        list.text()
    );
    let status = fake.ask(&ALICE, "/status").await;
    assert_eq!(status.text().lines().count(), 2, "{}", status.text());
    let other = fake.ask(&ALICE, "/last slow").await;
    assert!(
        other
            .text()
            .starts_with("There is no builder called <code>slow</code>"),
        "{}",
        other.text()
    );
}
