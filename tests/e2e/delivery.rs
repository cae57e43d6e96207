//! Delivery under Telegram's limits and faults: a fan-out reaches every chat, exactly as
//! counted, through 429s, 5xx answers, dropped connections, a blocked chat, a migrated group
//! and a SIGKILL of the bot in the middle; a chat whose server is sick holds up no one else;
//! a message whose row cannot be deleted is not sent twice.

use std::time::{Duration, Instant};

use buildbot_telegram::delivery::outbox::Outbox;
use buildbot_telegram::delivery::{Delivery, Notification};
use buildbot_telegram::settings::Limits;
use buildbot_telegram::shutdown::Shutdown;
use buildbot_telegram::storage::{Chat, Store};

use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, FakeTelegram, Fault, Person, TOKEN};

const FIRST: i64 = 900_001;
const CHATS: i64 = 60;
const BLOCKED: i64 = 900_999;
const LOST: i64 = FIRST + 19;
const GROUP: i64 = -8001;
const SUPERGROUP: i64 = -1_000_000_008_001;

#[tokio::test]
async fn fan_out_survives_faults_and_a_kill() {
    let master = buildbot::dedicated("fanout").await;
    let fake = FakeTelegram::start_with_limits().await;
    // Chats from the settings get their events back at every start, so the two that will be
    // dropped subscribe themselves.
    let mut chats: Vec<i64> = (FIRST..FIRST + CHATS).filter(|c| *c != LOST).collect();
    chats.push(GROUP);
    let list: Vec<String> = chats.iter().map(i64::to_string).collect();
    let settings = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"finished\"]\n",
        list.join(", ")
    );
    let bot = BotProcess::start(&fake, &master.url, &settings).await;
    for id in [BLOCKED, LOST] {
        let person = Person {
            id,
            first_name: "Someone",
            username: "someone",
        };
        assert!(
            fake.ask(&person, "/notify on finished")
                .await
                .text()
                .contains("finished")
        );
    }

    fake.inject_for("sendMessage", FIRST + 4, Fault::retry_after(2));
    fake.inject_for(
        "sendMessage",
        FIRST + 9,
        Fault::api_error(502, "Bad Gateway"),
    );
    fake.inject_for("sendMessage", FIRST + 14, Fault::drop_connection());
    // Telegram says these again at every try: one said just before the kill, and not yet
    // acted upon, is said again after the restart.
    fake.fail_forever(
        "sendMessage",
        LOST,
        Fault::api_error(400, "Bad Request: chat not found"),
    );
    fake.fail_forever(
        "sendMessage",
        BLOCKED,
        Fault::api_error(403, "Forbidden: bot was blocked by the user"),
    );
    fake.fail_forever("sendMessage", GROUP, Fault::migrated(SUPERGROUP));

    let mark = fake.mark();
    let build = master.build("runtests").await;
    let reference = format!("#{}</a> of <b>runtests</b>", build["number"]);
    // Kill the bot once part of the fan-out is out.
    let some = Duration::from_secs(60);
    fake.wait_delivered(mark, FIRST..FIRST + CHATS, &reference, 15, some)
        .await;
    let _bot = bot.kill_and_restart(&fake).await;

    let expected: Vec<i64> = (FIRST..FIRST + CHATS)
        .filter(|c| *c != LOST)
        .chain([SUPERGROUP])
        .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let missing: Vec<i64> = expected
            .iter()
            .copied()
            .filter(|c| fake.delivered(mark, *c, &reference) == 0)
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "these chats never got the message: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for chat in &expected {
        let count = fake.delivered(mark, *chat, &reference);
        assert!(
            (1..=2).contains(&count),
            "chat {chat} got the message {count} times (at most one duplicate)"
        );
    }
    let duplicates = expected
        .iter()
        .filter(|c| fake.delivered(mark, **c, &reference) == 2)
        .count();
    assert!(
        duplicates <= 16,
        "only messages in flight at the kill may repeat: {duplicates}"
    );
    assert_eq!(fake.delivered(mark, BLOCKED, &reference), 0);
    assert_eq!(
        fake.delivered(mark, GROUP, &reference),
        0,
        "the group's old id got nothing"
    );
    assert_eq!(
        fake.delivered(mark, LOST, &reference),
        0,
        "a chat that was not found got nothing"
    );

    // The blocked chat and the lost one lost their subscriptions; the supergroup kept its own.
    fake.heal(BLOCKED);
    fake.heal(LOST);
    for (id, expect) in [
        (BLOCKED, false),
        (LOST, false),
        (SUPERGROUP, true),
        (FIRST, true),
    ] {
        let person = Person {
            id,
            first_name: "Someone",
            username: "someone",
        };
        if id < 0 {
            let mark = fake.mark();
            fake.group_message(id, &ALICE, "/notify list");
            let list = fake.reply_in(mark, id).await;
            assert_eq!(
                list.text().contains("🔔 <b>finished</b>"),
                expect,
                "{id}: {}",
                list.text()
            );
        } else {
            // the blocked and the lost chat are dropped when their send comes round, which
            // can be after every other chat got the message: asked until then
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let list = fake.ask(&person, "/notify list").await;
                let subscribed = list.text().contains("🔔 <b>finished</b>");
                if subscribed == expect {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{id} still subscribed after 60 s: {}",
                    list.text()
                );
            }
        }
    }
}

