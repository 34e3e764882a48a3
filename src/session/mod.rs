//! One WebSocket connection, customer or agent: the `hello` handshake, then one
//! `select!` over the socket, the bounded outbound queue, the ping tick, the
//! slow-consumer kill switch and shutdown. Frames are parsed and checked here, so
//! the hub only ever sees well-formed requests.

mod budget;
pub mod echo;
pub mod link;
mod redact;
mod validate;

use std::{net::IpAddr, sync::Arc, time::Duration};

use axum::extract::{
    WebSocketUpgrade,
    ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket},
};
use futures_util::SinkExt;
use smol_str::SmolStr;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    domain::SessionId,
    error::{Disconnect, ErrorCode, FrameError},
    hub::{ActiveHub, Command, HubHandle},
    protocol::{self, AgentFrame, CustomerFrame, error_frame},
    state::AppState,
};
use budget::{FrameBudget, Verdict};
use link::{LocalLink, SessionLink};

/// Which endpoint the connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `/ws/customer`.
    Customer,
    /// `/ws/agent`.
    Agent,
}

/// Tells the hub the session is gone on every exit path, panics included.
struct SessionGuard {
    hub: HubHandle,
    session: SessionId,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.hub.send_later(Command::Left {
            session: self.session,
        });
    }
}

/// How a session ended, for the close frame.
enum Exit {
    /// Send this close frame.
    Close(Disconnect),
    /// The peer is gone or closed first: nothing to send.
    Gone,
}

/// A session's transport: `buffer_bytes` read and write buffers, messages and
/// frames up to `max_transport_bytes`. Public for the load tester's transport
/// floor and the conformance echo ([`echo`]), which must hold connections
/// exactly as a session does.
pub fn sized(
    ws: WebSocketUpgrade,
    buffer_bytes: usize,
    max_transport_bytes: usize,
) -> WebSocketUpgrade {
    // Sized for tens of thousands of idle connections: tungstenite's defaults
    // (128 KiB read buffer, allocated and zeroed per connection) cost ~140 KB each.
    ws.read_buffer_size(buffer_bytes)
        .write_buffer_size(buffer_bytes)
        .max_write_buffer_size(max_transport_bytes.max(buffer_bytes) * 4)
        .max_message_size(max_transport_bytes)
        .max_frame_size(max_transport_bytes)
}

/// Run one connection to its end, with the hub serving when it connected;
/// `client` is the address failed sign-ins count against.
pub async fn run(
    mut socket: WebSocket,
    app: Arc<AppState>,
    side: Side,
    hub: ActiveHub,
    client: IpAddr,
) {
    let session = SessionId::new();
    let exit = match hello(&mut socket, &app, &hub, side, session, client).await {
        Ok(Some(Registered {
            kill,
            outbound,
            guard,
        })) => {
            let exit = serve(&mut socket, &app, &hub, side, session, &kill, outbound).await;
            drop(guard);
            exit
        }
        Ok(None) => Exit::Gone,
        Err(disconnect) => Exit::Close(disconnect),
    };
    if let Exit::Close(disconnect) = exit {
        close(&mut socket, &disconnect).await;
    }
}

