//! The one way out to Telegram: every message the bot sends or edits goes through [`Delivery`].
//!
//! Keeping the exit in one place is what lets Telegram's rules be followed everywhere at once:
//! long texts are split at line breaks under the 4,096-character limit (reply on the first
//! part, keyboard on the last), a `retry_after` answer is waited out and the message sent
//! again, and a message Telegram cannot parse is sent again as plain text rather than lost.

pub mod actions;
mod budget;
pub mod limits;
pub mod outbox;
mod split;

pub use actions::{Action, Notification};
pub use split::{plain_text, split};

use std::sync::Arc;
use std::time::Duration;

use crate::clock;
use crate::settings::Limits;
use crate::storage::{Store, sends};
use limits::{Limiter, Priority};

use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::requests::{HasPayload, Request};
use teloxide::types::{
    ForceReply, InlineKeyboardMarkup, LinkPreviewOptions, MessageId, ParseMode, Recipient,
    ReplyMarkup, ReplyParameters,
};

/// Telegram's limit on a message's text, in UTF-16 code units after entity parsing. Measuring
/// the HTML source instead is conservative: markup only ever makes the source longer.
pub const MESSAGE_LIMIT: usize = 4096;

/// How often one message is tried when Telegram asks to slow down.
const ATTEMPTS: u32 = 10;

/// How long an answer (a reply, an edit) waits before each new try after a failure that
/// surely did not deliver it: about 15 s in all, then the person is better served by an error
/// in the log than by an answer minutes late.
const REPLY_RETRIES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(7),
];

/// A message to send: HTML text and, optionally, an inline keyboard under it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub text: String,
    pub keyboard: Option<InlineKeyboardMarkup>,
    /// Ask the client to answer this message (Telegram's force_reply): in groups, where a
    /// bot only sees replies to it, this is how a typed answer reaches the bot.
    pub asks: bool,
}

impl Outgoing {
    pub fn text(text: impl Into<String>) -> Outgoing {
        Outgoing {
            text: text.into(),
            keyboard: None,
            asks: false,
        }
    }

    /// Marks the message as a question whose answer is typed.
    pub fn asking(mut self) -> Outgoing {
        self.asks = true;
        self
    }

    pub fn with_keyboard(mut self, keyboard: InlineKeyboardMarkup) -> Outgoing {
        self.keyboard = Some(keyboard);
        self
    }
}

#[derive(Clone)]
pub struct Delivery {
    bot: Bot,
    limiter: Arc<Limiter>,
    /// Where sends to groups and channels are remembered across restarts, if anywhere.
    memory: Option<Store>,
    /// With replicas: the Telegram budget they share.
    budget: Option<budget::SharedBudget>,
}

impl Delivery {
    pub fn new(bot: Bot, limits: Limits) -> Delivery {
        Delivery {
            bot,
            limiter: Arc::new(Limiter::new(limits)),
            memory: None,
            budget: None,
        }
    }

    /// Remembers every send to a group or channel in `store` and counts those of the last
    /// minute (by an earlier run) at once: Telegram's 20-a-minute window outlives a restart,
    /// and a bot that forgot it would draw 429s right after starting.
    pub async fn remembering(mut self, store: Store) -> Delivery {
        let since = clock::now_millis() - sends::KEPT_MS;
        match store.recent_sends(since).await {
            Ok(sends) => {
                let now = clock::now_millis();
                for (chat, at) in &sends {
                    let ago = u64::try_from(now.saturating_sub(*at)).unwrap_or_default();
                    self.limiter.remember(chat, Duration::from_millis(ago));
                }
                if !sends.is_empty() {
                    log::info!(
                        "counting {} message(s) sent to groups in the last minute before this start",
                        sends.len()
                    );
                }
            }
            Err(error) => log::warn!("cannot read the sends of the last minute: {error}"),
        }
        self.memory = Some(store);
        self
    }

    /// Shares Telegram's limits with the other replicas through the budget in `store` (a
    /// connection of its own, so that the fan-out's writes never hold a send up).
    pub fn sharing_budget(mut self, store: Store) -> Delivery {
        self.budget = Some(budget::SharedBudget::new(store));
        self
    }

