//! The middleware in front of teloxide's webhook handler: what a request must be before its
//! body is read.
//!
//! teloxide's handler reads the whole body (up to axum's 2 MB) before it compares the secret,
//! with `!=`, and takes any number of requests at once. Here, in this order:
//!
//! | check                                         | answer | body read? |
//! |-----------------------------------------------|--------|------------|
//! | `X-Telegram-Bot-Api-Secret-Token` is ours     | 401    | no         |
//! | `Content-Length` at most [`MAX_BODY`]         | 413    | no         |
//! | fewer than `max_connections` being served     | 503    | no         |
//! | the body arrives within [`REQUEST_TIMEOUT`]   | 408    | partly     |
//! | the body is at most [`MAX_BODY`] (chunked)    | 413    | up to it   |
//!
//! The secret is compared in constant time, so its bytes cannot be guessed one at a time.
//! Telegram retries on 503, so the cap costs an update nothing. teloxide's own check stays
//! behind this one, harmless.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::refusals::{Refusal, Refusals};

/// Telegram's updates are a few kilobytes; 1 MiB leaves room for the longest message.
pub const MAX_BODY: usize = 1 << 20;
/// From the headers to the response: how long a request may hold one of the slots.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// What every request is checked against.
#[derive(Clone)]
pub struct Guard {
    secret: Arc<str>,
    slots: Arc<Semaphore>,
    refusals: Arc<Refusals>,
}

impl Guard {
    pub fn new(secret: &str, max_connections: u8, refusals: Arc<Refusals>) -> Guard {
        Guard {
            secret: secret.into(),
            slots: Arc::new(Semaphore::new(max_connections.into())),
            refusals,
        }
    }

    fn has_secret(&self, headers: &HeaderMap) -> bool {
        headers
            .get(SECRET_HEADER)
            .is_some_and(|given| bool::from(given.as_bytes().ct_eq(self.secret.as_bytes())))
    }

    fn refuse(&self, refusal: Refusal, status: StatusCode) -> Response {
        self.refusals.note(refusal);
        status.into_response()
    }
}

/// `router` (teloxide's) behind the guard, its extractors reading at most [`MAX_BODY`].
pub fn guarded(router: axum::Router, guard: Guard) -> axum::Router {
    router
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(guard, check))
}

async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    if !guard.has_secret(request.headers()) {
        return guard.refuse(Refusal::Secret, StatusCode::UNAUTHORIZED);
    }
    if declared_length(request.headers()).is_some_and(|length| length > MAX_BODY as u64) {
        return guard.refuse(Refusal::TooLarge, StatusCode::PAYLOAD_TOO_LARGE);
    }
    let Ok(_slot) = guard.slots.clone().try_acquire_owned() else {
        return guard.refuse(Refusal::Busy, StatusCode::SERVICE_UNAVAILABLE);
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => {
            if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                guard.refusals.note(Refusal::TooLarge);
            }
            response
        }
        Err(_) => guard.refuse(Refusal::TooSlow, StatusCode::REQUEST_TIMEOUT),
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        let refusals = Refusals::new("127.0.0.1:8443".parse().unwrap());
        Guard::new("0123456789abcdef", 1, refusals)
    }

    fn headers(secret: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SECRET_HEADER, secret.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_whole_secret_passes() {
        let guard = guard();
        assert!(guard.has_secret(&headers("0123456789abcdef")));
        assert!(!guard.has_secret(&headers("0123456789abcdeF")));
        assert!(!guard.has_secret(&headers("0123456789abcde")));
        assert!(!guard.has_secret(&headers("0123456789abcdef0")));
        assert!(!guard.has_secret(&HeaderMap::new()));
    }
}
