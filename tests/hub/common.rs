//! Test fixtures: a real server on 127.0.0.1:0 in-process, WebSocket clients that
//! talk real bytes, identity tokens, and a bare HTTP client.

#![allow(dead_code, unreachable_pub)]

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard::{
    config::{AgentConfig, Config},
    store::{MemoryStore, RedisStore, Store},
};

pub use crate::redis_server::RedisServer;
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, protocol::frame::coding::CloseCode},
};

/// How long a test waits for a frame it expects.
pub const PATIENCE: Duration = Duration::from_secs(5);
/// Secret for identity tokens in tests.
pub const SECRET: &str = "test-identity-secret-0123456789";

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    /// The Redis this server's store uses, when the suite runs on Redis.
    pub redis: Option<RedisServer>,
}

/// Which store the suite runs on: `SWITCHBOARD_TEST_STORE=redis` runs every hub
/// test against a real `redis-server` of its own; the default is memory.
pub fn on_redis() -> bool {
    std::env::var("SWITCHBOARD_TEST_STORE").is_ok_and(|v| v == "redis")
}

/// A Redis store on its own fresh `redis-server`.
pub async fn redis_store(redis: &RedisServer, prefix: &str) -> Arc<dyn Store> {
    let settings = switchboard::config::RedisSettings {
        prefix: prefix.into(),
        ..Default::default()
    };
    Arc::new(
        RedisStore::connect(&redis.url, &settings)
            .await
            .expect("test redis answers"),
    )
}

impl TestServer {
    /// Start a server with this configuration on a free port, on the suite's store.
    pub async fn start(config: Config) -> Self {
        if on_redis() {
            let redis = RedisServer::start();
            let store = redis_store(&redis, "test:").await;
            let mut server = Self::start_with_store(config, store).await;
            server.redis = Some(redis);
            server
        } else {
            Self::start_with_store(config, Arc::new(MemoryStore::default())).await
        }
    }

    /// Start a server on this store.
    pub async fn start_with_store(mut config: Config, store: Arc<dyn Store>) -> Self {
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.validate().expect("test config is valid");
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            switchboard::server::run_with_store(listener, config, store, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        Self {
            addr,
            stop: Some(stop),
            handle: Some(handle),
            redis: None,
        }
    }

    /// A server running elsewhere (another process) at `addr`: the same
    /// clients, nothing to stop.
    pub fn attach(addr: SocketAddr) -> Self {
        Self {
            addr,
            stop: None,
            handle: None,
            redis: None,
        }
    }

    /// Trigger shutdown and wait for `run` to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(10), handle)
                .await
                .expect("server stops within 10 s")
                .expect("server task did not panic");
        }
    }

    pub async fn customer(&self, visitor: &str) -> (Ws, Value) {
        let mut ws = Ws::connect(self.addr, "/ws/customer").await;
        ws.send(json!({"type": "hello", "visitor_id": visitor}))
            .await;
        let welcome = ws.expect("welcome").await;
        (ws, welcome)
    }

    pub async fn customer_with(&self, hello: Value) -> (Ws, Value) {
        let mut ws = Ws::connect(self.addr, "/ws/customer").await;
        ws.send(hello).await;
        let welcome = ws.expect("welcome").await;
        (ws, welcome)
    }

    pub async fn agent(&self, token: &str) -> (Ws, Value) {
        let mut ws = Ws::connect(self.addr, "/ws/agent").await;
        ws.send(json!({"type": "hello", "token": token})).await;
        let welcome = ws.expect("welcome").await;
        (ws, welcome)
    }

    /// Body of GET `path`.
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.get_with(path, "").await
    }

    /// Body of GET `path` with extra header lines (each ending in `\r\n`).
    pub async fn get_with(&self, path: &str, headers: &str) -> (u16, String) {
        http_get(self.addr, path, headers).await
    }
}

/// Status and body of a GET, over a fresh connection; `(0, "")` if nothing
/// answers within 2 s (a node that was killed).
pub async fn http_get(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    http_request(addr, "GET", path, headers, "").await
}

/// Status and body of one HTTP/1.1 request over a fresh connection: `headers`
/// are extra header lines (each ending in `\r\n`); a `body` is sent with its
/// `Content-Length` (any other method than GET always gets one). `(0, "")` if
/// nothing answers within 2 s (a node that was killed).
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String) {
    let (status, _, body) = http_request_from(
        addr,
        "127.0.0.1".parse().unwrap(),
        method,
        path,
        headers,
        body,
    )
    .await;
    (status, body)
}

/// [`http_request`] from the loopback address `from`, answering the status,
/// the response's header block and its body.
pub async fn http_request_from(
    addr: SocketAddr,
    from: std::net::IpAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let length = if method == "GET" && body.is_empty() {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let exchange = async {
        let socket = tokio::net::TcpSocket::new_v4().ok()?;
        socket.bind(SocketAddr::new(from, 0)).ok()?;
        let mut stream = socket.connect(addr).await.ok()?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}{length}Connection: close\r\n\r\n{body}"
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        Some(response)
    };
    let Ok(Some(response)) = tokio::time::timeout(Duration::from_secs(2), exchange).await else {
        return (0, String::new(), String::new());
    };
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .map(|(h, b)| (h.to_string(), b.to_string()))
        .unwrap_or_default();
    (status, head, body)
}