async fn close(socket: &mut WebSocket, disconnect: &Disconnect) {
    let frame = WsMessage::Close(Some(CloseFrame {
        code: disconnect.code.code(),
        reason: Utf8Bytes::from_static(disconnect.reason),
    }));
    // A client that does not read cannot take a close frame either: bounded.
    if tokio::time::timeout(Duration::from_secs(1), socket.send(frame))
        .await
        .is_ok_and(|sent| sent.is_ok())
    {
        // Then wait (briefly) for the client's close, discarding what it sent
        // meanwhile: a socket dropped with unread bytes in it (a flood) is
        // reset, and the reset makes the client's kernel throw away the close
        // frame before the client reads it, so it never learns why.
        let drain = async {
            while let Some(Ok(message)) = socket.recv().await {
                if matches!(message, WsMessage::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    }
}

async fn send_text(socket: &mut WebSocket, text: String) -> bool {
    socket.send(WsMessage::Text(text.into())).await.is_ok()
}

/// What the session keeps once registered: the hub owns the sending half of its
/// outbound queue, so the queue closes when the hub lets go of the session.
struct Registered {
    kill: CancellationToken,
    outbound: mpsc::Receiver<Vec<Utf8Bytes>>,
    guard: SessionGuard,
}

/// Wait for a valid `hello` within `timeouts.hello_secs`, then register with the
/// hub. `Ok(None)`: the peer left.
async fn hello(
    socket: &mut WebSocket,
    app: &Arc<AppState>,
    hub: &ActiveHub,
    side: Side,
    session: SessionId,
    client: IpAddr,
) -> Result<Option<Registered>, Disconnect> {
    let deadline = tokio::time::Instant::now() + app.config.timeouts.hello();
    loop {
        let received = tokio::select! {
            received = tokio::time::timeout_at(deadline, socket.recv()) => received,
            () = hub.stop.cancelled() => return Err(Disconnect::SHUTDOWN),
        };
        let text = match received {
            Err(_) => return Err(Disconnect::HELLO_TIMEOUT),
            Ok(Some(Err(e))) => return transport_error(e).map_or(Ok(None), Err),
            Ok(Some(Ok(WsMessage::Close(_)))) => {
                answer_close(socket).await;
                return Ok(None);
            }
            Ok(None) => return Ok(None),
            Ok(Some(Ok(WsMessage::Text(text)))) => text,
            Ok(Some(Ok(WsMessage::Binary(_)))) => return Err(Disconnect::BINARY),
            Ok(Some(Ok(_))) => continue,
        };
        if text.len() > app.config.limits.max_frame_bytes {
            refuse(socket, app, &too_large(text.len(), app), None).await;
            continue;
        }
        let (outbound_tx, outbound_rx) = mpsc::channel(app.config.limits.outbound_queue);
        let kill = CancellationToken::new();
        let link = SessionLink::Local(LocalLink {
            id: session,
            outbound: outbound_tx,
            kill: kill.clone(),
        });
        // Refused before its credentials are looked at: a correct guess
        // from an address that failed too often gets in no sooner.
        if let Err(wait) = app.gate.failures.check(client) {
            app.metrics.gate_refused("sign_in_rate_limited");
            let error = FrameError::rate_limited(
                "too many failed sign-ins from your address: try again later",
                crate::http::gate::whole_seconds(wait),
            );
            refuse(socket, app, &error, None).await;
            return Err(Disconnect::SIGN_IN_RATE_LIMITED);
        }
        let command = match authenticate(app, side, &text, link) {
            Ok(command) => command,
            Err(Refusal {
                error,
                reference,
                wrong_credentials,
            }) => {
                if wrong_credentials {
                    app.gate.failures.failed(client);
                    app.metrics.gate_refused("sign_in_failed");
                    tracing::info!(%client, side = ?side, "failed sign-in: {}", error.message);
                }
                refuse(socket, app, &error, reference.as_deref()).await;
                if error.code == ErrorCode::Unauthorized {
                    return Err(Disconnect::UNAUTHORIZED);
                }
                continue;
            }
        };
        if hub.handle.send(command).await.is_err() {
            return Err(Disconnect::HUB_GONE);
        }
        let guard = SessionGuard {
            hub: hub.handle.clone(),
            session,
        };
        return Ok(Some(Registered {
            kill,
            outbound: outbound_rx,
            guard,
        }));
    }
}

/// Why a first frame was not a valid `hello`.
struct Refusal {
    error: FrameError,
    reference: Option<SmolStr>,
    /// It carried credentials, and they were wrong: counted against the
    /// client's address.
    wrong_credentials: bool,
}

impl From<(FrameError, Option<SmolStr>)> for Refusal {
    fn from((error, reference): (FrameError, Option<SmolStr>)) -> Self {
        Self {
            error,
            reference,
            wrong_credentials: false,
        }
    }
}

/// The hub command for a valid `hello`; any other frame, or bad credentials, is
/// refused (`unauthorized` ends the session, anything else may be retried).
fn authenticate(
    app: &AppState,
    side: Side,
    text: &str,
    link: SessionLink,
) -> Result<Command, Refusal> {
    let before_hello = || FrameError::bad_request("the first frame must be `hello`");
    let wrong = |error: FrameError| Refusal {
        error,
        reference: None,
        wrong_credentials: true,
    };
    match side {
        Side::Customer => match protocol::parse::<CustomerFrame>(text) {
            Ok(CustomerFrame::Hello {
                visitor_id,
                identity,
                resume,
            }) => {
                if identity.is_none() && app.gate.require_identity {
                    return Err((
                        FrameError::new(
                            ErrorCode::Unauthorized,
                            "this chat is for signed-in customers: `hello.identity` is required (sign in to the exchange first)",
                        ),
                        None,
                    )
                        .into());
                }
                let carried_token = identity.is_some();
                app.identity
                    .customer(identity.as_deref(), visitor_id.as_deref())
                    .map(|profile| Command::CustomerHello {
                        link,
                        profile,
                        resume,
                    })
                    .map_err(|error| {
                        if carried_token && error.code == ErrorCode::Unauthorized {
                            wrong(error)
                        } else {
                            (error, None).into()
                        }
                    })
            }
            Ok(_) => Err((before_hello(), None).into()),
            Err(e) => Err((e.error, e.reference).into()),
        },
        Side::Agent => match protocol::parse::<AgentFrame>(text) {
            Ok(AgentFrame::Hello { token, resume }) => match app.roster.agent(&token) {
                Some(agent) => Ok(Command::AgentHello {
                    link,
                    agent: agent.clone(),
                    resume,
                }),
                None => Err(wrong(FrameError::new(
                    ErrorCode::Unauthorized,
                    "unknown agent token",
                ))),
            },
            Ok(_) => Err((before_hello(), None).into()),
            Err(e) => Err((e.error, e.reference).into()),
        },
    }
}

fn too_large(len: usize, app: &AppState) -> FrameError {
    FrameError::new(
        ErrorCode::TooLarge,
        format!(
            "frame is {len} bytes; the limit is {}",
            app.config.limits.max_frame_bytes
        ),
    )
}

/// Answer one frame with an error, counted in the metrics.
async fn refuse(
    socket: &mut WebSocket,
    app: &AppState,
    error: &FrameError,
    reference: Option<&str>,
) {
    count_error(app, error);
    let _ = send_text(socket, error_frame(error, reference)).await;
}

fn count_error(app: &AppState, error: &FrameError) {
    app.metrics
        .frame_errors
        .get_or_create(&crate::metrics::CodeLabel {
            code: error.code.as_str(),
        })
        .inc();
}

/// The registered session's loop.
async fn serve(
    socket: &mut WebSocket,
    app: &Arc<AppState>,
    hub: &ActiveHub,
    side: Side,
    session: SessionId,
    kill: &CancellationToken,
    mut outbound: mpsc::Receiver<Vec<Utf8Bytes>>,
) -> Exit {
    let ping_every = Duration::from_secs(app.config.timeouts.ping_secs);
    let flush_every = app.config.limits.max_transport_bytes;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Anything from the peer (a frame or a pong) proves it alive; a peer silent
    // for two ping periods is a half-open connection.
    let mut heard = tokio::time::Instant::now();
    let mut budget = FrameBudget::new(&app.config.limits, side);
    loop {
        tokio::select! {
            biased;
            () = kill.cancelled() => return Exit::Close(Disconnect::SLOW_CONSUMER),
            () = hub.stop.cancelled() => return Exit::Close(Disconnect::SHUTDOWN),
            frames = outbound.recv() => {
                let Some(frames) = frames else { return Exit::Close(Disconnect::HUB_GONE) };
                if !write_burst(socket, kill, &mut outbound, frames, flush_every).await {
                    return if kill.is_cancelled() {
                        Exit::Close(Disconnect::SLOW_CONSUMER)
                    } else {
                        Exit::Gone
                    };
                }
                // The peer took the data: it is alive, even if a long write kept
                // us from reading its pongs.
                heard = tokio::time::Instant::now();
            }
            received = socket.recv() => {
                heard = tokio::time::Instant::now();
                let text = match received {
                    Some(Ok(WsMessage::Close(_))) => {
                        answer_close(socket).await;
                        return Exit::Gone;
                    }
                    None => return Exit::Gone,
                    Some(Err(e)) => return transport_error(e).map_or(Exit::Gone, Exit::Close),
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(WsMessage::Binary(_))) => return Exit::Close(Disconnect::BINARY),
                    // Pings and pongs cost no hub work, but each is a read and
                    // (for a ping) a pong to write: a client pinging in a loop
                    // would burn a core unrefused. They spend the frame budget
                    // like any frame; over it they are dropped without a word
                    // (a control frame has no reply to carry an error), and a
                    // flood of them is closed like any other.
                    Some(Ok(_)) => {
                        if budget.spend() == Verdict::Close {
                            return Exit::Close(Disconnect::FLOOD);
                        }
                        continue;
                    }
                };
                let verdict = budget.spend();
                if verdict == Verdict::Close {
                    return Exit::Close(Disconnect::FLOOD);
                }
                let over_rate = (verdict == Verdict::Refuse).then(|| budget.per_sec());
                if let Err(exit) = inbound(socket, app, &hub.handle, side, session, &text, over_rate).await {
                    return exit;
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() > ping_every * 2 {
                    return Exit::Close(Disconnect::NO_PONG);
                }
                if socket.send(WsMessage::Ping(Default::default())).await.is_err() {
                    return Exit::Gone;
                }
            }
        }
    }
}

/// Write a turn's frames and whatever else is already queued, flushing once per
/// `flush_every` bytes (tungstenite refuses to buffer past its write limit); a
/// write that blocks is abandoned when the hub declares the session a slow
/// consumer. Public for the load tester's transport floor, which must write
/// exactly as a session does.
pub async fn write_burst(
    socket: &mut WebSocket,
    kill: &CancellationToken,
    outbound: &mut mpsc::Receiver<Vec<Utf8Bytes>>,
    first: Vec<Utf8Bytes>,
    flush_every: usize,
) -> bool {
    let write = async {
        let mut pending = 0;
        let mut batch = Some(first);
        while let Some(frames) = batch.take().or_else(|| outbound.try_recv().ok()) {
            for frame in frames {
                if pending >= flush_every {
                    socket.flush().await?;
                    pending = 0;
                }
                pending += frame.len();
                socket.feed(WsMessage::Text(frame)).await?;
            }
        }
        socket.flush().await
    };
    tokio::select! {
        written = write => written.is_ok(),
        () = kill.cancelled() => false,
    }
}

/// Frames whose effect must be stored before it is acknowledged. Typing is
/// relayed and never stored, so it goes through while the store is down.
fn needs_durable_write(command: &Command) -> bool {
    match command {
        Command::FromCustomer { frame, .. } => !matches!(
            frame,
            CustomerFrame::Typing { .. } | CustomerFrame::Hello { .. }
        ),
        Command::FromAgent { frame, .. } => {
            !matches!(frame, AgentFrame::Typing { .. } | AgentFrame::Hello { .. })
        }
        _ => false,
    }
}

fn reference_of_agent(frame: &AgentFrame) -> Option<SmolStr> {
    match frame {
        AgentFrame::Message { client_msg_id, .. } => Some(SmolStr::new(client_msg_id)),
        _ => None,
    }
}

/// The `client_msg_id` a refusal of this command names, where it has one.
fn reference_of(command: &Command) -> Option<SmolStr> {
    match command {
        Command::FromCustomer {
            frame: CustomerFrame::Message { client_msg_id, .. },
            ..
        }
        | Command::FromAgent {
            frame: AgentFrame::Message { client_msg_id, .. },
            ..
        } => Some(SmolStr::new(client_msg_id)),
        Command::FromCustomer {
            frame:
                CustomerFrame::Start {
                    client_msg_id: Some(id),
                    ..
                }
                | CustomerFrame::LeaveMessage {
                    client_msg_id: Some(id),
                    ..
                },
            ..
        } => Some(SmolStr::new(id)),
        _ => None,
    }
}

/// The close a failed read earns: over the transport size limit
/// (`limits.max_transport_bytes`), a text frame that is not UTF-8, or a
/// frame that breaks RFC 6455. `None`:
/// the peer is gone (reset, EOF), so there is nobody to tell.
fn transport_error(e: axum::Error) -> Option<Disconnect> {
    match e.into_inner().downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(_) => Some(Disconnect::TOO_BIG),
        tungstenite::Error::Utf8(_) => Some(Disconnect::INVALID_UTF8),
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => None,
        tungstenite::Error::Protocol(_) => Some(Disconnect::PROTOCOL),
        _ => None,
    }
}

/// The client closed first: tungstenite has queued the close reply (its own
/// code, or 1002 for a code no endpoint may send) but only writes it on the
/// next write or flush, and the session is about to drop the socket.
async fn answer_close(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.flush()).await;
}

/// One text frame from a registered session: check it, then pass it to the hub;
/// `over_rate`: over the session's frame budget (this many frames a second),
/// so refused once checked.
async fn inbound(
    socket: &mut WebSocket,
    app: &Arc<AppState>,
    hub: &HubHandle,
    side: Side,
    session: SessionId,
    text: &str,
    over_rate: Option<u32>,
) -> Result<(), Exit> {
    if text.len() > app.config.limits.max_frame_bytes {
        refuse(socket, app, &too_large(text.len(), app), None).await;
        return Ok(());
    }
    let command = match side {
        Side::Customer => protocol::parse::<CustomerFrame>(text)
            .map_err(|e| (e.error, e.reference))
            .and_then(|mut frame| {
                validate::customer(&mut frame, &app.config).map(|()| {
                    let redacted = redact::customer(&mut frame, &app.metrics);
                    Command::FromCustomer {
                        session,
                        frame,
                        redacted,
                    }
                })
            }),
        Side::Agent => protocol::parse::<AgentFrame>(text)
            .map_err(|e| (e.error, e.reference))
            .and_then(|frame| {
                validate::agent(&frame, &app.config)?;
                redact::agent(&frame, &app.metrics).map_err(|error| {
                    tracing::warn!(session = %session, "agent message refused: it asked the customer for a secret");
                    (error, reference_of_agent(&frame))
                })?;
                Ok(Command::FromAgent { session, frame })
            }),
    };
    let command = command.and_then(|command| {
        if let Some(per_sec) = over_rate {
            return Err((
                FrameError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "more than {per_sec} frames a second: this one was not taken; send it again shortly"
                    ),
                ),
                reference_of(&command),
            ));
        }
        if hub.store_down() && needs_durable_write(&command) {
            return Err((
                FrameError::new(
                    ErrorCode::Unavailable,
                    "the store is unavailable: nothing was saved; retry shortly",
                ),
                reference_of(&command),
            ));
        }
        Ok(command)
    });
    match command {
        // While the store is down the hub is busy retrying: a typing indicator
        // relayed seconds late is worse than none.
        Ok(command) if hub.store_down() => {
            drop(command);
            Ok(())
        }
        Ok(command) => hub
            .send(command)
            .await
            .map_err(|_| Exit::Close(Disconnect::HUB_GONE)),
        Err((error, reference)) => {
            refuse(socket, app, &error, reference.as_deref()).await;
            Ok(())
        }
    }
}
