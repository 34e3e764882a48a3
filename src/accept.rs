//! The accept loop, in place of `axum::serve`: it gives each connection a
//! deadline for its HTTP request head (`axum::serve` sets none, axum issue
//! 2741, so a client that opens TCP and never finishes its upgrade, or a
//! slowloris sending a byte a second, would hold a descriptor forever) and
//! counts connections per client address. HTTP/1.1 only: the version sniffing
//! of an HTTP/2-capable server reads the first bytes before any deadline
//! applies, and browsers reach WebSockets over HTTP/1.1 anyway.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

use crate::{
    gate::{Gate, Held},
    metrics::Metrics,
};

/// The count a direct peer's connection holds against its address, handed
/// to the WebSocket session if the connection upgrades (the HTTP connection
/// ends there, the session goes on with the socket).
#[derive(Debug, Clone, Default)]
pub struct HeldSlot(Arc<Mutex<Option<Held>>>);

impl HeldSlot {
    /// Take the count over (once; `None` after, or from a trusted proxy).
    pub fn take(&self) -> Option<Held> {
        self.0.lock().ok().and_then(|mut held| held.take())
    }
}

/// What the loop needs besides the routes.
#[derive(Debug, Clone)]
pub struct AcceptSettings {
    /// Who is counted and how many they may hold.
    pub gate: Arc<Gate>,
    /// Where refusals are counted.
    pub metrics: Arc<Metrics>,
    /// `security.header_read_secs`.
    pub header_read: Duration,
}

/// Serve `app` on `listener` until `shutdown`: then stop accepting, let each
/// connection finish its request, and return when all have.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: AcceptSettings,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before
                    // it was accepted: neither ends the server, and retrying
                    // at once would spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let held = if settings.gate.is_proxy(peer.ip()) {
            None
        } else {
            match settings.gate.connections.hold(peer.ip()) {
                Some(held) => Some(held),
                None => {
                    settings.metrics.gate_refused("connections_per_address");
                    refuse_busy(&stream, settings.gate.connections.max());
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            HeldSlot(Arc::new(Mutex::new(held))),
            app.clone(),
            settings.clone(),
            shutdown.clone(),
        ));
    }
    connections.close();
    connections.wait().await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: HeldSlot,
    app: Router,
    settings: AcceptSettings,
    shutdown: CancellationToken,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(slot.clone());
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.oneshot(request).await.unwrap_or_else(|e| match e {})) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            settings.metrics.gate_refused("header_timeout");
            tracing::debug!(%peer, "closed: no complete request head in time");
        } else {
            tracing::trace!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Tell a client over its cap why, if its socket takes the few bytes at
/// once, and close. Whatever it already sent is read away first: closing a
/// socket with unread data resets it, and the client would lose the answer.
fn refuse_busy(stream: &TcpStream, max: u32) {
    let mut unread = [0u8; 4096];
    while matches!(stream.try_read(&mut unread), Ok(n) if n > 0) {}
    let body = format!(
        r#"{{"error":{{"code":"rate_limited","message":"this address holds {max} connections, the most it may (security.max_connections_per_address)"}}}}"#
    );
    let response = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 10\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
}
