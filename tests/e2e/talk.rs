//! Commands that need little or nothing from Buildbot, in private chats and groups, and how
//! the bot copes with Telegram's answers when it replies.

use crate::support::bot_on_shared_master;
use crate::support::fake_telegram::{ALICE, BOB, Fault};

/// The text Buildbot's documentation tells admins to paste into BotFather's /setcommands,
/// plus this bot's /mute and /unmute.
const BOTFATHER: &str = "commands - list available commands
flaky - list flaky builders
force - force a build
getid - get user and chat ID
hello - say hello
help - give help for a command or one of it's arguments
last - list last build status for a builder
list - list configured builders or workers
mute - silence notifications in this chat for a while
nay - forget the current command
notify - notify me about build events
shutdown - shutdown the buildbot master
source - the source code for buildbot
status - list status of a builder (or all builders)
stop - stop a running build
unmute - let notifications in this chat make a sound again
version - show buildbot version
watch - announce the completion of an active build";

const GROUP: i64 = -4001;

#[tokio::test]
async fn start_help_and_command_lists() {
    let (fake, _bot, _) = bot_on_shared_master().await;

    let start = fake.ask(&ALICE, "/start").await;
    assert!(
        start.text().contains("Here is what I can do"),
        "{}",
        start.text()
    );
    assert!(
        start
            .text()
            .contains("/status - list status of a builder (or all builders)")
    );
    assert!(
        !start.text().contains("/start -"),
        "start is not advertised"
    );
    assert_eq!(start.params["parse_mode"], "HTML");

    let help = fake.ask(&ALICE, "/help").await;
    assert_eq!(
        help.text().lines().filter(|l| l.starts_with('/')).count(),
        18,
        "{}",
        help.text()
    );
    let usage = fake.ask(&ALICE, "/help status").await;
    assert!(
        usage.text().starts_with("Usage: /status [builder|all]"),
        "{}",
        usage.text()
    );
    let sub = fake.ask(&ALICE, "/help /shutdown now").await;
    assert!(
        sub.text().contains("shutdown immediately"),
        "{}",
        sub.text()
    );
    let nosuch = fake.ask(&ALICE, "/help fly").await;
    assert!(
        nosuch.text().starts_with("There is no such command 'fly'"),
        "{}",
        nosuch.text()
    );
    let nousage = fake.ask(&ALICE, "/help status now please").await;
    assert!(
        nousage
            .text()
            .starts_with("No usage info for 'status' 'now' 'please'"),
        "{}",
        nousage.text()
    );

    let commands = fake.ask(&ALICE, "/commands").await;
    assert!(
        commands.text().starts_with(
            "Buildbot commands: /commands, /flaky, /force, /getid, /hello, /help, /last, /list"
        ),
        "{}",
        commands.text()
    );
    let botfather = fake.ask(&ALICE, "/commands botfather").await;
    assert_eq!(botfather.text(), BOTFATHER);
    let bad = fake.ask(&ALICE, "/commands please").await;
    assert!(
        bad.text().contains("Usage: /commands [botfather]"),
        "{}",
        bad.text()
    );
}

