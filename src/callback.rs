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
    /// Announce this build's completion in this chat.
    Watch(i64),
    /// Show page N of the `/watch` choices.
    WatchPage(usize),
    /// A step of a `/force`, `/stop` or `/shutdown` conversation.
    Conversation(Tap),
    /// Rebuild this build (from a failure message).
    Rebuild(i64),
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
            Callback::NotifyToggle(_) | Callback::NotifyDone => CommandName::Notify,
            Callback::Watch(_) | Callback::WatchPage(_) => CommandName::Watch,
            Callback::Conversation(tap) => tap.command(),
            // a rebuild starts a build: as dangerous as /force
            Callback::Rebuild(_) => CommandName::Force,
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
            Callback::Watch(buildid) => format!("{VERSION}/w/{buildid}"),
            Callback::WatchPage(page) => format!("{VERSION}/wp/{page}"),
            Callback::Conversation(tap) => format!("{VERSION}/c/{}", tap.encode()),
            Callback::Rebuild(buildid) => format!("{VERSION}/r/{buildid}"),
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
                n => Callback::NotifyToggle(*Event::ALL.get(canonical_number(n)?)?),
            },
            "w" => Callback::Watch(i64::try_from(canonical_number(parts.next()?)?).ok()?),
            "wp" => Callback::WatchPage(canonical_number(parts.next()?)?),
            "c" => return Tap::decode(parts).map(Callback::Conversation),
            "r" => Callback::Rebuild(i64::try_from(canonical_number(parts.next()?)?).ok()?),
            _ => return None,
        };
        parts.next().is_none().then_some(callback)
    }
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
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Every variant, so that a new one cannot be forgotten here: this match does not compile
    /// until [`callbacks`] is told how to make it.
    fn generated(callback: &Callback) {
        match callback {
            Callback::List(_)
            | Callback::NotifyToggle(_)
            | Callback::NotifyDone
            | Callback::Watch(_)
            | Callback::WatchPage(_)
            | Callback::Conversation(_)
            | Callback::Rebuild(_) => {}
        }
    }

    fn taps() -> impl Strategy<Value = Tap> {
        let actions = proptest::sample::select(ShutdownAction::ALL.to_vec());
        prop_oneof![
            any::<usize>().prop_map(Tap::Scheduler),
            any::<usize>().prop_map(Tap::Builder),
            any::<usize>().prop_map(Tap::Edit),
            any::<usize>().prop_map(Tap::Value),
            Just(Tap::Start),
            any::<usize>().prop_map(Tap::StopBuild),
            Just(Tap::ConfirmStop),
            actions.prop_map(Tap::Shutdown),
            Just(Tap::ConfirmShutdown),
            Just(Tap::Cancel),
            any::<usize>().prop_map(Tap::Page),
        ]
    }

    /// Every callback the bot can write: build ids are Buildbot's (0 and up), `/list` counts
    /// are 1 to [`MAX_CHANGES`].
    fn callbacks() -> impl Strategy<Value = Callback> {
        let target = prop_oneof![
            Just(ListTarget::Builders),
            Just(ListTarget::Workers),
            Just(ListTarget::Changes)
        ];
        let scope = prop_oneof![
            Just(Scope::Default),
            Just(Scope::All),
            (1..=MAX_CHANGES).prop_map(Scope::Count)
        ];
        prop_oneof![
            (target, scope)
                .prop_map(|(target, scope)| Callback::List(ListRequest { target, scope })),
            proptest::sample::select(Event::ALL.to_vec()).prop_map(Callback::NotifyToggle),
            Just(Callback::NotifyDone),
            (0..=i64::MAX).prop_map(Callback::Watch),
            any::<usize>().prop_map(Callback::WatchPage),
            taps().prop_map(Callback::Conversation),
            (0..=i64::MAX).prop_map(Callback::Rebuild),
        ]
    }

    /// Data that is almost what encode writes: the real codes and numbers with signs, leading
    /// zeros and other spellings, in any order, so that the strict paths are walked.
    fn near_misses() -> impl Strategy<Value = String> {
        let codes = [
            "1", "0", "01", "l", "b", "w", "c", "n", "done", "wp", "r", "s", "e", "v", "go", "k",
            "ky", "d", "dy", "x", "p", "a", "-", "now", "Now", "stop",
        ];
        let part = prop_oneof![
            proptest::sample::select(codes.to_vec()).prop_map(str::to_owned),
            "[-+ ]?0?[0-9]{1,3}",
            "[a-zA-Z]{1,3}",
            Just(String::new()),
        ];
        proptest::collection::vec(part, 1..6).prop_map(|parts| format!("1/{}", parts.join("/")))
    }

    /// Whatever decodes is exactly what encode writes for it: no other spelling (a sign, a
    /// leading zero, a case, a trailing part) yields an action the data did not name.
    fn canonical(data: &str) -> Result<(), TestCaseError> {
        if let Some(callback) = Callback::decode(data) {
            prop_assert_eq!(callback.encode(), data);
        }
        Ok(())
    }

    #[test]
    fn what_the_properties_found() {
        // a sign that u32's parse takes: "+1" read as 1, an action the data did not spell
        for data in ["1/l/b/+1", "1/l/c/+50"] {
            assert_eq!(Callback::decode(data), None, "{data}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_string_decodes_canonically_or_not_at_all(data in any::<String>()) {
            canonical(&data)?;
        }

        #[test]
        fn any_bytes_decode_canonically_or_not_at_all(
            bytes in proptest::collection::vec(any::<u8>(), 0..80)
        ) {
            canonical(&String::from_utf8_lossy(&bytes))?;
        }

        #[test]
        fn near_misses_decode_canonically_or_not_at_all(data in near_misses()) {
            canonical(&data)?;
        }

        #[test]
        fn an_edited_callback_decodes_canonically_or_not_at_all(
            callback in callbacks(),
            at in any::<proptest::sample::Index>(),
            insert in prop_oneof![any::<char>(), proptest::sample::select(
                "0123456789/-+ aAxyz".chars().collect::<Vec<_>>()
            )],
            remove in any::<bool>(),
        ) {
            let mut data: Vec<char> = callback.encode().chars().collect();
            let at = at.index(data.len() + 1);
            if remove && at < data.len() {
                data.remove(at);
            } else {
                data.insert(at, insert);
            }
            canonical(&data.into_iter().collect::<String>())?;
        }

        #[test]
        fn every_callback_round_trips_within_64_bytes(callback in callbacks()) {
            generated(&callback);
            let data = callback.encode();
            prop_assert!(data.len() <= 64, "{} is {} bytes", data, data.len());
            prop_assert_eq!(Callback::decode(&data), Some(callback));
        }
    }
}
