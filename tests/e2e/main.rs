//! End-to-end tests: the real `buildbot-telegram` binary against a fake Telegram Bot API
//! server and a real Buildbot master with a worker.

mod support;

mod access;
mod builds;
mod control;
mod delivery;
mod digest;
mod fake_selftest;
mod filters;
mod forged_taps;
mod history;
mod memory;
mod mirror;
mod notifications;
mod postgres_server;
mod proxy_selftest;
mod rebuild;
mod replicas;
mod retries;
mod secrets;
mod startup;
mod talk;
mod webhook;
mod webhook_tls;
