//! The accept loop: hyper connections (HTTP/1.1 with keep-alive, and HTTP/2 with prior
//! knowledge), `TCP_NODELAY`, a cap on open connections, header-read timeout, and graceful
//! shutdown that lets in-flight requests finish within a grace period.
//!
//! With TLS ([`Transport::Tls`]) every connection starts with a rustls handshake (ALPN `h2` or
//! `http/1.1`, within the header-read timeout), made with the configuration current at accept
//! time, so a SIGHUP reload never touches established connections. [`Transport::TlsOrPlain`]
//! also serves plaintext connections on the same port (told apart by their first byte: a TLS
//! record starts with 0x16), for local development.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::limiter::Peer;
use super::state::Limits;
use super::tls::Tls;

/// What a connection speaks.
#[derive(Debug, Clone)]
pub enum Transport {
    /// HTTP/1.1 and h2c (prior knowledge) in plaintext.
    Plain,
    /// TLS only.
    Tls(Arc<Tls>),
    /// TLS, and plaintext on the same port.
    TlsOrPlain(Arc<Tls>),
}

/// Open connections per peer address (IPv6: per /64), capped.
#[derive(Clone)]
struct PerAddress {
    cap: usize,
    open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

/// One counted connection; uncounted on drop.
struct AddressSlot {
    key: std::net::IpAddr,
    open: Option<Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some(open) = &self.open {
            let mut open = open.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = open.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&self.key);
                }
            }
        }
    }
}

impl PerAddress {
    fn new(cap: usize) -> Self {
        PerAddress {
            cap,
            open: Arc::default(),
        }
    }

    /// A slot for a connection from `ip`, unless that address is at the cap (0: no cap).
    fn acquire(&self, ip: std::net::IpAddr) -> Option<AddressSlot> {
        if self.cap == 0 {
            return Some(AddressSlot { key: ip, open: None });
        }
        let key = super::limiter::address_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            key,
            open: Some(self.open.clone()),
        })
    }
}

/// The first byte of a TLS connection (a handshake record).
const TLS_HANDSHAKE: u8 = 0x16;

/// Whether the connection starts a TLS handshake (waits for its first byte).
async fn starts_tls(stream: &tokio::net::TcpStream) -> std::io::Result<bool> {
    let mut first = [0u8; 1];
    let n = stream.peek(&mut first).await?;
    Ok(n == 1 && first[0] == TLS_HANDSHAKE)
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    transport: Transport,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(limits.header_read_timeout));

    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = PerAddress::new(limits.max_connections_per_address);
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // EMFILE/ENFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // One address may hold at most `max_connections_per_address` connections: more are
        // closed at once, so one client cannot take every slot (or starve `/readyz`).
        let Some(slot) = per_address.acquire(peer.ip()) else {
            tracing::debug!(peer = %peer.ip(), "connection refused: per-address connection cap reached");
            drop(stream);
            continue;
        };
        let permit = (permit, slot);
        let _ = stream.set_nodelay(true);
        // Every request carries its connection's peer address (the brute-force limits count by it).
        let service = TowerToHyperService::new(tower_layer::Layer::layer(
            &axum::Extension(Peer(peer)),
            router.clone(),
        ));
        let tls = match &transport {
            Transport::Plain => None,
            Transport::Tls(tls) | Transport::TlsOrPlain(tls) => Some(tls.config()),
        };
        let Some(tls) = tls else {
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                drop(permit);
            });
            continue;
        };
        // The handshake (and, when plaintext is allowed too, the wait for the first byte) runs
        // in the connection's task, bounded by the header-read timeout; the connection is
        // watched for graceful shutdown once it speaks HTTP.
        let allow_plain = matches!(transport, Transport::TlsOrPlain(_));
        let handshake_timeout = limits.header_read_timeout;
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let result = async {
                let is_tls = if allow_plain {
                    match tokio::time::timeout(handshake_timeout, starts_tls(&stream)).await {
                        Ok(Ok(is_tls)) => is_tls,
                        _ => return Ok(()),
                    }
                } else {
                    true
                };
                if !is_tls {
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    return watcher.watch(connection).await;
                }
                let accept = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
                let stream = match tokio::time::timeout(handshake_timeout, accept).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => {
                        tracing::debug!(error = %err, "TLS handshake failed");
                        return Ok(());
                    }
                    Err(_elapsed) => {
                        tracing::debug!("TLS handshake timed out");
                        return Ok(());
                    }
                };
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                watcher.watch(connection).await
            }
            .await;
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    tracing::info!("shutting down: no longer accepting connections, draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(grace = ?limits.shutdown_grace, "grace period elapsed; closing remaining connections");
        }
    }
}

/// Resolves on SIGTERM or ctrl-c (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received ctrl-c"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}
