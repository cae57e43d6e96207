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
    use axum::body::Body;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    const SECRET: &str = "0123456789abcdef";

    fn guard() -> Guard {
        let refusals = Refusals::new("127.0.0.1:8443".parse().unwrap());
        Guard::new(SECRET, 1, refusals)
    }

    fn headers(secret: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SECRET_HEADER, secret.parse().unwrap());
        headers
    }

    /// What `guard` answers to a post with `secret` and `body`, in front of a handler that
    /// reads the body as teloxide's does.
    async fn answer(guard: &Guard, secret: Option<&str>, body: Body) -> StatusCode {
        let handler = axum::Router::new().route("/", post(|body: String| async move { body }));
        let mut request = Request::post("/");
        if let Some(secret) = secret {
            request = request.header(SECRET_HEADER, secret);
        }
        // as hyper's client does, a body of known size is declared
        if let Some(length) = axum::body::HttpBody::size_hint(&body).exact() {
            request = request.header(header::CONTENT_LENGTH, length);
        }
        let router = guarded(handler, guard.clone());
        router
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap()
            .status()
    }

    /// A body that never ends.
    fn endless() -> Body {
        Body::from_stream(futures::stream::pending::<Result<Vec<u8>, std::io::Error>>())
    }

    #[test]
    fn only_the_whole_secret_passes() {
        let guard = guard();
        assert!(guard.has_secret(&headers(SECRET)));
        assert!(!guard.has_secret(&headers("0123456789abcdeF")));
        assert!(!guard.has_secret(&headers("0123456789abcde")));
        assert!(!guard.has_secret(&headers("0123456789abcdef0")));
        assert!(!guard.has_secret(&HeaderMap::new()));
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_do_not_wait_for_the_body() {
        let guard = guard();
        // with the clock paused, waiting for the body would end in the 408 of the timeout
        let status = answer(&guard, None, endless()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let status = answer(&guard, Some("0123456789abcdeX"), endless()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let _held = guard.slots.clone().try_acquire_owned().unwrap();
        let status = answer(&guard, Some(SECRET), endless()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(guard.refusals.pending(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_does_not_come_frees_its_slot_in_time() {
        let guard = guard();
        let status = answer(&guard, Some(SECRET), endless()).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        let status = answer(&guard, Some(SECRET), Body::from("{}")).await;
        assert_eq!(status, StatusCode::OK, "the slot is free again");
    }

    #[tokio::test]
    async fn large_bodies_are_refused_declared_or_streamed() {
        let guard = guard();
        let chunks = (0..5).map(|_| Ok::<_, std::io::Error>(vec![b' '; MAX_BODY / 4]));
        let streamed = Body::from_stream(futures::stream::iter(chunks));
        let status = answer(&guard, Some(SECRET), streamed).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let declared = Body::from(vec![b' '; MAX_BODY + 1]);
        let status = answer(&guard, Some(SECRET), declared).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let just_fits = Body::from(vec![b' '; MAX_BODY]);
        assert_eq!(
            answer(&guard, Some(SECRET), just_fits).await,
            StatusCode::OK
        );
        assert_eq!(guard.refusals.pending(), 2);
    }
}
