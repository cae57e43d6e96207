//! Webhook mode: setWebhook with the secret (and the certificate to trust), then Telegram's
//! posts served on `listen`, over TLS when the bot has a key, behind a guard that checks each
//! request before its body is read.
//!
//! - `guard`: the secret (constant time), the body cap, `max_connections` and a deadline;
//! - `refusals`: what the guard refuses, logged at most once a minute;
//! - `serve`: TCP or TLS, a task and timeouts per connection, graceful stop.

mod guard;
mod refusals;
mod serve;

use rand::Rng;
use teloxide::prelude::*;
use teloxide::update_listeners::{UpdateListener, webhooks};

use crate::settings::WebhookSettings;

/// Why the webhook could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen for the webhook on {address} (telegram.webhook.listen): {reason}")]
    Listen { address: String, reason: String },
    #[error(
        "Telegram refused the webhook (setWebhook): {0}. Check telegram.webhook.url and telegram.certificate."
    )]
    Webhook(String),
}

/// Listens on `listen`, registers the webhook with Telegram, and serves it in a task until the
/// dispatcher stops, which deletes the webhook — unless `replicas` serve it together: one
/// replica stopping must not take the webhook from the others. `certificate` is uploaded
/// with setWebhook.
pub async fn webhook(
    bot: Bot,
    settings: &WebhookSettings,
    certificate: Option<&str>,
    replicas: bool,
) -> Result<impl UpdateListener<Err = std::convert::Infallible>, ListenError> {
    let secret = settings.secret_token.clone().unwrap_or_else(random_secret);
    crate::logging::add_secret(&secret);
    let options = webhooks::Options::new(settings.listen, settings.url.clone())
        .max_connections(settings.max_connections)
        .secret_token(secret.clone());
    let tcp = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| ListenError::Listen {
            address: settings.listen.to_string(),
            reason: e.to_string(),
        })?;
    let mut register = bot
        .set_webhook(settings.url.clone())
        .max_connections(settings.max_connections)
        .secret_token(secret.clone())
        .drop_pending_updates(false);
    if let Some(path) = certificate {
        register = register.certificate(teloxide::types::InputFile::file(path));
    }
    register
        .await
        .map_err(|e| ListenError::Webhook(e.to_string()))?;
    let (listener, stopped, router) = webhooks::axum_no_setup(options);
    let stop = async move {
        stopped.await;
        if !replicas && let Err(error) = bot.delete_webhook().await {
            log::error!("cannot delete the webhook: {error}");
        }
    };
    let refusals = refusals::Refusals::new(settings.listen);
    let guard = guard::Guard::new(&secret, settings.max_connections, refusals);
    let router = guard::guarded(router, guard);
    let tls = settings
        .tls
        .as_ref()
        .map(|tls| serve::acceptor(&tls.config));
    let limits = serve::Limits::for_max_connections(settings.max_connections);
    tokio::spawn(serve::serve(tcp, tls, router, limits, stop));
    announce(settings);
    Ok(listener)
}

/// A secret for this run: 32 letters and digits (Telegram takes 1-256 of `A-Za-z0-9_-`).
fn random_secret() -> String {
    rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Where the bot listens, and a warning when that is beyond loopback without TLS.
fn announce(settings: &WebhookSettings) {
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    log::info!(
        "receiving updates through the webhook {} (listening on {scheme}://{})",
        settings.url,
        settings.listen
    );
    if settings.tls.is_none() && !settings.listen.ip().is_loopback() {
        log::warn!(
            "the webhook listens on {} without TLS, so updates cross the network in clear text: put a TLS reverse proxy in front and listen on 127.0.0.1, or set telegram.webhook.tls_key (and tls_certificate) to have the bot serve https itself",
            settings.listen
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_generated_secret_is_long_and_in_telegrams_alphabet() {
        let secret = super::random_secret();
        assert_eq!(secret.len(), 32);
        assert!(
            secret.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{secret}"
        );
        assert_ne!(secret, super::random_secret());
    }
}
