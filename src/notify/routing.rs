//! Who gets a notification: the chats that asked for its events, and the forum topic a
//! builder's notifications go to. Pure functions, tested here.

use std::collections::{BTreeMap, BTreeSet};

use crate::event::Event;
use crate::filter::{About, Filter, Kind};
use crate::storage::Chat;

/// The chats subscribed to any of `events`.
pub fn wanting(
    subscriptions: &BTreeMap<Chat, BTreeSet<Event>>,
    events: &[Event],
) -> BTreeSet<Chat> {
    subscriptions
        .iter()
        .filter(|(_, wanted)| events.iter().any(|e| wanted.contains(e)))
        .map(|(chat, _)| chat.clone())
        .collect()
}

/// The chats among `chats` whose filter lets the build `about` through (no filter lets
/// everything through).
pub fn passing(
    chats: BTreeSet<Chat>,
    filters: &BTreeMap<Chat, Filter>,
    about: &About<'_>,
) -> BTreeSet<Chat> {
    chats
        .into_iter()
        .filter(|chat| filters.get(chat).is_none_or(|f| f.passes(about)))
        .collect()
}

/// Whether any of `chats` filters on branches (then the build's branch must be known).
pub fn by_branch(chats: &BTreeSet<Chat>, filters: &BTreeMap<Chat, Filter>) -> bool {
    chats
        .iter()
        .filter_map(|chat| filters.get(chat))
        .any(|f| f.terms().any(|t| t.kind == Kind::Branch))
}

/// The chats among `chats` that hear repeated failures without a sound: those that chose so,
/// and with `default` those that did not choose.
pub fn quiet_repeats(
    chats: &BTreeSet<Chat>,
    choices: &BTreeMap<Chat, bool>,
    default: bool,
) -> BTreeSet<Chat> {
    chats
        .iter()
        .filter(|chat| choices.get(*chat).copied().unwrap_or(default))
        .cloned()
        .collect()
}

/// Supergroup ids start at -100 000 000 000 0: only they can have forum topics.
const SUPERGROUPS_BELOW: i64 = -1_000_000_000_000;

/// With a `[notify.routes]` topic for the builder, the supergroups among `chats` get the
/// message in that topic; other chats, and chats already in a topic, are left as they are.
pub fn into_topic(chats: &BTreeSet<Chat>, thread: Option<i32>) -> BTreeSet<Chat> {
    chats
        .iter()
        .map(|chat| match (chat, thread) {
            (Chat::Id(id), Some(thread)) if *id <= SUPERGROUPS_BELOW => Chat::Topic(*id, thread),
            (chat, _) => chat.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_repeats_by_choice_else_by_default() {
        let chats = BTreeSet::from([Chat::Id(1), Chat::Id(2), Chat::Id(3)]);
        let choices = BTreeMap::from([(Chat::Id(1), true), (Chat::Id(2), false)]);
        assert_eq!(
            quiet_repeats(&chats, &choices, false),
            BTreeSet::from([Chat::Id(1)])
        );
        assert_eq!(
            quiet_repeats(&chats, &choices, true),
            BTreeSet::from([Chat::Id(1), Chat::Id(3)])
        );
    }

    #[test]
    fn only_the_chats_that_asked_for_one_of_the_events() {
        let subscriptions = BTreeMap::from([
            (Chat::Id(1), BTreeSet::from([Event::Failure])),
            (
                Chat::Id(2),
                BTreeSet::from([Event::Started, Event::Finished]),
            ),
            (
                Chat::Topic(-1_001_234_567_890, 5),
                BTreeSet::from([Event::Problem]),
            ),
            (Chat::Channel("@ci".into()), BTreeSet::new()),
        ]);
        assert_eq!(
            wanting(&subscriptions, &[Event::Finished, Event::Failure]),
            BTreeSet::from([Chat::Id(1), Chat::Id(2)])
        );
        assert_eq!(
            wanting(&subscriptions, &[Event::Problem]),
            BTreeSet::from([Chat::Topic(-1_001_234_567_890, 5)])
        );
        assert!(wanting(&subscriptions, &[Event::Worker]).is_empty());
        assert!(wanting(&subscriptions, &[]).is_empty());
    }

    #[test]
    fn a_route_moves_supergroups_into_the_topic_and_nothing_else() {
        let supergroup = -1_001_234_567_890;
        let chats = BTreeSet::from([
            Chat::Id(42),
            Chat::Id(-4_321),
            Chat::Id(supergroup),
            Chat::Topic(supergroup - 1, 9),
            Chat::Channel("@ci".into()),
        ]);
        assert_eq!(
            into_topic(&chats, Some(7)),
            BTreeSet::from([
                Chat::Id(42),
                Chat::Id(-4_321),
                Chat::Topic(supergroup, 7),
                Chat::Topic(supergroup - 1, 9),
                Chat::Channel("@ci".into()),
            ])
        );
        assert_eq!(into_topic(&chats, None), chats, "no route: no change");
    }

    #[test]
    fn filters_keep_the_chats_whose_terms_the_build_passes() {
        let term = |w: &str| w.parse::<crate::filter::Term>().unwrap();
        let chats = BTreeSet::from([Chat::Id(1), Chat::Id(2), Chat::Id(3)]);
        let filters = BTreeMap::from([
            (Chat::Id(1), Filter::new([term("builder:linux-*")])),
            (Chat::Id(2), Filter::new([term("branch:main")])),
        ]);
        let tags = vec!["unit".to_owned()];
        let linux_on_dev = About {
            builder: "linux-x64",
            tags: &tags,
            branch: Some("dev"),
        };
        assert_eq!(
            passing(chats.clone(), &filters, &linux_on_dev),
            BTreeSet::from([Chat::Id(1), Chat::Id(3)]),
            "3 has no filter"
        );
        assert!(by_branch(&chats, &filters));
        assert!(!by_branch(
            &BTreeSet::from([Chat::Id(1), Chat::Id(3)]),
            &filters
        ));
    }
}
