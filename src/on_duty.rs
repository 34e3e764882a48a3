//! Who is on duty: this node's presence snapshot, fresh from its hub, and,
//! for public readers (the widget's settings), the topics with an agent on
//! duty: the presence snapshot mapped through the roster, kept for a second so
//! that however many pages ask, the hub is asked at most once a second.
//!
//! Below `http` and `state`: it takes the parts of the node it reads (hub
//! slot, presence board, configuration), and its errors are its own
//! ([`OnDutyError`]); `http` answers them as `unavailable`.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use tokio::sync::{OnceCell, oneshot};

use crate::{
    config::Config,
    hub::{Command, HubSlot},
    presence::{NodePresence, PresenceBoard},
    protocol::AgentStatus,
};

/// How long one answer is reused.
const FRESH: Duration = Duration::from_secs(1);

/// Why this node cannot tell who is on duty. Each is `unavailable` on the
/// wire, with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnDutyError {
    /// No hub of its own and no matcher to follow.
    #[error(
        "this node is on standby (no matcher to follow yet) and cannot tell who is on duty: try again shortly"
    )]
    Standby,
    /// A fresh snapshot was asked of a node whose hub is not its own.
    #[error("this node runs no hub of its own: ask the matcher node")]
    NoLocalHub,
    /// The hub did not take the request, or did not answer within a second.
    #[error("the hub did not answer")]
    HubSilent,
    /// The presence board could not be read (the store's message).
    #[error("{0}")]
    Board(String),
}

/// This node's snapshot, fresh from its hub: `NoLocalHub` unless the node runs
/// one of its own, `HubSilent` unless it answers within a second.
pub(crate) async fn local_snapshot(
    hubs: &HubSlot,
    node_id: &str,
) -> Result<NodePresence, OnDutyError> {
    let (reply, answer) = oneshot::channel();
    let hub = hubs
        .get()
        .filter(|h| h.handle.is_local())
        .ok_or(OnDutyError::NoLocalHub)?;
    hub.handle
        .send(Command::Presence { reply })
        .await
        .map_err(|_| OnDutyError::HubSilent)?;
    let (agents, queued) = tokio::time::timeout(Duration::from_secs(1), answer)
        .await
        .map_err(|_| OnDutyError::HubSilent)?
        .map_err(|_| OnDutyError::HubSilent)?;
    Ok(NodePresence {
        node: node_id.to_owned(),
        agents,
        queued,
        at: time::OffsetDateTime::now_utc(),
    })
}

/// For each topic with an agent on duty, the languages those agents speak.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct OnDuty {
    languages: HashMap<String, BTreeSet<String>>,
}

impl OnDuty {
    /// The languages spoken by the agents on duty for `topic`, sorted; empty
    /// when none is.
    pub(crate) fn languages(&self, topic: &str) -> Vec<String> {
        self.languages
            .get(topic)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The latest `OnDuty` (per topic, the languages on duty), shared by the
/// requests of one second.
#[derive(Debug, Default)]
pub struct DutyCache {
    /// A std mutex: held only to swap the slot, never across an `.await`.
    slot: Mutex<Option<Arc<Slot>>>,
}

#[derive(Debug)]
struct Slot {
    taken: Instant,
    /// Filled by the first request of the slot; the others wait for it rather
    /// than ask the hub too.
    answer: OnceCell<Result<Arc<OnDuty>, OnDutyError>>,
}

impl DutyCache {
    /// Who is on duty, at most [`FRESH`] old (plus a heartbeat on a follower,
    /// which reads the matcher's published snapshot), with the roster of
    /// `config`. `Standby` on a standby node, which cannot tell; `HubSilent`
    /// or `Board` when the hub or the board does not answer.
    pub(crate) async fn get(
        &self,
        hubs: &HubSlot,
        presence: &dyn PresenceBoard,
        config: &Config,
        node_id: &str,
    ) -> Result<Arc<OnDuty>, OnDutyError> {
        let slot = {
            let mut current = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            match current.as_ref() {
                Some(slot) if slot.taken.elapsed() < FRESH => slot.clone(),
                _ => {
                    let slot = Arc::new(Slot {
                        taken: Instant::now(),
                        answer: OnceCell::new(),
                    });
                    *current = Some(slot.clone());
                    slot
                }
            }
        };
        slot.answer
            .get_or_init(|| fetch(hubs, presence, config, node_id))
            .await
            .clone()
    }
}

async fn fetch(
    hubs: &HubSlot,
    presence: &dyn PresenceBoard,
    config: &Config,
    node_id: &str,
) -> Result<Arc<OnDuty>, OnDutyError> {
    let hub = hubs.get().ok_or(OnDutyError::Standby)?;
    // Where /api/presence looks: the hub's own snapshot on its node, the
    // matcher's published one on a follower.
    let nodes = if hub.handle.is_local() {
        vec![local_snapshot(hubs, node_id).await?]
    } else {
        presence
            .nodes()
            .await
            .map_err(|e| OnDutyError::Board(e.to_string()))?
    };
    let on_duty: HashSet<&str> = nodes
        .iter()
        .flat_map(|node| &node.agents)
        .filter(|agent| agent.status == AgentStatus::Online && agent.sessions > 0)
        .map(|agent| agent.id.as_str())
        .collect();
    let mut languages: HashMap<String, BTreeSet<String>> = HashMap::new();
    for agent in config
        .agents
        .iter()
        .filter(|agent| on_duty.contains(agent.id.as_str()))
    {
        for topic in &agent.skills {
            languages
                .entry(topic.clone())
                .or_default()
                .extend(agent.languages.iter().cloned());
        }
    }
    Ok(Arc::new(OnDuty { languages }))
}
