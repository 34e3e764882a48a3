//! The supervisor's live view as the hub sees it at one instant
//! (`Command::Dashboard`): the queue, who waits past their SLA, every agent,
//! the last 15 minutes and today. Taken in one turn of the hub, so its parts
//! agree with each other; its queue is the census `/metrics` reads, its agents
//! are what presence shows.

use std::{cmp::Reverse, time::Duration, time::Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{
    Hub,
    census::{Census, QueueRow},
    desk::{LastFifteen, QueueSample, TodayStats},
};
use crate::{
    domain::{ConversationId, Priority},
    presence::{AgentPresence, NodePresence},
    protocol::AgentStatus,
};

/// Rows of `waiting` listed at most (the longest waits); `waiting_total`
/// counts them all. A surge can put every queued chat past its SLA: the
/// snapshot, sent every second, must stay small all the same.
pub const WAITING_LISTED: usize = 500;

/// The whole view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DashboardSnapshot {
    /// When the hub took it (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The node whose hub took it: this one, or the matcher on a follower.
    pub node: String,
    /// One row per (topic, language, priority) with someone waiting.
    pub queue: Vec<QueueRow>,
    /// Conversations waiting in all.
    pub queued_total: usize,
    /// The longest wait of all, in seconds (0 with nobody waiting).
    pub longest_wait_secs: u64,
    /// `dashboard.sla_wait_secs`: the SLA of vip and standard chats.
    pub sla_wait_secs: u64,
    /// `dashboard.sla_urgent_secs`: the SLA of urgent chats.
    pub sla_urgent_secs: u64,
    /// Waiting past their SLA, longest wait first (at most 500 rows).
    pub waiting: Vec<WaitingRow>,
    /// How many wait past their SLA, listed or not.
    pub waiting_total: usize,
    /// Every agent of the roster, by id.
    pub agents: Vec<DashboardAgent>,
    /// The live nodes of the cluster (on one node: itself), by id.
    pub nodes: Vec<DashboardNode>,
    /// The last 15 minutes.
    pub last_15_min: LastFifteen,
    /// Today (UTC).
    pub today: TodayStats,
    /// The queue every 10 s over the last hour, oldest first: only in the
    /// answer of `GET /api/dashboard` and the stream's first event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<QueueSample>>,
}

/// A conversation waiting past its SLA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WaitingRow {
    /// The conversation.
    #[schema(value_type = String, format = Uuid)]
    pub conversation_id: ConversationId,
    /// `u:<user id>` or `v:<visitor id>`.
    pub customer_key: String,
    /// The name in the customer's identity token, if any.
    pub customer_name: Option<String>,
    /// Its topic.
    pub topic: String,
    /// Its language.
    pub language: String,
    /// `urgent`, `vip` or `standard`.
    #[schema(value_type = String)]
    pub priority: Priority,
    /// Seconds since it first entered the queue (a chat sent back keeps its
    /// wait, as it keeps its place).
    pub waited_secs: u64,
    /// The SLA it is past, in seconds.
    pub sla_secs: u64,
}

/// An agent of the roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DashboardAgent {
    /// Roster id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `online`, `away` or `offline`.
    #[schema(value_type = String)]
    pub status: AgentStatus,
    /// Open console sessions, on any node.
    pub sessions: usize,
    /// Chats held.
    pub load: u32,
    /// Most concurrent chats.
    pub capacity: u32,
    /// The conversations held, sorted.
    #[schema(value_type = Vec<String>)]
    pub chats: Vec<ConversationId>,
    /// The nodes holding its sessions, sorted.
    pub nodes: Vec<String>,
}

/// A live node, from the presence board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DashboardNode {
    /// Node id.
    pub node: String,
    /// Is it the node whose hub took the snapshot (the matcher)?
    pub matcher: bool,
    /// Conversations waiting, as its hub counts them (0 on a follower).
    pub queued: usize,
    /// Agents with a console session on it.
    pub agents: usize,
    /// Its latest heartbeat (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

impl DashboardSnapshot {
    /// Fill `nodes` from the presence board's entries, sorted by id; the
    /// snapshot's own node is listed even before its first heartbeat.
    pub fn set_nodes(&mut self, board: &[NodePresence]) {
        let mut nodes: Vec<DashboardNode> = board
            .iter()
            .map(|entry| DashboardNode {
                node: entry.node.clone(),
                matcher: entry.node == self.node,
                queued: if entry.node == self.node {
                    self.queued_total
                } else {
                    entry.queued
                },
                agents: self
                    .agents
                    .iter()
                    .filter(|a| a.nodes.contains(&entry.node))
                    .count(),
                at: entry.at,
            })
            .collect();
        if !nodes.iter().any(|n| n.matcher) {
            nodes.push(DashboardNode {
                node: self.node.clone(),
                matcher: true,
                queued: self.queued_total,
                agents: self
                    .agents
                    .iter()
                    .filter(|a| a.nodes.contains(&self.node))
                    .count(),
                at: self.at,
            });
        }
        nodes.sort_by(|a, b| a.node.cmp(&b.node));
        self.nodes = nodes;
    }
}

