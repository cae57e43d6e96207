//! The inline keyboards under the bot's answers; each button carries a [`Callback`], which
//! the schema decodes and routes when it is tapped.

use std::collections::BTreeSet;

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, Message};

use crate::callback::{Callback, ListRequest, ListTarget, Scope, Tap};
use crate::event::Event;
use crate::text;

fn button(text: &str, callback: Callback) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(text, callback.encode())
}

fn list(target: ListTarget, scope: Scope) -> Callback {
    Callback::List(ListRequest { target, scope })
}

/// The choices `/list` offers when it is sent without arguments.
pub fn list_choices() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([
        vec![
            button(
                &text::builders_button(),
                list(ListTarget::Builders, Scope::Default),
            ),
            button(
                &text::all_builders_button(),
                list(ListTarget::Builders, Scope::All),
            ),
        ],
        vec![
            button(
                &text::workers_button(),
                list(ListTarget::Workers, Scope::Default),
            ),
            button(
                &text::all_workers_button(),
                list(ListTarget::Workers, Scope::All),
            ),
        ],
        vec![button(
            &text::changes_button(),
            list(ListTarget::Changes, Scope::Default),
        )],
    ])
}

/// Asks before flooding the chat with every change the master has.
pub fn confirm_all_changes(all: u32, some: u32) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([
        vec![button(
            &text::show_all_changes_button(all),
            list(ListTarget::Changes, Scope::Count(all)),
        )],
        vec![button(
            &text::show_some_changes_button(some),
            list(ListTarget::Changes, Scope::Count(some)),
        )],
    ])
}

/// Every event with its state, two per row, and a last row to put the keyboard away.
pub fn notify_toggles(on: &BTreeSet<Event>) -> InlineKeyboardMarkup {
    let buttons: Vec<InlineKeyboardButton> = Event::ALL
        .iter()
        .map(|event| {
            let label = text::notify_toggle(event.name(), on.contains(event));
            button(&label, Callback::NotifyToggle(*event))
        })
        .collect();
    let keyboard =
        InlineKeyboardMarkup::new(buttons.chunks(2).map(<[InlineKeyboardButton]>::to_vec));
    keyboard.append_row([
        button(&text::notify_builders_button(), Callback::NotifyBuilders(0)),
        button(&text::notify_done_button(), Callback::NotifyDone),
    ])
}

/// The `/notify` builders page: each builder `(id, name, ticked)`, page `page` of them, and
/// a last row back to the events or to put the keyboard away.
pub fn notify_builders(builders: &[(i64, String, bool)], page: usize) -> InlineKeyboardMarkup {
    let choices: Vec<(String, Callback)> = builders
        .iter()
        .map(|(id, name, on)| {
            let label = text::notify_builder_toggle(name, *on);
            (label, Callback::NotifyBuilder(*id))
        })
        .collect();
    paged(&choices, page, Callback::NotifyBuilders).append_row([
        button(&text::notify_events_button(), Callback::NotifyEvents),
        button(&text::notify_done_button(), Callback::NotifyDone),
    ])
}

/// The answers to "Rebuild <builder> #<n>?".
pub fn rebuild_question(buildid: i64) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([vec![
        button(
            &text::confirm_rebuild_button(),
            Callback::ConfirmRebuild(buildid),
        ),
        button(&text::cancel_button(), Callback::CancelRebuild(buildid)),
    ]])
}

/// True when `message` carries a button with `callback`'s data: a tap's data is whatever the
/// client sends, the message's keyboard is what the bot drew.
pub fn carries(message: &Message, callback: Callback) -> bool {
    carries_data(message, &callback.encode())
}

/// True when one of `message`'s buttons carries exactly `data`. Every tap is checked with it
/// before anything else: data the message does not carry was forged (any client can send any
/// data on any of the bot's messages) or belongs to a keyboard the bot has since replaced.
pub fn carries_data(message: &Message, data: &str) -> bool {
    use teloxide::types::InlineKeyboardButtonKind::CallbackData;
    message.reply_markup().is_some_and(|markup| {
        markup
            .inline_keyboard
            .iter()
            .flatten()
            .any(|b| matches!(&b.kind, CallbackData(d) if d == data))
    })
}

/// Telegram refuses keyboards of more than 100 buttons: a longer choice is shown this many
/// at a time, with a row to turn the page.
pub const PAGE: usize = 90;

