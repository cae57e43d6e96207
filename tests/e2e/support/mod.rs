//! The real parts the end-to-end tests run against: a fake Telegram Bot API server, a real
//! Buildbot master and worker, and the real `buildbot-telegram` binary.

pub mod bot;
pub mod buildbot;
pub mod fake_telegram;