#[tokio::test]
async fn answers_stay_inside_the_limits() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start_with_limits().await;
    let _bot = BotProcess::start(&fake, &master.url, "").await;
    let someone = Person {
        id: 910_001,
        first_name: "Eve",
        username: "eve",
    };
    // five commands at once in one chat, and a long answer in parts
    let mark = fake.mark();
    for _ in 0..5 {
        fake.private_message(&someone, "/hello");
    }
    fake.private_message(&someone, "/help");
    fake.wait_for(mark, "sendMessage", |c| {
        c.text().starts_with("Here is what I can do")
    })
    .await;
    assert_eq!(fake.delivered(mark, someone.id, "👋"), 5);
    assert_eq!(
        fake.throttled(),
        0,
        "the bot kept to 1 message per second in that chat"
    );
}

/// Which of `references` each message Telegram took for `chat` after `mark` names, in the
/// order they arrived.
fn arrivals(fake: &FakeTelegram, mark: usize, chat: i64, references: &[String]) -> Vec<usize> {
    fake.sent_since(mark, "sendMessage", chat)
        .iter()
        .filter(|c| c.result["message_id"].is_i64())
        .filter_map(|c| references.iter().position(|r| c.text().contains(r)))
        .collect()
}

/// Waits until every one of `chats` got the message that names `reference`.
async fn wait_delivered(
    fake: &FakeTelegram,
    mark: usize,
    chats: &[i64],
    reference: &str,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        let missing: Vec<i64> = chats
            .iter()
            .copied()
            .filter(|c| fake.delivered(mark, *c, reference) == 0)
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing:?} did not get {reference} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_sick_chat_holds_up_no_one_else() {
    const SICK: i64 = 920_001;
    const WELL: [i64; 2] = [920_002, 920_003];
    let master = buildbot::dedicated("sick").await;
    let fake = FakeTelegram::start().await;
    let settings = format!(
        "[notify]\nchat_ids = [{SICK}, {}, {}]\nevents = [\"finished\"]\n",
        WELL[0], WELL[1]
    );
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    // Every message to SICK fails as a 5xx does: tried again and again, with backoff.
    fake.fail_forever(
        "sendMessage",
        SICK,
        Fault::api_error(500, "Internal Server Error"),
    );

    let mark = fake.mark();
    let mut references = Vec::new();
    for _ in 0..3 {
        let build = master.build("runtests").await;
        references.push(format!("#{}</a> of <b>runtests</b>", build["number"]));
    }
    wait_delivered(&fake, mark, &WELL, &references[2], Duration::from_secs(60)).await;
    for chat in WELL {
        assert_eq!(
            arrivals(&fake, mark, chat, &references),
            [0, 1, 2],
            "chat {chat} got the three, once each, in order"
        );
    }
    let tries = fake.sent_since(mark, "sendMessage", SICK);
    assert!(
        !tries.is_empty() && tries.iter().all(|c| c.text().contains(&references[0])),
        "meanwhile the sick chat was tried, its first message only, and failed: {tries:?}"
    );
    assert!(arrivals(&fake, mark, SICK, &references).is_empty());

    // Once well again, the sick chat gets its three as well, in order (a backoff is at most
    // a minute).
    fake.heal(SICK);
    wait_delivered(
        &fake,
        mark,
        &[SICK],
        &references[2],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(arrivals(&fake, mark, SICK, &references), [0, 1, 2]);
}

/// A second connection to the storage file at `path`, through which deleting the outbox row
/// that holds `text` fails as on a full disk, until its trigger `full_disk` is dropped.
fn full_disk_for(path: &std::path::Path, text: &str) -> rusqlite::Connection {
    let sqlite = rusqlite::Connection::open(path).unwrap();
    sqlite.busy_timeout(Duration::from_secs(5)).unwrap();
    sqlite
        .execute(
            &format!(
                "CREATE TRIGGER full_disk BEFORE DELETE ON outbox WHEN old.text = '{text}'
                 BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;"
            ),
            [],
        )
        .unwrap();
    sqlite
}

#[tokio::test]
async fn a_sent_message_whose_row_cannot_be_deleted_is_not_sent_again() {
    const CHAT: i64 = 930_001;
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite");
    let store = Store::open(path.to_str().unwrap()).unwrap();
    let sqlite = full_disk_for(&path, "first");
    let bot = teloxide::Bot::new(TOKEN).set_api_url(fake.url.parse().unwrap());
    let shutdown = Shutdown::new();
    let (outbox, worker) = Outbox::start(
        store.clone(),
        Delivery::new(bot, Limits::default()),
        Duration::from_secs(3600),
        None,
        shutdown.clone(),
    );

    for text in ["first", "second", "third"] {
        outbox
            .enqueue(&[Chat::Id(CHAT)], &Notification::new(text, vec![]))
            .await
            .unwrap();
    }
    wait_delivered(&fake, 0, &[CHAT], "third", Duration::from_secs(30)).await;
    let texts: Vec<String> = fake
        .sent_since(0, "sendMessage", CHAT)
        .iter()
        .map(|c| c.text().to_owned())
        .collect();
    assert_eq!(
        texts,
        ["first", "second", "third"],
        "sent once, the chat went on"
    );
    let waiting = store.outbox_pending(10).await.unwrap();
    assert!(
        waiting.iter().any(|r| r.text == "first"),
        "the first row is still in the storage: {waiting:?}"
    );

    // Once the disk has room again, the row goes, still without a second send.
    sqlite.execute_batch("DROP TRIGGER full_disk").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !store.outbox_pending(10).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the row was never deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fake.delivered(0, CHAT, "first"), 1);
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("the worker stops")
        .unwrap();
}

