//! Two replicas of the real binary sharing one PostgreSQL database, against the real master:
//! one bot as Telegram sees it. Only the active replica (the lease holder) reads Buildbot's
//! events, works the outbox and polls; when it is SIGKILLed the other takes over, finishes
//! the fan-out it left (at most one duplicate per chat) and announces what ended meanwhile;
//! in webhook mode a conversation started on one replica goes on on the other.

use std::time::{Duration, Instant};

use crate::support::bot::BotProcess;
use crate::support::buildbot::{self, Master};
use crate::support::closed_port;
use crate::support::fake_telegram::{ALICE, Call, FakeTelegram, Person};
use crate::support::postgres as pg;
use crate::support::webhook::SECRET;

pub const FIRST: i64 = 700_001;
pub const CHATS: i64 = 200;

/// Settings for a 200-chat fan-out of every build's end.
pub fn fan_out_settings() -> String {
    let chats: Vec<String> = (FIRST..FIRST + CHATS).map(|c| c.to_string()).collect();
    format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"finished\"]\n",
        chats.join(", ")
    )
}

/// Starts replica `a` and waits until it is the active one, then starts `b` beside it; each
/// as if on a machine of its own (`HOSTNAME`), so that `b` cannot tell that `a` died and
/// must wait for its lease to run out, as after the death of a machine.
async fn two_replicas(
    fake: &FakeTelegram,
    master: &Master,
    database: &str,
    extra: &str,
) -> (BotProcess, BotProcess) {
    let on = |host: &'static str| [("HOSTNAME", host)];
    let (a_env, b_env) = (on("machine-a"), on("machine-b"));
    let start =
        |env| BotProcess::start_replica_with_env(fake, &master.url, database, "", extra, env);
    let a = start(&a_env).await;
    a.wait_for_log("is now the active one").await;
    let b = start(&b_env).await;
    b.wait_for_log("is waiting:").await;
    (a, b)
}

/// Waits (up to `within`) until every chat of the fan-out got `needle`.
pub async fn everyone_got(fake: &FakeTelegram, mark: usize, needle: &str, within: Duration) {
    let chats = FIRST..FIRST + CHATS;
    fake.wait_delivered(mark, chats, needle, CHATS as usize, within)
        .await;
}

#[tokio::test]
async fn two_replicas_send_each_notification_once() {
    let master = buildbot::dedicated("replicasonce").await;
    let fake = FakeTelegram::start_with_limits().await;
    let database = pg::database("replicas_once").await;
    let (a, b) = two_replicas(&fake, &master, &database, &fan_out_settings()).await;

    let mark = fake.mark();
    let build = master.build("runtests").await;
    let reference = format!("#{}</a> of <b>runtests</b>", build["number"]);
    everyone_got(&fake, mark, &reference, Duration::from_secs(90)).await;
    // a second build, so that a late duplicate of the first would have had time to come
    let next = master.build("runtests").await;
    let second = format!("#{}</a> of <b>runtests</b>", next["number"]);
    everyone_got(&fake, mark, &second, Duration::from_secs(90)).await;
    for chat in FIRST..FIRST + CHATS {
        assert_eq!(fake.delivered(mark, chat, &reference), 1, "chat {chat}");
        assert_eq!(fake.delivered(mark, chat, &second), 1, "chat {chat}");
    }
    assert_eq!(
        fake.throttled(),
        0,
        "Telegram's limits hold for the bot as a whole"
    );
    assert!(
        !b.log().contains("is now the active one"),
        "the second replica stayed in reserve:\n{}",
        b.log()
    );
    let (_, out, err) = crate::support::bot::check_with(&a.settings_file()).await;
    let said = format!("{out}{err}");
    assert!(
        said.contains("the active replica is")
            && said.contains("PostgreSQL postgres://bbtg@127.0.0.1"),
        "{said}"
    );
    assert!(!said.contains(pg::PASSWORD), "{said}");
    a.assert_never_wrote(&[pg::PASSWORD]);
    b.assert_never_wrote(&[pg::PASSWORD]);
}

#[tokio::test]
async fn the_other_replica_takes_over_a_fan_out_when_the_active_one_is_killed() {
    let master = buildbot::dedicated("replicaskill").await;
    let fake = FakeTelegram::start_with_limits().await;
    let database = pg::database("replicas_kill").await;
    let (mut a, b) = two_replicas(&fake, &master, &database, &fan_out_settings()).await;

    let mark = fake.mark();
    let build = master.build("runtests").await;
    let reference = format!("#{}</a> of <b>runtests</b>", build["number"]);
    let some = Duration::from_secs(60);
    fake.wait_delivered(mark, FIRST..FIRST + CHATS, &reference, 40, some)
        .await;
    let killed = Instant::now();
    a.kill();
    // a build that ends while nobody is active: the next one's catch-up announces it
    let meanwhile = master.build("runtests").await;
    b.wait_for_log("is now the active one").await;
    let took_over = killed.elapsed();
    eprintln!(
        "takeover {:.1} s after the SIGKILL",
        took_over.as_secs_f64()
    );
    assert!(took_over < Duration::from_secs(30), "{took_over:?}");

    everyone_got(&fake, mark, &reference, Duration::from_secs(120)).await;
    let during = format!("#{}</a> of <b>runtests</b>", meanwhile["number"]);
    everyone_got(&fake, mark, &during, Duration::from_secs(120)).await;
    let mut duplicates = 0;
    for chat in FIRST..FIRST + CHATS {
        let count = fake.delivered(mark, chat, &reference);
        assert!((1..=2).contains(&count), "chat {chat} got it {count} times");
        duplicates += usize::from(count == 2);
        assert_eq!(fake.delivered(mark, chat, &during), 1, "chat {chat}");
    }
    assert!(
        duplicates <= 16,
        "only sends in flight at the kill repeat: {duplicates}"
    );
    assert_eq!(fake.throttled(), 0);

    // the master restarts under the new active replica: the next build is announced once
    master.restart().await;
    let after = master.build("runtests").await;
    let after = format!("#{}</a> of <b>runtests</b>", after["number"]);
    everyone_got(&fake, mark, &after, Duration::from_secs(120)).await;
    for chat in FIRST..FIRST + CHATS {
        assert_eq!(fake.delivered(mark, chat, &after), 1, "chat {chat}");
    }
}

