//! The real `buildbot-telegram` binary, started against a fake Telegram and a Buildbot URL.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::fake_telegram::{FakeTelegram, TOKEN};

/// Extra keys for the sections the harness writes itself.
#[derive(Default)]
struct Sections<'a> {
    telegram: &'a str,
    buildbot: &'a str,
    /// `storage.url`, when not the bot's own SQLite file.
    storage_url: Option<&'a str>,
}

/// The running binary. What it writes is kept: stderr (the log) in `bot.log`, stdout in
/// `bot.stdout`, both in its own directory.
pub struct BotProcess {
    child: Child,
    dir: tempfile::TempDir,
    /// Environment variables beyond the token, given again at every restart.
    env: Vec<(String, String)>,
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_buildbot-telegram"))
}

/// The binary as a command that inherits none of the test run's `BBTG_*` variables: the bot
/// reads them as settings, so the harness's own `BBTG_BUILDBOT_VENV` would stop it at start
/// ("unknown field `buildbot_venv`"), and a developer's would change what the tests check.
pub fn command() -> Command {
    let mut command = Command::new(binary());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BBTG_") {
            command.env_remove(name);
        }
    }
    command
}

impl BotProcess {
    /// Starts the bot with a settings file pointing at `fake` and `buildbot_url`, plus
    /// `extra` TOML (e.g. an `[authz]` table); waits until it polls for updates.
    pub async fn start(fake: &FakeTelegram, buildbot_url: &str, extra: &str) -> BotProcess {
        BotProcess::start_with(fake, buildbot_url, "", extra).await
    }

    /// Like [`BotProcess::start`], with more keys for the `[buildbot]` section.
    pub async fn start_with(
        fake: &FakeTelegram,
        buildbot_url: &str,
        buildbot_keys: &str,
        extra: &str,
    ) -> BotProcess {
        BotProcess::launch(
            fake,
            buildbot_url,
            Sections {
                buildbot: buildbot_keys,
                ..Sections::default()
            },
            extra,
        )
        .await
    }

    /// Like [`BotProcess::start`], with more keys for the `[telegram]` section.
    pub async fn start_with_telegram(
        fake: &FakeTelegram,
        buildbot_url: &str,
        telegram_keys: &str,
        extra: &str,
    ) -> BotProcess {
        BotProcess::launch(
            fake,
            buildbot_url,
            Sections {
                telegram: telegram_keys,
                ..Sections::default()
            },
            extra,
        )
        .await
    }

    /// Like [`BotProcess::start_with`], with more environment variables (e.g. a
    /// `BBTG_BUILDBOT__PASSWORD`).
    pub async fn start_with_env(
        fake: &FakeTelegram,
        buildbot_url: &str,
        buildbot_keys: &str,
        extra: &str,
        env: &[(&str, &str)],
    ) -> BotProcess {
        let sections = Sections {
            buildbot: buildbot_keys,
            ..Sections::default()
        };
        let dir = write_settings(fake, buildbot_url, sections, extra);
        let env = owned(env);
        let since = Since::now(fake);
        let child = spawn(&dir, &env);
        let mut bot = BotProcess { child, dir, env };
        bot.wait_until_polling(fake, since).await;
        bot
    }

    /// One replica of several sharing the PostgreSQL database `storage_url`, with more keys
    /// for `[telegram]`; waits until it is the active one or waits to become it.
    pub async fn start_replica(
        fake: &FakeTelegram,
        buildbot_url: &str,
        storage_url: &str,
        telegram_keys: &str,
        extra: &str,
    ) -> BotProcess {
        BotProcess::start_replica_with_env(
            fake,
            buildbot_url,
            storage_url,
            telegram_keys,
            extra,
            &[],
        )
        .await
    }