    /// Writes a send to a group or channel down, without holding the send up. Replicas
    /// sharing a budget need not: every send is in it already, whoever made it.
    fn note_send(&self, chat: &Recipient) {
        let (key, group) = Limiter::key_of(chat);
        let Some(store) = self
            .memory
            .clone()
            .filter(|_| group && self.budget.is_none())
        else {
            return;
        };
        let at = clock::now_millis();
        tokio::spawn(async move {
            if let Err(error) = store.record_send(key, at).await {
                log::debug!("cannot remember a send: {error}");
            }
        });
    }

    /// Sends a notification (no reply; a keyboard under the last part) at bulk priority; the
    /// outbox decides what an error means.
    pub async fn send_bulk(
        &self,
        chat: Recipient,
        topic: Option<i32>,
        text: &str,
        keyboard: Option<InlineKeyboardMarkup>,
        silent: bool,
    ) -> Result<Option<MessageId>, RequestError> {
        let parts = split(text, MESSAGE_LIMIT);
        let mut last = None;
        let count = parts.len();
        for (index, part) in parts.into_iter().enumerate() {
            let markup = keyboard
                .clone()
                .filter(|_| index + 1 == count)
                .map(ReplyMarkup::InlineKeyboard);
            last = Some(
                self.send_part(
                    chat.clone(),
                    None,
                    part,
                    markup,
                    Priority::Bulk,
                    (silent, topic),
                )
                .await?
                .id,
            );
        }
        Ok(last)
    }

    /// Sends `message` to `chat`, split into as many parts as it needs. Returns the id of the
    /// last part, the one that carries the keyboard (`None` for a text with nothing to send),
    /// so that a conversation can tell its question from older messages.
    pub async fn send(
        &self,
        chat: impl Into<Recipient>,
        reply_to: Option<MessageId>,
        message: Outgoing,
    ) -> Result<Option<MessageId>, RequestError> {
        let chat = chat.into();
        let parts = split(&message.text, MESSAGE_LIMIT);
        let count = parts.len();
        let mut sent = None;
        for (index, part) in parts.into_iter().enumerate() {
            let last = index + 1 == count;
            let markup = match (&message.keyboard, message.asks) {
                (Some(keyboard), _) if last => Some(ReplyMarkup::InlineKeyboard(keyboard.clone())),
                (None, true) if last => {
                    Some(ReplyMarkup::ForceReply(ForceReply::new().selective()))
                }
                _ => None,
            };
            let reply_to = if index == 0 { reply_to } else { None };
            let message = self
                .send_part(
                    chat.clone(),
                    reply_to,
                    part,
                    markup,
                    Priority::Urgent,
                    (false, None),
                )
                .await?;
            sent = Some(message.id);
        }
        Ok(sent)
    }

    async fn send_part(
        &self,
        chat: Recipient,
        reply_to: Option<MessageId>,
        text: String,
        markup: Option<ReplyMarkup>,
        priority: Priority,
        (silent, topic): (bool, Option<i32>),
    ) -> Result<Message, RequestError> {
        let mut request = self
            .bot
            .send_message(chat.clone(), text.clone())
            .parse_mode(ParseMode::Html)
            .link_preview_options(no_preview());
        if let Some(id) = reply_to {
            request =
                request.reply_parameters(ReplyParameters::new(id).allow_sending_without_reply());
        }
        if let Some(markup) = markup {
            request = request.reply_markup(markup);
        }
        if silent {
            request = request.disable_notification(true);
        }
        if let Some(thread) = topic {
            request = request.message_thread_id(teloxide::types::ThreadId(MessageId(thread)));
        }
        let keyboard = match &request.reply_markup {
            Some(ReplyMarkup::InlineKeyboard(keyboard)) => Some(keyboard.clone()),
            _ => None,
        };
        match (
            self.perform(&chat, priority, request.clone()).await,
            keyboard,
        ) {
            (
                Err(RequestError::Api(ApiError::ButtonUrlInvalid | ApiError::WrongHttpUrl)),
                Some(keyboard),
            ) => {
                let (lines, keyboard) = actions::url_buttons_as_lines(&keyboard);
                log::warn!("Telegram refused a link button; sending its link in the text instead");
                let mut retry = request;
                retry.payload_mut().text = with_lines(&text, &lines);
                retry.payload_mut().reply_markup = keyboard.map(ReplyMarkup::InlineKeyboard);
                self.perform(&chat, priority, retry).await
            }
            (Err(RequestError::Api(ApiError::CantParseEntities(reason))), _) => {
                // A bug in our markup must not cost the user the answer.
                log::error!(
                    "Telegram could not parse a message ({reason}); sending it as plain text"
                );
                let mut plain = request.clone();
                plain.payload_mut().text = plain_text(&text);
                plain.payload_mut().parse_mode = None;
                self.perform(&chat, priority, plain).await
            }
            (other, _) => other,
        }
    }

