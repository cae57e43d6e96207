//! Delivery benchmark: `cargo bench --bench delivery` prints a table of figures.
//!
//! Everything runs against the fake Bot API server from the tests, with Telegram's limits
//! enforced (it answers 429 whenever they are broken), on loopback:
//! 1. fan-out of one notification to 1,000 private chats through the outbox: wall time, ratio
//!    to the 1000/30 s floor, 429s received, messages lost;
//! 2. latency from a notification entering the outbox to its sendMessage arriving, with no
//!    rate pressure (p50/p95/p99 over 1,000 notifications);
//! 3. latency of command replies while a 1,000-chat fan-out runs (p99);
//! 4. resident memory of the real binary, idle and with 100,000 subscriptions in storage.
//!
//! No figure is asserted: this reports, the README records.

#[allow(dead_code)]
#[path = "../tests/e2e/support/fake_telegram.rs"]
mod fake_telegram;

use std::time::{Duration, Instant};

use buildbot_telegram::delivery::outbox::Outbox;
use buildbot_telegram::delivery::{Delivery, Notification, Outgoing};
use buildbot_telegram::settings::Limits;
use buildbot_telegram::shutdown::Shutdown;
use buildbot_telegram::storage::{Chat, Store};
use fake_telegram::{FakeTelegram, TOKEN};
use teloxide::Bot;
use teloxide::types::ChatId;

const FAN_OUT: i64 = 1000;
const FIRST_CHAT: i64 = 5_000_000;