/// Page `page` (from 0; past the end shows the last) of `choices`, one per row, and when
/// there is more than one page a row "◀ 2/3 ▶" whose buttons are `turn(page)`.
pub fn paged(
    choices: &[(String, Callback)],
    page: usize,
    turn: impl Fn(usize) -> Callback,
) -> InlineKeyboardMarkup {
    let pages = choices.len().div_ceil(PAGE).max(1);
    let page = page.min(pages - 1);
    let rows = choices
        .iter()
        .skip(page * PAGE)
        .take(PAGE)
        .map(|(label, callback)| vec![button(label, *callback)]);
    let keyboard = InlineKeyboardMarkup::new(rows);
    if pages == 1 {
        return keyboard;
    }
    keyboard.append_row([
        button(&text::page_back(), turn(page.saturating_sub(1))),
        button(&text::page_of(page + 1, pages), turn(page)),
        button(&text::page_forward(), turn((page + 1).min(pages - 1))),
    ])
}

/// One button per running build: `(label, buildid)`, page `page` of them.
pub fn watch_choices(builds: &[(String, i64)], page: usize) -> InlineKeyboardMarkup {
    let choices: Vec<(String, Callback)> = builds
        .iter()
        .map(|(label, id)| (label.clone(), Callback::Watch(*id)))
        .collect();
    paged(&choices, page, Callback::WatchPage)
}

/// A conversation's choices, one per row (page `page` of them when there are many).
pub fn conversation_page(buttons: &[(String, Tap)], page: usize) -> InlineKeyboardMarkup {
    let choices: Vec<(String, Callback)> = buttons
        .iter()
        .map(|(label, tap)| (label.clone(), Callback::Conversation(*tap)))
        .collect();
    paged(&choices, page, |page| {
        Callback::Conversation(Tap::Page(page))
    })
}

/// A conversation's choices, one per row.
pub fn conversation(buttons: &[(String, Tap)]) -> InlineKeyboardMarkup {
    conversation_page(buttons, 0)
}

