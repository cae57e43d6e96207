//! What every part of the live benchmark shares: starting the bot as a user runs it, the
//! master's own event stream as the clock's start, `/proc` readings, and the figures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::support::bot::BotProcess;
use crate::support::buildbot::Master;
use crate::support::fake_telegram::{Call, FakeTelegram, Person};

/// One row of the table: figure, measured, target.
pub type Row = (String, String, String);

pub fn row(name: &str, value: String, target: &str) -> Row {
    (name.to_owned(), value, target.to_owned())
}

/// Starts the real binary the way a user runs it (log level info, not the tests' trace),
/// with `extra` settings, and waits until it polls.
pub async fn start_bot(fake: &FakeTelegram, master: &Master, extra: &str) -> BotProcess {
    BotProcess::start_with_env(fake, &master.url, "", extra, &[("RUST_LOG", "info")]).await
}

/// The bot's SQLite file (next to its settings file).
pub fn storage_of(bot: &BotProcess) -> PathBuf {
    bot.settings_file().with_file_name("bot.sqlite")
}

/// Subscribes chats `first..first + count` to `finished` right in the bot's storage (the
/// bot is stopped meanwhile), as if each had sent `/notify on finished`.
pub async fn subscribe_in_storage(
    bot: BotProcess,
    fake: &FakeTelegram,
    first: i64,
    count: i64,
) -> BotProcess {
    let path = storage_of(&bot);
    bot.restart_after(fake, async move {
        let mut conn = rusqlite::Connection::open(&path).expect("open the bot's storage");
        let tx = conn.transaction().unwrap();
        for chat in first..first + count {
            tx.execute(
                "INSERT OR IGNORE INTO subscriptions (chat, event) VALUES (?1, 'finished')",
                [chat.to_string()],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    })
    .await
}

/// A private person with an id of their own (their chat has the same id).
pub fn person(id: i64) -> Person {
    Person {
        id,
        first_name: "Bench",
        username: "bench",
    }
}

/// Waits up to `limit` for a call after `mark` that satisfies `pred`; `None` when none came
/// (a figure is reported as missing rather than the whole run lost). The fake records when
/// each call arrived: polling here does not change what is measured.
pub async fn wait_call(
    fake: &FakeTelegram,
    mark: usize,
    limit: Duration,
    pred: impl Fn(&Call) -> bool,
) -> Option<Call> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(call) = fake.calls_since(mark).into_iter().find(&pred) {
            return Some(call);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How long a reply may take before it counts as missing.
pub const REPLY_LIMIT: Duration = Duration::from_secs(60);

/// Sends `text` as a new person and returns the time from queuing the update at the fake to
/// the bot's first sendMessage in that chat; `None` if none came within [`REPLY_LIMIT`].
pub async fn ask_timed(fake: &FakeTelegram, id: i64, text: &str) -> Option<Duration> {
    let mark = fake.mark();
    let queued = Instant::now();
    fake.private_message(&person(id), text);
    let reply = wait_call(fake, mark, REPLY_LIMIT, |c| {
        c.method == "sendmessage" && c.chat_id() == Some(id)
    })
    .await?;
    Some(reply.at.saturating_duration_since(queued))
}

/// `builds/N/finished` as the master's websocket announced it, and when it arrived.
#[derive(Debug)]
pub struct Finished {
    pub at: Instant,
    pub builderid: i64,
    pub number: i64,
}

/// A websocket listener of the benchmark's own on the master's `/ws`, subscribed to
/// `builds/*/*` as the bot is; every `builds/N/finished` comes out, timestamped on arrival.
pub async fn listen(master: &Master) -> mpsc::UnboundedReceiver<Finished> {
    let url = format!("{}ws", master.url.replacen("http", "ws", 1));
    let (mut socket, _) = tokio::time::timeout(
        Duration::from_secs(15),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("the master's websocket answers within 15 s")
    .expect("connect to the master's websocket");
    let frame = json!({"cmd": "startConsuming", "path": "builds/*/*", "_id": 1});
    socket.send(Message::text(frame.to_string())).await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (acked, ack) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut acked = Some(acked);
        while let Some(Ok(message)) = socket.next().await {
            let at = Instant::now();
            let Message::Text(text) = message else {
                continue;
            };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if frame["_id"] == 1 {
                acked.take().map(|a| a.send(()));
            }
            let key = frame["k"].as_str().unwrap_or_default();
            if key.starts_with("builds/") && key.ends_with("/finished") {
                let (builderid, number) = (
                    frame["m"]["builderid"].as_i64(),
                    frame["m"]["number"].as_i64(),
                );
                if let (Some(builderid), Some(number)) = (builderid, number) {
                    let _ = tx.send(Finished {
                        at,
                        builderid,
                        number,
                    });
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(15), ack)
        .await
        .expect("the master acknowledges the subscription within 15 s")
        .unwrap();
    rx
}

/// The next `finished` of `builderid` (up to 120 s).
pub async fn next_finished(
    events: &mut mpsc::UnboundedReceiver<Finished>,
    builderid: i64,
) -> Finished {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, events.recv())
            .await
            .expect("the build finished within 120 s")
            .expect("the benchmark's websocket is open");
        if event.builderid == builderid {
            return event;
        }
    }
}

/// Whether `call` is the message announcing build `number` of `builder`.
pub fn announces(call: &Call, builder: &str, number: i64) -> bool {
    call.method == "sendmessage"
        && call
            .text()
            .contains(&format!(">#{number}</a> of <b>{builder}</b>"))
}

/// Lines the bot's user agent left in the master's `http.log`: one per REST call served.
pub fn rest_calls(master: &Master) -> usize {
    let log = std::fs::read_to_string(master.dir.join("master/http.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("\"buildbot-telegram/"))
        .count()
}

/// A `/proc/PID/status` field in kB (VmRSS, VmHWM).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

/// utime + stime of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the command name may hold spaces: the fields start after its closing parenthesis
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// "p50 / p95 / max" of the samples in ms, and how many are missing if any.
pub fn spread(samples: Vec<Option<Duration>>, high: f64) -> String {
    let total = samples.len();
    let mut samples: Vec<Duration> = samples.into_iter().flatten().collect();
    samples.sort();
    let missing = match total - samples.len() {
        0 => String::new(),
        n => format!(
            " ({n} of {total} missing after {} s)",
            REPLY_LIMIT.as_secs()
        ),
    };
    format!(
        "{} / {} / {} ms{missing}",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, high)),
        ms(samples.last().copied().unwrap_or_default())
    )
}
