//! One simulated connection: TCP from a source address of the pool (each
//! 127.0.0.x has ~28k ephemeral ports, so spreading is what lets one machine
//! open past 64k connections), the WebSocket upgrade, and JSON frames.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{
    WebSocketStream, client_async_with_config,
    tungstenite::{Message, protocol::WebSocketConfig},
};

use crate::stats::Recorder;

/// WebSocket read and write buffer of a simulated client, bytes.
const BUFFER: usize = 4096;

/// Why a connection failed or ended.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The target URL is not `ws://host:port`.
    #[error("target `{0}` is not ws://host:port")]
    BadTarget(String),
    /// Connect or upgrade failed.
    #[error("connect to {target}: {error}")]
    Connect {
        /// The target.
        target: String,
        /// What failed.
        error: String,
    },
    /// The socket failed or closed.
    #[error("connection: {0}")]
    Io(String),
    /// No frame in time.
    #[error("no frame within {0:?}")]
    Timeout(Duration),
    /// The server closed the connection.
    #[error("closed by the server: {0}")]
    Closed(String),
}

/// The source addresses connections are spread over.
#[derive(Debug)]
pub struct Sources {
    addresses: Vec<IpAddr>,
    next: AtomicUsize,
}

impl Sources {
    /// 127.0.0.`first` up to 127.0.0.`first + count - 1` (within .1–.254).
    pub fn loopback(first: u32, count: u32) -> Self {
        let first = first.clamp(1, 254);
        let last = first.saturating_add(count.max(1) - 1).min(254);
        Self {
            addresses: (first..=last)
                .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, u8::try_from(i).unwrap_or(1))))
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    fn pick(&self) -> IpAddr {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.addresses[i % self.addresses.len()]
    }
}

/// `ws://host:port` (an optional trailing path is dropped) → its address.
pub async fn resolve(target: &str) -> Result<SocketAddr, ClientError> {
    let rest = target
        .strip_prefix("ws://")
        .ok_or_else(|| ClientError::BadTarget(target.to_string()))?;
    let authority = rest.split('/').next().unwrap_or_default();
    tokio::net::lookup_host(authority)
        .await
        .map_err(|_| ClientError::BadTarget(target.to_string()))?
        .next()
        .ok_or_else(|| ClientError::BadTarget(target.to_string()))
}

/// An open WebSocket speaking JSON frames.
#[derive(Debug)]
pub struct Conn {
    ws: WebSocketStream<TcpStream>,
    _open: Option<Open>,
}

/// Counts a connection in the `connections` gauge while it lives.
#[derive(Debug)]
struct Open(Arc<Recorder>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.gauge("connections", -1);
    }
}

/// Small buffers, as the server's: tungstenite's default 128 KiB read buffer
/// would make a load generator of 100k connections need 13 GB, and it is
/// zeroed on every read (a third of a relay generator's CPU went to that).
pub(crate) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(BUFFER)
        .write_buffer_size(BUFFER)
}

impl Conn {
    /// Connect to `target` (`ws://host:port`) at `path` from the next source
    /// address.
    pub async fn open(sources: &Sources, target: &str, path: &str) -> Result<Self, ClientError> {
        let addr = resolve(target).await?;
        let failed = |error: String| ClientError::Connect {
            target: target.to_string(),
            error,
        };
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| failed(e.to_string()))?;
        if addr.is_ipv4() {
            socket
                .bind(SocketAddr::new(sources.pick(), 0))
                .map_err(|e| failed(format!("bind: {e}")))?;
        }
        let stream = socket
            .connect(addr)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let url = format!("ws://{addr}{path}");
        let (ws, _) = client_async_with_config(url, stream, Some(ws_config()))
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(Self { ws, _open: None })
    }

    /// Count this connection in the recorder's `connections` gauge until it is
    /// dropped.
    pub fn counted(mut self, rec: &Arc<Recorder>) -> Self {
        rec.gauge("connections", 1);
        self._open = Some(Open(rec.clone()));
        self
    }

    /// Send one frame.
    pub async fn send(&mut self, frame: &Value) -> Result<(), ClientError> {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .map_err(|e| ClientError::Io(e.to_string()))
    }

    /// The next JSON frame (pings and pongs are answered by the stack).
    pub async fn recv(&mut self) -> Result<Value, ClientError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(text.as_str())
                        .map_err(|e| ClientError::Io(format!("not JSON: {e}")));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(ClientError::Closed(
                        frame
                            .map(|f| format!("{} {}", f.code, f.reason))
                            .unwrap_or_default(),
                    ));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(ClientError::Io(e.to_string())),
                None => return Err(ClientError::Closed(String::new())),
            }
        }
    }

    /// The next frame within `wait`.
    pub async fn recv_within(&mut self, wait: Duration) -> Result<Value, ClientError> {
        tokio::time::timeout(wait, self.recv())
            .await
            .map_err(|_| ClientError::Timeout(wait))?
    }

    /// Close politely.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

/// The send time a message's text carries (` t=<µs since the run started>`),
/// so the receiving party measures delivery on the same clock.
pub fn stamped(text: &str, at_us: u64) -> String {
    format!("{text} t={at_us}")
}

/// The send time in a stamped text.
pub fn stamp_of(text: &str) -> Option<u64> {
    text.rsplit_once(" t=")
        .and_then(|(_, t)| t.trim().parse().ok())
}
