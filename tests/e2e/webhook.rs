//! Webhook mode: setWebhook with the secret and certificate, and Telegram's posts served by
//! the bot's own listener behind its guard: the secret checked before the body is read, the
//! body and the number of requests at once capped, and refusals logged at most once a minute.

use std::time::{Duration, Instant};

use crate::support::bot::{self, BotProcess};
use crate::support::buildbot;
use crate::support::closed_port;
use crate::support::fake_telegram::{ALICE, FakeTelegram, TOKEN};
use crate::support::webhook::{SECRET, Stalled, declared_post, update};

/// The bot in webhook mode on a free loopback port, with `keys` in `[telegram.webhook]` and
/// `telegram` in `[telegram]`; returns it with the port.
pub async fn start_webhook(
    fake: &FakeTelegram,
    master_url: &str,
    telegram: &str,
    keys: &str,
) -> (BotProcess, u16) {
    start_webhook_on(fake, master_url, "127.0.0.1", telegram, keys).await
}

/// Like [`start_webhook`], listening on `host`.
async fn start_webhook_on(
    fake: &FakeTelegram,
    master_url: &str,
    host: &str,
    telegram: &str,
    keys: &str,
) -> (BotProcess, u16) {
    let port = closed_port();
    let settings = format!(
        "use_webhook = true\n{telegram}\n[telegram.webhook]\nurl = \"https://127.0.0.1:8443/telegram\"\nlisten = \"{host}:{port}\"\nsecret_token = \"{SECRET}\"\n{keys}\n"
    );
    let bot = BotProcess::start_with_telegram(fake, master_url, &settings, "").await;
    (bot, port)
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/telegram")
}

async fn post(port: u16, secret: Option<&str>, id: i64) -> u16 {
    let mut request = reqwest::Client::new()
        .post(url(port))
        .json(&update(id, "/getid"));
    if let Some(secret) = secret {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn updates_arrive_through_the_webhook_with_the_secret_only() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let certificate = dir.path().join("cert.pem");
    std::fs::write(
        &certificate,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let telegram = format!("certificate = \"{}\"", certificate.display());
    let (bot, port) = start_webhook(&fake, &master.url, &telegram, "max_connections = 5\n").await;

    let set = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "setwebhook")
        .expect("setWebhook at start");
    assert_eq!(set.params["url"], "https://127.0.0.1:8443/telegram");
    assert_eq!(set.params["secret_token"], SECRET);
    assert_eq!(set.params["max_connections"], 5);
    assert_eq!(
        set.params["certificate"]["size"],
        std::fs::metadata(&certificate).unwrap().len(),
        "the certificate is uploaded: {}",
        set.params
    );
    assert!(
        !fake.calls().iter().any(|c| c.method == "getupdates"),
        "no polling in webhook mode"
    );

    assert_eq!(post(port, None, 1).await, 401, "without the secret");
    let wrong = "s3cret_Token-1-0123456788";
    assert_eq!(wrong.len(), SECRET.len());
    assert_eq!(post(port, Some(wrong), 2).await, 401, "a wrong secret");

    let mark = fake.mark();
    assert_eq!(post(port, Some(SECRET), 3).await, 200);
    let reply = fake.reply_in(mark, ALICE.id).await;
    assert_eq!(reply.text(), "Your ID is <code>111111</code>.");
    assert_eq!(
        fake.sent_since(0, "sendMessage", ALICE.id).len(),
        1,
        "the refused requests did nothing"
    );
    bot.wait_for_log("refused 2 webhook requests").await;
    assert!(
        !bot.log().contains(SECRET),
        "the secret stays out of the log"
    );
}

#[tokio::test]
async fn a_short_secret_stops_the_bot_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.toml");
    std::fs::write(
        &settings,
        "[telegram]\nuse_webhook = true\n[telegram.webhook]\nurl = \"https://ci.example.org/tg\"\nsecret_token = \"short_secret\"\n",
    )
    .unwrap();
    let output = tokio::task::spawn_blocking(move || {
        bot::command()
            .arg("--config")
            .arg(&settings)
            .env("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)
            .output()
            .unwrap()
    });
    let output = tokio::time::timeout(Duration::from_secs(20), output)
        .await
        .expect("the bot exits at once")
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{err}");
    assert!(
        err.contains("telegram.webhook.secret_token") && err.contains("16-256"),
        "{err}"
    );
    assert!(
        !err.contains("short_secret"),
        "the secret is not echoed: {err}"
    );
}

#[tokio::test]
async fn the_secret_is_checked_before_the_body_is_read() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let (_bot, port) = start_webhook(&fake, &master.url, "", "").await;
    // a body that never ends: teloxide alone would wait for it (and read up to 2 MB)
    let mut stranger = Stalled::open(port, None, b"{\"update_id\": 1,").await;
    let started = Instant::now();
    assert_eq!(stranger.status(Duration::from_secs(10)).await, Some(401));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered without waiting for the body ({:?})",
        started.elapsed()
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_the_next_update_served() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let (bot, port) = start_webhook(&fake, &master.url, "", "").await;
    assert_eq!(declared_post(port, SECRET, 2 << 20).await, Some(413));
    let mark = fake.mark();
    assert_eq!(post(port, Some(SECRET), 7).await, 200);
    let reply = fake.reply_in(mark, ALICE.id).await;
    assert_eq!(reply.text(), "Your ID is <code>111111</code>.");
    assert!(
        !bot.log().contains("without TLS"),
        "plain HTTP on loopback (behind a proxy) is no cause for a warning"
    );
}

