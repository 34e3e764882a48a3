//! Who is on duty for which topic now, for public readers (the widget's
//! settings): the presence snapshot mapped through the roster, kept for a
//! second so that however many pages ask, the hub is asked at most once a
//! second.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use tokio::sync::OnceCell;

use super::{api_error::ApiError, presence::local_snapshot};
use crate::{error::ErrorCode, protocol::AgentStatus, state::AppState};

/// How long one answer is reused.
const FRESH: Duration = Duration::from_secs(1);

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

/// The latest [`OnDuty`], shared by the requests of one second.
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
    answer: OnceCell<Result<Arc<OnDuty>, ApiError>>,
}

impl DutyCache {
    /// Who is on duty, at most [`FRESH`] old (plus a heartbeat on a follower,
    /// which reads the matcher's published snapshot). `unavailable` on a
    /// standby node, which cannot tell, and when the hub does not answer.
    pub(crate) async fn get(&self, state: &AppState) -> Result<Arc<OnDuty>, ApiError> {
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
        slot.answer.get_or_init(|| fetch(state)).await.clone()
    }
}

async fn fetch(state: &AppState) -> Result<Arc<OnDuty>, ApiError> {
    let hub = state.hubs.get().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unavailable,
            "this node is on standby (no matcher to follow yet) and cannot tell who is on duty: try again shortly",
        )
    })?;
    // Where /api/presence looks: the hub's own snapshot on its node, the
    // matcher's published one on a follower.
    let nodes = if hub.handle.is_local() {
        vec![local_snapshot(state).await?]
    } else {
        state
            .presence
            .nodes()
            .await
            .map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?
    };
    let on_duty: HashSet<&str> = nodes
        .iter()
        .flat_map(|node| &node.agents)
        .filter(|agent| agent.status == AgentStatus::Online && agent.sessions > 0)
        .map(|agent| agent.id.as_str())
        .collect();
    let mut languages: HashMap<String, BTreeSet<String>> = HashMap::new();
    for agent in state
        .config
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