    /// Replaces the text (and keyboard) of a message the bot sent earlier. Texts too long for
    /// one message are cut: an edit cannot become several messages.
    pub async fn edit(
        &self,
        chat: ChatId,
        id: MessageId,
        message: Outgoing,
    ) -> Result<(), RequestError> {
        self.edit_at(chat, id, message, Priority::Urgent).await
    }

    /// Like [`Delivery::edit`] for a notification's own message (a live build message): at
    /// bulk priority, behind every answer someone is waiting for.
    pub async fn edit_notification(
        &self,
        chat: ChatId,
        id: MessageId,
        message: Outgoing,
    ) -> Result<(), RequestError> {
        self.edit_at(chat, id, message, Priority::Bulk).await
    }

    async fn edit_at(
        &self,
        chat: ChatId,
        id: MessageId,
        message: Outgoing,
        priority: Priority,
    ) -> Result<(), RequestError> {
        let text = split(&message.text, MESSAGE_LIMIT)
            .into_iter()
            .next()
            .unwrap_or_default();
        let mut request = self
            .bot
            .edit_message_text(chat, id, text)
            .parse_mode(ParseMode::Html)
            .link_preview_options(no_preview());
        if let Some(keyboard) = message.keyboard.clone() {
            request = request.reply_markup(keyboard);
        }
        let target = Recipient::Id(chat);
        let sent = self.perform(&target, priority, request.clone()).await;
        match (sent, message.keyboard) {
            (Err(RequestError::Api(ApiError::MessageNotModified)), _) => Ok(()),
            (
                Err(RequestError::Api(ApiError::ButtonUrlInvalid | ApiError::WrongHttpUrl)),
                Some(keyboard),
            ) => {
                let (lines, keyboard) = actions::url_buttons_as_lines(&keyboard);
                log::warn!("Telegram refused a link button; putting its link in the text instead");
                let mut retry = request;
                let text = with_lines(&retry.payload_mut().text, &lines);
                retry.payload_mut().text = text;
                retry.payload_mut().reply_markup = keyboard;
                self.perform(&target, priority, retry).await.map(|_| ())
            }
            (Err(RequestError::Api(ApiError::CantParseEntities(reason))), _) => {
                log::error!(
                    "Telegram could not parse an edit ({reason}); sending it as plain text"
                );
                let mut plain = request;
                plain.payload_mut().text = plain_text(&plain.payload_mut().text);
                plain.payload_mut().parse_mode = None;
                self.perform(&target, priority, plain).await.map(|_| ())
            }
            (other, _) => other.map(|_| ()),
        }
    }

