//! Parts 3 and 4: replies while a 1,000-chat fan-out runs under Telegram's limits, and the
//! bot's memory with many chats.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{
    Finished, Row, ask_timed, listen, mb, next_finished, person, row, spread, start_bot,
    status_kib, subscribe_in_storage,
};
use crate::support::bot::BotProcess;
use crate::support::buildbot::Master;
use crate::support::fake_telegram::FakeTelegram;

const FAN_OUT: i64 = 1_000;
const FIRST_CHAT: i64 = 5_000_000;
const TALKERS: i64 = 2_000;
const FIRST_TALKER: i64 = 7_000_000;
const BIG_FAN_OUT: i64 = 10_000;

/// Waits (up to `limit`) until `count` distinct chats from `first` on got a message holding
/// `needle` accepted after `mark`, running `each` every 100 ms meanwhile; returns when the
/// last of them arrived.
async fn delivered_to(
    fake: &FakeTelegram,
    mark: usize,
    needle: &str,
    (first, count): (i64, i64),
    limit: Duration,
    mut each: impl FnMut(),
) -> (usize, Option<Instant>) {
    let deadline = Instant::now() + limit;
    let mut chats = HashSet::new();
    let mut last = None;
    let mut seen = mark;
    loop {
        let calls = fake.calls_since(seen);
        seen += calls.len();
        for call in calls {
            let chat = call.chat_id().unwrap_or_default();
            if call.method == "sendmessage"
                && call.result["message_id"].is_i64()
                && (first..first + count).contains(&chat)
                && call.text().contains(needle)
            {
                chats.insert(chat);
                last = Some(call.at);
            }
        }
        if chats.len() as i64 >= count || Instant::now() > deadline {
            return (chats.len(), last);
        }
        each();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Part 3: a build finishes with 1,000 chats subscribed, Telegram's limits enforced; every
/// 400 ms a new person sends `/getid` through the dispatcher.
pub async fn busy_replies(master: &Master) -> Vec<Row> {
    let fake = FakeTelegram::start_with_limits().await;
    let bot = start_bot(&fake, master, "").await;
    let bot = subscribe_in_storage(bot, &fake, FIRST_CHAT, FAN_OUT).await;
    let (mark, finished, needle) = one_build(master, &fake).await;

    let asking = async {
        let mut latencies = Vec::new();
        for i in 0..60 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            latencies.push(ask_timed(&fake, 9_000_000 + i, "/getid").await);
        }
        latencies
    };
    let counting = delivered_to(
        &fake,
        mark,
        &needle,
        (FIRST_CHAT, FAN_OUT),
        Duration::from_secs(120),
        || {},
    );
    let (latencies, (delivered, last)) = tokio::join!(asking, counting);
    let wall = last.map_or(Duration::ZERO, |l| l.duration_since(finished.at));
    let floor = FAN_OUT as f64 / 30.0;
    // the replies share Telegram's 30 a second with the fan-out
    let replies = latencies.len() as f64;
    drop(bot);
    vec![
        row(
            "reply (`/getid`) during a 1,000-chat fan-out: p50 / p99 / max",
            spread(latencies, 0.99),
            "p99 ≤ 1 s",
        ),
        row(
            "1,000-chat fan-out: event → last delivered",
            format!("{:.1} s ({delivered} delivered)", wall.as_secs_f64()),
            "-",
        ),
        row(
            "  ratio to the 1000/30 s floor",
            format!("{:.3}", wall.as_secs_f64() / floor),
            "≤ 1.05",
        ),
        row(
            "  ratio to the floor counting the 60 replies",
            format!("{:.3}", wall.as_secs_f64() / (floor + replies / 30.0)),
            "-",
        ),
        row("  429 answers", fake.throttled().to_string(), "0"),
    ]
}

/// Part 4: the bot's memory after 2,000 chats each sent `/notify on finished`, then while it
/// fans out to 10,000 subscribed chats. Telegram's limits are raised here (the fake does not
/// enforce them, the bot sends up to 1,000 a second): this part measures memory, not rate.
pub async fn memory(master: &Master) -> Vec<Row> {
    let fake = FakeTelegram::start().await;
    let extra = "[telegram.limits]\noverall_per_second = 1000\n";
    let bot = start_bot(&fake, master, extra).await;
    for batch in (0..TALKERS).step_by(100) {
        let mark = fake.mark();
        for id in FIRST_TALKER + batch..FIRST_TALKER + batch + 100 {
            fake.private_message(&person(id), "/notify on finished");
        }
        let (answered, _) = delivered_to(
            &fake,
            mark,
            "",
            (FIRST_TALKER + batch, 100),
            Duration::from_secs(60),
            || {},
        )
        .await;
        assert_eq!(answered, 100, "every /notify is answered within 60 s");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_talk = status_kib(bot.pid(), "VmRSS");
    let peak_talk = status_kib(bot.pid(), "VmHWM");

    let more = BIG_FAN_OUT - TALKERS;
    let bot = subscribe_in_storage(bot, &fake, FIRST_TALKER + TALKERS, more).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_big = status_kib(bot.pid(), "VmRSS");
    let (mark, finished, needle) = one_build(master, &fake).await;
    let pid = bot.pid();
    let mut sampled = 0;
    let (delivered, last) = delivered_to(
        &fake,
        mark,
        &needle,
        (FIRST_TALKER, BIG_FAN_OUT),
        Duration::from_secs(180),
        || {
            sampled = sampled.max(status_kib(pid, "VmRSS"));
        },
    )
    .await;
    let wall = last.map_or(Duration::ZERO, |l| l.duration_since(finished.at));
    let peak = status_kib(pid, "VmHWM");
    drop(bot);
    vec![
        row(
            "RSS after 2,000 chats each sent `/notify on finished` (peak)",
            format!("{} ({})", mb(after_talk), mb(peak_talk)),
            "≤ 30 MB",
        ),
        row("RSS idle with 10,000 subscriptions", mb(idle_big), "-"),
        row(
            "RSS during a 10,000-chat fan-out: sampled max (VmHWM)",
            format!("{} ({})", mb(sampled), mb(peak)),
            "≤ 64 MB",
        ),
        row(
            "  10,000-chat fan-out at ≤ 1,000/s: event → last delivered",
            format!("{:.1} s ({delivered} delivered)", wall.as_secs_f64()),
            "-",
        ),
    ]
}

/// Forces one `runtests` build, heard by the benchmark's own listener on the master's
/// websocket: the fake's mark from before it, the build's `finished` event, and what the
/// message announcing it holds.
async fn one_build(master: &Master, fake: &FakeTelegram) -> (usize, Finished, String) {
    let builderid = master.builder_id("runtests").await;
    let mut events = listen(master).await;
    let mark = fake.mark();
    master.force("runtests", json!({})).await;
    let finished = next_finished(&mut events, builderid).await;
    let needle = format!(">#{}</a> of <b>runtests</b>", finished.number);
    (mark, finished, needle)
}

/// Part 5: the same 1,000-chat fan-out from two replicas sharing PostgreSQL (only the active
/// one sends), then a SIGKILL of the active one: how long until the other takes over.
pub async fn two_replicas(master: &Master) -> Vec<Row> {
    let fake = FakeTelegram::start_with_limits().await;
    let database = crate::support::postgres::database("bench_replicas").await;
    let chats: Vec<String> = (FIRST_CHAT..FIRST_CHAT + FAN_OUT)
        .map(|c| c.to_string())
        .collect();
    let settings = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"finished\"]\n",
        chats.join(", ")
    );
    // each on a machine of its own (HOSTNAME): the other cannot tell that the active one
    // died, and waits for its lease to run out, as after the death of a machine
    let on = |host| [("RUST_LOG", "info"), ("HOSTNAME", host)];
    let (a_env, b_env) = (on("machine-a"), on("machine-b"));
    let start =
        |env| BotProcess::start_replica_with_env(&fake, &master.url, &database, "", &settings, env);
    let mut a = start(&a_env).await;
    a.wait_for_log("is now the active one").await;
    let b = start(&b_env).await;
    b.wait_for_log("is waiting:").await;

    let (mark, finished, needle) = one_build(master, &fake).await;
    let (delivered, last) = delivered_to(
        &fake,
        mark,
        &needle,
        (FIRST_CHAT, FAN_OUT),
        Duration::from_secs(120),
        || {},
    )
    .await;
    let wall = last.map_or(Duration::ZERO, |l| l.duration_since(finished.at));
    let sent = fake
        .calls_since(mark)
        .iter()
        .filter(|c| c.method == "sendmessage" && c.result["message_id"].is_i64())
        .filter(|c| c.text().contains(&needle))
        .count();

    let killed = Instant::now();
    a.kill();
    b.wait_for_log("is now the active one").await;
    let takeover = killed.elapsed();
    vec![
        row(
            "1,000-chat fan-out, two replicas on PostgreSQL: event → last delivered",
            format!(
                "{:.1} s ({delivered} chats, {} duplicates)",
                wall.as_secs_f64(),
                sent.saturating_sub(delivered)
            ),
            "-",
        ),
        row(
            "  ratio to the 1000/30 s floor",
            format!("{:.3}", wall.as_secs_f64() / (FAN_OUT as f64 / 30.0)),
            "≤ 1.05",
        ),
        row("  429 answers", fake.throttled().to_string(), "0"),
        row(
            "SIGKILL of the active replica (another machine) → the other is active",
            format!("{:.1} s", takeover.as_secs_f64()),
            "≤ 10 s",
        ),
    ]
}
