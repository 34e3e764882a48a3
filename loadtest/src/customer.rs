//! A simulated customer: connects, starts a chat, waits in the queue (closing
//! when its patience runs out), then talks to the agent until the chat ends;
//! some open a second tab, drop and resume their connection, or repeat their
//! `start`. Everything it sees goes to the event log.

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{
    client::{ClientError, Conn, stamp_of, stamped},
    events::{Event, SessionRef, Side},
    runner::Run,
    stats::Latency,
};

/// What one customer will do, drawn from the scenario's mix.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `hello.visitor_id` (or the identity token's subject).
    pub visitor: String,
    /// A signed identity token (vip customers).
    pub identity: Option<String>,
    /// The key the server will know it by (`v:…`, `u:…`).
    pub key: String,
    /// Topic.
    pub topic: String,
    /// Language.
    pub language: String,
    /// The first message, sent in `start`.
    pub first_text: String,
    /// Messages it sends at most (the first included).
    pub messages: u32,
    /// Think time before each next message.
    pub think: Duration,
    /// How long it waits in the queue before closing.
    pub patience: Duration,
    /// Opens a second tab once served.
    pub second_tab: bool,
    /// Drops its connection once served, and resumes.
    pub reconnect: bool,
    /// Sends `start` again once served.
    pub repeat_start: bool,
    /// Which target it connects to.
    pub target: usize,
}

/// Longest a customer waits for any one frame once served.
const SILENCE: Duration = Duration::from_secs(60);
/// The session number of a second tab (the first tab's reconnects count up
/// from 0).
const SECOND_TAB: u32 = 1000;
/// Reconnection attempts after a broken connection before giving up.
const RECONNECT_ATTEMPTS: u32 = 8;
/// Pause before sending again a frame refused with `rate_limited`.
const RATE_LIMIT_PAUSE: Duration = Duration::from_secs(1);

struct Chat {
    plan: Plan,
    run: Arc<Run>,
    session: u32,
    conversation: Option<String>,
    assigned: bool,
    started_us: u64,
    first_reply_seen: bool,
    sent: u32,
    last_seq: u64,
    sent_at: HashMap<String, u64>,
    /// The next scheduled action and when.
    next: Option<(Instant, Action)>,
    extras: Vec<(Duration, Action)>,
    repeat_pending: bool,
    closing: bool,
    /// The last frame sent without a `client_msg_id`: what a `rate_limited`
    /// without a `ref` refused (the session answers each frame in turn).
    unkeyed: Option<Value>,
    /// Counted in the `waiting` gauge.
    waiting: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Send,
    Close,
    SecondTab,
    Reconnect,
    RepeatStart,
}

impl Chat {
    fn me(&self) -> SessionRef {
        SessionRef {
            side: Side::Customer,
            who: self.plan.key.clone(),
            session: self.session,
        }
    }

    fn hello(&self, resume: Option<(&str, u64)>) -> Value {
        let mut hello = json!({"type": "hello", "visitor_id": self.plan.visitor});
        if let Some(identity) = &self.plan.identity {
            hello["identity"] = json!(identity);
        }
        if let Some((conversation, last_seq)) = resume {
            hello["resume"] = json!({"conversation_id": conversation, "last_seq": last_seq});
        }
        hello
    }

    fn target(&self) -> &str {
        let targets = &self.run.targets;
        &targets[self.plan.target % targets.len()]
    }

