//! buildbot-telegram: a Telegram bot for the Buildbot CI system.
//!
//! The bot is a separate process. It reads a Buildbot master through the master's public REST
//! API, the same one the web UI uses, and talks to Telegram through the Bot API.
//!
//! # Layout
//!
//! - [`settings`]: layered settings (built-in defaults, `--config` file, `BBTG_*` environment),
//!   all checked at start so that a mistake is reported with the key and the fix.
//! - [`authz`]: who may run which command; asked when a command starts and again on every
//!   button tap.
//! - [`buildbot`]: the REST client, the event websocket, and the serde models of builders,
//!   builds, workers, changes.
//! - [`telegram`]: the dispatcher tree (`telegram::schema`), the command list, one handler per
//!   command, inline keyboards and their versioned callback data.
//! - [`check`]: `--check`, every link the bot needs tried once, with what to fix.
//! - [`text`]: every text a user reads, as Telegram HTML, snapshot-tested.
//! - [`delivery`]: the one way out to Telegram: Telegram's limits with two priorities,
//!   `retry_after`, splitting, plain-text fallback, and the persistent notification outbox.
//! - [`notify`]: notifications: Buildbot events → classify → subscriptions → delivery.
//! - [`storage`]: the SQLite file with subscriptions, watches and the event cursor.
//! - [`master_control`]: how `/shutdown` reaches the master process (pid file or commands).
//! - [`logging`]: `log` + `pretty_env_logger`, with the bot token removed from every line.
//! - [`clock`]: the time in epoch seconds, one helper for every module.
//! - [`app`]: the shared state every handler receives.

pub mod app;
pub mod authz;
pub mod buildbot;
pub mod callback;
pub mod clock;
pub mod command;
pub mod delivery;
pub mod event;
pub mod logging;
pub mod notify;
pub mod outcome;
pub mod settings;
pub mod shutdown;
pub mod storage;
pub mod telegram;
pub mod text;
