//! Starting and stopping: command-line flags, settings errors, Telegram's answers at start,
//! and the token kept out of the logs.

use std::time::{Duration, Instant};

use crate::support::bot::{self, BotProcess, check_with, run_to_exit, settings_file};
use crate::support::fake_telegram::{FakeTelegram, Fault, TOKEN};
use crate::support::{buildbot, closed_port};

#[test]
fn help_and_version_flags() {
    let (code, out, _) = run_to_exit(&["--help"], &[]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("--config <PATH>") && out.contains("BBTG_TELEGRAM__BOT_TOKEN"),
        "{out}"
    );
    let (code, out, _) = run_to_exit(&["--version"], &[]);
    assert_eq!(code, Some(0));
    let version = out.trim();
    assert!(
        version.starts_with(&format!(
            "buildbot-telegram {} (",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );
    let commit = version.rsplit('(').next().unwrap().trim_end_matches(')');
    assert!(
        commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "the git commit: {version}"
    );
}

#[test]
fn missing_token_fails_at_once_naming_the_key() {
    let file = settings_file("[buildbot]\nurl = \"http://127.0.0.1:9/\"\n");
    let started = Instant::now();
    let (code, _, err) = run_to_exit(&["--config", file.path().to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        err.contains("telegram.bot_token") && err.contains("BBTG_TELEGRAM__BOT_TOKEN"),
        "{err}"
    );
}

#[test]
fn bad_settings_name_key_value_and_allowed() {
    let cases = [
        (
            "[notify]\nevents = [\"explode\"]\n",
            &["notify.events", "explode", "started, finished"][..],
        ),
        (
            "[authz]\nforce = \"alice\"\n",
            &["authz.\"force\"", "alice", "list of numeric"][..],
        ),
        (
            "[buildbot]\nurl = \"not a url\"\n",
            &["buildbot.url", "not a url", "http://"][..],
        ),
        ("[telegram]\npoll_timout = 5\n", &["poll_timout"][..]),
    ];
    for (toml, expected) in cases {
        let file = settings_file(toml);
        let (code, _, err) = run_to_exit(
            &["--config", file.path().to_str().unwrap()],
            &[("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)],
        );
        assert_eq!(code, Some(2), "{toml}: {err}");
        for needle in expected {
            assert!(
                err.contains(needle),
                "{toml}: {needle:?} missing from {err}"
            );
        }
        assert!(
            !err.contains(TOKEN),
            "the token leaked into an error: {err}"
        );
    }
}

#[tokio::test]
async fn check_tries_every_link_and_says_what_to_fix() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("bot.sqlite");
    let good = settings_file(&format!(
        "[telegram]\napi_url = \"{}\"\n[buildbot]\nurl = \"{}\"\n[storage]\npath = \"{}\"\n",
        fake.url,
        master.url,
        storage.display()
    ));
    let (code, out, err) = check_with(good.path()).await;
    assert_eq!(code, Some(0), "{out}{err}");
    for line in [
        "ok    settings",
        "ok    telegram           the token belongs to @BuildbotTestBot",
        "ok    buildbot REST API  Buildbot 4.3.0",
        "ok    buildbot events    events arrive from ws://",
        "ok    storage",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }

    let bad = settings_file(&format!(
        "[telegram]\napi_url = \"{}\"\n[buildbot]\nurl = \"http://127.0.0.1:{}/\"\n[storage]\npath = \"{}\"\n",
        fake.url,
        closed_port(),
        storage.display()
    ));
    let (code, out, _) = check_with(bad.path()).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL  buildbot REST API") && out.contains("check buildbot.url"),
        "{out}"
    );
    assert!(out.contains("ok    telegram"), "{out}");
}

#[tokio::test]
async fn rejected_token_stops_with_a_clear_error() {
    let fake = FakeTelegram::start().await;
    fake.inject("getMe", Fault::api_error(401, "Unauthorized"));
    let file = settings_file(&format!("[telegram]\napi_url = \"{}\"\n", fake.url));
    let path = file.path().to_str().unwrap().to_owned();
    let (code, _, err) = tokio::task::spawn_blocking(move || {
        run_to_exit(&["--config", &path], &[("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("rejected telegram.bot_token"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
}

#[tokio::test]
async fn registers_commands_polls_and_stops_on_sigterm() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let bot = BotProcess::start(&fake, &master.url, "").await;
    // the first poll is answered (after 1 s at most: nothing is waiting)
    fake.wait_for(0, "getUpdates", |_| true).await;
    let calls = fake.calls();
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods.first(), Some(&"getme"), "{methods:?}");
    let commands = calls
        .iter()
        .find(|c| c.method == "setmycommands")
        .expect("setMyCommands at start");
    let names: Vec<&str> = commands.params["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "commands", "flaky", "force", "getid", "hello", "help", "last", "list", "mute", "nay",
            "notify", "shutdown", "source", "status", "stop", "unmute", "version", "watch"
        ]
    );
    let polls: Vec<_> = calls.iter().filter(|c| c.method == "getupdates").collect();
    assert_eq!(
        polls[0].params["timeout"], 1,
        "poll_timeout from the settings"
    );
    assert!(bot.log().contains("started as @BuildbotTestBot"));
    assert!(bot.terminate().await, "SIGTERM ends the bot with success");
}

#[tokio::test]
async fn sigterm_while_the_dispatcher_starts_is_not_lost() {
    // teloxide's dispatcher asks getMe itself before it takes a stop request: hold that
    // second getMe, and send SIGTERM while it waits.
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    fake.inject("getMe", Fault::delay(Duration::ZERO));
    fake.inject("getMe", Fault::delay(Duration::from_secs(3)));
    let bot = BotProcess::spawn(&fake, &master.url);
    let deadline = Instant::now() + Duration::from_secs(30);
    // logged right before the dispatcher starts (and asks getMe)
    while !bot.log().contains("receiving updates by long polling") {
        assert!(Instant::now() < deadline, "no start:\n{}", bot.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !fake.calls().iter().any(|c| c.method == "getupdates"),
        "the dispatcher is already polling: the window was missed"
    );
    assert!(
        bot.terminate().await,
        "SIGTERM is honoured while the dispatcher starts"
    );
}

#[tokio::test]
async fn sigint_stops_the_bot_even_while_telegram_cannot_be_reached() {
    // Waiting 30 s between tries to reach Telegram: the stop must not wait for the next try.
    let port = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let file = settings_file(&format!(
        "[telegram]\napi_url = \"http://127.0.0.1:{port}\"\nretry_delay = 30\n"
    ));
    let log_path = dir.path().join("log");
    let mut child = bot::command()
        .arg("--config")
        .arg(file.path())
        .env("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log().contains("cannot reach Telegram") {
        assert!(Instant::now() < deadline, "no outage reported:\n{}", log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("SIGINT did not stop the bot:\n{}", log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}:\n{}", log());
    assert!(log().contains("SIGINT received, stopping"), "{}", log());
}

#[tokio::test]
async fn token_never_reaches_the_log_even_at_trace() {
    // Telegram unreachable: every failed request's error carries the URL, token included.
    let port = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let file = settings_file(&format!(
        "[telegram]\napi_url = \"http://127.0.0.1:{port}\"\nretry_delay = 1\n"
    ));
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut child = bot::command()
        .arg("--config")
        .arg(file.path())
        .env("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)
        .env("RUST_LOG", "trace")
        .stderr(log)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(log.contains("cannot reach Telegram"), "{log}");
    assert!(log.contains("/GetMe"), "the failing URL is logged: {log}");
    let secret = TOKEN.split_once(':').unwrap().1;
    assert!(!log.contains(secret), "the token leaked:\n{log}");
}

#[test]
fn unusable_storage_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("bot.sqlite");
    std::fs::write(
        &garbage,
        "not a database, but long enough to look like one to SQLite",
    )
    .unwrap();
    let file = settings_file(&format!("[storage]\npath = \"{}\"\n", garbage.display()));
    let (code, _, err) = run_to_exit(
        &["--config", file.path().to_str().unwrap()],
        &[("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("not a usable SQLite database") && err.contains("bot.sqlite"),
        "{err}"
    );

    let file = settings_file("[storage]\nurl = \"/nonexistent-dir/bot.sqlite\"\n");
    let (code, _, err) = run_to_exit(
        &["--config", file.path().to_str().unwrap()],
        &[("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("storage.url"), "{err}");
}
