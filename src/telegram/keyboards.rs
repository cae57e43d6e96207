//! The inline keyboards under the bot's answers; each button carries a [`Callback`], which
//! the schema decodes and routes when it is tapped.

use std::collections::BTreeSet;

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

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
    keyboard.append_row([button(&text::notify_done_button(), Callback::NotifyDone)])
}

/// One button per running build: `(label, buildid)`.
pub fn watch_choices(builds: &[(String, i64)]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(
        builds
            .iter()
            .map(|(label, id)| vec![button(label, Callback::Watch(*id))]),
    )
}

/// A conversation's choices, one per row.
pub fn conversation(buttons: &[(String, Tap)]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(
        buttons
            .iter()
            .map(|(label, tap)| vec![button(label, Callback::Conversation(*tap))]),
    )
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
            watch_choices(&[("🔎 slow #3".into(), i64::MAX)]),
            conversation(&[("✖️ Cancel".into(), Tap::Cancel)]),
            conversation_in_pairs(&[("a".into(), Tap::Edit(99)), ("🚀".into(), Tap::Start)]),
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
}