    /// Like [`BotProcess::start_replica`], with more environment variables (e.g. `RUST_LOG`).
    pub async fn start_replica_with_env(
        fake: &FakeTelegram,
        buildbot_url: &str,
        storage_url: &str,
        telegram_keys: &str,
        extra: &str,
        env: &[(&str, &str)],
    ) -> BotProcess {
        let sections = Sections {
            telegram: telegram_keys,
            storage_url: Some(storage_url),
            ..Sections::default()
        };
        let dir = write_settings(fake, buildbot_url, sections, extra);
        let env = owned(env);
        let child = spawn(&dir, &env);
        let bot = BotProcess { child, dir, env };
        bot.wait_for_log("waiting to become the active one").await;
        bot
    }

    /// Starts the bot like [`BotProcess::start`] without waiting for anything.
    pub fn spawn(fake: &FakeTelegram, buildbot_url: &str) -> BotProcess {
        BotProcess::write_and_spawn(fake, buildbot_url, Sections::default(), "")
    }

    async fn launch(
        fake: &FakeTelegram,
        buildbot_url: &str,
        sections: Sections<'_>,
        extra: &str,
    ) -> BotProcess {
        let since = Since::now(fake);
        let mut bot = BotProcess::write_and_spawn(fake, buildbot_url, sections, extra);
        bot.wait_until_polling(fake, since).await;
        bot
    }

    fn write_and_spawn(
        fake: &FakeTelegram,
        buildbot_url: &str,
        sections: Sections<'_>,
        extra: &str,
    ) -> BotProcess {
        let dir = write_settings(fake, buildbot_url, sections, extra);
        let child = spawn(&dir, &[]);
        BotProcess {
            child,
            dir,
            env: Vec::new(),
        }
    }

    /// The process id, for reading its memory and CPU time from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the bot polls Telegram (a poll arrived, answered or held) or sets its
    /// webhook, `since` then.
    async fn wait_until_polling(&mut self, fake: &FakeTelegram, since: Since) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while fake.polls() == since.polls
            && !fake
                .calls()
                .iter()
                .skip(since.calls)
                .any(|c| c.method == "setwebhook")
        {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the bot exited at start ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the bot did not start polling:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the bot with SIGTERM, runs `meanwhile`, and starts the bot again with the same
    /// settings and storage.
    pub async fn restart_after(
        mut self,
        fake: &FakeTelegram,
        meanwhile: impl std::future::Future<Output = ()>,
    ) -> BotProcess {
        assert!(self.stop().await, "the bot stops cleanly on SIGTERM");
        meanwhile.await;
        let since = Since::now(fake);
        self.child = spawn(&self.dir, &self.env);
        self.wait_until_polling(fake, since).await;
        self
    }

    /// Kills the bot with SIGKILL (no chance to finish anything) and starts it again with the
    /// same settings and storage.
    pub async fn kill_and_restart(mut self, fake: &FakeTelegram) -> BotProcess {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let since = Since::now(fake);
        self.child = spawn(&self.dir, &self.env);
        self.wait_until_polling(fake, since).await;
        self
    }

    /// Kills the bot with SIGKILL, as a machine that dies would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The settings file the bot reads at each start: a test edits it between restarts.
    pub fn settings_file(&self) -> PathBuf {
        self.dir.path().join("settings.toml")
    }

    /// Everything the bot logged so far (it runs with RUST_LOG=trace).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bot.log")).unwrap_or_default()
    }

    /// Everything the bot wrote so far, on stdout and stderr.
    pub fn output(&self) -> String {
        let stdout = std::fs::read_to_string(self.dir.path().join("bot.stdout"));
        format!("{}{}", self.log(), stdout.unwrap_or_default())
    }

    /// Fails unless none of `secrets` was ever written by the bot, on stdout or stderr.
    pub fn assert_never_wrote(&self, secrets: &[&str]) {
        assert_no_secrets("the bot's output", &self.output(), secrets);
    }

    /// Waits (up to 60 s) until the bot logged a line with `needle`; returns the line.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "the bot did not log {needle:?} within 60 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to end; returns whether it exited cleanly.
    pub async fn terminate(mut self) -> bool {
        self.stop().await
    }

