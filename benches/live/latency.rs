//! Parts 1 and 2: a build finishing → its notification, and a command → its reply.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{
    REPLY_LIMIT, Row, announces, ask_timed, listen, next_finished, rest_calls, row, spread,
    wait_call,
};
use crate::support::buildbot::Master;
use crate::support::fake_telegram::FakeTelegram;

const BUILDS: usize = 20;
const COMMANDS: usize = 50;
/// Between two commands: replies of one message each stay below Telegram's 30 messages a
/// second overall, so that the bot's own limiter never holds a reply back and the figure is
/// the bot's work alone.
const PACE: Duration = Duration::from_millis(50);
/// The same on the 200-builder master, whose replies take up to 4.3 messages each: 4
/// commands a second (at 20 a second the replies queue for that budget, and the figure
/// measures Telegram's limit, not the bot).
const BIG_PACE: Duration = Duration::from_millis(250);

/// Part 1: `builds/N/finished` on the master's websocket → the sendMessage announcing build N
/// at the fake, for `BUILDS` builds of `builder` (one more first, not counted, to warm up).
/// The bot must send `finished` to one chat; builds are forced at least 1.1 s apart, so that
/// its per-chat limit never holds a message back.
pub async fn event_to_send(
    fake: &FakeTelegram,
    master: &Master,
    builder: &str,
) -> Vec<Option<Duration>> {
    let builderid = master.builder_id(builder).await;
    let mut events = listen(master).await;
    let mut latencies = Vec::new();
    for i in 0..=BUILDS {
        let mark = fake.mark();
        master.force(builder, json!({})).await;
        let finished = next_finished(&mut events, builderid).await;
        let sent = wait_call(fake, mark, REPLY_LIMIT, |c| {
            announces(c, builder, finished.number)
        })
        .await;
        if i > 0 {
            latencies.push(
                sent.as_ref()
                    .map(|s| s.at.saturating_duration_since(finished.at)),
            );
        }
        // the bot sends one message a second per chat: the next one must not wait for that
        let sent_at = sent.map_or_else(Instant::now, |s| s.at);
        tokio::time::sleep_until((sent_at + Duration::from_millis(1100)).into()).await;
    }
    latencies
}

/// Part 2 for one command: `COMMANDS` times, each from a person of their own (the bot
/// answers one message a second per chat), from the update queued at the fake to the reply's
/// sendMessage; the REST calls the master served per command, from its `http.log`; and the
/// messages each reply took (a long answer is split at Telegram's 4,096 characters).
pub async fn command_replies(
    fake: &FakeTelegram,
    master: &Master,
    command: &str,
    first_person: i64,
    pace: Duration,
) -> (Vec<Option<Duration>>, f64, f64) {
    // one answer first, not counted: the first use of a route warms caches up
    ask_timed(fake, first_person, command).await;
    tokio::time::sleep(pace).await;
    let before = settled_rest_calls(master).await;
    let mark = fake.mark();
    let mut latencies = Vec::new();
    for i in 1..=COMMANDS as i64 {
        latencies.push(ask_timed(fake, first_person + i, command).await);
        if latencies.len() >= 3 && latencies.iter().rev().take(3).all(Option::is_none) {
            eprintln!("live bench: three {command} in a row got no reply, skipping the rest");
            latencies.resize(COMMANDS, None);
            break;
        }
        tokio::time::sleep(pace).await;
    }
    let after = settled_rest_calls(master).await;
    let people = first_person + 1..=first_person + COMMANDS as i64;
    let messages = fake
        .calls_since(mark)
        .iter()
        .filter(|c| c.method == "sendmessage" && c.chat_id().is_some_and(|id| people.contains(&id)))
        .count();
    let per_command = |n: usize| n as f64 / COMMANDS as f64;
    (
        latencies,
        per_command(after - before),
        per_command(messages),
    )
}

/// The REST count once it stopped moving for 300 ms (the log line follows the answer), at
/// most 5 s.
async fn settled_rest_calls(master: &Master) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = rest_calls(master);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = rest_calls(master);
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Part 2's rows for one master: `/status`, `/last`, `/list builders`.
pub async fn replies_rows(
    fake: &FakeTelegram,
    master: &Master,
    label: &str,
    first: i64,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let big = label.contains("200");
    let pace = if big { BIG_PACE } else { PACE };
    for (i, command) in ["/status", "/last", "/list builders"].iter().enumerate() {
        let (latencies, rest, messages) =
            command_replies(fake, master, command, first + 1000 * i as i64, pace).await;
        rows.push(row(
            &format!("`{command}` queued → reply, {label}: p50 / p95 / max"),
            spread(latencies, 0.95),
            if big {
                "p95 ≤ 30 ms"
            } else {
                "p95 ≤ 15 ms"
            },
        ));
        rows.push(row(
            &format!("  REST calls per `{command}`, {label}"),
            format!("{rest:.1}"),
            "0",
        ));
        rows.push(row(
            &format!("  messages per `{command}` reply, {label}"),
            format!("{messages:.1}"),
            "-",
        ));
    }
    rows
}