    /// Connect and say hello: the open conversation the server showed.
    async fn connect(&mut self, resume: Option<(String, u64)>) -> Result<Conn, ClientError> {
        let began = Instant::now();
        let mut conn = Conn::open(&self.run.sources, self.target(), "/ws/customer")
            .await?
            .counted(&self.run.rec);
        conn.send(&self.hello(resume.as_ref().map(|(c, s)| (c.as_str(), *s))))
            .await
            .ok();
        let welcome = loop {
            let frame = conn.recv_within(Duration::from_secs(10)).await?;
            if frame["type"] == "welcome" {
                break frame;
            }
        };
        let rec = self.run.rec.clone();
        rec.latency(
            Latency::ConnectWelcome,
            u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX),
        );
        rec.count("sessions", 1);
        let shown = welcome["conversation"]["id"].as_str().map(str::to_string);
        if shown.is_some() && welcome["conversation"]["state"] == "assigned" && self.started_us > 0
        {
            self.served();
        }
        rec.event(Event::Welcome {
            at_us: rec.now_us(),
            session: self.me(),
            conversation: shown.clone(),
            expected: resume.as_ref().map(|(c, _)| c.clone()),
        });
        match (resume, shown) {
            (Some((conversation, last_seq)), _) => rec.event(Event::Follow {
                at_us: rec.now_us(),
                session: self.me(),
                conversation,
                from_seq: last_seq,
            }),
            // A `start` whose answer was lost with the connection: the chat is
            // open, and its whole transcript is replayed.
            (None, Some(shown)) if self.conversation.is_none() && self.started_us > 0 => {
                self.learn(&json!({"conversation_id": shown}), false);
            }
            _ => {}
        }
        Ok(conn)
    }

    /// The connection broke (its node died, or closed it for a matcher change):
    /// reconnect to the next target and resume, as the widget does. Messages not
    /// yet acknowledged are sent again with their keys; a `start` whose answer
    /// never came is sent again.
    async fn reconnect(&mut self) -> Result<Conn, ClientError> {
        let rec = self.run.rec.clone();
        let mut last = None;
        for attempt in 1..=RECONNECT_ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            self.plan.target += 1;
            self.session += 1;
            rec.count("reconnects", 1);
            let resume = self.conversation.clone().map(|c| (c, self.last_seq));
            match self.connect(resume).await {
                Ok(mut conn) => {
                    if self.conversation.is_none() {
                        conn.send(&self.start_frame()).await.ok();
                    }
                    let mut unacked: Vec<(String, u64)> =
                        self.sent_at.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    unacked.sort_by_key(|(_, at)| *at);
                    for (id, at) in unacked {
                        if id.ends_with("-m1") || self.conversation.is_none() {
                            continue; // the `start` above carries it
                        }
                        self.resend(&mut conn, id, at).await;
                    }
                    return Ok(conn);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClientError::Closed(String::new())))
    }

    fn start_frame(&self) -> Value {
        json!({"type": "start", "topic": self.plan.topic, "language": self.plan.language,
            "client_msg_id": format!("{}-m1", self.plan.visitor),
            "text": stamped(&self.plan.first_text, self.started_us),
            "metadata": {"uid": self.plan.visitor}})
    }

    async fn send_message(&mut self, conn: &mut Conn) {
        self.sent += 1;
        let id = format!("{}-m{}", self.plan.visitor, self.sent);
        let at = self.run.rec.now_us();
        conn.send(&json!({"type": "message", "client_msg_id": id,
            "text": stamped("and one more detail", at)}))
            .await
            .ok();
        self.note_sent(id, at);
    }

    /// Send a frame without a key, remembered in case it is refused for the
    /// rate.
    async fn send_unkeyed(&mut self, conn: &mut Conn, frame: Value) {
        conn.send(&frame).await.ok();
        self.unkeyed = Some(frame);
    }

    /// Send an unacknowledged message again, with its key and its first send
    /// time (so the delay counts in its latency).
    async fn resend(&self, conn: &mut Conn, id: String, at: u64) {
        conn.send(&json!({"type": "message", "client_msg_id": id,
            "text": stamped("and one more detail", at)}))
            .await
            .ok();
        self.run.rec.event(Event::Sent {
            at_us: self.run.rec.now_us(),
            session: self.me(),
            conversation: self.conversation.clone(),
            client_msg_id: id,
        });
    }

    fn note_sent(&mut self, id: String, at: u64) {
        self.run.rec.event(Event::Sent {
            at_us: at,
            session: self.me(),
            conversation: self.conversation.clone(),
            client_msg_id: id.clone(),
        });
        self.run.rec.count("messages_sent", 1);
        self.sent_at.insert(id, at);
    }

    /// The conversation a frame names, learnt the first time.
    fn learn(&mut self, frame: &Value, repeated: bool) {
        let Some(id) = frame["conversation_id"].as_str() else {
            return;
        };
        let rec = self.run.rec.clone();
        if self.conversation.is_none() {
            self.conversation = Some(id.to_string());
            rec.event(Event::Follow {
                at_us: rec.now_us(),
                session: self.me(),
                conversation: id.to_string(),
                from_seq: 0,
            });
            rec.event(Event::Started {
                at_us: rec.now_us(),
                session: self.me(),
                conversation: id.to_string(),
                repeated: false,
            });
            rec.latency(
                Latency::StartQueued,
                rec.now_us().saturating_sub(self.started_us),
            );
        } else if repeated {
            rec.event(Event::Started {
                at_us: rec.now_us(),
                session: self.me(),
                conversation: id.to_string(),
                repeated: true,
            });
        }
    }

    /// An agent has the chat (an `assigned`, or a `welcome` after a reconnect
    /// that shows the chat assigned meanwhile).
    fn served(&mut self) {
        let rec = self.run.rec.clone();
        if std::mem::take(&mut self.waiting) {
            rec.gauge("waiting", -1);
        }
        if !self.assigned {
            self.assigned = true;
            rec.latency(
                Latency::QueueWait,
                rec.now_us().saturating_sub(self.started_us),
            );
            rec.in_second(|s| s.assignments += 1);
            rec.count("assigned", 1);
        }
    }

    fn schedule(&mut self, after: Duration, action: Action) {
        self.next = Some((Instant::now() + after, action));
    }

    /// Handle one frame; true when the chat is over.
    async fn on_frame(&mut self, conn: &mut Conn, frame: Value) -> Result<bool, ClientError> {
        let rec = self.run.rec.clone();
        match frame["type"].as_str().unwrap_or_default() {
            "queued" => {
                self.learn(&frame, false);
                if !self.assigned && !self.waiting {
                    self.waiting = true;
                    rec.gauge("waiting", 1);
                }
            }
            "assigned" => {
                let repeated = std::mem::take(&mut self.repeat_pending);
                self.learn(&frame, repeated);
                self.served();
            }
            "offline" => {
                // Nobody can serve the topic: leave a message, as the widget offers.
                let id = format!("{}-leave", self.plan.visitor);
                let at = rec.now_us();
                conn.send(&json!({"type": "leave_message", "client_msg_id": id,
                    "text": stamped("please answer by email", at)}))
                    .await
                    .ok();
                self.note_sent(id, at);
                rec.count("offline", 1);
            }
            "overflow" => rec.count("overflow_offers", 1),
            "message" => {
                let Some(conversation) = frame["conversation_id"].as_str().map(str::to_string)
                else {
                    return Ok(false);
                };
                if self.conversation.is_none() {
                    self.learn(&frame, false);
                }
                let seq = frame["seq"].as_u64().unwrap_or(0);
                self.last_seq = self.last_seq.max(seq);
                let from = frame["from"].as_str().unwrap_or_default().to_string();
                let client_msg_id = frame["client_msg_id"].as_str().map(str::to_string);
                rec.event(Event::Message {
                    at_us: rec.now_us(),
                    session: self.me(),
                    conversation,
                    seq,
                    from: from.clone(),
                    client_msg_id: client_msg_id.clone(),
                });
                if from == "customer"
                    && let Some(sent) = client_msg_id.and_then(|id| self.sent_at.remove(&id))
                {
                    rec.latency(Latency::MessageEcho, rec.now_us().saturating_sub(sent));
                }
                if from == "agent" {
                    if self.session != SECOND_TAB {
                        rec.count("messages_delivered", 1);
                    }
                    if let Some(sent) = frame["text"].as_str().and_then(stamp_of) {
                        rec.latency(Latency::MessageDelivery, rec.now_us().saturating_sub(sent));
                    }
                    if !self.first_reply_seen {
                        self.first_reply_seen = true;
                        rec.latency(
                            Latency::FirstResponse,
                            rec.now_us().saturating_sub(self.started_us),
                        );
                    }
                    if !self.closing && self.next.is_none_or(|(_, a)| a != Action::Send) {
                        let action = if self.sent < self.plan.messages {
                            Action::Send
                        } else {
                            Action::Close
                        };
                        self.schedule(self.plan.think, action);
                    }
                }
            }
            "ended" => {
                if std::mem::take(&mut self.waiting) {
                    rec.gauge("waiting", -1);
                }
                let reason = frame["reason"].as_str().unwrap_or_default().to_string();
                rec.event(Event::Ended {
                    at_us: rec.now_us(),
                    session: self.me(),
                    conversation: frame["conversation_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    reason: reason.clone(),
                    ticket_id: frame["ticket_id"].as_str().map(str::to_string),
                });
                if self.session != SECOND_TAB {
                    rec.count(&format!("ended_{reason}"), 1);
                    rec.in_second(|s| s.ended += 1);
                }
                return Ok(true);
            }
            "error" => {
                let code = frame["code"].as_str().unwrap_or_default().to_string();
                rec.count(&format!("errors_{code}"), 1);
                // As the widget does: a frame refused for the rate is sent
                // again after a pause (nothing refused was stored).
                if code == "rate_limited" {
                    let keyed = frame["ref"]
                        .as_str()
                        .and_then(|id| self.sent_at.get(id).map(|&at| (id.to_string(), at)));
                    let unkeyed = frame["ref"]
                        .is_null()
                        .then(|| self.unkeyed.take())
                        .flatten();
                    if keyed.is_some() || unkeyed.is_some() {
                        rec.count("resent_after_rate_limit", 1);
                        tokio::time::sleep(RATE_LIMIT_PAUSE).await;
                    }
                    match (keyed, unkeyed) {
                        (Some((id, _)), _) if id.ends_with("-m1") => {
                            conn.send(&self.start_frame()).await.ok();
                            return Ok(false);
                        }
                        (Some((id, at)), _) => {
                            self.resend(conn, id, at).await;
                            return Ok(false);
                        }
                        (None, Some(unkeyed)) => {
                            self.send_unkeyed(conn, unkeyed).await;
                            return Ok(false);
                        }
                        (None, None) => {}
                    }
                }
                rec.event(Event::Error {
                    at_us: rec.now_us(),
                    session: self.me(),
                    code,
                });
            }
            "resync" => {
                // The whole transcript follows, from seq 1.
                rec.count("resyncs", 1);
                if let Some(conversation) = frame["conversation_id"].as_str() {
                    rec.event(Event::Follow {
                        at_us: rec.now_us(),
                        session: self.me(),
                        conversation: conversation.to_string(),
                        from_seq: 0,
                    });
                }
            }
            _ => {}
        }
        Ok(false)
    }
}