/// Telegram counts a group's 20 messages a minute across restarts of the bot: a bot killed
/// right after 20 answers in a group waits out the minute after its restart, instead of
/// drawing a 429.
#[tokio::test]
async fn a_restarted_bot_keeps_to_a_groups_minute() {
    const BUSY: i64 = -8101;
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start_with_limits().await;
    let bot = BotProcess::start(&fake, &master.url, "").await;
    let answered = |mark: usize| {
        fake.sent_since(mark, "sendMessage", BUSY)
            .iter()
            .filter(|c| c.result["message_id"].is_i64())
            .count()
    };
    let mark = fake.mark();
    for _ in 0..20 {
        fake.group_message(BUSY, &ALICE, "/hello");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered(mark) < 20 {
        assert!(
            Instant::now() < deadline,
            "{} of 20 answers",
            answered(mark)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _bot = bot.kill_and_restart(&fake).await;
    let after = fake.mark();
    fake.group_message(BUSY, &ALICE, "/hello");
    let deadline = Instant::now() + Duration::from_secs(90);
    while answered(after) < 1 {
        assert!(Instant::now() < deadline, "no answer after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        fake.throttled(),
        0,
        "Telegram never had to say 'too many requests'"
    );
}

/// Sends count from Telegram's answers, not from when they were let go: a 200-chat fan-out
/// against a server that enforces the limits strictly draws no 429 (counted from the moments
/// sends were let go, it drew a dozen: requests let go together arrive out of order).
#[tokio::test]
async fn a_200_chat_fan_out_draws_no_429() {
    use crate::replicas::{CHATS, FIRST, everyone_got, fan_out_settings};
    let master = buildbot::dedicated("fanout200").await;
    let fake = FakeTelegram::start_with_limits().await;
    let _bot = BotProcess::start(&fake, &master.url, &fan_out_settings()).await;
    let mark = fake.mark();
    let build = master.build("runtests").await;
    let reference = format!("#{}</a> of <b>runtests</b>", build["number"]);
    everyone_got(&fake, mark, &reference, Duration::from_secs(90)).await;
    for chat in FIRST..FIRST + CHATS {
        assert_eq!(fake.delivered(mark, chat, &reference), 1, "chat {chat}");
    }
    assert_eq!(fake.throttled(), 0, "no 429");
}
