//! What a notification offers under its text. The notifier says *what* (data: open the
//! failing step's log, rebuild this build); delivery draws the buttons. So `notify` never
//! knows what a keyboard is, and the outbox stores actions, not Bot API JSON.

use serde::{Deserialize, Serialize};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardButtonKind, InlineKeyboardMarkup};

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
    /// Open a build's page: `label` is the button's text (the morning digest's failed builds).
    OpenBuild { label: String, url: String },
}

/// Telegram takes at most this many buttons under a message.
pub const MAX_BUTTONS: usize = 100;

/// A notification: HTML text and what it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub text: String,
    pub actions: Vec<Action>,
}

impl Notification {
    /// A notification with `actions` under `text`. A log page Telegram would not take on a
    /// button (see [`button_url`]) becomes a line of the text instead, so the message is
    /// never refused for it and the link still reaches the reader.
    pub fn new(text: impl Into<String>, actions: Vec<Action>) -> Notification {
        let mut body = text.into();
        let mut kept = Vec::with_capacity(actions.len());
        for action in actions {
            match action {
                Action::OpenLog(url) if button_url(&url).is_none() => {
                    body.push('\n');
                    body.push_str(&text::button_as_link(&text::full_log_button(), &url));
                }
                Action::OpenBuild { label, url } if button_url(&url).is_none() => {
                    body.push('\n');
                    body.push_str(&text::button_as_link(&label, &url));
                }
                action => kept.push(action),
            }
        }
        Notification {
            text: body,
            actions: kept,
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

/// `url` as Telegram takes it on a URL button: http or https with a host that has a dot
/// (Telegram answers `BUTTON_URL_INVALID` for `localhost` or an intranet name like
/// `buildbot`), or a `tg:` link. `None` for anything else.
pub fn button_url(url: &str) -> Option<reqwest::Url> {
    let url = reqwest::Url::parse(url).ok()?;
    let accepted = match url.scheme() {
        "tg" => true,
        "http" | "https" => url.host_str().is_some_and(|host| host.contains('.')),
        _ => false,
    };
    accepted.then_some(url)
}

/// The keyboard without its URL buttons, and those buttons as lines for the text: what to
/// send when Telegram refused a link anyway.
pub fn url_buttons_as_lines(
    keyboard: &InlineKeyboardMarkup,
) -> (Vec<String>, Option<InlineKeyboardMarkup>) {
    let mut lines = Vec::new();
    let mut rows = Vec::new();
    for row in &keyboard.inline_keyboard {
        let mut kept = Vec::new();
        for button in row {
            match &button.kind {
                InlineKeyboardButtonKind::Url(url) => {
                    lines.push(text::button_as_link(&button.text, url.as_str()));
                }
                _ => kept.push(button.clone()),
            }
        }
        if !kept.is_empty() {
            rows.push(kept);
        }
    }
    let keyboard = (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows));
    (lines, keyboard)
}

/// The actions as buttons: logs and rebuilds in one row, builds to open two a row under it,
/// at most [`MAX_BUTTONS`] in all; `None` when there is nothing to offer.
pub fn keyboard(actions: &[Action]) -> Option<InlineKeyboardMarkup> {
    let mut row = Vec::new();
    let mut builds = Vec::new();
    for action in actions {
        match action {
            Action::OpenLog(url) => row.extend(
                button_url(url).map(|url| InlineKeyboardButton::url(text::full_log_button(), url)),
            ),
            Action::Rebuild(buildid) => row.push(InlineKeyboardButton::callback(
                text::rebuild_button(),
                Callback::Rebuild(*buildid).encode(),
            )),
            Action::OpenBuild { label, url } => builds
                .extend(button_url(url).map(|url| InlineKeyboardButton::url(label.clone(), url))),
        }
    }
    row.truncate(MAX_BUTTONS);
    builds.truncate(MAX_BUTTONS - row.len());
    let mut rows: Vec<Vec<InlineKeyboardButton>> = Vec::new();
    if !row.is_empty() {
        rows.push(row);
    }
    rows.extend(builds.chunks(2).map(<[_]>::to_vec));
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
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
    fn builds_to_open_go_two_a_row_and_no_more_than_telegram_takes() {
        let open = |n: usize| Action::OpenBuild {
            label: format!("❌ b #{n}"),
            url: format!("http://bb.example/#/builders/1/builds/{n}"),
        };
        let mut actions = vec![Action::Rebuild(1)];
        actions.extend((0..150).map(open));
        let keyboard = keyboard(&actions).unwrap();
        let rows = &keyboard.inline_keyboard;
        assert_eq!(rows[0].len(), 1, "the rebuild row");
        assert_eq!(rows[1].len(), 2);
        let buttons: usize = rows.iter().map(Vec::len).sum();
        assert_eq!(buttons, MAX_BUTTONS);
        assert!(
            matches!(&rows[1][0].kind, InlineKeyboardButtonKind::Url(u) if u.as_str().ends_with("/builds/0"))
        );
        assert_eq!(rows[1][0].text, "❌ b #0");

        // on localhost: no button, a link in the text
        let local = Notification::new(
            "🌙",
            vec![Action::OpenBuild {
                label: "❌ b #3".into(),
                url: "http://localhost:8010/#/builders/1/builds/3".into(),
            }],
        );
        assert!(local.actions.is_empty());
        assert!(
            local
                .text
                .ends_with(r#"<a href="http://localhost:8010/#/builders/1/builds/3">❌ b #3</a>"#),
            "{}",
            local.text
        );
        let stored = store(&[open(3)]).unwrap();
        assert_eq!(stored_keyboard(&stored), super::keyboard(&[open(3)]));
    }

    #[test]
    fn only_links_telegram_takes_become_buttons() {
        for ok in [
            "http://bb.example/#/builders/1",
            "https://ci.example.org:8010/x",
            "http://127.0.0.1:8010/",
            "tg://resolve?domain=x",
        ] {
            assert!(button_url(ok).is_some(), "{ok}");
        }
        for refused in [
            "http://localhost:8010/#/builders/1",
            "http://buildbot:8010/",
            "ftp://files.example/log",
            "not a url",
        ] {
            assert!(button_url(refused).is_none(), "{refused}");
        }
    }

    #[test]
    fn a_log_on_localhost_is_a_line_of_the_text_and_the_rebuild_stays() {
        let url = "http://localhost:8010/#/builders/1/builds/2/steps/3/logs/stdio";
        let note = Notification::new(
            "❌ failed",
            vec![Action::OpenLog(url.into()), Action::Rebuild(2)],
        );
        assert_eq!(note.actions, [Action::Rebuild(2)]);
        assert!(note.text.starts_with("❌ failed\n"), "{}", note.text);
        assert!(
            note.text
                .contains(&format!("<a href=\"{url}\">📄 Full log</a>"))
        );
        let buttons = &note.outgoing().keyboard.expect("rebuild").inline_keyboard[0];
        assert_eq!(buttons.len(), 1);
    }

    #[test]
    fn refused_url_buttons_become_lines() {
        let keyboard = keyboard(&[
            Action::OpenLog("http://bb.example/log".into()),
            Action::Rebuild(5),
        ])
        .unwrap();
        let (lines, rest) = url_buttons_as_lines(&keyboard);
        assert_eq!(
            lines,
            [r#"<a href="http://bb.example/log">📄 Full log</a>"#]
        );
        assert_eq!(rest, super::keyboard(&[Action::Rebuild(5)]));
        let (lines, rest) = url_buttons_as_lines(&super::keyboard(&[Action::Rebuild(5)]).unwrap());
        assert!(lines.is_empty());
        assert_eq!(rest, super::keyboard(&[Action::Rebuild(5)]));
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
