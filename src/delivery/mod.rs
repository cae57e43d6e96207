//! The one way out to Telegram: every message the bot sends or edits goes through [`Delivery`].
//!
//! Keeping the exit in one place is what lets Telegram's rules be followed everywhere at once:
//! long texts are split at line breaks under the 4,096-character limit (reply on the first
//! part, keyboard on the last), a `retry_after` answer is waited out and the message sent
//! again, and a message Telegram cannot parse is sent again as plain text rather than lost.

pub mod actions;
pub mod limits;
pub mod outbox;

pub use actions::{Action, Notification};

use std::sync::Arc;
use std::time::Duration;

use crate::settings::Limits;
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
}

impl Delivery {
    pub fn new(bot: Bot, limits: Limits) -> Delivery {
        Delivery {
            bot,
            limiter: Arc::new(Limiter::new(limits)),
        }
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

    /// Sends `message` to `chat`, split into as many parts as it needs.
    pub async fn send(
        &self,
        chat: impl Into<Recipient>,
        reply_to: Option<MessageId>,
        message: Outgoing,
    ) -> Result<(), RequestError> {
        let chat = chat.into();
        let parts = split(&message.text, MESSAGE_LIMIT);
        let count = parts.len();
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
            self.send_part(
                chat.clone(),
                reply_to,
                part,
                markup,
                Priority::Urgent,
                (false, None),
            )
            .await?;
        }
        Ok(())
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
        match self.perform(&chat, priority, request.clone()).await {
            Err(RequestError::Api(ApiError::CantParseEntities(reason))) => {
                // A bug in our markup must not cost the user the answer.
                log::error!(
                    "Telegram could not parse a message ({reason}); sending it as plain text"
                );
                let mut plain = request.clone();
                plain.payload_mut().text = plain_text(&text);
                plain.payload_mut().parse_mode = None;
                self.perform(&chat, priority, plain).await
            }
            other => other,
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
        let text = split(&message.text, MESSAGE_LIMIT)
            .into_iter()
            .next()
            .unwrap_or_default();
        let mut request = self
            .bot
            .edit_message_text(chat, id, text)
            .parse_mode(ParseMode::Html)
            .link_preview_options(no_preview());
        if let Some(keyboard) = message.keyboard {
            request = request.reply_markup(keyboard);
        }
        let target = Recipient::Id(chat);
        match self
            .perform(&target, Priority::Urgent, request.clone())
            .await
        {
            Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(RequestError::Api(ApiError::CantParseEntities(reason))) => {
                log::error!(
                    "Telegram could not parse an edit ({reason}); sending it as plain text"
                );
                let mut plain = request;
                plain.payload_mut().text = plain_text(&plain.payload_mut().text);
                plain.payload_mut().parse_mode = None;
                self.perform(&target, Priority::Urgent, plain)
                    .await
                    .map(|_| ())
            }
            other => other.map(|_| ()),
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
        loop {
            self.limiter.acquire(chat, priority).await;
            match request.clone().send().await {
                Err(RequestError::RetryAfter(wait)) if attempt < ATTEMPTS => {
                    log::warn!(
                        "Telegram asks to slow down: pausing sends for {} s",
                        wait.seconds()
                    );
                    self.limiter
                        .pause(wait.duration() + Duration::from_millis(50));
                    attempt += 1;
                }
                other => return other,
            }
        }
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

fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Splits HTML text into parts of at most `limit` UTF-16 units, at line breaks only (every line
/// from [`crate::text`] is self-contained markup). A single line longer than the limit loses its
/// markup and is cut with an ellipsis: shown shortened rather than refused.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let text = text.trim();
    if utf16_len(text) <= limit {
        return vec![text.to_owned()];
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in text.lines() {
        let line = if utf16_len(line) > limit {
            cut_line(line, limit)
        } else {
            line.to_owned()
        };
        let line_len = utf16_len(&line);
        let needed = if current.is_empty() {
            line_len
        } else {
            current_len + 1 + line_len
        };
        if needed > limit {
            parts.push(std::mem::take(&mut current).trim_end().to_owned());
            current_len = 0;
        }
        if !current.is_empty() {
            current.push('\n');
            current_len += 1;
        }
        current.push_str(&line);
        current_len += line_len;
    }
    if !current.trim().is_empty() {
        parts.push(current.trim_end().to_owned());
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// Shortens one over-long line: tags are dropped (a cut could leave one open), entities kept
/// whole, and "…" marks the cut.
fn cut_line(line: &str, limit: usize) -> String {
    let bare = strip_tags(line);
    if utf16_len(&bare) <= limit {
        return bare; // only the markup was too much: the words all fit
    }
    let mut out = String::new();
    let mut len = 0;
    let mut entity_start = None;
    for c in bare.chars() {
        if len + c.len_utf16() + 1 > limit {
            break;
        }
        if c == '&' {
            entity_start = Some(out.len());
        } else if c == ';' {
            entity_start = None;
        }
        out.push(c);
        len += c.len_utf16();
    }
    if let Some(start) = entity_start {
        out.truncate(start);
    }
    out.push('…');
    out
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The text a reader would see, for sending without a parse mode.
pub fn plain_text(html: &str) -> String {
    strip_tags(html)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split("  hello\n", MESSAGE_LIMIT), vec!["hello"]);
    }

    #[test]
    fn long_text_splits_at_newlines_under_the_limit() {
        // as in Buildbot's own test: 250 lines of 39 digits
        let text: Vec<String> = (1..=250).map(|i| format!("{i:039}")).collect();
        let parts = split(&text.join("\n"), MESSAGE_LIMIT);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| utf16_len(p) <= MESSAGE_LIMIT));
        assert!(parts[0].starts_with(&format!("{:039}", 1)));
        assert!(parts[0].ends_with(&format!("{:039}", 102)));
        assert!(parts[2].ends_with(&format!("{:039}", 250)));
        assert_eq!(parts.join("\n"), text.join("\n"), "nothing lost");
    }

    #[test]
    fn emoji_count_as_two_units() {
        let line = "🌀".repeat(1500); // 3000 units
        let parts = split(&format!("{line}\n{line}"), MESSAGE_LIMIT);
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn overlong_line_is_cut_without_breaking_markup() {
        let line = format!("<b>{}</b> &amp; more", "x".repeat(5000));
        let parts = split(&format!("first\n{line}\nlast"), 100);
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert!(parts[1].ends_with('…'));
        assert!(!parts[1].contains('<'));
        assert!(utf16_len(&parts[1]) <= 100);
        let cut = cut_line("aaaa &amp; b", 8);
        assert_eq!(cut, "aaaa …", "an entity is never cut in half");
    }

    #[test]
    fn plain_text_unescapes() {
        assert_eq!(
            plain_text("<b>a &lt;b&gt; &amp; &quot;c&quot;</b>"),
            "a <b> & \"c\""
        );
    }
}
