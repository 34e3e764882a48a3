//! The browser side over real HTTP, one in-process server per test: the
//! embedded widget and demo files (versioning, caching, gzip, ETags, the demo's
//! CSP) and the widget's public settings, whose availability follows the
//! agents on duty.
#![allow(clippy::unwrap_used)]

#[path = "hub/common.rs"]
mod common;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::{io::Read, net::SocketAddr, time::Duration};

use common::{TestServer, agent, config};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// One HTTP/1.1 exchange, byte for byte.
struct Reply {
    status: u16,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// `method path` with extra header lines (each ending in `\r\n`), over a fresh
/// connection; the path is sent as given, not normalised.
async fn request(addr: SocketAddr, method: &str, path: &str, headers: &str) -> Reply {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        response
    };
    let response = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("an answer within 5 s");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: response[split + 4..].to_vec(),
    }
}

async fn get(addr: SocketAddr, path: &str, headers: &str) -> Reply {
    request(addr, "GET", path, headers).await
}

fn source(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/web-widget/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `widget.js` as it must be served: the version in place of every
/// placeholder, slimmed of its comment lines.
fn entry_as_served() -> Vec<u8> {
    let text = String::from_utf8(source("src/widget.js")).unwrap();
    let text = text.replace(
        switchboard::web::VERSION_PLACEHOLDER,
        &switchboard::web::catalog().version,
    );
    switchboard::web::slim("widget.js", text.as_bytes()).unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut plain)
        .unwrap();
    plain
}

#[tokio::test]
async fn widget_js_carries_the_version_and_a_short_max_age() {
    let server = TestServer::start(config(vec![])).await;
    let version = &switchboard::web::catalog().version;
    assert_eq!(version.len(), 12);
    assert!(version.bytes().all(|b| b.is_ascii_hexdigit()), "{version}");

    let reply = get(server.addr, "/widget.js", "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, entry_as_served());
    let text = String::from_utf8(reply.body.clone()).unwrap();
    assert!(!text.contains(switchboard::web::VERSION_PLACEHOLDER));
    assert_eq!(
        reply.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("content-encoding"), None);
    assert!(reply.header("etag").is_some_and(|t| t.starts_with('"')));

    // HEAD: the same headers, no body.
    let head = request(server.addr, "HEAD", "/widget.js", "").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag"), reply.header("etag"));
    assert_eq!(
        head.header("content-length"),
        Some(reply.body.len().to_string().as_str())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_versioned_file_is_immutable_and_an_old_version_is_not_cached() {
    let server = TestServer::start(config(vec![])).await;
    let version = &switchboard::web::catalog().version;
    let current = get(server.addr, &format!("/widget/{version}/widget.js"), "").await;
    assert_eq!(current.status, 200);
    assert_eq!(current.body, entry_as_served());
    assert_eq!(
        current.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(current.header("access-control-allow-origin"), Some("*"));

    // A page still holding an older widget.js gets today's file, uncached.
    let old = get(server.addr, "/widget/000000000000/widget.js", "").await;
    assert_eq!(old.status, 200);
    assert_eq!(old.body, current.body);
    assert_eq!(old.header("cache-control"), Some("no-cache"));
    server.shutdown().await;
}

#[tokio::test]
async fn gzip_when_asked_and_304_for_the_etag_held() {
    let server = TestServer::start(config(vec![])).await;
    let plain = get(server.addr, "/widget.js", "").await;
    let zipped = get(server.addr, "/widget.js", "Accept-Encoding: gzip, br\r\n").await;
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("vary"), Some("accept-encoding"));
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
    assert_eq!(gunzip(&zipped.body), plain.body);
    assert_ne!(zipped.header("etag"), plain.header("etag"));

    // q=0 refuses it.
    let refused = get(
        server.addr,
        "/widget.js",
        "Accept-Encoding: gzip;q=0, br\r\n",
    )
    .await;
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.body, plain.body);

    // The tag held, of the representation asked for: 304, no body.
    let etag = plain.header("etag").unwrap();
    let again = get(
        server.addr,
        "/widget.js",
        &format!("If-None-Match: {etag}\r\n"),
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag));
    assert_eq!(again.header("cache-control"), Some("public, max-age=300"));
    let gz_etag = zipped.header("etag").unwrap();
    let again = get(
        server.addr,
        "/widget.js",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: \"other\", {gz_etag}\r\n"),
    )
    .await;
    assert_eq!(again.status, 304);
    // A stale tag gets the file.
    let stale = get(server.addr, "/widget.js", "If-None-Match: \"stale\"\r\n").await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, plain.body);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_and_escaping_paths_are_404_json() {
    let server = TestServer::start(config(vec![])).await;
    let version = &switchboard::web::catalog().version;
    for path in [
        format!("/widget/{version}/no-such-file.js"),
        format!("/widget/{version}/../../Cargo.toml"),
        format!("/widget/{version}/%2e%2e/%2e%2e/Cargo.toml"),
        format!("/widget/{version}/..%2f..%2fCargo.toml"),
        format!("/widget/{version}/i18n//en.js"),
        format!("/widget/{version}/./widget.js"),
        format!("/widget/{version}/"),
        "/demo/../src/widget.js".to_string(),
        "/demo/no-such-page.html".to_string(),
    ] {
        let reply = get(server.addr, &path, "").await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.json()["error"]["code"], "not_found", "{path}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_demo_page_has_a_strict_csp_and_the_root_redirects_to_it() {
    let server = TestServer::start(config(vec![])).await;
    let page = get(server.addr, "/demo", "").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body, source("demo/index.html"));
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert_eq!(
        page.header("content-security-policy"),
        Some(switchboard::web::DEMO_CSP)
    );
    let csp = switchboard::web::DEMO_CSP;
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ] {
        assert!(csp.contains(directive), "{directive}");
    }
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    // The demo is this origin's page, not something to embed elsewhere.
    assert_eq!(page.header("access-control-allow-origin"), None);
    let same = get(server.addr, "/demo/index.html", "").await;
    assert_eq!(same.body, page.body);
    assert!(same.header("content-security-policy").is_some());

    let root = get(server.addr, "/", "").await;
    assert!(matches!(root.status, 302 | 303), "{}", root.status);
    assert_eq!(root.header("location"), Some("/demo"));
    server.shutdown().await;
}

