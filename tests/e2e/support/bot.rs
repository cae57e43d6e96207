//! The real `buildbot-telegram` binary, started against a fake Telegram and a Buildbot URL.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::fake_telegram::{FakeTelegram, TOKEN};

pub struct BotProcess {
    child: Child,
    dir: tempfile::TempDir,
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_buildbot-telegram"))
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
        let dir = tempfile::tempdir().unwrap();
        let settings = dir.path().join("settings.toml");
        std::fs::write(
            &settings,
            format!(
                "[telegram]\napi_url = \"{}\"\npoll_timeout = 1\nretry_delay = 1\n\n[buildbot]\nurl = \"{buildbot_url}\"\n{buildbot_keys}\n\n[storage]\npath = \"{}\"\n\n{extra}\n",
                fake.url,
                dir.path().join("bot.sqlite").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("bot.log")).unwrap();
        let mark = fake.mark();
        let child = Command::new(binary())
            .arg("--config")
            .arg(&settings)
            .env("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)
            .env("RUST_LOG", "trace")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut bot = BotProcess { child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !fake
            .calls()
            .iter()
            .skip(mark)
            .any(|c| c.method == "getupdates")
        {
            if let Ok(Some(status)) = bot.child.try_wait() {
                panic!("the bot exited at start ({status}):\n{}", bot.log());
            }
            assert!(
                Instant::now() < deadline,
                "the bot did not start polling:\n{}",
                bot.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bot
    }

    /// Everything the bot logged so far (it runs with RUST_LOG=trace).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bot.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to end; returns whether it exited cleanly.
    pub async fn terminate(mut self) -> bool {
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

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
