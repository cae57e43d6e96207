//! The morning digest (`notify.quiet_hours_mode = "digest"`): in the quiet hours no build is
//! announced one by one; when the window ends every subscribed chat gets one summary of the
//! night, with buttons to the failed builds. The results wait in the storage, so a SIGKILL in
//! the middle of the night loses none, and a digest is sent once, not again at the next start.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::bot::BotProcess;
use crate::support::buildbot::{self, Master};
use crate::support::fake_telegram::{ALICE, BOB, CAROL, Call, FakeTelegram};

/// A group that gets notifications from the settings, beside Alice's private chat.
const GROUP: i64 = -5401;
/// How long the quiet hours last from the bot's start: room for four builds and a restart.
const WINDOW: u64 = 25;

fn epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// "HH:MM:SS" (UTC) of an epoch time.
fn time_of_day(epoch: u64) -> String {
    let s = epoch % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// The page of a build the master returned, as the bot links it.
fn page(master: &Master, build: &Value) -> String {
    format!(
        "{}#/builders/{}/builds/{}",
        master.url, build["builderid"], build["number"]
    )
}

/// The digests sent to `chat` since `mark`.
fn digests(fake: &FakeTelegram, mark: usize, chat: i64) -> Vec<Call> {
    fake.sent_since(mark, "sendMessage", chat)
        .into_iter()
        .filter(|c| c.text().starts_with("🌙"))
        .collect()
}

/// How often the digest timer looked at what waits: found nothing, or sent digests.
fn looks(bot: &BotProcess) -> usize {
    let log = bot.log();
    log.matches("no build results wait for a digest").count() + log.matches("digest for ").count()
}

/// Waits (up to 60 s) until the digest timer looked more than `before` times.
async fn wait_for_a_look(bot: &BotProcess, before: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while looks(bot) <= before {
        assert!(
            Instant::now() < deadline,
            "the digest timer did not look within 60 s:\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_night_ends_in_one_digest_per_chat_even_across_a_kill() {
    let master = buildbot::dedicated("digest").await;
    let fake = FakeTelegram::start().await;
    let start = epoch();
    let end = start + WINDOW;
    let settings = format!(
        "[notify]\nchat_ids = [{}, {GROUP}]\nevents = [\"started\", \"finished\"]\nquiet_hours = \"{}-{}\"\nquiet_hours_mode = \"digest\"\n",
        ALICE.id,
        time_of_day(start - 60),
        time_of_day(end)
    );
    let bot = BotProcess::start(&fake, &master.url, &settings).await;
    // Carol hears failures only: her digest tells the whole night all the same (the passes
    // say when it went red); Bob hears cancelled builds only: there were none, no digest
    fake.ask(&CAROL, "/notify on failure").await;
    fake.ask(&BOB, "/notify on cancelled").await;
    let mark = fake.mark();

    let ok = master.build("runtests").await;
    let red = master.build("failing").await;
    // a SIGKILL in the middle of the night: what was kept is in the storage
    let bot = bot.kill_and_restart(&fake).await;
    let again = master.build("failing").await;
    master.build("runtests").await;
    let builds_done = epoch();
    assert!(
        builds_done < end,
        "the builds took {} s, longer than the window ({WINDOW} s): raise WINDOW",
        builds_done - start
    );
    for chat in [ALICE.id, GROUP] {
        let sent = fake.sent_since(mark, "sendMessage", chat);
        assert!(
            sent.is_empty(),
            "nothing one by one in the quiet hours, not even starts: {sent:?}"
        );
    }

    let digest = wait_for_the_digests(&fake, mark, end).await;
    assert_the_night(
        &master,
        &digest,
        &red,
        &again,
        ok["number"].as_i64().unwrap(),
    );
    let group = &digests(&fake, mark, GROUP)[0];
    assert_eq!(
        group.text(),
        digest.text(),
        "the group heard of the same builds"
    );
    let carol = fake
        .wait_for(mark, "sendMessage", |c| {
            c.chat_id() == Some(CAROL.id) && c.text().starts_with("🌙")
        })
        .await;
    assert_eq!(carol.text(), digest.text(), "failures only, the same night");

    // a start after the night finds nothing left to send: no second digest
    let before = looks(&bot);
    // (SIGTERM: a SIGKILL just after a send may repeat it, as the outbox says; not a digest's doing)
    let bot = bot.restart_after(&fake, async {}).await;
    wait_for_a_look(&bot, before).await;
    fake.ask(&BOB, "/hello").await; // the outbox had its chance to send anything queued
    assert_eq!(
        bot.log()
            .matches("digest for 3 chat(s): 4 build(s)")
            .count(),
        1,
        "{}",
        bot.log()
    );
    for chat in [ALICE.id, GROUP, CAROL.id] {
        let sent = fake.sent_since(mark, "sendMessage", chat);
        assert_eq!(sent.len(), 1, "one message in all, the digest: {sent:?}");
    }
    assert!(
        digests(&fake, mark, BOB.id).is_empty(),
        "Bob asked for none"
    );
}

/// Waits for the window's `end`, failing on a digest before it, then for both chats' digests;
/// returns Alice's.
async fn wait_for_the_digests(fake: &FakeTelegram, mark: usize, end: u64) -> Call {
    loop {
        // read before the clock: a digest seen here came before the time read after it
        let early = digests(fake, mark, ALICE.id);
        if epoch() >= end {
            break;
        }
        assert!(early.is_empty(), "a digest before the end: {early:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for chat in [GROUP, ALICE.id] {
        fake.wait_for(mark, "sendMessage", |c| {
            c.chat_id() == Some(chat) && c.text().starts_with("🌙")
        })
        .await;
    }
    digests(fake, mark, ALICE.id).remove(0)
}

/// Two runs of runtests (the first numbered `ok`) and two failures of `failing`: the counts,
/// every build named, the red builder with links to both failures, and a sound, since the
/// night is over.
fn assert_the_night(master: &Master, digest: &Call, red: &Value, again: &Value, ok: i64) {
    let text = digest.text();
    assert!(
        text.starts_with("🌙 Overnight: 4 builds, 2 failed — <b>failing</b> red since "),
        "{text}"
    );
    let failed_line = format!(
        "❌ <b>failing</b>: 2 builds (#{}–#{}), 2 failed (<a href=\"{}\">#{}</a>, <a href=\"{}\">#{}</a>), red since ",
        red["number"],
        again["number"],
        page(master, red),
        red["number"],
        page(master, again),
        again["number"]
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with(&failed_line), "{text}");
    let runtests = format!("✅ <b>runtests</b>: 2 builds (#{ok}–#{})", ok + 1);
    assert_eq!(lines[2], runtests, "{text}");
    assert!(
        digest
            .params
            .get("disable_notification")
            .is_none_or(|v| v == false),
        "the night is over: the digest makes a sound"
    );
    assert_failed_builds_are_buttons(master, digest, &[red, again]);
}

/// URL buttons to the failed builds, two a row, where Telegram takes them: a master whose
/// host has a dot. On `localhost` they are links in the text only.
fn assert_failed_builds_are_buttons(master: &Master, digest: &Call, failed: &[&Value]) {
    let buttons = digest.url_buttons();
    let host_has_dot = reqwest::Url::parse(&master.url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.contains('.')))
        .unwrap_or(false);
    let expected: Vec<(String, String)> = if host_has_dot {
        failed
            .iter()
            .map(|b| (format!("❌ failing #{}", b["number"]), page(master, b)))
            .collect()
    } else {
        Vec::new()
    };
    assert_eq!(buttons, expected, "{}", digest.params);
}
