//! Who may connect, over real sockets: origins, hashed agent tokens, failed
//! sign-ins limited per address (and forwarded addresses believed only from
//! trusted proxies), connections per address, and connections that never
//! finish their request head.

use std::{net::IpAddr, time::Duration};

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::common::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn gated() -> switchboard::config::Config {
    let mut hashed = agent("ann", &["general"], &["en"], 2);
    hashed.token = None;
    hashed.token_sha256 = Some(switchboard::roster::hex_digest("token-ann"));
    let mut config = config(vec![hashed]);
    config.security.allowed_origins = vec!["https://www.exchange.example".into()];
    config.security.auth_failure_burst = 3;
    config.security.auth_failure_refill_secs = 600;
    config
}

#[tokio::test]
async fn origins_not_listed_are_refused_with_403_on_websockets_and_rest() {
    let server = TestServer::start(gated()).await;
    let from = ip("127.0.0.1");
    for path in ["/ws/customer", "/ws/agent"] {
        assert_eq!(
            Ws::connect_from(
                server.addr,
                path,
                from,
                &[("origin", "https://evil.example")]
            )
            .await
            .err(),
            Some(403),
            "{path}"
        );
        assert_eq!(
            Ws::connect_from(server.addr, path, from, &[("origin", "null")])
                .await
                .err(),
            Some(403),
            "{path}: a sandboxed frame"
        );
        for allowed in [
            vec![("origin", "https://www.exchange.example")],
            vec![],
            vec![("origin", &*format!("http://{}", server.addr))],
        ] {
            assert!(
                Ws::connect_from(server.addr, path, from, &allowed)
                    .await
                    .is_ok(),
                "{path} {allowed:?}"
            );
        }
    }
    let (status, _, body) = http_request_from(
        server.addr,
        from,
        "GET",
        "/api/presence",
        "Origin: https://evil.example\r\nAuthorization: Bearer token-ann\r\n",
        "",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains(r#""code":"forbidden""#) && body.contains("https://evil.example"),
        "{body}"
    );
    let (status, _, _) = http_request_from(
        server.addr,
        from,
        "GET",
        "/api/presence",
        "Origin: https://www.exchange.example\r\nAuthorization: Bearer token-ann\r\n",
        "",
    )
    .await;
    assert_eq!(status, 200);
    let metrics = server.get("/metrics").await.1;
    assert!(
        metrics.contains(r#"switchboard_gate_refusals_total{reason="origin"} 5"#),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_hashed_token_signs_in_and_its_hash_does_not() {
    let server = TestServer::start(gated()).await;
    let (_agent, welcome) = server.agent("token-ann").await;
    assert_eq!(welcome["agent"]["id"], "ann");
    let mut ws = Ws::connect(server.addr, "/ws/agent").await;
    ws.send(json!({"type": "hello", "token": switchboard::roster::hex_digest("token-ann")}))
        .await;
    let refused = ws.expect("error").await;
    assert_eq!(refused["code"], "unauthorized");
    server.shutdown().await;
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_address_on_the_websocket() {
    let server = TestServer::start(gated()).await;
    let attacker = ip("127.0.0.2");
    let hello = |token: &str| json!({"type": "hello", "token": token});
    for guess in 0..3 {
        let mut ws = Ws::connect_from(server.addr, "/ws/agent", attacker, &[])
            .await
            .unwrap();
        ws.send(hello(&format!("guess-{guess}"))).await;
        assert_eq!(ws.expect("error").await["code"], "unauthorized");
        assert_eq!(ws.expect_close().await.0, 1008);
    }
    // The burst is spent: even the right token is refused, unchecked.
    let mut ws = Ws::connect_from(server.addr, "/ws/agent", attacker, &[])
        .await
        .unwrap();
    ws.send(hello("token-ann")).await;
    let limited = ws.expect("error").await;
    assert_eq!(limited["code"], "rate_limited", "{limited}");
    let retry = limited["retry_after_secs"].as_u64().unwrap();
    assert!((590..=600).contains(&retry), "{limited}");
    assert!(
        limited["message"]
            .as_str()
            .unwrap()
            .contains("failed sign-ins")
    );
    assert_eq!(
        ws.expect_close().await,
        (
            1008,
            "too many failed sign-ins from this address: retry later".into()
        )
    );
    // Forged identity tokens count on the customer side too, from the same address.
    let mut ws = Ws::connect_from(server.addr, "/ws/customer", attacker, &[])
        .await
        .unwrap();
    ws.send(json!({"type": "hello", "visitor_id": "v-1"})).await;
    assert_eq!(ws.expect("error").await["code"], "rate_limited");
    // Another address is untouched.
    let mut ws = Ws::connect_from(server.addr, "/ws/agent", ip("127.0.0.3"), &[])
        .await
        .unwrap();
    ws.send(hello("token-ann")).await;
    assert_eq!(ws.expect("welcome").await["agent"]["id"], "ann");
    let metrics = server.get("/metrics").await.1;
    assert!(
        metrics.contains(r#"switchboard_gate_refusals_total{reason="sign_in_failed"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"switchboard_gate_refusals_total{reason="sign_in_rate_limited"} 2"#),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn forged_identity_tokens_count_as_failed_sign_ins() {
    let mut config = gated();
    config.identity_secret = Some(SECRET.into());
    let server = TestServer::start(config).await;
    let attacker = ip("127.0.0.4");
    for forged in [
        identity("another-secret-0123456789", "u1", "vip", 600),
        identity(SECRET, "u1", "vip", -600),
        "not.a.jwt".to_string(),
    ] {
        let mut ws = Ws::connect_from(server.addr, "/ws/customer", attacker, &[])
            .await
            .unwrap();
        ws.send(json!({"type": "hello", "identity": forged})).await;
        assert_eq!(ws.expect("error").await["code"], "unauthorized");
    }
    let mut ws = Ws::connect_from(server.addr, "/ws/customer", attacker, &[])
        .await
        .unwrap();
    ws.send(json!({"type": "hello", "identity": identity(SECRET, "u1", "vip", 600)}))
        .await;
    assert_eq!(ws.expect("error").await["code"], "rate_limited");
    // A hello without credentials is not a guess: it does not count.
    let neutral = ip("127.0.0.5");
    for _ in 0..5 {
        let mut ws = Ws::connect_from(server.addr, "/ws/customer", neutral, &[])
            .await
            .unwrap();
        ws.send(json!({"type": "hello"})).await;
        assert_eq!(ws.expect("error").await["code"], "bad_request");
    }
    let mut ws = Ws::connect_from(server.addr, "/ws/customer", neutral, &[])
        .await
        .unwrap();
    ws.send(json!({"type": "hello", "visitor_id": "v-ok"}))
        .await;
    ws.expect("welcome").await;
    server.shutdown().await;
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_address_on_rest_with_retry_after() {
    let server = TestServer::start(gated()).await;
    let attacker = ip("127.0.0.6");
    let call = |token: &'static str, from: IpAddr| {
        let addr = server.addr;
        async move {
            http_request_from(
                addr,
                from,
                "GET",
                "/api/presence",
                &format!("Authorization: Bearer {token}\r\n"),
                "",
            )
            .await
        }
    };
    for _ in 0..3 {
        let (status, _, body) = call("wrong-token", attacker).await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, head, body) = call("token-ann", attacker).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains(r#""code":"rate_limited""#), "{body}");
    let retry: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After:\n{head}"));
    assert!((590..=600).contains(&retry), "{head}");
    // Requests that sign in with nothing are not refused: the widget's settings.
    let (status, _, _) =
        http_request_from(server.addr, attacker, "GET", "/api/widget/settings", "", "").await;
    assert_eq!(status, 200);
    assert_eq!(call("token-ann", ip("127.0.0.7")).await.0, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let mut config = gated();
    config.security.trusted_proxies = vec!["127.0.0.8".into()];
    let server = TestServer::start(config).await;
    let proxy = ip("127.0.0.8");
    let through =
        |client: &str| format!("X-Forwarded-For: {client}\r\nAuthorization: Bearer wrong\r\n");
    for _ in 0..3 {
        let (status, _, _) = http_request_from(
            server.addr,
            proxy,
            "GET",
            "/api/presence",
            &through("203.0.113.9"),
            "",
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, _, _) = http_request_from(
        server.addr,
        proxy,
        "GET",
        "/api/presence",
        &through("203.0.113.9"),
        "",
    )
    .await;
    assert_eq!(status, 429, "the forwarded client is limited");
    let (status, _, _) = http_request_from(
        server.addr,
        proxy,
        "GET",
        "/api/presence",
        &through("203.0.113.10"),
        "",
    )
    .await;
    assert_eq!(status, 401, "another client behind the same proxy is not");
    // From a peer that is not a proxy, the header is the client's own claim:
    // it is the peer that gets limited, whatever it writes.
    let direct = ip("127.0.0.9");
    for n in 0..3 {
        let claim = through(&format!("198.51.100.{n}"));
        assert_eq!(
            http_request_from(server.addr, direct, "GET", "/api/presence", &claim, "")
                .await
                .0,
            401
        );
    }
    let claim = through("198.51.100.77");
    assert_eq!(
        http_request_from(server.addr, direct, "GET", "/api/presence", &claim, "")
            .await
            .0,
        429
    );
    server.shutdown().await;
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let mut config = gated();
    config.security.max_connections_per_address = 3;
    config.security.trusted_proxies = vec!["127.0.0.11".into()];
    let server = TestServer::start(config).await;
    let host = ip("127.0.0.10");
    let mut held = Vec::new();
    // Plain TCP (nothing sent yet) and WebSocket sessions count alike.
    for _ in 0..2 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((host, 0).into()).unwrap();
        held.push(socket.connect(server.addr).await.unwrap());
    }
    let mut ws = Ws::connect_from(server.addr, "/ws/customer", host, &[])
        .await
        .unwrap();
    ws.send(json!({"type": "hello", "visitor_id": "v-cap"}))
        .await;
    ws.expect("welcome").await;
    let (status, _, body) = http_request_from(server.addr, host, "GET", "/healthz", "", "").await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("max_connections_per_address"), "{body}");
    assert_eq!(
        Ws::connect_from(server.addr, "/ws/customer", host, &[])
            .await
            .err(),
        Some(429)
    );
    assert_eq!(
        http_request_from(server.addr, ip("127.0.0.12"), "GET", "/healthz", "", "")
            .await
            .0,
        200
    );
    // One closes: the address may connect again.
    drop(held.pop());
    let mut status = 0;
    for _ in 0..50 {
        status = http_request_from(server.addr, host, "GET", "/healthz", "", "")
            .await
            .0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200);
    // Behind a trusted proxy, WebSocket sessions count by forwarded address.
    let proxy = ip("127.0.0.11");
    let mut behind = Vec::new();
    for _ in 0..3 {
        let mut ws = Ws::connect_from(
            server.addr,
            "/ws/customer",
            proxy,
            &[("x-forwarded-for", "203.0.113.50")],
        )
        .await
        .unwrap();
        ws.send(json!({"type": "hello", "visitor_id": "v-behind"}))
            .await;
        ws.expect("welcome").await;
        behind.push(ws);
    }
    assert_eq!(
        Ws::connect_from(
            server.addr,
            "/ws/customer",
            proxy,
            &[("x-forwarded-for", "203.0.113.50")]
        )
        .await
        .err(),
        Some(429)
    );
    assert!(
        Ws::connect_from(
            server.addr,
            "/ws/customer",
            proxy,
            &[("x-forwarded-for", "203.0.113.51")]
        )
        .await
        .is_ok()
    );
    let metrics = server.get("/metrics").await.1;
    assert!(
        metrics.contains(r#"reason="connections_per_address""#),
        "{metrics}"
    );
    server.shutdown().await;
}

/// Read until the server closes; `true` if it did within `patience`.
async fn closed_within(stream: &mut TcpStream, patience: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(patience, read_to_end).await.is_ok()
}

#[tokio::test]
async fn connections_that_never_finish_their_request_head_are_closed() {
    let mut config = gated();
    config.security.header_read_secs = 1;
    let server = TestServer::start(config).await;
    // Opens TCP, sends nothing.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // Starts an upgrade and stops half-way through its headers.
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /ws/customer HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .await
        .unwrap();
    // A slowloris: a byte every 200 ms, forever.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let slowloris = tokio::spawn(async move {
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: "
            .iter()
            .chain(std::iter::repeat(&b'a'));
        for byte in request.take(200) {
            if slow.write_all(&[*byte]).await.is_err() {
                return true; // the server closed it
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    });
    // Once a request was answered, an idle keep-alive connection gets the same deadline.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    // Deadline 1 s; 10 s is patience for a loaded machine, not a speed claim.
    let patience = Duration::from_secs(10);
    assert!(
        closed_within(&mut silent, patience).await,
        "a silent connection stays open"
    );
    assert!(
        closed_within(&mut half, patience).await,
        "a half-sent upgrade stays open"
    );
    assert!(
        closed_within(&mut idle, patience).await,
        "an idle keep-alive connection stays open"
    );
    assert!(
        tokio::time::timeout(patience, slowloris)
            .await
            .unwrap()
            .unwrap(),
        "the slowloris was never cut off"
    );
    // A prompt client is served as ever.
    assert_eq!(server.get("/healthz").await.0, 200);
    let metrics = server.get("/metrics").await.1;
    assert!(metrics.contains(r#"reason="header_timeout""#), "{metrics}");
    server.shutdown().await;
}

#[tokio::test]
async fn require_identity_refuses_anonymous_visitors() {
    let mut config = gated();
    config.identity_secret = Some(SECRET.into());
    config.security.require_identity = true;
    let server = TestServer::start(config).await;
    let mut ws = Ws::connect(server.addr, "/ws/customer").await;
    ws.send(json!({"type": "hello", "visitor_id": "v-anon"}))
        .await;
    let refused = ws.expect("error").await;
    assert_eq!(refused["code"], "unauthorized");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("signed-in customers"),
        "{refused}"
    );
    assert_eq!(ws.expect_close().await.0, 1008);
    let (_ws, welcome) = server
        .customer_with(
            json!({"type": "hello", "identity": identity(SECRET, "u-7", "standard", 600)}),
        )
        .await;
    assert_eq!(welcome["customer_key"], "u:u-7");
    server.shutdown().await;
}
