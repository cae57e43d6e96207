//! Delivery under Telegram's limits and faults: a fan-out reaches every chat, exactly as
//! counted, through 429s, 5xx answers, dropped connections, a blocked chat, a migrated group
//! and a SIGKILL of the bot in the middle.

use std::time::{Duration, Instant};

use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, FakeTelegram, Fault, Person};

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
    // Telegram keeps refusing these two: a message sent again after the kill (the bot may die
    // between Telegram's answer and forgetting the chat) must be refused again.
    for _ in 0..5 {
        fake.inject_for(
            "sendMessage",
            LOST,
            Fault::api_error(400, "Bad Request: chat not found"),
        );
        fake.inject_for(
            "sendMessage",
            BLOCKED,
            Fault::api_error(403, "Forbidden: bot was blocked by the user"),
        );
    }
    fake.inject_for("sendMessage", GROUP, Fault::migrated(SUPERGROUP));

    let mark = fake.mark();
    let build = master.build("runtests").await;
    let reference = format!("#{}</a> of <b>runtests</b>", build["number"]);
    // Kill the bot once part of the fan-out is out.
    let deadline = Instant::now() + Duration::from_secs(60);
    while (FIRST..FIRST + CHATS)
        .filter(|c| fake.delivered(mark, *c, &reference) > 0)
        .count()
        < 15
    {
        assert!(Instant::now() < deadline, "the fan-out did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    // (Asked as if they had come back: Telegram takes messages to them again.)
    fake.clear_faults();
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
            let list = fake.ask(&person, "/notify list").await;
            assert_eq!(
                list.text().contains("🔔 <b>finished</b>"),
                expect,
                "{id}: {}",
                list.text()
            );
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
