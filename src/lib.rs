//! buildbot-telegram: a Telegram bot for the Buildbot CI system.
//!
//! The bot is a separate process. It reads a Buildbot master through the master's public REST
//! API and event websocket, the ones the web UI uses, and talks to Telegram through the Bot API.
//!
//! # Layout
//!
//! The modules are layers. Bottom up, each one imports only the ones below it (no cycles, no
//! upward imports; `tests/layers.rs` fails the build otherwise), so every module can be read
//! knowing only what is under it:
//!
//! ```text
//! vocabulary  clock, command, event, filter, outcome, callback, shutdown, logging
//!   → authz → settings → storage → buildbot → text → delivery → notify → telegram → app
//!   → main.rs
//! ```
//!
//! - Vocabulary, the words every layer shares, parsed once where they enter:
//!   [`clock`] (epoch seconds), [`command`] (`CommandName` with the dangerous set, and the
//!   `/shutdown` actions), [`event`] (what a chat can ask to hear about), [`filter`] (which
//!   builds: `builder:`, `tag:` and `branch:` globs), [`outcome`] (a build
//!   result, decoded in the models), [`callback`] (the versioned data every button carries),
//!   [`shutdown`] (stopping as a value), [`logging`] (every byte the process writes: the log,
//!   `--check`, start-up errors and panics, with the secrets removed).
//! - [`authz`]: who may run which command, with its own error type; asked when a command
//!   starts, and again on every tap and typed answer. The settings choose its baseline: closed
//!   (but for the door: `/getid` and friends) when the bot logs in to its master.
//! - [`settings`]: raw → validated settings, one file per section; every bad value is refused
//!   at start with the key, the value, what is allowed and the environment variable. Builds the
//!   `Authz`, owns Telegram's `Limits`, parses routes and quiet hours into types.
//! - [`storage`]: the SQLite file, one file per table on one connection: subscriptions,
//!   outbox, announcements and the catch-up cursor, live messages, mutes, watches, workers,
//!   conversations, and the build results of the quiet hours waiting for a digest.
//! - [`buildbot`]: the REST client, the event websocket, the models, `mirror` (the master's
//!   live state as the event stream tells it, loaded by REST after each catch-up: what
//!   `/status`, `/last` and `/list` answer from without asking the master), `control` (how
//!   `/shutdown` reaches the master process) and `pidfile` (whether a `twistd.pid` still names
//!   the master, read from `/proc`, before anything is signalled).
//! - [`text`]: every sentence a user reads, as Telegram HTML, one file per topic, each pinned
//!   by snapshot tests.
//! - [`delivery`]: the one way out to Telegram: Telegram's limits with two priorities,
//!   `retry_after`, splitting, plain-text fallback, the persistent outbox, and the buttons a
//!   notification's actions become.
//! - [`notify`]: Buildbot events → classify → who asked (routing) → a `Notification` (text and
//!   actions) for the outbox; in the quiet hours of digest mode, a result kept in storage
//!   instead, and `digest` composing each chat's summary. It knows nothing of Telegram's
//!   keyboards.
//! - [`telegram`]: `telegram::schema()` shows every route: each command, each button family,
//!   each conversation step. Handlers live in `commands/`, `conversations/`, `buttons.rs` and
//!   `rebuild.rs` (Rebuild asks first) and share a `Context`; a tap counts only when the
//!   message it was tapped on carries its data, and a button that names a build acts only on
//!   one the bot shows; updates pass a per-person and per-chat budget
//!   (`budget.rs`) before the dispatcher sees them. In webhook mode they arrive through
//!   `webhook/`: the bot's own HTTP server (TLS when it has a key) with a guard that checks the
//!   secret before a body is read, caps bodies and requests at once, and logs refusals at
//!   most once a minute.
//! - [`app`]: the composition root: builds every part, spawns and supervises the tasks
//!   (restarted, with a log line, if they end or panic) — among them the digest timer, which
//!   sends each chat's digest when the quiet hours end — owns the shutdown; and `--check`.

pub mod app;
pub mod authz;
pub mod buildbot;
pub mod callback;
pub mod clock;
pub mod command;
pub mod delivery;
pub mod event;
pub mod filter;
pub mod logging;
pub mod notify;
pub mod outcome;
pub mod settings;
pub mod shutdown;
pub mod storage;
pub mod telegram;
pub mod text;