    /// Replaces the inline keyboard under a message (e.g. toggles shown in place).
    pub async fn edit_keyboard(
        &self,
        chat: ChatId,
        id: MessageId,
        keyboard: InlineKeyboardMarkup,
    ) -> Result<(), RequestError> {
        let request = self
            .bot
            .edit_message_reply_markup(chat, id)
            .reply_markup(keyboard);
        match self
            .perform(&Recipient::Id(chat), Priority::Urgent, request)
            .await
        {
            Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Removes the inline keyboard under a message, so that its buttons cannot be tapped again.
    pub async fn remove_keyboard(&self, chat: ChatId, id: MessageId) -> Result<(), RequestError> {
        let request = self.bot.edit_message_reply_markup(chat, id);
        match self
            .perform(&Recipient::Id(chat), Priority::Urgent, request)
            .await
        {
            Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Answers a button tap; `text` shows as a notice (or an alert) to the user who tapped.
    pub async fn answer_callback(
        &self,
        id: teloxide::types::CallbackQueryId,
        text: Option<String>,
        alert: bool,
    ) -> Result<(), RequestError> {
        let mut request = self.bot.answer_callback_query(id);
        if let Some(text) = text {
            request = request.text(text).show_alert(alert);
        }
        // Telegram does not limit answers to button taps: no window to wait for.
        request.send().await.map(|_| ())
    }

    /// Sends within the limits, waiting out `retry_after` answers (which pause every send);
    /// other errors go back to the caller at once.
    async fn perform<R>(
        &self,
        chat: &Recipient,
        priority: Priority,
        request: R,
    ) -> Result<teloxide::requests::Output<R>, RequestError>
    where
        R: Request<Err = RequestError> + Clone,
    {
        let mut attempt = 1;
        let mut again = REPLY_RETRIES.iter();
        loop {
            let in_flight = self.limiter.acquire(chat, priority).await;
            // with replicas, the bot's budget too; given back however the send ends
            let place = match &self.budget {
                Some(budget) => budget.place(&self.limiter, chat, priority).await,
                None => None,
            };
            self.note_send(chat);
            let sent = request.clone().send().await;
            drop((in_flight, place));
            match sent {
                Err(RequestError::RetryAfter(wait)) if attempt < ATTEMPTS => {
                    log::warn!(
                        "Telegram asks to slow down: pausing sends for {} s",
                        wait.seconds()
                    );
                    self.limiter
                        .pause(wait.duration() + Duration::from_millis(50));
                    attempt += 1;
                }
                // someone waits for this answer; notifications have the outbox's own retries
                Err(error) if priority == Priority::Urgent && surely_not_delivered(&error) => {
                    let Some(delay) = again.next() else {
                        return Err(error);
                    };
                    log::warn!("an answer to {chat:?} failed ({error}); trying again in {delay:?}");
                    tokio::time::sleep(*delay).await;
                }
                other => return other,
            }
        }
    }
}

/// `text` with `lines` added at its end (each line is self-contained markup).
fn with_lines(text: &str, lines: &[String]) -> String {
    let mut out = text.to_owned();
    for line in lines {
        // what does not fit is left out: the message itself must not be refused as too long
        if out.chars().count() + 1 + line.chars().count() > MESSAGE_LIMIT {
            log::warn!("a refused link button's line does not fit in its message; left out");
            continue;
        }
        out.push('\n');
        out.push_str(line);
    }
    out
}

/// Failures after which Telegram surely has not taken the message: its servers answered 5xx,
/// or the connection was never made. Only these are tried again, so an answer is never sent
/// twice; a connection lost after the request went out may have delivered it, and is not.
fn surely_not_delivered(error: &RequestError) -> bool {
    match error {
        RequestError::Network(error) => error.is_connect(),
        RequestError::Api(ApiError::Unknown(description)) => {
            let description = description.to_lowercase();
            [
                "internal server error",
                "bad gateway",
                "service unavailable",
                "gateway timeout",
            ]
            .iter()
            .any(|s| description.contains(s))
        }
        _ => false,
    }
}

fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_buttons_links_are_added_while_they_fit() {
        let lines = vec!["a".repeat(10), "b".repeat(10)];
        assert_eq!(
            with_lines("text", &lines),
            format!("text\n{}\n{}", lines[0], lines[1])
        );
        let full = "x".repeat(MESSAGE_LIMIT - 11);
        let added = with_lines(&full, &lines);
        assert_eq!(added, format!("{full}\n{}", lines[0]), "only what fits");
        assert!(added.chars().count() <= MESSAGE_LIMIT);
    }

    #[test]
    fn only_failures_that_surely_did_not_deliver_are_tried_again() {
        let api = |d: &str| RequestError::Api(ApiError::Unknown(d.to_owned()));
        assert!(surely_not_delivered(&api("Internal Server Error")));
        assert!(surely_not_delivered(&api("Bad Gateway")));
        assert!(!surely_not_delivered(&api("Bad Request: chat not found")));
        assert!(!surely_not_delivered(&RequestError::Api(
            ApiError::MessageNotModified
        )));
    }
}