/// The update pushed last, posted to the replica listening on `port` instead of polled.
async fn post_to(fake: &FakeTelegram, port: u16) {
    let update = fake.pop_update();
    let status = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/telegram"))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&update)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
}

async fn webhook_replica(
    fake: &FakeTelegram,
    master: &Master,
    database: &str,
    extra: &str,
) -> (BotProcess, u16) {
    let port = closed_port();
    let telegram = format!(
        "use_webhook = true\n[telegram.webhook]\nurl = \"https://bot.example.org/telegram\"\nlisten = \"127.0.0.1:{port}\"\nsecret_token = \"{SECRET}\"\n"
    );
    let extra = format!("{extra}\n[authz]\nforce = [{}]\n", ALICE.id);
    let bot = BotProcess::start_replica(fake, &master.url, database, &telegram, &extra).await;
    bot.wait_for_log("receiving updates through the webhook")
        .await;
    (bot, port)
}

/// Waits (up to 30 s) until the database holds a conversation for `chat`.
async fn conversation_stored(database: &str, chat: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let url = database.to_owned();
        let stored = tokio::task::spawn_blocking(move || {
            let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
            let rows = client
                .query("SELECT 1 FROM dialogues WHERE chat = $1", &[&chat])
                .unwrap();
            !rows.is_empty()
        })
        .await
        .unwrap();
        if stored {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no conversation of chat {chat} stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn button(screen: &Call, label: &str) -> String {
    screen
        .buttons()
        .into_iter()
        .find(|(text, _)| text == label)
        .unwrap_or_else(|| panic!("no button {label:?} in {:?}", screen.buttons()))
        .1
}

#[tokio::test]
async fn a_conversation_started_on_one_webhook_replica_goes_on_on_the_other() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let database = pg::database("replicas_webhook").await;
    let (first, first_port) = webhook_replica(&fake, &master, &database, "").await;
    let (second, second_port) = webhook_replica(&fake, &master, &database, "").await;

    let mark = fake.mark();
    fake.private_message(&ALICE, "/force");
    post_to(&fake, first_port).await;
    let schedulers = fake
        .wait_for(mark, "sendMessage", |c| {
            c.text().contains("Which force scheduler")
        })
        .await;

    // the tap lands on the other replica, which reads the conversation from PostgreSQL
    // (once the first one has written it: a person cannot tap that fast, a test can)
    conversation_stored(&database, ALICE.id).await;
    let mark = fake.mark();
    fake.tap(&ALICE, &schedulers, &button(&schedulers, "Quick build"));
    post_to(&fake, second_port).await;
    fake.wait_for_any(mark, &["editMessageText", "sendMessage"], |c| {
        c.text()
            .contains("New build of <b>runtests</b> with <i>Quick build</i>")
    })
    .await;
    // and neither replica took the webhook away when the first one stopped
    let mark = fake.mark();
    assert!(first.terminate().await);
    assert!(
        fake.calls_since(mark)
            .iter()
            .all(|c| c.method != "deletewebhook"),
        "a replica that stops leaves the webhook to the others"
    );
    drop(second);
}

#[tokio::test]
async fn replies_from_another_replica_share_the_limits_with_the_fan_out() {
    let master = buildbot::dedicated("replicasbudget").await;
    let fake = FakeTelegram::start_with_limits().await;
    let database = pg::database("replicas_budget").await;
    let settings = fan_out_settings();
    let (active, _) = webhook_replica(&fake, &master, &database, &settings).await;
    active.wait_for_log("is now the active one").await;
    let (other, other_port) = webhook_replica(&fake, &master, &database, &settings).await;
    other.wait_for_log("is waiting:").await;

    let mark = fake.mark();
    let build = master.build("runtests").await;
    let reference = format!("#{}</a> of <b>runtests</b>", build["number"]);
    // while the active replica fans out, people talk to the other one, 10 a second
    let people: Vec<Person> = (0..40)
        .map(|i| Person {
            id: 800_001 + i,
            first_name: "Someone",
            username: "someone",
        })
        .collect();
    for person in &people {
        fake.private_message(person, "/getid");
        post_to(&fake, other_port).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    everyone_got(&fake, mark, &reference, Duration::from_secs(120)).await;
    for person in &people {
        fake.reply_in(mark, person.id).await;
    }
    assert_eq!(
        fake.throttled(),
        0,
        "the limits hold for the bot as a whole, whichever replica sends"
    );
}