/// One REST call to `addr` with an agent token (`None`: no `Authorization` header) and
/// a JSON body (sent as `application/json` unless empty); the answer's status
/// and its body as JSON (`Null` if it is not JSON).
pub async fn api(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut headers = String::new();
    if let Some(token) = token {
        headers.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if !body.is_empty() {
        headers.push_str("Content-Type: application/json\r\n");
    }
    let (status, body) = http_request(addr, method, path, &headers, body).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// An error answer: this status, this code, and a message containing `says`.
#[track_caller]
pub fn api_refused((status, body): (u16, Value), want: u16, code: &str, says: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "`{message}` lacks `{says}`");
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An agent of the roster, token `token-<id>`.
pub fn agent(id: &str, skills: &[&str], languages: &[&str], capacity: u32) -> AgentConfig {
    AgentConfig {
        id: id.into(),
        name: format!("Agent {id}"),
        token_sha256: None,
        token: Some(format!("token-{id}")),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        languages: languages.iter().map(|s| s.to_string()).collect(),
        capacity,
        role: switchboard::config::AgentRole::Agent,
    }
}

/// A config for tests: small timeouts that do not fire unless a test wants them.
pub fn config(agents: Vec<AgentConfig>) -> Config {
    let mut config = Config {
        identity_secret: Some(SECRET.into()),
        agents,
        ..Config::default()
    };
    config.routing.position_update_ms = 50;
    // Most tests queue customers before any agent is online: the offer to leave
    // a message instead is tested on its own (tests/hub/tickets.rs).
    config.tickets.ticket_when_unserved = false;
    config.tickets.overflow_eta_secs = 0;
    // Tests send as fast as they can; the frame budget is tested on its own
    // (tests/hub/rate_limit.rs).
    config.limits.customer_frames_per_sec = 10_000;
    config.limits.customer_frame_burst = 10_000;
    config.limits.agent_frames_per_sec = 10_000;
    config.limits.agent_frame_burst = 10_000;
    config
}

/// An identity token signed with `secret`.
pub fn identity(secret: &str, sub: &str, tier: &str, exp_from_now: i64) -> String {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + exp_from_now;
    encode(
        &Header::default(),
        &json!({"sub": sub, "tier": tier, "name": format!("User {sub}"), "exp": exp}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// One WebSocket client.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        let (stream, _) = connect_async(format!("ws://{addr}{path}"))
            .await
            .expect("websocket connects");
        Self { stream }
    }

    /// Connect from the loopback address `from` (127.0.0.x) with extra
    /// request headers; `Err` is the HTTP status of a refused upgrade (0:
    /// no answer).
    pub async fn connect_from(
        addr: SocketAddr,
        path: &str,
        from: std::net::IpAddr,
        headers: &[(&str, &str)],
    ) -> Result<Self, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        let tcp = socket.connect(addr).await.map_err(|_| 0u16)?;
        let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .unwrap(),
                value.parse().unwrap(),
            );
        }
        match tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await {
            Ok((stream, _)) => Ok(Self { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(_) => Err(0),
        }
    }

    /// Connect, or `None` if nothing (or a node on standby) answers there.
    pub async fn try_connect(addr: SocketAddr, path: &str) -> Option<Self> {
        let (stream, _) = connect_async(format!("ws://{addr}{path}")).await.ok()?;
        Some(Self { stream })
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.stream.send(message).await.expect("send");
    }

    /// The next text frame as JSON, within `PATIENCE`.
    pub async fn recv(&mut self) -> Value {
        match self.next(PATIENCE).await {
            Some(Ok(v)) => v,
            Some(Err(close)) => panic!("expected a frame, got close {close:?}"),
            None => panic!("no frame within {PATIENCE:?}"),
        }
    }

    /// The next frame, or the close (code, reason), or None on timeout.
    pub async fn next(&mut self, wait: Duration) -> Option<Result<Value, (u16, String)>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()?;
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(Ok(serde_json::from_str(&text).expect("server sends JSON")));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((u16::from(CloseCode::Status), String::new()));
                    return Some(Err((code, reason)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Some(Err((1006, "connection lost".into()))),
            }
        }
    }

    /// The next frame, asserting its type.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let frame = self.recv().await;
        assert_eq!(frame["type"], kind, "expected `{kind}`, got {frame}");
        frame
    }

    /// Skip frames until one of this type arrives (for tests about something else).
    pub async fn until(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The close frame, skipping any frames before it.
    pub async fn expect_close(&mut self) -> (u16, String) {
        loop {
            match self.next(PATIENCE).await {
                Some(Ok(_)) => continue,
                Some(Err(close)) => return close,
                None => panic!("no close within {PATIENCE:?}"),
            }
        }
    }

    /// Assert nothing arrives for `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(frame) = self.next(wait).await {
            panic!("expected silence, got {frame:?}");
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// `start` frame.
pub fn start(topic: &str, text: Option<&str>) -> Value {
    match text {
        Some(text) => json!({"type": "start", "topic": topic, "language": "en", "text": text}),
        None => json!({"type": "start", "topic": topic, "language": "en"}),
    }
}

/// Customer `message` frame.
pub fn say(id: &str, text: &str) -> Value {
    json!({"type": "message", "client_msg_id": id, "text": text})
}

/// Agent `message` frame.
pub fn reply(conversation: &Value, id: &str, text: &str) -> Value {
    json!({"type": "message", "conversation_id": conversation, "client_msg_id": id, "text": text})
}

/// An agent (by token) and a customer (by visitor id) in a chat just assigned:
/// `(agent, customer, conversation_id)`, with both `assigned` frames consumed.
pub async fn chatting(
    server: &TestServer,
    token: &str,
    visitor: &str,
    topic: &str,
) -> (Ws, Ws, Value) {
    let (mut agent, _) = server.agent(token).await;
    let (mut customer, _) = server.customer(visitor).await;
    customer.send(start(topic, None)).await;
    let conversation = customer.expect("assigned").await["conversation_id"].clone();
    assert_eq!(
        agent.expect("assigned").await["conversation_id"],
        conversation
    );
    (agent, customer, conversation)
}
