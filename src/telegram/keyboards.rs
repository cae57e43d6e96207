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
pub fn carries(message: &teloxide::types::Message, callback: Callback) -> bool {
    use teloxide::types::InlineKeyboardButtonKind::CallbackData;
    let data = callback.encode();
    message.reply_markup().is_some_and(|markup| {
        markup
            .inline_keyboard
            .iter()
            .flatten()
            .any(|b| matches!(&b.kind, CallbackData(d) if *d == data))
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
}