fn bot(fake: &FakeTelegram) -> Bot {
    Bot::new(TOKEN).set_api_url(fake.url.parse().unwrap())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Chats that received `needle`, counted once each, and when the last of them arrived.
fn arrivals(fake: &FakeTelegram, needle: &str) -> (usize, Option<Instant>) {
    let mut chats = std::collections::HashSet::new();
    let mut last = None;
    for call in fake.calls() {
        if call.method == "sendmessage"
            && call.result["message_id"].is_i64()
            && call.text().contains(needle)
        {
            chats.insert(call.chat_id());
            last = Some(call.at);
        }
    }
    (chats.len(), last)
}

async fn fan_out(fake: &FakeTelegram, outbox: &Outbox, needle: &str) -> Instant {
    let chats: Vec<Chat> = (FIRST_CHAT..FIRST_CHAT + FAN_OUT).map(Chat::Id).collect();
    let started = Instant::now();
    outbox
        .enqueue(&chats, &Notification::new(needle, vec![]))
        .await
        .unwrap();
    let deadline = started + Duration::from_secs(120);
    while arrivals(fake, needle).0 < FAN_OUT as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Starts the release binary on `storage`, waits until it polls, and reads its memory.
async fn binary_rss(storage: &std::path::Path) -> u64 {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.toml");
    std::fs::write(
        &settings,
        format!(
            "[telegram]\napi_url = \"{}\"\npoll_timeout = 1\n[buildbot]\nurl = \"http://127.0.0.1:9/\"\n[storage]\npath = \"{}\"\n",
            fake.url,
            storage.display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_buildbot-telegram"))
        .arg("--config")
        .arg(&settings)
        .env("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fake.calls().iter().any(|c| c.method == "getupdates") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    rss
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // 1. Fan-out to 1,000 chats.
    {
        let fake = FakeTelegram::start_with_limits().await;
        let store = Store::open(dir.path().join("fanout.sqlite").to_str().unwrap()).unwrap();
        let delivery = Delivery::new(bot(&fake), Limits::default());
        let (outbox, _worker) = Outbox::start(
            store,
            delivery,
            Duration::from_secs(3600),
            None,
            Shutdown::new(),
        );
        let started = fan_out(&fake, &outbox, "fan-out one").await;
        let (delivered, last) = arrivals(&fake, "fan-out one");
        let wall = last.map_or(Duration::ZERO, |l| l.duration_since(started));
        let floor = Duration::from_secs_f64(FAN_OUT as f64 / 30.0);
        rows.push((
            "fan-out 1,000 chats: wall time".into(),
            format!("{:.1} s", wall.as_secs_f64()),
            "-".into(),
        ));
        rows.push((
            "  ratio to the 1000/30 s floor".into(),
            format!("{:.3}", wall.as_secs_f64() / floor.as_secs_f64()),
            "≤ 1.05".into(),
        ));
        rows.push((
            "  429 answers received".into(),
            fake.throttled().to_string(),
            "0".into(),
        ));
        rows.push((
            "  messages lost".into(),
            (FAN_OUT as usize - delivered).to_string(),
            "0".into(),
        ));
    }

    // 2. Latency from the outbox to Telegram, without rate pressure.
    {
        let fake = FakeTelegram::start_with_limits().await;
        let store = Store::open(dir.path().join("latency.sqlite").to_str().unwrap()).unwrap();
        let delivery = Delivery::new(bot(&fake), Limits::default());
        let (outbox, _worker) = Outbox::start(
            store,
            delivery,
            Duration::from_secs(3600),
            None,
            Shutdown::new(),
        );
        let mut latencies = Vec::new();
        for i in 0..1000 {
            let needle = format!("latency {i}");
            let mark = fake.mark();
            let sent = Instant::now();
            outbox
                .enqueue(
                    &[Chat::Id(FIRST_CHAT + i)],
                    &Notification::new(needle.clone(), vec![]),
                )
                .await
                .unwrap();
            let call = fake
                .wait_for(mark, "sendMessage", |c| c.text() == needle)
                .await;
            latencies.push(call.at.duration_since(sent));
            // stay well under 30/s: no pressure
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        latencies.sort();
        rows.push((
            "notification → sendMessage p50".into(),
            ms(percentile(&latencies, 0.50)),
            "-".into(),
        ));
        rows.push((
            "notification → sendMessage p95".into(),
            ms(percentile(&latencies, 0.95)),
            "≤ 10 ms".into(),
        ));
        rows.push((
            "notification → sendMessage p99".into(),
            ms(percentile(&latencies, 0.99)),
            "-".into(),
        ));
    }

    // 3. Replies while a fan-out runs.
    {
        let fake = FakeTelegram::start_with_limits().await;
        let store = Store::open(dir.path().join("busy.sqlite").to_str().unwrap()).unwrap();
        let delivery = Delivery::new(bot(&fake), Limits::default());
        let (outbox, _worker) = Outbox::start(
            store,
            delivery.clone(),
            Duration::from_secs(3600),
            None,
            Shutdown::new(),
        );
        let chats: Vec<Chat> = (FIRST_CHAT..FIRST_CHAT + FAN_OUT).map(Chat::Id).collect();
        outbox
            .enqueue(&chats, &Notification::new("busy fan-out", vec![]))
            .await
            .unwrap();
        let mut latencies = Vec::new();
        for i in 0..60 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let sent = Instant::now();
            delivery
                .send(
                    ChatId(9_000_000 + i),
                    None,
                    Outgoing::text(format!("reply {i}")),
                )
                .await
                .unwrap();
            latencies.push(sent.elapsed());
        }
        latencies.sort();
        rows.push((
            "reply during a 1,000-chat fan-out p50".into(),
            ms(percentile(&latencies, 0.50)),
            "-".into(),
        ));
        rows.push((
            "reply during a 1,000-chat fan-out p99".into(),
            ms(percentile(&latencies, 0.99)),
            "≤ 1.5 s".into(),
        ));
        rows.push((
            "  429 answers received".into(),
            fake.throttled().to_string(),
            "0".into(),
        ));
    }

    // 4. Memory of the real binary.
    {
        let idle = dir.path().join("idle.sqlite");
        Store::open(idle.to_str().unwrap()).unwrap();
        let full = dir.path().join("full.sqlite");
        Store::open(full.to_str().unwrap()).unwrap();
        let mut conn = rusqlite::Connection::open(&full).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..100_000i64 {
            tx.execute(
                "INSERT INTO subscriptions (chat, event) VALUES (?1, 'finished')",
                [FIRST_CHAT + i],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        drop(conn);
        rows.push((
            "resident memory, idle".into(),
            format!("{:.1} MB", binary_rss(&idle).await as f64 / 1024.0),
            "≤ 20 MB".into(),
        ));
        rows.push((
            "resident memory, 100,000 subscriptions".into(),
            format!("{:.1} MB", binary_rss(&full).await as f64 / 1024.0),
            "≤ 64 MB".into(),
        ));
    }

    println!("\n| figure | measured | target |\n|---|---|---|");
    for (name, value, target) in rows {
        println!("| {name} | {value} | {target} |");
    }
}
