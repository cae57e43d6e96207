//! Property tests: any data decodes without panicking, and only to what it names.

use proptest::prelude::*;

use super::*;

/// Every variant, so that a new one cannot be forgotten here: this match does not compile
/// until [`callbacks`] is told how to make it.
fn generated(callback: &Callback) {
    match callback {
        Callback::List(_)
        | Callback::NotifyToggle(_)
        | Callback::NotifyDone
        | Callback::NotifyBuilders(_)
        | Callback::NotifyBuilder(_)
        | Callback::NotifyEvents
        | Callback::Watch(_)
        | Callback::WatchPage(_)
        | Callback::Conversation(_)
        | Callback::Rebuild(_)
        | Callback::ConfirmRebuild(_)
        | Callback::CancelRebuild(_) => {}
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
        (target, scope).prop_map(|(target, scope)| Callback::List(ListRequest { target, scope })),
        proptest::sample::select(Event::ALL.to_vec()).prop_map(Callback::NotifyToggle),
        Just(Callback::NotifyDone),
        any::<usize>().prop_map(Callback::NotifyBuilders),
        (0..=i64::MAX).prop_map(Callback::NotifyBuilder),
        Just(Callback::NotifyEvents),
        (0..=i64::MAX).prop_map(Callback::Watch),
        any::<usize>().prop_map(Callback::WatchPage),
        taps().prop_map(Callback::Conversation),
        (0..=i64::MAX).prop_map(Callback::Rebuild),
        (0..=i64::MAX).prop_map(Callback::ConfirmRebuild),
        (0..=i64::MAX).prop_map(Callback::CancelRebuild),
    ]
}

/// Data that is almost what encode writes: the real codes and numbers with signs, leading
/// zeros and other spellings, in any order, so that the strict paths are walked.
fn near_misses() -> impl Strategy<Value = String> {
    let codes = [
        "1", "0", "01", "l", "b", "w", "c", "n", "done", "wp", "r", "s", "e", "v", "go", "k", "ky",
        "d", "dy", "x", "p", "a", "-", "now", "Now", "stop", "ry", "rn",
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