#[tokio::test]
async fn plain_http_beyond_loopback_is_warned_about_once() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let (bot, port) = start_webhook_on(&fake, &master.url, "0.0.0.0", "", "").await;
    let line = bot.wait_for_log("without TLS").await;
    assert!(
        line.contains("WARN")
            && line.contains(&format!("0.0.0.0:{port}"))
            && line.contains("reverse proxy")
            && line.contains("tls_key"),
        "{line}"
    );
    let mark = fake.mark();
    assert_eq!(post(port, Some(SECRET), 1).await, 200);
    fake.reply_in(mark, ALICE.id).await;
    assert_eq!(bot.log().matches("without TLS").count(), 1);
}

#[tokio::test]
async fn requests_over_max_connections_are_answered_503() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let (_bot, port) = start_webhook(&fake, &master.url, "", "max_connections = 2\n").await;
    let body = update(10, "/getid").to_string();
    let (head, tail) = body.as_bytes().split_at(10);
    let mut requests = Vec::new();
    for _ in 0..3 {
        requests.push(Stalled::open(port, Some(SECRET), head).await);
    }
    // two hold the slots, waiting for their bodies; whichever came third is turned away
    let deadline = Instant::now() + Duration::from_secs(20);
    let busy = loop {
        let mut busy = None;
        for (i, request) in requests.iter_mut().enumerate() {
            if request.status(Duration::from_millis(100)).await == Some(503) {
                busy = Some(i);
            }
        }
        if let Some(i) = busy {
            break i;
        }
        assert!(Instant::now() < deadline, "no request was answered 503");
    };
    requests.remove(busy);
    let mark = fake.mark();
    for request in &mut requests {
        assert_eq!(request.status(Duration::from_millis(100)).await, None);
        request.finish(tail).await;
        assert_eq!(request.status(Duration::from_secs(10)).await, Some(200));
    }
    fake.reply_in(mark, ALICE.id).await;
    assert_eq!(
        post(port, Some(SECRET), 11).await,
        200,
        "the slots are free again"
    );
}

#[tokio::test]
async fn a_flood_of_refusals_is_one_log_line_with_its_count() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let (bot, port) = start_webhook(&fake, &master.url, "", "").await;
    let flood = (0..10).map(|batch| async move {
        for i in 0..10 {
            assert_eq!(post(port, None, batch * 10 + i).await, 401);
        }
    });
    futures::future::join_all(flood).await;

    // a slow machine may split the flood in two lines, a minute apart
    let counted = |log: &str| -> Vec<u64> {
        log.lines()
            .filter_map(|line| {
                line.split("refused ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while counted(&bot.log()).iter().sum::<u64>() < 100 {
        assert!(
            Instant::now() < deadline,
            "the refusals were not logged:\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = bot.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("refused ")).collect();
    assert!(lines.len() <= 2, "{lines:#?}");
    assert_eq!(counted(&log).iter().sum::<u64>(), 100, "{lines:#?}");
    assert!(
        lines[0].contains("WARN")
            && lines[0].contains("without the right secret token")
            && lines[0].contains(&format!("127.0.0.1:{port}")),
        "{lines:#?}"
    );
}

/// Whether the server closes `stream` without answering within `within` (it read nothing).
async fn closed_unanswered(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(within, stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection_nor_send_huge_headers() {
    use tokio::io::AsyncWriteExt;
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    // max_connections = 1: one address may hold 5 connections, all together 34
    let (_bot, port) = start_webhook(&fake, &master.url, "", "max_connections = 1\n").await;
    let connect = || tokio::net::TcpStream::connect(("127.0.0.1", port));
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(connect().await.unwrap());
    }
    let mut sixth = connect().await.unwrap();
    assert!(
        closed_unanswered(&mut sixth, Duration::from_secs(5)).await,
        "a sixth connection from one address is closed at once"
    );
    drop(idle.pop());
    // the server sees the close and gives the slot back
    let deadline = Instant::now() + Duration::from_secs(10);
    let posted = || async {
        reqwest::Client::new()
            .post(url(port))
            .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
            .json(&update(1, "/getid"))
            .send()
            .await
            .map(|answer| answer.status().as_u16())
    };
    while !matches!(posted().await, Ok(200)) {
        assert!(Instant::now() < deadline, "a slot given back is usable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(idle);

    let mut huge = connect().await.unwrap();
    let head = format!(
        "POST /telegram HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {}\r\n",
        "a".repeat(64 * 1024)
    );
    // the server may close before it has read all of it
    let _ = huge.write_all(head.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        huge.read_to_end(&mut answer).await
    })
    .await
    .expect("64 KiB of headers end the connection at once");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
}
