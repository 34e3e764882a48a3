//! A simulated agent: online from the start of the run, answers each customer
//! message after its think time, and resolves a chat once it has answered
//! `resolve_after` times. Replies are timers on the agent's own task, not tasks
//! of their own.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{
    client::{ClientError, Conn, stamp_of, stamped},
    events::{Event, SessionRef, Side},
    runner::Run,
    stats::Latency,
};

/// One agent of the pool.
#[derive(Debug, Clone)]
pub struct AgentPlan {
    /// Its id in the server's roster.
    pub id: String,
    /// Its token.
    pub token: String,
    /// Which target it connects to.
    pub target: usize,
}

#[derive(Debug, Default)]
struct Held {
    answered: u32,
    reply_due: bool,
    resolving: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Reply(String),
    Resolve(String),
}

/// Connect, then serve until the run stops it. Returns when `run.stop` fires
/// or the connection fails (it then reconnects, with resume, while the run
/// lasts).
pub async fn run(run: Arc<Run>, plan: AgentPlan) {
    let mut session = 0;
    let mut held: HashMap<String, Held> = HashMap::new();
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    // Reply keys stay unique across reconnects: a reused key would be taken
    // for a resend of an earlier reply.
    let mut replies = 0u64;
    while !run.stop.is_cancelled() {
        let result = serve(&run, &plan, session, &mut held, &mut last_seq, &mut replies).await;
        if run.stop.is_cancelled() {
            break;
        }
        if let Err(e) = result {
            run.rec.count("agent_reconnects", 1);
            eprintln!("agent {}: {e}; reconnecting", plan.id);
        }
        session += 1;
        // The node may be gone for good: rotate to the next target.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn serve(
    run: &Arc<Run>,
    plan: &AgentPlan,
    session: u32,
    held: &mut HashMap<String, Held>,
    last_seq: &mut HashMap<String, u64>,
    replies: &mut u64,
) -> Result<(), ClientError> {
    let rec = run.rec.clone();
    let me = SessionRef {
        side: Side::Agent,
        who: plan.id.clone(),
        session,
    };
    let target = &run.targets[(plan.target + session as usize) % run.targets.len()];
    let mut conn = Conn::open(&run.sources, target, "/ws/agent")
        .await?
        .counted(&run.rec);
    let resume: Vec<Value> = last_seq
        .iter()
        .map(|(c, s)| json!({"conversation_id": c, "last_seq": s}))
        .collect();
    conn.send(&json!({"type": "hello", "token": plan.token, "resume": resume}))
        .await?;
    let think = run.scenario.agents.think_ms;
    let resolve_after = run.scenario.agents.resolve_after;
    let mut due: BTreeMap<(Instant, u64), Due> = BTreeMap::new();
    let mut tie = 0u64;
    let mut sent_at: HashMap<String, u64> = HashMap::new();
    loop {
        let next = due.keys().next().map(|(at, _)| *at);
        tokio::select! {
            frame = conn.recv() => {
                let frame = frame?;
                let kind = frame["type"].as_str().unwrap_or_default();
                let conversation = frame["conversation_id"].as_str().unwrap_or_default().to_string();
                match kind {
                    "welcome" => {
                        rec.event(Event::Capacity {
                            at_us: rec.now_us(),
                            session: me.clone(),
                            capacity: u32::try_from(frame["agent"]["capacity"].as_u64().unwrap_or(0)).unwrap_or(0),
                        });
                        // Resumed chats are followed from where this agent left off.
                        let shown: Vec<String> = frame["conversations"]
                            .as_array()
                            .map(|cs| cs.iter().filter_map(|c| c["id"].as_str().map(str::to_string)).collect())
                            .unwrap_or_default();
                        held.retain(|c, _| shown.contains(c));
                        last_seq.retain(|c, _| shown.contains(c));
                        for c in shown {
                            let from_seq = last_seq.get(&c).copied().unwrap_or(0);
                            rec.event(Event::Follow { at_us: rec.now_us(), session: me.clone(), conversation: c.clone(), from_seq });
                            held.entry(c).or_default();
                        }
                    }
                    "assigned" => {
                        let transcript: Vec<u64> = frame["transcript"]
                            .as_array()
                            .map(|ms| ms.iter().filter_map(|m| m["seq"].as_u64()).collect())
                            .unwrap_or_default();
                        let owed = frame["transcript"].as_array().is_some_and(|ms| {
                            ms.iter().rev().find(|m| m["from"] != "system").is_some_and(|m| m["from"] == "customer")
                        });
                        rec.event(Event::Assigned { at_us: rec.now_us(), session: me.clone(), conversation: conversation.clone(), transcript: transcript.clone() });
                        last_seq.insert(conversation.clone(), transcript.last().copied().unwrap_or(0));
                        let entry = held.entry(conversation.clone()).or_default();
                        if owed && !entry.reply_due {
                            entry.reply_due = true;
                            tie += 1;
                            due.insert((Instant::now() + crate::runner::draw(think), tie), Due::Reply(conversation));
                        }
                    }
                    "message" => {
                        let seq = frame["seq"].as_u64().unwrap_or(0);
                        let from = frame["from"].as_str().unwrap_or_default().to_string();
                        let client_msg_id = frame["client_msg_id"].as_str().map(str::to_string);
                        rec.event(Event::Message { at_us: rec.now_us(), session: me.clone(), conversation: conversation.clone(), seq, from: from.clone(), client_msg_id: client_msg_id.clone() });
                        let seen = last_seq.entry(conversation.clone()).or_default();
                        *seen = (*seen).max(seq);
                        if from == "agent" {
                            if let Some(sent) = client_msg_id.and_then(|id| sent_at.remove(&id)) {
                                rec.latency(Latency::MessageEcho, rec.now_us().saturating_sub(sent));
                            }
                        } else if from == "customer" {
                            if let Some(sent) = frame["text"].as_str().and_then(stamp_of) {
                                rec.latency(Latency::MessageDelivery, rec.now_us().saturating_sub(sent));
                            }
                            if let Some(entry) = held.get_mut(&conversation)
                                && !entry.reply_due && !entry.resolving
                            {
                                entry.reply_due = true;
                                tie += 1;
                                due.insert((Instant::now() + crate::runner::draw(think), tie), Due::Reply(conversation));
                            }
                        }
                    }
                    "ended" | "unassigned" => {
                        if kind == "ended" {
                            rec.event(Event::Ended {
                                at_us: rec.now_us(),
                                session: me.clone(),
                                conversation: conversation.clone(),
                                reason: frame["reason"].as_str().unwrap_or_default().to_string(),
                                ticket_id: frame["ticket_id"].as_str().map(str::to_string),
                            });
                        } else {
                            rec.event(Event::Unassigned { at_us: rec.now_us(), session: me.clone(), conversation: conversation.clone() });
                        }
                        held.remove(&conversation);
                        last_seq.remove(&conversation);
                        due.retain(|_, d| !matches!(d, Due::Reply(c) | Due::Resolve(c) if *c == conversation));
                    }
                    "resync" => {
                        // The whole transcript follows again, from seq 1.
                        rec.count("agent_resyncs", 1);
                        rec.event(Event::Follow { at_us: rec.now_us(), session: me.clone(), conversation: conversation.clone(), from_seq: 0 });
                    }
                    "error" => {
                        let code = frame["code"].as_str().unwrap_or_default().to_string();
                        rec.count(&format!("agent_errors_{code}"), 1);
                        rec.event(Event::Error { at_us: rec.now_us(), session: me.clone(), code });
                    }
                    _ => {}
                }
            }
            () = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let Some((_, action)) = due.pop_first() else { continue };
                match action {
                    Due::Reply(conversation) => {
                        let Some(entry) = held.get_mut(&conversation) else { continue };
                        entry.reply_due = false;
                        entry.answered += 1;
                        *replies += 1;
                        let id = format!("{}-r{replies}", plan.id);
                        let at = rec.now_us();
                        conn.send(&json!({"type": "message", "conversation_id": conversation,
                            "client_msg_id": id, "text": stamped("Thanks, checking that now", at)})).await?;
                        rec.event(Event::Sent { at_us: at, session: me.clone(), conversation: Some(conversation.clone()), client_msg_id: id.clone() });
                        rec.count("agent_replies", 1);
                        sent_at.insert(id, at);
                        if entry.answered >= resolve_after {
                            entry.resolving = true;
                            tie += 1;
                            due.insert((Instant::now() + crate::runner::draw(think), tie), Due::Resolve(conversation));
                        }
                    }
                    Due::Resolve(conversation) => {
                        if held.contains_key(&conversation) {
                            conn.send(&json!({"type": "resolve", "conversation_id": conversation})).await?;
                        }
                    }
                }
            }
            () = run.stop.cancelled() => {
                conn.close().await;
                return Ok(());
            }
        }
    }
}