/// Run one customer to the end of its chat.
pub async fn run(run: Arc<Run>, plan: Plan) {
    let rec = run.rec.clone();
    rec.count("customers", 1);
    rec.in_second(|s| s.arrivals += 1);
    let mut extras = Vec::new();
    let think = plan.think;
    if plan.second_tab {
        extras.push((think / 2, Action::SecondTab));
    }
    if plan.reconnect {
        extras.push((think / 3, Action::Reconnect));
    }
    if plan.repeat_start {
        extras.push((think / 4, Action::RepeatStart));
    }
    let mut chat = Chat {
        plan,
        run,
        session: 0,
        conversation: None,
        assigned: false,
        started_us: 0,
        first_reply_seen: false,
        sent: 0,
        last_seq: 0,
        sent_at: HashMap::new(),
        next: None,
        extras,
        repeat_pending: false,
        closing: false,
        unkeyed: None,
        waiting: false,
    };
    if let Err(e) = chat_to_the_end(&mut chat).await {
        rec.count("customers_failed", 1);
        rec.count(&format!("failures_{}", failure_kind(&e)), 1);
    }
    if chat.waiting {
        rec.gauge("waiting", -1);
    }
}

fn failure_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::BadTarget(_) | ClientError::Connect { .. } => "connect",
        ClientError::Io(_) => "io",
        ClientError::Timeout(_) => "timeout",
        ClientError::Closed(_) => "closed",
    }
}

