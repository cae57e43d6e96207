//! What a tapped inline button asks for: the data every button carries.
//!
//! Button data is a small versioned enum ([`Callback`]), written as `1/...` and parsed back
//! strictly: Telegram hands it back verbatim from any client, so anything that is not exactly
//! what this version writes (old, forged, or from another bot) is refused, not guessed at.
//! It always fits Telegram's 64-byte limit because it holds codes, never names.

use crate::command::{CommandName, ShutdownAction};
use crate::event::Event;

/// The format version written in front of every callback payload.
const VERSION: &str = "1";

/// Largest number of changes one `/list` shows (a few messages, not a flood).
pub const MAX_CHANGES: u32 = 200;

/// What a tapped button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    List(ListRequest),
    /// Flip one notification event (an index into [`Event::ALL`]) for this chat.
    NotifyToggle(Event),
    /// Put the `/notify` keyboard away and show the list instead.
    NotifyDone,
    /// Show page N of the `/notify` builders (a `builder:` term for each ticked one).
    NotifyBuilders(usize),
    /// Tick or untick this builder (by id) on the `/notify` builders page.
    NotifyBuilder(i64),
    /// Back from the builders page to the `/notify` events.
    NotifyEvents,
    /// Announce this build's completion in this chat.
    Watch(i64),
    /// Show page N of the `/watch` choices.
    WatchPage(usize),
    /// A step of a `/force`, `/stop` or `/shutdown` conversation.
    Conversation(Tap),
    /// Rebuild this build (from a failure message): asks first.
    Rebuild(i64),
    /// Yes to "Rebuild <builder> #<n>?": rebuild this build.
    ConfirmRebuild(i64),
    /// No to "Rebuild <builder> #<n>?".
    CancelRebuild(i64),
}

/// A button in a conversation; indexes point into the conversation's stored state, so the
/// data stays short and means nothing outside that conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tap {
    Scheduler(usize),
    Builder(usize),
    Edit(usize),
    Value(usize),
    Start,
    StopBuild(usize),
    ConfirmStop,
    Shutdown(ShutdownAction),
    ConfirmShutdown,
    Cancel,
    /// Show page N of a long choice (Telegram takes at most 100 buttons at once).
    Page(usize),
}

impl Tap {
    /// The command whose authz rule applies.
    pub fn command(&self) -> CommandName {
        match self {
            Tap::Scheduler(_) | Tap::Builder(_) | Tap::Edit(_) | Tap::Value(_) | Tap::Start => {
                CommandName::Force
            }
            Tap::StopBuild(_) | Tap::ConfirmStop => CommandName::Stop,
            Tap::Shutdown(_) | Tap::ConfirmShutdown => CommandName::Shutdown,
            // the conversation's own command is asked by its guard
            Tap::Cancel | Tap::Page(_) => CommandName::Nay,
        }
    }

    fn encode(&self) -> String {
        match self {
            Tap::Scheduler(i) => format!("s/{i}"),
            Tap::Builder(i) => format!("b/{i}"),
            Tap::Edit(i) => format!("e/{i}"),
            Tap::Value(i) => format!("v/{i}"),
            Tap::Start => "go".to_owned(),
            Tap::StopBuild(i) => format!("k/{i}"),
            Tap::ConfirmStop => "ky".to_owned(),
            Tap::Shutdown(action) => format!("d/{}", action.name()),
            Tap::ConfirmShutdown => "dy".to_owned(),
            Tap::Cancel => "x".to_owned(),
            Tap::Page(n) => format!("p/{n}"),
        }
    }

    fn decode<'a>(mut parts: impl Iterator<Item = &'a str>) -> Option<Tap> {
        let tap = match parts.next()? {
            "s" => Tap::Scheduler(canonical_number(parts.next()?)?),
            "b" => Tap::Builder(canonical_number(parts.next()?)?),
            "e" => Tap::Edit(canonical_number(parts.next()?)?),
            "v" => Tap::Value(canonical_number(parts.next()?)?),
            "go" => Tap::Start,
            "k" => Tap::StopBuild(canonical_number(parts.next()?)?),
            "ky" => Tap::ConfirmStop,
            // exactly as encode writes it: parse() alone would take any case
            "d" => {
                let name = parts.next()?;
                Tap::Shutdown(ShutdownAction::ALL.into_iter().find(|a| a.name() == name)?)
            }
            "dy" => Tap::ConfirmShutdown,
            "x" => Tap::Cancel,
            "p" => Tap::Page(canonical_number(parts.next()?)?),
            _ => return None,
        };
        parts.next().is_none().then_some(tap)
    }
}

