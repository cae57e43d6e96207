//! Where updates come from: long polling, or Telegram's posts to the webhook (served by
//! [`super::webhook`]); both pass the input budget.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use teloxide::prelude::*;
use teloxide::stop::StopToken;
use teloxide::types::AllowedUpdate;
use teloxide::update_listeners::{AsUpdateStream, Polling, UpdateListener};
use tokio::sync::mpsc;

use super::budget::{Admission, Budget};

use crate::settings::TelegramSettings;

/// Long polling, which also removes a webhook left from an earlier run in webhook mode.
pub async fn polling(
    bot: Bot,
    settings: &TelegramSettings,
) -> impl UpdateListener<Err = teloxide::RequestError> {
    log::info!(
        "receiving updates by long polling ({} s per request)",
        settings.poll_timeout
    );
    let retry_delay = Duration::from_secs(settings.retry_delay.into());
    Polling::builder(bot)
        .timeout(Duration::from_secs(settings.poll_timeout.into()))
        .backoff_strategy(move |_errors| retry_delay)
        .delete_webhook()
        .await
        .build()
}

/// Logs failures to get updates once per outage at warn (again only after 10 minutes of
/// failing), the rest at debug: a Telegram outage must not flood the log.
#[derive(Default)]
pub struct OutageLog {
    last_warned: std::sync::Mutex<Option<std::time::Instant>>,
}

impl<E: std::fmt::Debug + Send + 'static> teloxide::error_handlers::ErrorHandler<E> for OutageLog {
    fn handle_error(self: Arc<Self>, error: E) -> futures::future::BoxFuture<'static, ()> {
        let warn = self.last_warned.lock().is_ok_and(|mut last| {
            let due = last.is_none_or(|t| t.elapsed() > Duration::from_secs(600));
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        });
        if warn {
            log::warn!(
                "getting updates from Telegram failed: {error:?}; retrying (further failures are logged at debug)"
            );
        } else {
            log::debug!("getting updates from Telegram failed again: {error:?}");
        }
        Box::pin(async {})
    }
}

/// A listener whose updates pass the input [`Budget`] before the dispatcher sees them (see
/// `budget.rs` for why). The chats to tell "slow down" go to `warnings`.
pub struct Budgeted<L> {
    inner: L,
    budget: Budget,
    warnings: mpsc::Sender<ChatId>,
}

/// Puts `inner` behind the input budget, in polling and webhook mode alike.
pub fn budgeted<L: UpdateListener>(inner: L, warnings: mpsc::Sender<ChatId>) -> Budgeted<L> {
    Budgeted {
        inner,
        budget: Budget::default(),
        warnings,
    }
}

/// Whether `update` may go on; tells the sender's chat to slow down at the first drop.
fn admit(budget: &mut Budget, warnings: &mpsc::Sender<ChatId>, update: &Update) -> bool {
    let person = update.from().map(|user| user.id.0);
    let chat = update.chat().map(|chat| chat.id);
    match budget.admit(
        person,
        chat.map(|c| c.0),
        tokio::time::Instant::now().into_std(),
    ) {
        Admission::Admit => true,
        Admission::DropAndWarn => {
            log::info!(
                "input from user {person:?} in chat {chat:?} is over its budget; dropping it until it slows down"
            );
            if let Some(chat) = chat {
                // a full queue of warnings means they are being sent already
                let _ = warnings.try_send(chat);
            }
            false
        }
        Admission::Drop => {
            log::debug!("dropped update {} (over its budget)", update.id.0);
            false
        }
    }
}

impl<'a, L> AsUpdateStream<'a> for Budgeted<L>
where
    L: AsUpdateStream<'a>,
    L::StreamErr: Send + 'a,
{
    type StreamErr = L::StreamErr;
    type Stream = BoxStream<'a, Result<Update, L::StreamErr>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let Budgeted {
            inner,
            budget,
            warnings,
        } = self;
        inner
            .as_stream()
            .filter(move |item| {
                let keep = match item {
                    Ok(update) => admit(budget, warnings, update),
                    Err(_) => true,
                };
                futures::future::ready(keep)
            })
            .boxed()
    }
}

impl<L> UpdateListener for Budgeted<L>
where
    L: UpdateListener,
    L::Err: Send + 'static,
{
    type Err = L::Err;

    fn stop_token(&mut self) -> StopToken {
        self.inner.stop_token()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.inner.hint_allowed_updates(hint);
    }
}
