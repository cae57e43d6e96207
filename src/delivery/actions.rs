//! What a notification offers under its text. The notifier says *what* (data: open the
//! failing step's log, rebuild this build); delivery draws the buttons. So `notify` never
//! knows what a keyboard is, and the outbox stores actions, not Bot API JSON.

use serde::{Deserialize, Serialize};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::Outgoing;
use crate::callback::Callback;
use crate::text;

/// Something a reader of a notification can do from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Open this page (the failing step's log) in the web UI.
    OpenLog(String),
    /// Rebuild this build; authorised like `/force` when tapped.
    Rebuild(i64),
}

/// A notification: HTML text and what it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub text: String,
    pub actions: Vec<Action>,
}

impl Notification {
    pub fn new(text: impl Into<String>, actions: Vec<Action>) -> Notification {
        Notification {
            text: text.into(),
            actions,
        }
    }

    /// The message that shows it: the text, and the actions as buttons in one row.
    pub fn outgoing(&self) -> Outgoing {
        let message = Outgoing::text(self.text.clone());
        match keyboard(&self.actions) {
            Some(keyboard) => message.with_keyboard(keyboard),
            None => message,
        }
    }
}

/// The actions as one row of buttons; `None` when there is nothing to offer.
pub fn keyboard(actions: &[Action]) -> Option<InlineKeyboardMarkup> {
    let row: Vec<InlineKeyboardButton> = actions
        .iter()
        .filter_map(|action| match action {
            Action::OpenLog(url) => reqwest::Url::parse(url)
                .ok()
                .map(|url| InlineKeyboardButton::url(text::full_log_button(), url)),
            Action::Rebuild(buildid) => Some(InlineKeyboardButton::callback(
                text::rebuild_button(),
                Callback::Rebuild(*buildid).encode(),
            )),
        })
        .collect();
    (!row.is_empty()).then(|| InlineKeyboardMarkup::new([row]))
}

/// The actions as the outbox stores them.
pub fn store(actions: &[Action]) -> Option<String> {
    (!actions.is_empty())
        .then(|| serde_json::to_string(actions).ok())
        .flatten()
}

/// The keyboard for what the outbox stored: actions, or (for rows queued by version 0.1,
/// before actions) the keyboard itself as Bot API JSON.
pub fn stored_keyboard(stored: &str) -> Option<InlineKeyboardMarkup> {
    match serde_json::from_str::<Vec<Action>>(stored) {
        Ok(actions) => keyboard(&actions),
        Err(_) => serde_json::from_str::<InlineKeyboardMarkup>(stored).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::InlineKeyboardButtonKind;

    #[test]
    fn actions_are_drawn_as_one_row_of_buttons() {
        let actions = vec![
            Action::OpenLog("http://bb.example/#/builders/1/builds/2/steps/3/logs/stdio".into()),
            Action::Rebuild(42),
        ];
        let keyboard = keyboard(&actions).expect("two buttons");
        let row = &keyboard.inline_keyboard[0];
        assert_eq!(keyboard.inline_keyboard.len(), 1);
        assert!(
            matches!(&row[0].kind, InlineKeyboardButtonKind::Url(u) if u.as_str().ends_with("/logs/stdio"))
        );
        assert!(
            matches!(&row[1].kind, InlineKeyboardButtonKind::CallbackData(d) if Callback::decode(d) == Some(Callback::Rebuild(42)))
        );
        assert_eq!(super::keyboard(&[]), None);
        assert_eq!(
            super::keyboard(&[Action::OpenLog("not a url".into())]),
            None,
            "a link that is not a URL is left out"
        );
    }

    #[test]
    fn the_outbox_keeps_actions_and_still_reads_old_keyboards() {
        let actions = vec![Action::Rebuild(7)];
        let stored = store(&actions).expect("stored");
        assert_eq!(stored, r#"[{"rebuild":7}]"#);
        assert_eq!(stored_keyboard(&stored), keyboard(&actions));
        assert_eq!(store(&[]), None);
        let old = serde_json::to_string(&keyboard(&actions).unwrap()).unwrap();
        assert_eq!(stored_keyboard(&old), keyboard(&actions));
        assert_eq!(stored_keyboard("garbage"), None);
    }
}
