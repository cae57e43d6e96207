//! The webhook's HTTP server, over TLS when the bot has a certificate and key.
//!
//! Not `axum::serve`: it sets no timer, so a client could open a connection and never send its
//! headers, and it has no TLS. Here every connection is its own task, so a TLS handshake (with
//! [`HANDSHAKE_TIMEOUT`]) never keeps the next connection waiting; hyper gives each request
//! [`HEADER_TIMEOUT`] to send headers of at most [`MAX_HEADER_BYTES`]; at most
//! [`Limits::open`] connections are kept open at once, [`Limits::per_peer`] from one address,
//! so that nobody without the secret can take the process's file descriptors or hold the
//! port against Telegram. On stop, no connection is accepted any more and the open ones are finished
//! gracefully (for up to [`DRAIN_TIMEOUT`]).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// hyper's smallest read buffer: Telegram's request headers take a few hundred bytes.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
const MAX_HEADERS: usize = 32;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// An acceptor for `config`, speaking HTTP/1.1 (what Telegram uses).
pub fn acceptor(config: &rustls::ServerConfig) -> TlsAcceptor {
    let mut config = config.clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

/// How many connections may be open: Telegram opens up to `max_connections`, all possibly
/// from one of its addresses; twice that plus a margin in all leaves room for Telegram while
/// one other address holds all it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub open: usize,
    pub per_peer: usize,
}

impl Limits {
    pub fn for_max_connections(max_connections: u8) -> Limits {
        let max = usize::from(max_connections);
        Limits {
            open: 2 * max + 32,
            per_peer: max + 4,
        }
    }
}

/// Open connections per address, each entry removed with its last connection.
#[derive(Clone, Default)]
struct Peers(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection counted against its address; uncounted when dropped.
struct PeerSlot {
    peers: Peers,
    ip: IpAddr,
}

impl Peers {
    fn take(&self, ip: IpAddr, limit: usize) -> Option<PeerSlot> {
        let mut peers = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let open = peers.entry(ip).or_default();
        if *open >= limit {
            return None;
        }
        *open += 1;
        Some(PeerSlot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut peers = self
            .peers
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(open) = peers.get_mut(&self.ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                peers.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `tcp` (through `tls` if given) until `stop` completes.
pub async fn serve(
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.open));
    let peers = Peers::default();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // out of file descriptors, or a connection reset before it was accepted
                    log::debug!("the webhook could not accept a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            log::debug!(
                "closed a webhook connection from {peer}: {} are open already",
                limits.open
            );
            continue;
        };
        let Some(slot) = peers.take(peer.ip(), limits.per_peer) else {
            log::debug!(
                "closed a webhook connection from {peer}: {} from that address are open already",
                limits.per_peer
            );
            continue;
        };
        let connection = Connection {
            service: TowerToHyperService::new(router.clone()),
            watcher: graceful.watcher(),
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            let _held = (permit, slot);
            connection.run(stream, tls, peer).await;
        });
    }
    drop(tcp);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        log::debug!("webhook connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

/// One accepted connection and what it needs to be served.
struct Connection {
    service: TowerToHyperService<axum::Router>,
    watcher: Watcher,
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>, peer: std::net::SocketAddr) {
        let Some(tls) = tls else {
            return self.http(stream).await;
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
            Ok(Ok(stream)) => self.http(stream).await,
            Ok(Err(error)) => log::debug!("TLS handshake with {peer} failed: {error}"),
            Err(_) => log::debug!("TLS handshake with {peer} timed out"),
        }
    }

    async fn http<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEADER_BYTES)
            .max_headers(MAX_HEADERS);
        let connection = builder.serve_connection(TokioIo::new(io), self.service);
        if let Err(error) = self.watcher.watch(connection).await {
            log::debug!("a webhook connection ended with an error: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_keeps_room_while_one_address_holds_all_it_may() {
        for max in [1u8, 40, 100] {
            let limits = Limits::for_max_connections(max);
            assert!(limits.per_peer > usize::from(max), "{limits:?}");
            assert!(
                limits.open - limits.per_peer > usize::from(max),
                "{limits:?}"
            );
        }
        assert_eq!(Limits::for_max_connections(100).open, 232);
    }

    #[test]
    fn an_address_gets_its_share_and_no_more_and_gives_it_back() {
        let peers = Peers::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        let first = peers.take(ip, 2).expect("first");
        let second = peers.take(ip, 2).expect("second");
        assert!(peers.take(ip, 2).is_none(), "a third from the same address");
        assert!(
            peers.take([192, 0, 2, 2].into(), 2).is_some(),
            "another address"
        );
        drop(first);
        assert!(peers.take(ip, 2).is_some(), "a slot given back");
        drop(second);
        assert!(
            peers
                .0
                .lock()
                .unwrap()
                .get(&[192, 0, 2, 2].into())
                .is_none()
        );
    }
}