impl Hub {
    /// The view now; `nodes` is left empty (the hub has no presence board:
    /// the caller fills it with `set_nodes`).
    pub(super) fn dashboard(&mut self, now: Instant, with_history: bool) -> DashboardSnapshot {
        let utc = OffsetDateTime::now_utc();
        let census = Census::take(&self.router, now);
        let settings = &self.config.dashboard;
        let (sla_wait, sla_urgent) = (settings.sla_wait_secs, settings.sla_urgent_secs);
        let (waiting, waiting_total) = self.past_sla(now, sla_wait, sla_urgent);
        DashboardSnapshot {
            at: utc,
            node: self.config.node_id.clone().unwrap_or_default(),
            queued_total: census.total(),
            longest_wait_secs: census.longest_wait_secs(),
            queue: census.rows,
            sla_wait_secs: sla_wait,
            sla_urgent_secs: sla_urgent,
            waiting,
            waiting_total,
            agents: self.roster_agents(),
            nodes: Vec::new(),
            last_15_min: self.desk.last_fifteen(now),
            today: self.desk.today_stats(utc),
            history: with_history.then(|| self.desk.history()),
        }
    }

    /// Sample the queue for the chart.
    pub(super) fn sample_queue(&mut self, now: Instant) {
        let census = Census::take(&self.router, now);
        self.desk.sample(QueueSample {
            at: OffsetDateTime::now_utc(),
            queued_total: census.total(),
            longest_wait_secs: census.longest_wait_secs(),
        });
    }

    /// The longest waits past their SLA (at most `WAITING_LISTED`), and how
    /// many wait past it in all.
    fn past_sla(&self, now: Instant, sla_wait: u64, sla_urgent: u64) -> (Vec<WaitingRow>, usize) {
        let mut past = Vec::new();
        for line in self.router.lines() {
            let sla = match line.priority {
                Priority::Urgent => sla_urgent,
                Priority::Vip | Priority::Standard => sla_wait,
            };
            // A line is in arrival order, which is the order of first entry
            // into the queue: the first one within its SLA ends the line's
            // share. So this costs what is past the SLA, not the whole queue.
            for (id, since) in line.waiting() {
                let waited = now.saturating_duration_since(since);
                if waited <= Duration::from_secs(sla) {
                    break;
                }
                past.push((waited, id, line, sla));
            }
        }
        let total = past.len();
        // Longest first; the id (time-ordered) settles ties alike every time.
        let key = |&(waited, id, _, _): &(Duration, ConversationId, _, _)| (Reverse(waited), id);
        if past.len() > WAITING_LISTED {
            past.select_nth_unstable_by_key(WAITING_LISTED, key);
            past.truncate(WAITING_LISTED);
        }
        past.sort_unstable_by_key(key);
        let rows = past
            .into_iter()
            .map(|(waited, id, line, sla)| {
                let customer = self.conversations.get(&id).map(|c| &c.customer);
                WaitingRow {
                    conversation_id: id,
                    customer_key: customer.map(|c| c.key.to_string()).unwrap_or_default(),
                    customer_name: customer.and_then(|c| c.name.as_ref().map(ToString::to_string)),
                    topic: line.topic.to_string(),
                    language: line.language.to_string(),
                    priority: line.priority,
                    waited_secs: waited.as_secs(),
                    sla_secs: sla,
                }
            })
            .collect();
        (rows, total)
    }

    /// Every agent of the roster: those presence shows as it shows them, the
    /// others (no session, no chat) with nothing.
    fn roster_agents(&self) -> Vec<DashboardAgent> {
        let mut agents = self.presence();
        for (id, entry) in &self.agents {
            if !agents.iter().any(|a| &a.id == id) {
                agents.push(AgentPresence {
                    id: id.clone(),
                    name: entry.name.clone(),
                    status: entry.status,
                    sessions: 0,
                    nodes: Vec::new(),
                    load: 0,
                    capacity: entry.capacity,
                });
            }
        }
        agents.sort_by(|a, b| a.id.cmp(&b.id));
        agents
            .into_iter()
            .map(|a| {
                let mut chats: Vec<ConversationId> = self.router.chats(&a.id).copied().collect();
                chats.sort();
                DashboardAgent {
                    id: a.id.to_string(),
                    name: a.name.to_string(),
                    status: a.status,
                    sessions: a.sessions,
                    load: a.load,
                    capacity: a.capacity,
                    chats,
                    nodes: a.nodes,
                }
            })
            .collect()
    }
}
