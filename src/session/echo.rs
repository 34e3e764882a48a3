//! An echo endpoint on the sessions' own WebSocket transport, for conformance
//! testing with the Autobahn test suite's cases (`tests/conformance.rs`),
//! which expect a server that echoes every message back.
//!
//! It is what a session is below the protocol: the same upgrade sizing
//! ([`sized`]), the same close on a failed read (too big 1009, not UTF-8
//! 1007, a frame that breaks RFC 6455 1002), the same answer to a client's
//! close and the same wait for the client's close after ours; served through
//! the node's own accept loop by the test. What it leaves out is the
//! protocol's: JSON frames, the `hello`, the frame budget, and the refusal of
//! binary messages (switchboard has none: a session closes 1003 on one, but
//! the suite's cases echo binary too, and that is the transport's part).
//!
//! Not mounted by the server: a node never echoes.

use axum::{
    Router,
    extract::{State, WebSocketUpgrade, ws::Message as WsMessage, ws::WebSocket},
    response::Response,
    routing::get,
};

use super::{answer_close, close, sized, transport_error};
use crate::config::Limits;

/// `/` upgrades to an echoing WebSocket sized by `limits`, as a session's.
pub fn router(limits: &Limits) -> Router {
    let sizes = (limits.ws_buffer_bytes, limits.max_transport_bytes);
    Router::new().route("/", get(upgrade)).with_state(sizes)
}

async fn upgrade(
    State((buffer_bytes, max_transport_bytes)): State<(usize, usize)>,
    ws: WebSocketUpgrade,
) -> Response {
    sized(ws, buffer_bytes, max_transport_bytes).on_upgrade(echo)
}

async fn echo(mut socket: WebSocket) {
    loop {
        let reply = match socket.recv().await {
            None => return,
            Some(Ok(WsMessage::Close(_))) => {
                answer_close(&mut socket).await;
                return;
            }
            Some(Err(e)) => {
                if let Some(disconnect) = transport_error(e) {
                    close(&mut socket, &disconnect).await;
                }
                return;
            }
            Some(Ok(message @ (WsMessage::Text(_) | WsMessage::Binary(_)))) => message,
            // tungstenite answers pings itself, on the next read or write.
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}
