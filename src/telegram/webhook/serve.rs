//! The webhook's HTTP server, over TLS when the bot has a certificate and key.
//!
//! Not `axum::serve`: it sets no timer, so a client could open a connection and never send its
//! headers, and it has no TLS. Here every connection is its own task, so a TLS handshake (with
//! [`HANDSHAKE_TIMEOUT`]) never keeps the next connection waiting; hyper gives each request
//! [`HEADER_TIMEOUT`] to send its headers; at most [`MAX_OPEN`] connections are kept open at
//! once. On stop, no connection is accepted any more and the open ones are finished
//! gracefully (for up to [`DRAIN_TIMEOUT`]).

use std::future::Future;
use std::sync::Arc;
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
/// Far above Telegram's 100 connections; a bound on the file descriptors anybody can take.
pub const MAX_OPEN: usize = 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// An acceptor for `config`, speaking HTTP/1.1 (what Telegram uses).
pub fn acceptor(config: &rustls::ServerConfig) -> TlsAcceptor {
    let mut config = config.clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

/// Serves `router` on `tcp` (through `tls` if given) until `stop` completes.
pub async fn serve(
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(MAX_OPEN));
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
            log::debug!("closed a webhook connection from {peer}: {MAX_OPEN} are open already");
            continue;
        };
        let connection = Connection {
            service: TowerToHyperService::new(router.clone()),
            watcher: graceful.watcher(),
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
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
            .header_read_timeout(HEADER_TIMEOUT);
        let connection = builder.serve_connection(TokioIo::new(io), self.service);
        if let Err(error) = self.watcher.watch(connection).await {
            log::debug!("a webhook connection ended with an error: {error}");
        }
    }
}