/// A conversation's choices, two per row (the `/force` parameters screen).
pub fn conversation_in_pairs(buttons: &[(String, Tap)]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(buttons.chunks(2).map(|pair| {
        pair.iter()
            .map(|(label, tap)| button(label, Callback::Conversation(*tap)))
            .collect::<Vec<_>>()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback::MAX_CHANGES;

    #[test]
    fn every_button_round_trips_and_fits_64_bytes() {
        let on = std::collections::BTreeSet::from([Event::Failure]);
        let keyboards = [
            list_choices(),
            confirm_all_changes(MAX_CHANGES, 50),
            notify_toggles(&on),
            watch_choices(&[("🔎 slow #3".into(), i64::MAX)], 0),
            conversation(&[("✖️ Cancel".into(), Tap::Cancel)]),
            conversation_in_pairs(&[("a".into(), Tap::Edit(99)), ("🚀".into(), Tap::Start)]),
            rebuild_question(i64::MAX),
        ];
        for keyboard in keyboards {
            for button in keyboard.inline_keyboard.iter().flatten() {
                let teloxide::types::InlineKeyboardButtonKind::CallbackData(data) = &button.kind
                else {
                    panic!("not a callback button");
                };
                assert!(data.len() <= 64, "{data}");
                let decoded =
                    Callback::decode(data).unwrap_or_else(|| panic!("{data} does not decode"));
                assert_eq!(&decoded.encode(), data);
            }
        }
    }

    #[test]
    fn a_long_choice_is_paged_within_telegrams_100_buttons() {
        let choices: Vec<(String, Tap)> = (0..200)
            .map(|i| (format!("b{i}"), Tap::Builder(i)))
            .collect();
        let count = |k: &InlineKeyboardMarkup| k.inline_keyboard.iter().flatten().count();
        let labels = |k: &InlineKeyboardMarkup| -> Vec<String> {
            k.inline_keyboard
                .iter()
                .flatten()
                .map(|b| b.text.clone())
                .collect()
        };
        let first = conversation_page(&choices, 0);
        assert!(count(&first) <= 100);
        assert_eq!(labels(&first)[0], "b0");
        assert_eq!(labels(&first)[PAGE - 1], format!("b{}", PAGE - 1));
        assert_eq!(labels(&first)[PAGE..], ["◀", "1/3", "▶"]);
        let last = conversation_page(&choices, 9);
        assert_eq!(
            labels(&last)[0],
            format!("b{}", 2 * PAGE),
            "past the end: the last page"
        );
        assert_eq!(labels(&last).last().unwrap(), "▶");
        let data = |k: &InlineKeyboardMarkup, i: usize| match &k
            .inline_keyboard
            .iter()
            .flatten()
            .nth(i)
            .unwrap()
            .kind
        {
            teloxide::types::InlineKeyboardButtonKind::CallbackData(d) => Callback::decode(d),
            _ => None,
        };
        assert_eq!(
            data(&first, PAGE + 2),
            Some(Callback::Conversation(Tap::Page(1)))
        );
        assert_eq!(
            data(&first, PAGE),
            Some(Callback::Conversation(Tap::Page(0)))
        );
        let few = conversation_page(&choices[..3], 0);
        assert_eq!(count(&few), 3, "one page: no page row");
        assert_eq!(count(&watch_choices(&[], 0)), 0);
    }

    /// A message of the bot as Telegram hands it back with a tap, carrying `markup`.
    fn message_with(markup: Option<&InlineKeyboardMarkup>) -> Message {
        let mut message = serde_json::json!({
            "message_id": 5, "date": 1_700_000_000, "text": "hi",
            "chat": {"id": 7, "type": "private", "first_name": "A"},
            "from": {"id": 1, "is_bot": true, "first_name": "Buildbot"},
        });
        if let Some(markup) = markup {
            message["reply_markup"] = serde_json::to_value(markup).unwrap();
        }
        serde_json::from_value(message).unwrap()
    }

    #[test]
    fn a_tap_counts_only_with_data_its_message_carries() {
        let failure = message_with(Some(&InlineKeyboardMarkup::new([vec![button(
            "🔁",
            Callback::Rebuild(42),
        )]])));
        assert!(carries_data(&failure, "1/r/42"));
        assert!(carries(&failure, Callback::Rebuild(42)));
        for forged in [
            "1/r/43", "1/r/042", "1/r/42 ", "1/ry/42", "1/n/done", "1/c/x", "", "x",
        ] {
            assert!(!carries_data(&failure, forged), "{forged:?}");
        }
        let toggles = message_with(Some(&notify_toggles(&BTreeSet::new())));
        assert!(carries(&toggles, Callback::NotifyDone));
        assert!(carries(&toggles, Callback::NotifyToggle(Event::Failure)));
        assert!(!carries(&toggles, Callback::WatchPage(0)));
        let pages: Vec<(String, Tap)> = (0..100)
            .map(|i| (format!("b{i}"), Tap::Builder(i)))
            .collect();
        let paged = message_with(Some(&conversation_page(&pages, 0)));
        assert!(carries(&paged, Callback::Conversation(Tap::Page(1))));
        assert!(carries(&paged, Callback::Conversation(Tap::Builder(0))));
        assert!(
            !carries(&paged, Callback::Conversation(Tap::Builder(95))),
            "the next page's"
        );
        assert!(!carries(&paged, Callback::Conversation(Tap::Cancel)));
        let plain = message_with(None);
        assert!(
            !carries_data(&plain, "1/h"),
            "a message without buttons carries none"
        );
    }

    #[test]
    fn the_notify_builders_page_stays_under_telegrams_100_buttons() {
        let builders: Vec<(i64, String, bool)> =
            (0..200).map(|i| (i, format!("b{i:03}"), i == 95)).collect();
        let count = |k: &InlineKeyboardMarkup| k.inline_keyboard.iter().flatten().count();
        let first = notify_builders(&builders, 0);
        assert!(count(&first) <= 100, "{}", count(&first));
        let second = notify_builders(&builders, 1);
        let labels: Vec<&str> = second
            .inline_keyboard
            .iter()
            .flatten()
            .map(|b| b.text.as_str())
            .collect();
        assert_eq!(labels[5], "✅ b095", "page 2 starts at the 91st");
        assert_eq!(labels[labels.len() - 2..], ["Events…", "Done"]);
        let toggles = notify_toggles(&BTreeSet::new());
        let builders_button = Callback::NotifyBuilders(0).encode();
        assert!(toggles.inline_keyboard.iter().flatten().any(|b| {
            matches!(&b.kind, teloxide::types::InlineKeyboardButtonKind::CallbackData(d) if *d == builders_button)
        }));
    }
}
