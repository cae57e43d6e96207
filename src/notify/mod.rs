//! Notifications: Buildbot events → [`classify`] → subscriptions → delivery.
//!
//! The [`pipeline`] consumes the master's event stream (and the catch-up after every
//! reconnect), decides which [`Event`](crate::event::Event)s a build or worker change is, finds the chats that asked
//! for them, and hands the messages to delivery. The event names are Buildbot's own.
//! [`history`] keeps each builder's recent results: what a result message says of the past
//! (new failure, still failing since, recovered, flaky) and which repeats arrive silently.
//! With `notify.quiet_hours_mode = "digest"`, build results in the quiet hours are kept in
//! storage instead, and [`digest`] composes each chat's summary when the window ends.

pub mod classify;
pub mod digest;
pub mod history;
pub mod pipeline;
pub mod routing;