impl Callback {
    /// The command whose authz rule applies to the tap.
    pub fn command(&self) -> CommandName {
        match self {
            Callback::List(_) => CommandName::List,
            Callback::NotifyToggle(_)
            | Callback::NotifyDone
            | Callback::NotifyBuilders(_)
            | Callback::NotifyBuilder(_)
            | Callback::NotifyEvents => CommandName::Notify,
            Callback::Watch(_) | Callback::WatchPage(_) => CommandName::Watch,
            Callback::Conversation(tap) => tap.command(),
            // a rebuild starts a build: as dangerous as /force, and so is answering its question
            Callback::Rebuild(_) | Callback::ConfirmRebuild(_) | Callback::CancelRebuild(_) => {
                CommandName::Force
            }
        }
    }

    /// The build a button acts on, which must be one the bot shows: its data could name any.
    pub fn build(&self) -> Option<i64> {
        match self {
            Callback::Watch(buildid)
            | Callback::Rebuild(buildid)
            | Callback::ConfirmRebuild(buildid)
            | Callback::CancelRebuild(buildid) => Some(*buildid),
            Callback::List(_)
            | Callback::NotifyToggle(_)
            | Callback::NotifyDone
            | Callback::NotifyBuilders(_)
            | Callback::NotifyBuilder(_)
            | Callback::NotifyEvents
            | Callback::WatchPage(_)
            | Callback::Conversation(_) => None,
        }
    }

    pub fn encode(&self) -> String {
        match self {
            Callback::List(ListRequest { target, scope }) => {
                let target = match target {
                    ListTarget::Builders => "b",
                    ListTarget::Workers => "w",
                    ListTarget::Changes => "c",
                };
                let scope = match scope {
                    Scope::Default => "-".to_owned(),
                    Scope::All => "a".to_owned(),
                    Scope::Count(n) => n.to_string(),
                };
                format!("{VERSION}/l/{target}/{scope}")
            }
            Callback::NotifyToggle(event) => {
                let index = Event::ALL.iter().position(|e| e == event).unwrap_or(0);
                format!("{VERSION}/n/{index}")
            }
            Callback::NotifyDone => format!("{VERSION}/n/done"),
            Callback::NotifyEvents => format!("{VERSION}/n/ev"),
            Callback::NotifyBuilders(page) => format!("{VERSION}/nbp/{page}"),
            Callback::NotifyBuilder(builderid) => format!("{VERSION}/nb/{builderid}"),
            Callback::Watch(buildid) => format!("{VERSION}/w/{buildid}"),
            Callback::WatchPage(page) => format!("{VERSION}/wp/{page}"),
            Callback::Conversation(tap) => format!("{VERSION}/c/{}", tap.encode()),
            Callback::Rebuild(buildid) => format!("{VERSION}/r/{buildid}"),
            Callback::ConfirmRebuild(buildid) => format!("{VERSION}/ry/{buildid}"),
            Callback::CancelRebuild(buildid) => format!("{VERSION}/rn/{buildid}"),
        }
    }

    /// Parses what [`Callback::encode`] wrote; `None` for anything else.
    pub fn decode(data: &str) -> Option<Callback> {
        let mut parts = data.split('/');
        if parts.next()? != VERSION {
            return None;
        }
        let callback = match parts.next()? {
            "l" => {
                let target = match parts.next()? {
                    "b" => ListTarget::Builders,
                    "w" => ListTarget::Workers,
                    "c" => ListTarget::Changes,
                    _ => return None,
                };
                let scope = match parts.next()? {
                    "-" => Scope::Default,
                    "a" => Scope::All,
                    // canonical: u32's parse alone would take "+5" for 5
                    n => Scope::Count(
                        u32::try_from(canonical_number(n)?)
                            .ok()
                            .filter(|n| (1..=MAX_CHANGES).contains(n))?,
                    ),
                };
                Callback::List(ListRequest { target, scope })
            }
            "n" => match parts.next()? {
                "done" => Callback::NotifyDone,
                "ev" => Callback::NotifyEvents,
                n => Callback::NotifyToggle(*Event::ALL.get(canonical_number(n)?)?),
            },
            "nbp" => Callback::NotifyBuilders(canonical_number(parts.next()?)?),
            "nb" => Callback::NotifyBuilder(buildid(parts.next()?)?),
            "w" => Callback::Watch(buildid(parts.next()?)?),
            "wp" => Callback::WatchPage(canonical_number(parts.next()?)?),
            "c" => return Tap::decode(parts).map(Callback::Conversation),
            "r" => Callback::Rebuild(buildid(parts.next()?)?),
            "ry" => Callback::ConfirmRebuild(buildid(parts.next()?)?),
            "rn" => Callback::CancelRebuild(buildid(parts.next()?)?),
            _ => return None,
        };
        parts.next().is_none().then_some(callback)
    }
}

