//! A local HTTP receiver for the helpdesk webhook: records every request and
//! fails the first ones on purpose.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    http::{HeaderMap, StatusCode},
    routing::post,
};

/// One request as the receiver saw it, and what it answered.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) key: String,
    pub(crate) signature: String,
    pub(crate) event: String,
    pub(crate) body: Bytes,
    pub(crate) answered: u16,
}

/// An HTTP receiver that answers 500 to its first `failures` requests, then 200.
#[derive(Clone)]
pub(crate) struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) async fn start(failures: usize) -> Self {
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = seen.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                async move {
                    let mut log = log.lock().unwrap();
                    let status = if log.len() < failures {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    };
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    log.push(Received {
                        key: header("idempotency-key"),
                        signature: header("x-switchboard-signature"),
                        event: header("x-switchboard-event"),
                        body,
                        answered: status.as_u16(),
                    });
                    status
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, seen }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub(crate) fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Wait until `count` requests have come in (at most 20 s).
    pub(crate) async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let seen = self.seen();
            if seen.len() >= count {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "only {} requests arrived, wanted {count}",
            self.seen().len()
        );
    }
}