async fn chat_to_the_end(chat: &mut Chat) -> Result<(), ClientError> {
    // A node that is down: the next one, as a load balancer would route.
    let mut attempt = 0;
    let mut conn = loop {
        match chat.connect(None).await {
            Ok(conn) => break conn,
            Err(e) if attempt + 1 >= chat.run.targets.len() * 2 => return Err(e),
            Err(_) => {
                attempt += 1;
                chat.plan.target += 1;
                chat.session += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let rec = chat.run.rec.clone();
    chat.sent = 1;
    let id = format!("{}-m1", chat.plan.visitor);
    chat.started_us = rec.now_us();
    conn.send(&chat.start_frame()).await.ok();
    chat.note_sent(id, chat.started_us);
    rec.count("chats_started", 1);
    let patience = Instant::now() + chat.plan.patience;
    let mut tabs = tokio::task::JoinSet::new();
    let storm_target = chat.run.scenario.storm.as_ref().map(|s| s.target);
    let mut stormed = storm_target.is_none();
    loop {
        let in_storm =
            !stormed && storm_target == Some(chat.plan.target % chat.run.targets.len().max(1));
        let deadline = match chat.next {
            Some((at, _)) => at,
            None if !chat.assigned && !chat.closing => patience,
            None => Instant::now() + SILENCE,
        };
        tokio::select! {
            () = chat.run.storm.cancelled(), if in_storm => {
                // Every customer of this node at once, as after a failover.
                stormed = true;
                let began = Instant::now();
                drop(conn);
                conn = chat.reconnect().await?;
                rec.latency(
                    Latency::Resume,
                    u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX),
                );
                rec.count("storm_resumed", 1);
            }
            frame = conn.recv() => {
                let frame = match frame {
                    Ok(frame) => frame,
                    Err(ClientError::Closed(_) | ClientError::Io(_)) => {
                        let began = Instant::now();
                        conn = chat.reconnect().await?;
                        rec.latency(
                            Latency::Resume,
                            u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX),
                        );
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let was_assigned = chat.assigned;
                if chat.on_frame(&mut conn, frame).await? {
                    break;
                }
                if !was_assigned && chat.assigned {
                    // Served: the extra behaviours start now, one after another.
                    if let Some((after, action)) = chat.extras.pop()
                        && chat.next.is_none()
                    {
                        chat.schedule(after, action);
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                let Some((_, action)) = chat.next.take() else {
                    if !chat.assigned && !chat.closing {
                        // Out of patience: leave the queue.
                        chat.closing = true;
                        rec.count("gave_up", 1);
                        chat.send_unkeyed(&mut conn, json!({"type": "close"})).await;
                        continue;
                    }
                    return Err(ClientError::Timeout(SILENCE));
                };
                match action {
                    Action::Send => chat.send_message(&mut conn).await,
                    Action::Close => {
                        chat.closing = true;
                        chat.send_unkeyed(&mut conn, json!({"type": "close"})).await;
                    }
                    Action::SecondTab => {
                        if let Some(conversation) = chat.conversation.clone() {
                            let tab = second_tab(chat.run.clone(), chat.plan.clone(), conversation);
                            tabs.spawn(tab);
                        }
                    }
                    Action::Reconnect => {
                        if let Some(conversation) = chat.conversation.clone() {
                            drop(conn);
                            chat.session += 1;
                            rec.count("reconnects", 1);
                            conn = chat.connect(Some((conversation, chat.last_seq))).await?;
                        }
                    }
                    Action::RepeatStart => {
                        chat.repeat_pending = true;
                        let start = json!({"type": "start", "topic": chat.plan.topic});
                        chat.send_unkeyed(&mut conn, start).await;
                    }
                }
                if chat.next.is_none()
                    && let Some((after, action)) = chat.extras.pop()
                {
                    chat.schedule(after, action);
                }
            }
        }
    }
    conn.close().await;
    // A second tab ends with the chat; give it a moment to hear `ended`.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tabs.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// A second tab: must be shown the open conversation, and follows it from the
/// start until it ends.
async fn second_tab(run: Arc<Run>, plan: Plan, conversation: String) {
    let mut chat = Chat {
        plan,
        run,
        session: SECOND_TAB,
        conversation: Some(conversation.clone()),
        assigned: true,
        started_us: 0,
        first_reply_seen: true,
        sent: 0,
        last_seq: 0,
        sent_at: HashMap::new(),
        next: None,
        extras: Vec::new(),
        repeat_pending: false,
        closing: true,
        unkeyed: None,
        waiting: false,
    };
    let rec = chat.run.rec.clone();
    rec.count("second_tabs", 1);
    let Ok(mut conn) = chat.connect(Some((conversation, 0))).await else {
        rec.count("second_tabs_failed", 1);
        return;
    };
    while let Ok(frame) = conn.recv_within(SILENCE).await {
        match frame["type"].as_str() {
            Some("message") | Some("ended") => {
                if let Ok(true) = chat.on_frame(&mut conn, frame).await {
                    break;
                }
            }
            _ => {}
        }
    }
    conn.close().await;
}