/// A build id as [`Callback::encode`] writes it.
fn buildid(text: &str) -> Option<i64> {
    i64::try_from(canonical_number(text)?).ok()
}

/// A decimal number as [`Callback::encode`] writes it (no sign, no leading zeros).
fn canonical_number(text: &str) -> Option<usize> {
    let canonical = !text.is_empty()
        && (text == "0" || !text.starts_with('0'))
        && text.bytes().all(|b| b.is_ascii_digit());
    canonical.then(|| text.parse().ok()).flatten()
}

/// What `/list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListRequest {
    pub target: ListTarget,
    pub scope: Scope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListTarget {
    Builders,
    Workers,
    Changes,
}

/// `/list builders` (default), `/list all builders`, `/list 20 changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Default,
    All,
    Count(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuild_buttons_round_trip_and_name_their_build() {
        let largest = i64::MAX;
        for callback in [
            Callback::Rebuild(7),
            Callback::ConfirmRebuild(7),
            Callback::CancelRebuild(7),
            Callback::ConfirmRebuild(largest),
            Callback::Watch(largest),
        ] {
            let data = callback.encode();
            assert!(data.len() <= 64, "{data}");
            assert_eq!(Callback::decode(&data), Some(callback), "{data}");
            assert!(callback.build().is_some());
        }
        assert_eq!(Callback::ConfirmRebuild(7).encode(), "1/ry/7");
        assert_eq!(Callback::CancelRebuild(7).encode(), "1/rn/7");
        assert_eq!(Callback::ConfirmRebuild(3).command(), CommandName::Force);
        assert_eq!(Callback::CancelRebuild(3).command(), CommandName::Force);
        assert_eq!(Callback::WatchPage(1).build(), None);
        for bad in [
            "1/ry",
            "1/ry/",
            "1/ry/07",
            "1/ry/-7",
            "1/ry/7/8",
            "1/rn/x",
            "1/ry/9223372036854775808",
            "2/ry/7",
            "1/rY/7",
        ] {
            assert_eq!(Callback::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn forged_and_stale_data_is_refused() {
        for data in [
            "",
            "1",
            "1/l",
            "1/l/b",
            "1/l/x/-",
            "1/l/b/-/extra",
            "2/l/b/-",
            "0/l/b/-",
            "/list builders",
            "1/l/c/0",
            "1/l/c/007",
            "1/l/c/201",
            "1/l/c/-5",
            "1/l/c/99999999999999999999",
            "1/z/b/-",
        ] {
            assert_eq!(Callback::decode(data), None, "{data:?}");
        }
        assert_eq!(
            Callback::decode("1/n/4"),
            Some(Callback::NotifyToggle(Event::Failure))
        );
        for tap in [
            Tap::Scheduler(1),
            Tap::Builder(0),
            Tap::Edit(12),
            Tap::Value(3),
            Tap::Start,
            Tap::StopBuild(2),
            Tap::ConfirmStop,
            Tap::Shutdown(ShutdownAction::Now),
            Tap::ConfirmShutdown,
            Tap::Cancel,
            Tap::Page(3),
        ] {
            let data = Callback::Conversation(tap).encode();
            assert!(data.len() <= 64);
            assert_eq!(
                Callback::decode(&data),
                Some(Callback::Conversation(tap)),
                "{data}"
            );
        }
        for bad in [
            "1/c",
            "1/c/s",
            "1/c/s/01",
            "1/c/go/1",
            "1/c/d/reboot",
            "1/c/e/-1",
            "1/c/zz",
        ] {
            assert_eq!(Callback::decode(bad), None, "{bad}");
        }
        assert_eq!(Callback::decode("1/w/0"), Some(Callback::Watch(0)));
        // data written before the rebuild question still means what it meant
        assert_eq!(Callback::decode("1/r/42"), Some(Callback::Rebuild(42)));
        assert_eq!(Callback::decode("1/wp/2"), Some(Callback::WatchPage(2)));
        assert_eq!(Callback::decode("1/wp/02"), None);
        assert_eq!(Callback::decode("1/c/p/x"), None);
        assert_eq!(
            Callback::decode("1/l/c/50"),
            Some(Callback::List(ListRequest {
                target: ListTarget::Changes,
                scope: Scope::Count(50)
            }))
        );
    }
}

/// Properties of the data every button carries, over arbitrary input: Telegram hands back
/// whatever a client sends, so decoding must hold for any string, not just the examples above.
#[cfg(test)]
mod properties;
