//! The real parts the end-to-end tests run against: a fake Telegram Bot API server, a real
//! Buildbot master and worker, the real `buildbot-telegram` binary, and a real
//! PostgreSQL server.

pub mod bot;
pub mod buildbot;
pub mod fake_telegram;
pub mod postgres;
pub mod proxy;
pub mod webhook;

use bot::BotProcess;
use fake_telegram::FakeTelegram;

/// A fake Telegram, the shared master, and the bot between them with default settings.
pub async fn bot_on_shared_master() -> (FakeTelegram, BotProcess, buildbot::Master) {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let bot = BotProcess::start(&fake, &master.url, "").await;
    (fake, bot, master)
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
