//! A WebSocket client that writes frames byte by byte: what tokio-tungstenite
//! refuses to send (invalid UTF-8 in a text frame, unmasked client frames,
//! fragments that never end, reserved opcodes, bad close codes) is exactly what
//! a hostile client sends.

#![allow(dead_code, unreachable_pub)]

use std::{net::SocketAddr, time::Duration};

use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Opcodes (RFC 6455 §5.2).
pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// The key of every handshake: the server only echoes a hash of it.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// What the server did next.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A text frame, as JSON.
    Text(Value),
    /// A close frame: code (1005 if it had none) and reason.
    Close(u16, String),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// Any other frame: opcode and payload.
    Other(u8, Vec<u8>),
    /// The TCP connection ended (or was reset) without a close frame.
    Eof,
    /// Nothing within the wait.
    Silence,
}

/// One raw connection, upgraded.
pub struct RawWs {
    stream: TcpStream,
    /// Bytes read past the last whole frame.
    buffer: Vec<u8>,
}

/// The upgrade request for `path`, with `extra` header lines (each ending in `\r\n`).
pub fn upgrade_request(addr: SocketAddr, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

impl RawWs {
    /// Upgrade, or the status line and headers the server answered instead
    /// (empty if it closed without answering).
    pub async fn try_connect(addr: SocketAddr, path: &str, extra: &str) -> Result<Self, String> {
        let mut stream = TcpStream::connect(addr).await.expect("tcp connects");
        // A server may answer (431) and close before it read the whole request:
        // a failed write is the server's answer too.
        let _ = stream
            .write_all(upgrade_request(addr, path, extra).as_bytes())
            .await;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        let read_head = async {
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte).await {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), read_head).await;
        let head = String::from_utf8_lossy(&head).to_string();
        if head.starts_with("HTTP/1.1 101") {
            Ok(Self {
                stream,
                buffer: Vec::new(),
            })
        } else {
            Err(head)
        }
    }

    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        match Self::try_connect(addr, path, "").await {
            Ok(ws) => ws,
            Err(head) => panic!("upgrade refused: {head:?}"),
        }
    }

    /// Write one frame as given: `masked` false breaks RFC 6455 §5.1 on purpose.
    /// An `Err` means the server has closed the connection.
    pub async fn frame(
        &mut self,
        fin: bool,
        opcode: u8,
        payload: &[u8],
        masked: bool,
    ) -> std::io::Result<()> {
        self.stream
            .write_all(&encode(fin, opcode, payload, masked))
            .await
    }

    /// A whole, masked text frame with these bytes (valid UTF-8 or not).
    pub async fn text(&mut self, payload: &[u8]) -> std::io::Result<()> {
        self.frame(true, TEXT, payload, true).await
    }

    /// A whole, masked text frame holding this JSON.
    pub async fn json(&mut self, frame: &Value) -> std::io::Result<()> {
        self.text(frame.to_string().as_bytes()).await
    }

    /// Bytes as they are, e.g. many frames in one write.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// The next frame from the server within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Event {
        match tokio::time::timeout(wait, self.read_frame()).await {
            Ok(event) => event,
            Err(_) => Event::Silence,
        }
    }

    /// The next text frame within `wait`, skipping pings and pongs; panics on
    /// anything else.
    pub async fn recv(&mut self, wait: Duration) -> Value {
        loop {
            match self.next(wait).await {
                Event::Text(v) => return v,
                Event::Ping(_) | Event::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// How the connection ends within `wait`, skipping text and control frames:
    /// a close frame, `Eof`, or `Silence` if it is still open.
    pub async fn end(&mut self, wait: Duration) -> Event {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Event::Text(_) | Event::Ping(_) | Event::Pong(_) | Event::Other(..) => continue,
                end => return end,
            }
        }
    }

    async fn fill(&mut self, want: usize) -> bool {
        let mut chunk = [0u8; 4096];
        while self.buffer.len() < want {
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
        true
    }

    async fn read_frame(&mut self) -> Event {
        if !self.fill(2).await {
            return Event::Eof;
        }
        let opcode = self.buffer[0] & 0x0f;
        let masked = self.buffer[1] & 0x80 != 0;
        let (len, mut at) = match self.buffer[1] & 0x7f {
            126 => {
                if !self.fill(4).await {
                    return Event::Eof;
                }
                (
                    u16::from_be_bytes([self.buffer[2], self.buffer[3]]) as usize,
                    4,
                )
            }
            127 => {
                if !self.fill(10).await {
                    return Event::Eof;
                }
                let mut n = [0u8; 8];
                n.copy_from_slice(&self.buffer[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            n => (n as usize, 2),
        };
        assert!(!masked, "a server must not mask its frames");
        if !self.fill(at + len).await {
            return Event::Eof;
        }
        let payload = self.buffer[at..at + len].to_vec();
        at += len;
        self.buffer.drain(..at);
        match opcode {
            TEXT => Event::Text(serde_json::from_slice(&payload).expect("server sends JSON")),
            CLOSE if payload.len() >= 2 => Event::Close(
                u16::from_be_bytes([payload[0], payload[1]]),
                String::from_utf8_lossy(&payload[2..]).to_string(),
            ),
            CLOSE => Event::Close(1005, String::new()),
            PING => Event::Ping(payload),
            PONG => Event::Pong(payload),
            other => Event::Other(other, payload),
        }
    }
}

/// The bytes of one client frame.
pub fn encode(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(if fin { 0x80 } else { 0 } | (opcode & 0x0f));
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= u16::MAX as usize => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&MASK);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}