async fn settings(server: &TestServer) -> Value {
    let reply = get(server.addr, "/api/widget/settings", "").await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(reply.header("cache-control"), Some("no-cache"));
    reply.json()
}

/// The settings once `check` holds of them: availability is up to a second old.
async fn settings_when(server: &TestServer, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let body = settings(server).await;
        if check(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "settings never matched: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn topic<'a>(settings: &'a Value, id: &str) -> &'a Value {
    settings["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()
}

#[tokio::test]
async fn widget_settings_follow_the_agents_on_duty() {
    let mut config = config(vec![
        agent("ana", &["deposit_withdrawal", "trading"], &["es", "en"], 2),
        agent("boris", &["api", "trading"], &["ru", "en"], 2),
    ]);
    config.routing.topics = ["deposit_withdrawal", "trading", "api"]
        .map(String::from)
        .to_vec();
    config.widget.title = "Help desk".into();
    config.widget.accent_color = "#1a4d2e".into();
    config.widget.topic_labels.insert(
        "deposit_withdrawal".into(),
        [
            ("en".to_string(), "Deposits & withdrawals".to_string()),
            ("es".to_string(), "Depósitos y retiros".to_string()),
        ]
        .into(),
    );
    config.limits.max_text_chars = 2000;
    let server = TestServer::start(config).await;

    // Nobody on duty.
    let body = settings(&server).await;
    assert_eq!(
        body,
        json!({
            "title": "Help desk",
            "accent_color": "#1a4d2e",
            "default_language": "en",
            "fallback_language": "en",
            "languages": ["en", "es", "ru"],
            "topics": [
                {"id": "deposit_withdrawal", "labels": {"en": "Deposits & withdrawals", "es": "Depósitos y retiros"}, "available": false, "languages": []},
                {"id": "trading", "labels": {}, "available": false, "languages": []},
                {"id": "api", "labels": {}, "available": false, "languages": []},
            ],
            "limits": {"max_text_chars": 2000, "max_metadata_bytes": 4096},
        })
    );

    // Ana logs in: her topics, her languages.
    let (mut ana, _) = server.agent("token-ana").await;
    let body = settings_when(&server, |s| {
        topic(s, "deposit_withdrawal")["available"] == true
    })
    .await;
    assert_eq!(
        topic(&body, "deposit_withdrawal")["languages"],
        json!(["en", "es"])
    );
    assert_eq!(topic(&body, "trading")["available"], true);
    assert_eq!(topic(&body, "trading")["languages"], json!(["en", "es"]));
    assert_eq!(topic(&body, "api")["available"], false);

    // Boris too: trading is served in the languages of both.
    let (mut boris, _) = server.agent("token-boris").await;
    let body = settings_when(&server, |s| topic(s, "api")["available"] == true).await;
    assert_eq!(topic(&body, "api")["languages"], json!(["en", "ru"]));
    assert_eq!(
        topic(&body, "trading")["languages"],
        json!(["en", "es", "ru"])
    );

    // Away is off duty, even connected.
    ana.send(json!({"type": "status", "status": "away"})).await;
    ana.until("status").await;
    let body = settings_when(&server, |s| {
        topic(s, "deposit_withdrawal")["available"] == false
    })
    .await;
    assert_eq!(topic(&body, "deposit_withdrawal")["languages"], json!([]));
    assert_eq!(topic(&body, "trading")["languages"], json!(["en", "ru"]));

    // Gone is off duty.
    boris
        .send(json!({"type": "status", "status": "offline"}))
        .await;
    boris.until("status").await;
    settings_when(&server, |s| {
        s["topics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["available"] == false)
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn widget_settings_answer_a_preflight_and_a_head() {
    let server = TestServer::start(config(vec![])).await;
    let preflight = request(
        server.addr,
        "OPTIONS",
        "/api/widget/settings",
        "Origin: https://exchange.example\r\nAccess-Control-Request-Method: GET\r\n",
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert!(
        preflight
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("GET"))
    );
    let head = request(server.addr, "HEAD", "/api/widget/settings", "").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // A query string changes nothing.
    let body = get(server.addr, "/api/widget/settings?lang=es", "")
        .await
        .json();
    assert_eq!(body["title"], "Support");
    assert_eq!(body["accent_color"], "#0b57d0");
    assert_eq!(body["languages"], json!([]));
    assert_eq!(body["topics"].as_array().unwrap().len(), 7);
    server.shutdown().await;
}
