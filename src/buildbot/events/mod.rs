//! The master's event websocket (`<url>ws`, Buildbot's `startConsuming` protocol), as a
//! stream of [`MasterEvent`]s that survives any disconnect.
//!
//! Buildbot's events are fire-and-forget: whatever happens while the socket is down is never
//! sent. So every (re)connect is announced as [`MasterEvent::Connected`] *after* the
//! subscriptions are acknowledged, and the consumer catches up through the REST API from its
//! persistent cursor: from that moment on nothing can fall into a gap. Build events that come
//! earlier are not forwarded: the catch-up reads them, and forwarded they would move the
//! cursor past the outage before the catch-up could read it.
//!
//! The listener also feeds the [`Mirror`]: every frame is applied to it, and it stops being
//! live as soon as the stream breaks (the notifier loads it again after its catch-up).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use super::Client;
use super::mirror::Mirror;
use super::models::Build;
use crate::shutdown::Shutdown;

/// Something that happened on the master.
#[derive(Debug, Clone)]
pub enum MasterEvent {
    /// The stream is (again) live: time to catch up on what happened before.
    Connected,
    BuildStarted(Build),
    BuildFinished(Build),
    WorkerMissing {
        workerid: i64,
        name: String,
        last_connection: Option<String>,
    },
    WorkerConnected {
        workerid: i64,
        name: String,
    },
    /// A step of a build started, changed or finished (for live build messages).
    StepChanged {
        buildid: i64,
    },
}

/// The routing keys the bot listens to (every worker event: the mirror follows them all).
const PATHS: [&str; 4] = [
    "builders/*/builds/*/new",
    "builders/*/builds/*/finished",
    "workers/*/*",
    "builds/*/steps/*/*",
];

/// How often to ping, and how long silence may last before the socket counts as dead.
const PING_EVERY: Duration = Duration::from_secs(20);
const SILENCE_LIMIT: Duration = Duration::from_secs(50);
/// Reconnect delays grow from 1 s to this.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The event websocket, as `tokio_tungstenite` connects it.
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Runs until `shutdown` (or until `events` is closed): connects, forwards events and feeds
/// `mirror`, reconnects with capped backoff.
pub async fn run(
    client: Arc<Client>,
    events: mpsc::Sender<MasterEvent>,
    mirror: Mirror,
    shutdown: Shutdown,
) {
    // however this ends (the notifier's restart aborts it), the stream is gone with it
    let _lost = LostOnDrop(mirror.clone());
    let mut failures: u32 = 0;
    let mut outage_reported = false;
    loop {
        let stream = Stream {
            client: &client,
            events: &events,
            mirror: &mirror,
        };
        let outcome = tokio::select! {
            _ = shutdown.triggered() => return,
            outcome = stream.once(&mut failures, &mut outage_reported) => outcome,
        };
        mirror.lost();
        if events.is_closed() {
            return;
        }
        match outcome {
            Ok(()) => log::info!("Buildbot event stream closed by the master; reconnecting"),
            Err(error) => {
                if !outage_reported {
                    log::warn!(
                        "Buildbot event stream at {} lost: {error}; reconnecting with backoff",
                        client.base_url()
                    );
                    outage_reported = true;
                } else {
                    log::debug!("Buildbot event stream still down: {error}");
                }
            }
        }
        failures = failures.saturating_add(1);
        let delay = Duration::from_secs(1u64 << failures.min(5).saturating_sub(1)).min(MAX_BACKOFF);
        tokio::select! {
            _ = shutdown.triggered() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Tells the mirror the stream is gone when dropped: what happens next is not known.
struct LostOnDrop(Mirror);

impl Drop for LostOnDrop {
    fn drop(&mut self) {
        self.0.lost();
    }
}

/// Where one connection's frames go.
struct Stream<'a> {
    client: &'a Arc<Client>,
    events: &'a mpsc::Sender<MasterEvent>,
    mirror: &'a Mirror,
}

impl Stream<'_> {
    /// One connection: subscribe, report `Connected`, forward events until it breaks.
    async fn once(&self, failures: &mut u32, outage_reported: &mut bool) -> Result<(), String> {
        let (mut socket, url) = subscribe(self.client).await?;
        let mut listener = Listener {
            url: &url,
            events: self.events,
            client: self.client,
            mirror: self.mirror,
            failures,
            outage_reported,
            acknowledged: 0,
        };
        let mut next_id = PATHS.len() as u64 + 1;
        let mut last_heard = Instant::now();
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            tokio::select! {
                frame = socket.next() => {
                    let frame = match frame {
                        None => return Ok(()),
                        Some(Err(error)) => return Err(error.to_string()),
                        Some(Ok(frame)) => frame,
                    };
                    last_heard = Instant::now();
                    let text = match frame {
                        WsMessage::Text(text) => text.to_string(),
                        WsMessage::Close(_) => return Ok(()),
                        _ => continue,
                    };
                    if listener.text(&text).await?.is_break() {
                        return Ok(());
                    }
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > SILENCE_LIMIT {
                        return Err(format!("no answer for {} s", SILENCE_LIMIT.as_secs()));
                    }
                        let frame = json!({"cmd": "ping", "_id": next_id});
                    next_id += 1;
                    socket.send(WsMessage::text(frame.to_string())).await.map_err(|e| e.to_string())?;
                }
            }
        }
    }
}

