//! The live benchmark: `cargo bench --bench live` prints one markdown table of figures.
//!
//! Every clock starts where the user's does and stops where the user sees the result: the
//! real binary (release build, log level info) between a real Buildbot master and worker and
//! the tests' fake Bot API, on loopback, all from the end-to-end harness.
//! 1. A build finishing → its notification: from `builds/N/finished` arriving on a websocket
//!    of the benchmark's own on the master's `/ws` to the sendMessage announcing build N at
//!    the fake; 20 quick passing builds, then 20 failing ones (the message carries a log tail).
//! 2. `/status`, `/last`, `/list builders`: from the update queued at the fake to the reply's
//!    sendMessage, through getUpdates and the dispatcher; 50 each, every one from a person of
//!    their own; with the REST calls the master served per command (its `http.log`, the bot's
//!    user agent). On the tests' master, then on one with 200 more builders, 20 of them busy.
//! 3. A reply during a 1,000-chat fan-out under Telegram's limits (the fake answers 429 when
//!    they are broken): `/getid` from a new person every 400 ms; the fan-out's wall time
//!    against the 1000/30 s floor.
//! 4. Resident memory: idle; after 2,000 chats each sent `/notify on finished`; during a
//!    fan-out to 10,000 subscribed chats (limits raised: memory, not rate).
//! 5. CPU time of an idle bot over 60 s.
//! 6. The 1,000-chat fan-out from two replicas sharing PostgreSQL (the tests' server), then a
//!    SIGKILL of the active one: from the kill until the other logs that it is active.
//!
//! No figure is asserted: this reports, the README records.

// `cargo clippy --all-targets` builds this with cfg(test) and no harness: the support's own
// #[test]s vanish and leave their imports unused.
#[allow(dead_code, unused_imports)]
#[path = "../../tests/e2e/support/mod.rs"]
mod support;

mod common;
mod fanout;
mod latency;

use std::time::Duration;

use serde_json::json;

use common::{Row, cpu_seconds, mb, row, spread, start_bot, status_kib};
use support::bot::BotProcess;
use support::buildbot::{self, Master};
use support::fake_telegram::{ALICE, FakeTelegram};

/// Builders of the big master that are kept busy while its replies are measured.
const RUNNING: usize = 20;

#[tokio::main]
async fn main() {
    let mut rows: Vec<Row> = Vec::new();
    let master = buildbot::dedicated_with("bench", 0).await;
    let version = master_version(&master).await;
    report(&mut rows, tests_master(&master).await);
    eprintln!("live bench: replies during a fan-out");
    report(&mut rows, fanout::busy_replies(&master).await);
    eprintln!("live bench: memory with many chats");
    report(&mut rows, fanout::memory(&master).await);
    eprintln!("live bench: two replicas on PostgreSQL");
    report(&mut rows, fanout::two_replicas(&master).await);
    drop(master);

    eprintln!("live bench: a master with 200 more builders");
    let big = buildbot::dedicated_with("bench200", 200).await;
    keep_busy(&big).await;
    let fake = FakeTelegram::start_with_limits().await;
    let bot = start_bot(&fake, &big, "").await;
    let label = format!("200 builders, {RUNNING} running");
    report(
        &mut rows,
        latency::replies_rows(&fake, &big, &label, 3_000_000).await,
    );
    drop(bot);

    print_table(&version, rows);
}

/// Keeps `new` and shows it at once on stderr, so that a run cut short still tells.
fn report(rows: &mut Vec<Row>, new: Vec<Row>) {
    for (name, value, target) in &new {
        eprintln!("| {name} | {value} | {target} |");
    }
    rows.extend(new);
}

/// Idle figures, parts 1 and 2, on the tests' master (10 builders); one bot that sends
/// `finished` to Alice.
async fn tests_master(master: &Master) -> Vec<Row> {
    let fake = FakeTelegram::start_with_limits().await;
    // as Telegram does: an idle bot's long poll is held for its whole timeout
    fake.hold_long_polls(Duration::from_secs(120));
    let extra = format!(
        "[notify]\nchat_ids = [{}]\nevents = [\"finished\"]\n",
        ALICE.id
    );
    // and the bot's own long-poll timeout (the tests' 1 s would poll 60 times a minute)
    let bot = BotProcess::start_with_env(
        &fake,
        &master.url,
        "",
        &extra,
        &[("RUST_LOG", "info"), ("BBTG_TELEGRAM__POLL_TIMEOUT", "120")],
    )
    .await;
    let mut rows = Vec::new();
    tokio::time::sleep(Duration::from_secs(3)).await;
    rows.push(row(
        "RSS idle after start",
        mb(status_kib(bot.pid(), "VmRSS")),
        "≤ 20 MB",
    ));
    eprintln!("live bench: 60 s of idle CPU");
    let (before, polls) = (cpu_seconds(bot.pid()), fake.calls().len());
    tokio::time::sleep(Duration::from_secs(60)).await;
    let cpu = cpu_seconds(bot.pid()) - before;
    let calls = fake.calls()[polls..].len();
    rows.push(row(
        "CPU time of the idle bot over 60 s",
        format!("{cpu:.2} s"),
        "≤ 0.2 s",
    ));
    rows.push(row(
        "  calls to the Bot API meanwhile (long polls held up to 120 s)",
        calls.to_string(),
        "-",
    ));

    eprintln!("live bench: event → sendMessage");
    let success = latency::event_to_send(&fake, master, "runtests").await;
    rows.push(row(
        "`finished` event → sendMessage, success: p50 / p95 / max",
        spread(success, 0.95),
        "p50 ≤ 8, p95 ≤ 12 ms",
    ));
    let failure = latency::event_to_send(&fake, master, "failing").await;
    rows.push(row(
        "`finished` event → sendMessage, failure with log tail: p50 / p95 / max",
        spread(failure, 0.95),
        "p95 ≤ 40 ms",
    ));

    eprintln!("live bench: command replies");
    rows.extend(latency::replies_rows(&fake, master, "tests' master", 1_000_000).await);
    drop(bot);
    rows
}

/// Starts `RUNNING` builds that sleep an hour and waits until each has started.
async fn keep_busy(master: &Master) {
    let mut requests = Vec::new();
    for i in 0..RUNNING {
        let builder = format!("many-{i:03}");
        requests.push(master.force(&builder, json!({"sleep": "3600"})).await);
    }
    for request in requests {
        master.wait_build(request, false).await;
    }
}

/// The master's Buildbot version, from its `/config`.
async fn master_version(master: &Master) -> String {
    let config: serde_json::Value = match reqwest::get(format!("{}config", master.url)).await {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => return "unknown".into(),
    };
    config["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v[0] == "Buildbot")
        .and_then(|v| v[1].as_str())
        .unwrap_or("unknown")
        .to_owned()
}

fn print_table(version: &str, rows: Vec<Row>) {
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("\nLive benchmark, {date}, nproc {cores}, Buildbot {version}, loopback\n");
    println!("| figure | measured | target |\n|---|---|---|");
    for (name, value, target) in rows {
        println!("| {name} | {value} | {target} |");
    }
    println!(
        "\nNotes: each command comes from a person of their own, 50 ms apart (250 ms on the \
         200-builder master, whose replies are several messages long: the bot answers once a \
         second per chat and 30 a second overall); a reply is its first sendMessage. The idle \
         bot's long poll is held 120 s, as Telegram holds it. \
         REST calls are the master's http.log lines with the bot's user agent over the run, \
         background calls included. The 10,000-chat fan-out runs with \
         `telegram.limits.overall_per_second = 1000` and a fake that does not enforce limits: \
         it measures memory, not rate."
    );
}
