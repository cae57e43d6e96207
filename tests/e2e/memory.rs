//! What chats that talked once cost: 2,000 private chats each send `/notify on finished`
//! once, and the bot's resident memory is read from `/proc` before, after, and at its peak.
//!
//! A measurement, not a benchmark: it prints its figures (run with `--nocapture` to read
//! them) and asserts only bounds far from them, so that a leak that grows with chats fails
//! while a busy machine does not. `--features dhat-heap` shows where the memory goes (the
//! report, dhat-heap.json, is written when the bot stops, at the end of the test).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::bot_on_shared_master;
use crate::support::fake_telegram::Person;

const CHATS: i64 = 2_000;
/// What the 2,000 chats may add to the bot's memory: far above what they cost (about 11 MB,
/// debug or release), far below the 55-66 MB a worker per chat cost.
const GROWTH_AT_MOST_KB: u64 = 40 * 1024;
/// Threads at most: the blocking pool used to fill up (515 threads) with storage callers
/// waiting for the connection; a few are expected now.
const THREADS_AT_MOST: u64 = 64;

#[tokio::test]
async fn chats_that_talked_once_cost_little_memory() {
    let (fake, bot, _master) = bot_on_shared_master().await;
    // the start is over when the bot answers
    let alice = crate::support::fake_telegram::ALICE;
    fake.ask(&alice, "/hello").await;
    let idle = memory(bot.pid());

    let mark = fake.mark();
    for n in 0..CHATS {
        let person = Person {
            id: 50_000_000 + n,
            first_name: "User",
            username: "user",
        };
        fake.private_message(&person, "/notify on finished");
    }
    // every reply at Telegram's pace (30 a second): about 70 s
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut threads = 0;
    loop {
        threads = threads.max(memory(bot.pid()).threads);
        let answered: HashSet<i64> = fake
            .calls()
            .iter()
            .skip(mark)
            .filter(|c| c.method == "sendmessage")
            .filter_map(|c| c.chat_id())
            .filter(|chat| *chat >= 50_000_000)
            .collect();
        if answered.len() as i64 == CHATS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {CHATS} chats were answered within 180 s",
            answered.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after = memory(bot.pid());
    // and once what the burst left behind had a moment to go
    fake.ask(&alice, "/hello").await;
    let settled = memory(bot.pid());

    println!(
        "memory: idle {} kB, {} threads; after {CHATS} chats {} kB (peak {} kB, up to {threads} threads); \
         after one more answer {} kB",
        idle.rss_kb, idle.threads, after.rss_kb, after.peak_kb, settled.rss_kb
    );
    assert!(
        settled.rss_kb.saturating_sub(idle.rss_kb) < GROWTH_AT_MOST_KB,
        "{CHATS} chats that talked once took the bot from {} kB to {} kB",
        idle.rss_kb,
        settled.rss_kb
    );
    assert!(
        threads <= THREADS_AT_MOST,
        "{threads} threads while answering {CHATS} chats"
    );
    // a clean stop, so that a profiling build (`--features dhat-heap`) writes its report
    assert!(bot.terminate().await, "the bot stops cleanly");
}

struct Memory {
    rss_kb: u64,
    peak_kb: u64,
    threads: u64,
}

/// VmRSS, VmHWM and Threads of a process, from `/proc/PID/status`.
fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    Memory {
        rss_kb: field("VmRSS:"),
        peak_kb: field("VmHWM:"),
        threads: field("Threads:"),
    }
}