#[tokio::test]
async fn getid_hello_nay_source_version() {
    let (fake, _bot, master) = bot_on_shared_master().await;

    let id = fake.ask(&ALICE, "/getid").await;
    assert_eq!(id.text(), "Your ID is <code>111111</code>.");

    let mark = fake.mark();
    fake.group_message(GROUP, &BOB, "/getid");
    let id = fake.reply_in(mark, GROUP).await;
    assert_eq!(
        id.text(),
        "Bob, your ID is <code>222222</code>.\nThis group ID is <code>-4001</code>."
    );
    assert!(
        id.params["reply_parameters"]["message_id"].is_i64(),
        "group answers quote the command"
    );

    let hello = fake.ask(&ALICE, "/hello").await;
    assert!(hello.text().ends_with("! 👋"), "{}", hello.text());

    assert_eq!(
        fake.ask(&ALICE, "/nay").await.text(),
        "Never mind... There was nothing to forget."
    );
    let mark = fake.mark();
    fake.group_message(GROUP, &ALICE, "/nay");
    assert_eq!(
        fake.reply_in(mark, GROUP).await.text(),
        "Never mind, Alice... There was nothing to forget."
    );

    let source = fake.ask(&ALICE, "/source").await;
    assert!(source.text().contains(&master.url), "{}", source.text());
    assert!(source.text().contains("github.com/buildbot/buildbot"));

    let version = fake.ask(&ALICE, "/version").await;
    assert!(
        version.text().contains("buildbot-4.3.0"),
        "the master's version: {}",
        version.text()
    );
    assert!(
        version
            .text()
            .contains(&format!("buildbot-telegram {}", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test]
async fn groups_unknown_commands_and_chatter() {
    let (fake, _bot, _) = bot_on_shared_master().await;

    let unknown = fake.ask(&ALICE, "/fly to the moon").await;
    assert_eq!(
        unknown.text(),
        "I don't know the command /fly. Send /help to see what I can do."
    );
    let chatter = fake.ask(&ALICE, "hi there").await;
    assert!(
        chatter.text().starts_with("Say what?"),
        "{}",
        chatter.text()
    );

    // In a group: commands for other bots and plain chat are ignored, our own mention works.
    let mark = fake.mark();
    fake.group_message(GROUP, &ALICE, "/status@OtherBot");
    fake.group_message(GROUP, &ALICE, "/fly@OtherBot");
    fake.group_message(GROUP, &ALICE, "just chatting");
    fake.group_message(GROUP, &ALICE, "/hello@buildbottestbot");
    let reply = fake.reply_in(mark, GROUP).await;
    assert!(reply.text().ends_with("! 👋"), "{}", reply.text());
    // updates of one chat are handled in order, so anything said before the hello is in by now
    assert_eq!(
        fake.sent_since(mark, "sendMessage", GROUP).len(),
        1,
        "only /hello@ours is answered"
    );
}

#[tokio::test]
async fn a_flood_from_one_person_does_not_hold_up_anybody_else() {
    let (fake, bot, _) = bot_on_shared_master().await;
    let say_what = "Say what?";
    let mark = fake.mark();
    for i in 0..150 {
        fake.private_message(&ALICE, &format!("spam {i}"));
    }
    fake.private_message(&BOB, "/getid");
    let bob = fake
        .wait_for(mark, "sendMessage", |c| c.chat_id() == Some(BOB.id))
        .await;
    assert!(bob.text().contains("111111") || bob.text().contains(&BOB.id.to_string()));
    let answers_to_alice = |calls: &[crate::support::fake_telegram::Call]| {
        calls
            .iter()
            .filter(|c| c.chat_id() == Some(ALICE.id) && c.text().starts_with(say_what))
            .count()
    };
    let before_bob: Vec<_> = fake
        .calls()
        .into_iter()
        .skip(mark)
        .take_while(|c| c.chat_id() != Some(BOB.id))
        .collect();
    assert!(
        answers_to_alice(&before_bob) < 15,
        "Bob waited behind {} answers to the flood",
        answers_to_alice(&before_bob)
    );
    // the flooder hears a burst of answers and, once, why the rest get none
    let slow_down = fake
        .wait_for(mark, "sendMessage", |c| {
            c.chat_id() == Some(ALICE.id) && c.text().starts_with("🐢")
        })
        .await;
    assert!(slow_down.text().contains("one command at a time"));
    // what the bot let through: the burst; the rest of the flood was dropped on arrival
    let log = bot.log();
    let warned = log.matches("is over its budget").count();
    let dropped = log.matches("(over its budget)").count();
    assert_eq!(warned, 1, "one flood, one notice");
    assert!(
        (100..=120).contains(&(warned + dropped)),
        "150 messages: a burst of 30 (and what refilled while they came in) let through, the rest dropped: {} dropped",
        warned + dropped
    );
    let notices = fake.calls()[mark..]
        .iter()
        .filter(|c| c.chat_id() == Some(ALICE.id) && c.text().starts_with("🐢"))
        .count();
    assert_eq!(notices, 1, "told once");
}

#[tokio::test]
async fn a_reply_hit_by_a_server_error_is_delivered_once() {
    let (fake, _bot, _) = bot_on_shared_master().await;
    fake.inject(
        "sendMessage",
        Fault::api_error(500, "Internal Server Error"),
    );
    let mark = fake.mark();
    fake.private_message(&ALICE, "/getid");
    let answer = fake
        .wait_for(mark, "sendMessage", |c| c.result["message_id"].is_i64())
        .await;
    assert_eq!(answer.text(), "Your ID is <code>111111</code>.");
    let tries = fake.sent_since(mark, "sendMessage", ALICE.id);
    assert_eq!(tries.len(), 2, "one 500, one delivery");
    let delivered = tries.iter().filter(|c| c.result["message_id"].is_i64());
    assert_eq!(delivered.count(), 1, "sent once");
}

#[tokio::test]
async fn waits_out_retry_after_and_falls_back_to_plain_text() {
    let (fake, _bot, _) = bot_on_shared_master().await;

    fake.inject("sendMessage", Fault::retry_after(1));
    let mark = fake.mark();
    fake.private_message(&ALICE, "/getid");
    let answer = fake
        .wait_for(mark, "sendMessage", |c| c.result["message_id"].is_i64())
        .await;
    assert_eq!(answer.text(), "Your ID is <code>111111</code>.");
    assert_eq!(
        fake.sent_since(mark, "sendMessage", ALICE.id).len(),
        2,
        "one 429, one delivery"
    );

    fake.inject(
        "sendMessage",
        Fault::api_error(400, "Bad Request: can't parse entities: unexpected end tag"),
    );
    let mark = fake.mark();
    fake.private_message(&ALICE, "/getid");
    let answer = fake
        .wait_for(mark, "sendMessage", |c| {
            c.params.get("parse_mode").is_none()
        })
        .await;
    assert_eq!(
        answer.text(),
        "Your ID is 111111.",
        "sent again as plain text"
    );
}