/// Connects to the event websocket with the REST session and asks for every path in
/// [`PATHS`]; the master acknowledges each subscription later, as a frame of its own.
async fn subscribe(client: &Client) -> Result<(Socket, Url), String> {
    let (url, cookie) = client.websocket().await.map_err(|e| e.to_string())?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if let Some(cookie) = cookie {
        let value = HeaderValue::from_str(&cookie).map_err(|e| e.to_string())?;
        request.headers_mut().insert("Cookie", value);
    }
    let (mut socket, _) = timeout(
        Duration::from_secs(15),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .map_err(|_| "connecting timed out".to_owned())?
    .map_err(|e| format!("cannot connect to {url}: {e}"))?;

    for (id, path) in PATHS.iter().enumerate() {
        let frame = json!({"cmd": "startConsuming", "path": path, "_id": id + 1});
        socket
            .send(WsMessage::text(frame.to_string()))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok((socket, url))
}

/// What the frames of one connection update: the subscriptions acknowledged so far, and
/// the reconnect bookkeeping of [`run`], reset once the stream is live again.
struct Listener<'a> {
    url: &'a Url,
    events: &'a mpsc::Sender<MasterEvent>,
    client: &'a Arc<Client>,
    mirror: &'a Mirror,
    failures: &'a mut u32,
    outage_reported: &'a mut bool,
    acknowledged: usize,
}

impl Listener<'_> {
    /// Handles one text frame: a subscription's acknowledgement, or an event to forward.
    /// `Break` when nobody takes the events any more.
    async fn text(&mut self, text: &str) -> Result<ControlFlow<()>, String> {
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            log::warn!("Buildbot sent a websocket frame that is not JSON: {text:.200}");
            return Ok(ControlFlow::Continue(()));
        };
        if let Some(path) = subscription_of(&value) {
            return self.on_acknowledgement(path, &value).await;
        }
        if value.get("k").is_some() {
            self.mirror.apply(&value, self.client).await;
        }
        let Some(event) = parse_event(&value) else {
            return Ok(ControlFlow::Continue(()));
        };
        if !self.forwards(&event) {
            log::debug!(
                "a build event came before every subscription was acknowledged: left to the catch-up"
            );
            return Ok(ControlFlow::Continue(()));
        }
        if self.events.send(event).await.is_err() {
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Whether `event` goes to the consumer now. A build event that comes before every
    /// subscription is acknowledged would reach the consumer before [`MasterEvent::Connected`],
    /// so before the catch-up, and move its cursor past the very outage that catch-up is
    /// about: it is left out, since the catch-up after `Connected` reads every build through
    /// REST anyway. Worker and step events are not read again by anything, and they do not
    /// move the cursor: they go through.
    fn forwards(&self, event: &MasterEvent) -> bool {
        let build = matches!(
            event,
            MasterEvent::BuildStarted(_) | MasterEvent::BuildFinished(_)
        );
        !build || self.acknowledged == PATHS.len()
    }

    /// The master's answer to the subscription of `path`: once all are acknowledged the stream is
    /// live, and only then is `Connected` sent, so the catch-up leaves no gap.
    async fn on_acknowledgement(
        &mut self,
        path: &str,
        answer: &Value,
    ) -> Result<ControlFlow<()>, String> {
        if answer["code"].as_u64() != Some(200) {
            return Err(format!(
                "the master refused to send {path} events: {answer}"
            ));
        }
        self.acknowledged += 1;
        if self.acknowledged == PATHS.len() {
            if *self.outage_reported {
                log::info!("Buildbot event stream is back");
            } else {
                log::info!("listening to Buildbot events at {}", self.url);
            }
            *self.failures = 0;
            *self.outage_reported = false;
            self.mirror.connected();
            if self.events.send(MasterEvent::Connected).await.is_err() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

/// The subscription a frame answers: `_id` 1.. names `PATHS` in the order they were sent.
/// Any other id (0, or one never sent) answers nothing of ours: such a frame is not an
/// acknowledgement.
fn subscription_of(frame: &Value) -> Option<&'static str> {
    let id = usize::try_from(frame["_id"].as_u64()?).ok()?;
    PATHS.get(id.checked_sub(1)?).copied()
}

/// Connects and subscribes once, for `--check`: returns the websocket's URL when the master
/// acknowledged every subscription.
pub async fn probe(client: &Arc<Client>) -> Result<String, String> {
    let (events, mut received) = mpsc::channel(16);
    let mut failures = 0;
    let mut reported = true;
    let mirror = Mirror::default();
    let stream = Stream {
        client,
        events: &events,
        mirror: &mirror,
    };
    let stream = stream.once(&mut failures, &mut reported);
    tokio::pin!(stream);
    loop {
        tokio::select! {
            outcome = &mut stream => {
                return Err(outcome.err().unwrap_or_else(|| "the master closed the websocket".to_owned()));
            }
            event = received.recv() => {
                if let Some(MasterEvent::Connected) = event {
                    let (url, _) = client.websocket().await.map_err(|e| e.to_string())?;
                    return Ok(url.to_string());
                }
            }
        }
    }
}

/// `{"k": "builders/3/builds/7/finished", "m": {...}}` → an event; anything else → None.
pub fn parse_event(frame: &Value) -> Option<MasterEvent> {
    let key = frame["k"].as_str()?;
    let message = &frame["m"];
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        ["builders", _, "builds", _, "new"] => serde_json::from_value(message.clone())
            .ok()
            .map(MasterEvent::BuildStarted),
        ["builders", _, "builds", _, "finished"] => serde_json::from_value(message.clone())
            .ok()
            .map(MasterEvent::BuildFinished),
        ["builds", buildid, "steps", _, _] => Some(MasterEvent::StepChanged {
            buildid: buildid.parse().ok()?,
        }),
        ["workers", id, kind @ ("missing" | "connected")] => {
            let workerid = message["workerid"].as_i64().or_else(|| id.parse().ok())?;
            let name = message["name"].as_str().unwrap_or("?").to_owned();
            Some(if *kind == "missing" {
                let last_connection = message["last_connection"].as_str().map(str::to_owned);
                MasterEvent::WorkerMissing {
                    workerid,
                    name,
                    last_connection,
                }
            } else {
                MasterEvent::WorkerConnected { workerid, name }
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