    async fn stop(&mut self) -> bool {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Starts the binary on the settings in `dir`, appending its stderr (the log) and stdout to
/// files there.
fn spawn(dir: &tempfile::TempDir, env: &[(String, String)]) -> Child {
    let append = |name: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join(name))
            .unwrap()
    };
    command()
        .arg("--config")
        .arg(dir.path().join("settings.toml"))
        .env("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)
        .env("RUST_LOG", "trace")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(append("bot.stdout"))
        .stderr(append("bot.log"))
        .spawn()
        .unwrap()
}

/// Fails if `text` (what `what` wrote) holds any of `secrets`, saying which.
pub fn assert_no_secrets(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what} holds the secret {secret:?}:\n{text}"
        );
    }
}

/// The token and the part of it after `:`, which alone is enough to use it.
pub fn token_secrets() -> [&'static str; 2] {
    [TOKEN, TOKEN.split_once(':').unwrap().1]
}

/// Every secret the harness hands a bot: the token (both ways), the login master's password
/// and the webhook tests' secret. No bot of any test may ever write one of them.
pub fn harness_secrets() -> [&'static str; 4] {
    let [token, part] = token_secrets();
    [
        token,
        part,
        super::buildbot::LOGIN.1,
        super::webhook::SECRET,
    ]
}

/// Runs the binary to its end (at most 20 s) with a clean environment: exit code, stdout,
/// stderr.
pub fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the binary did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `buildbot-telegram --check --config <settings>` with the tests' token in the environment,
/// run to its end off the async runtime: exit code, stdout, stderr.
pub async fn check_with(settings: &std::path::Path) -> (Option<i32>, String, String) {
    let path = settings.to_str().unwrap().to_owned();
    tokio::task::spawn_blocking(move || {
        run_to_exit(
            &["--check", "--config", &path],
            &[("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)],
        )
    })
    .await
    .unwrap()
}

/// A settings file holding `toml`, removed when dropped.
pub fn settings_file(toml: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(file.path(), toml).unwrap();
    file
}

/// What the fake had seen before a bot was started.
#[derive(Clone, Copy)]
struct Since {
    calls: usize,
    polls: usize,
}

impl Since {
    fn now(fake: &FakeTelegram) -> Since {
        Since {
            calls: fake.mark(),
            polls: fake.polls(),
        }
    }
}

impl Drop for BotProcess {
    /// Stops the bot, then checks, for every test whatever it was about, that nothing the bot
    /// wrote on stdout or stderr (at trace level) holds a secret.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            self.assert_never_wrote(&harness_secrets());
        } else {
            // the test failed: what the bot was doing belongs in its report
            let log = self.log();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| l.contains("buildbot_telegram") || l.contains("WARN"))
                .collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            eprintln!("--- the bot's own last log lines:\n{tail}");
        }
    }
}

/// Environment variables as the bot process keeps them, for its restarts.
fn owned(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Whether the harness keeps every bot's state in PostgreSQL (`BBTG_E2E_STORAGE=postgres`,
/// as `scripts/test` runs the suite a second time): each bot gets a database of its own.
pub fn on_postgres() -> bool {
    std::env::var("BBTG_E2E_STORAGE").is_ok_and(|v| v == "postgres")
}

/// A directory with the settings for a bot against `fake` and `buildbot_url`.
fn write_settings(
    fake: &FakeTelegram,
    buildbot_url: &str,
    sections: Sections<'_>,
    extra: &str,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.toml");
    std::fs::write(
        &settings,
        format!(
            "[telegram]\napi_url = \"{}\"\npoll_timeout = 1\nretry_delay = 1\n{}\n[buildbot]\nurl = \"{buildbot_url}\"\n{}\n[storage]\nurl = \"{}\"\n{extra}\n",
            fake.url,
            sections.telegram,
            sections.buildbot,
            match sections.storage_url {
                Some(url) => url.to_owned(),
                None if on_postgres() => super::postgres::database_blocking("bot"),
                None => dir.path().join("bot.sqlite").display().to_string(),
            },
        ),
    )
    .unwrap();
    dir
}
