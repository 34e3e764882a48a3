//! The routing core: who waits in which queue, which agent holds what, and who is
//! matched to whom. Synchronous and free of I/O, so the matcher benchmark and the
//! property test drive exactly the code the hub runs.
//!
//! Costs: topics and languages are interned to small indices, so a queue is found
//! by indexing, not hashing. Each (topic, language, priority) queue is a `BTreeMap`
//! keyed by arrival number (the order of first entry, kept across transfers and
//! requeues). Available agents are indexed per (topic, language) in a `BTreeSet`
//! ordered by load ratio, then idle time. An arrival looks at one or two index
//! heads; a freed agent slot looks at the heads of the queues that agent can serve.
//! Both are O(log n) in the number waiting, never a scan.

use std::{
    cmp::Ordering,
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    hash::{BuildHasherDefault, Hasher},
    time::{Duration, Instant},
};

use crate::domain::{AgentId, ConversationId, Language, Priority, Topic};

/// A refusal from the router; the hub turns it into a wire error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The topic is not in `routing.topics`.
    #[error("unknown topic `{0}`")]
    UnknownTopic(Topic),
    /// No such agent.
    #[error("unknown agent `{0}`")]
    UnknownAgent(AgentId),
    /// The agent id is taken.
    #[error("agent `{0}` already exists")]
    DuplicateAgent(AgentId),
    /// The conversation is already routed.
    #[error("conversation {0} is already routed")]
    AlreadyRouted(ConversationId),
    /// No such open conversation.
    #[error("conversation {0} is not routed")]
    NotRouted(ConversationId),
}

/// What a conversation needs from an agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// Topic, one of the configured ones.
    pub topic: Topic,
    /// Language code.
    pub language: Language,
    /// Priority.
    pub priority: Priority,
}

/// A match the hub must carry out: tell both sides, start the timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The conversation.
    pub conversation: ConversationId,
    /// The agent who now holds it.
    pub agent: AgentId,
}

/// One waiting line: the conversations of one (topic, language, priority),
/// in serving order.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    router: &'a Router,
    /// Its topic.
    pub topic: &'a Topic,
    /// Its language.
    pub language: &'a Language,
    /// Its priority.
    pub priority: Priority,
    line: &'a BTreeMap<u64, ConversationId>,
}

impl<'a> Line<'a> {
    /// Conversations waiting in it.
    pub fn depth(&self) -> usize {
        self.line.len()
    }

    /// Its conversations in serving order (so longest waiting first: arrival
    /// numbers follow first entry times), each with its first entry time.
    pub fn waiting(&self) -> impl Iterator<Item = (ConversationId, Instant)> + 'a {
        let entries = &self.router.entries;
        self.line
            .values()
            .filter_map(move |c| entries.get(c).map(|e| (*c, e.enqueued_at)))
    }
}

/// Where an open conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement<'a> {
    /// Waiting.
    Queued,
    /// Held by this agent.
    Assigned(&'a AgentId),
}

type TopicIx = usize;
type LangIx = usize;
type AgentIx = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Queued,
    Assigned(AgentIx),
}

#[derive(Debug)]
/// Kept small (no strings): the bench shows lookups in this table dominate at
/// 100k waiting, so fewer cache lines per entry is what matters.
struct Entry {
    topic: TopicIx,
    lang: LangIx,
    priority: Priority,
    /// Order of first entry into the queue; kept across requeues and transfers so a
    /// customer never loses its place.
    arrival: u64,
    /// Time of first entry into the queue.
    enqueued_at: Instant,
    place: Place,
}

/// Sort key of an available agent: lowest load relative to capacity, then longest
/// idle, then index for a total order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AgentRank {
    load: u32,
    capacity: u32,
    idle_since: Instant,
    agent: AgentIx,
}

impl Ord for AgentRank {
    fn cmp(&self, other: &Self) -> Ordering {
        (u64::from(self.load) * u64::from(other.capacity))
            .cmp(&(u64::from(other.load) * u64::from(self.capacity)))
            .then(self.idle_since.cmp(&other.idle_since))
            .then(self.agent.cmp(&other.agent))
    }
}

impl PartialOrd for AgentRank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug)]
struct AgentSlot {
    id: AgentId,
    skills: Vec<TopicIx>,
    langs: Vec<LangIx>,
    speaks_fallback: bool,
    capacity: u32,
    /// Online and connected: may take new chats.
    accepting: bool,
    /// The chats it holds; its load is derived from this, never counted apart.
    chats: HashSet<ConversationId, FastBuild>,
    /// Last assignment, or when it became available.
    idle_since: Instant,
    /// Its key in `available`, while indexed.
    indexed: Option<AgentRank>,
}

impl AgentSlot {
    fn load(&self) -> u32 {
        u32::try_from(self.chats.len()).unwrap_or(u32::MAX)
    }
}

/// Per (topic, language): one FIFO per priority, keyed by arrival.
type Lines = [BTreeMap<u64, ConversationId>; 3];

/// Per topic, every language together: one FIFO per priority, keyed by arrival,
/// with each conversation's first entry time, so the language-fallback check on a
/// line's head needs no lookup.
type TopicLines = [BTreeMap<u64, (ConversationId, Instant)>; 3];

/// A cheap hasher for the router's hot keys: conversation ids (UUIDs the server
/// generates, already random) and line indices. A multiply per word and a final
/// mix instead of SipHash; the keys are not chosen by clients.
#[derive(Debug, Default, Clone, Copy)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(23) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        // The finaliser of MurmurHash3: every input bit reaches every output bit.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h
    }
}

type FastBuild = BuildHasherDefault<FastHasher>;

/// The routing state of one hub.
#[derive(Debug)]
pub struct Router {
    topics: Vec<Topic>,
    topic_ix: HashMap<Topic, TopicIx>,
    langs: Vec<Language>,
    lang_ix: HashMap<Language, LangIx>,
    fallback_lang: LangIx,
    fallback_after: Duration,
    /// `queues[topic][lang][priority]`.
    queues: Vec<Vec<Lines>>,
    /// `by_topic[topic][priority]`: every language together, to find the oldest
    /// conversation an agent may take by language fallback.
    by_topic: Vec<TopicLines>,
    /// `available[topic][lang]`: agents accepting chats, under capacity.
    available: Vec<Vec<BTreeSet<AgentRank>>>,
    agents: Vec<AgentSlot>,
    agent_ix: HashMap<AgentId, AgentIx>,
    entries: HashMap<ConversationId, Entry, FastBuild>,
    next_arrival: u64,
    /// (topic, lang) lines whose order changed since the last `take_changed_lines`.
    changed: HashSet<(TopicIx, LangIx), FastBuild>,
}

fn prio_ix(p: Priority) -> usize {
    match p {
        Priority::Urgent => 0,
        Priority::Vip => 1,
        Priority::Standard => 2,
    }
}

impl Router {
    /// A router for these topics; conversations waiting `fallback_after` may go to
    /// agents speaking `fallback_language`.
    pub fn new(topics: &[Topic], fallback_language: &Language, fallback_after: Duration) -> Self {
        let mut router = Self {
            topics: topics.to_vec(),
            topic_ix: topics
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), i))
                .collect(),
            langs: Vec::new(),
            lang_ix: HashMap::new(),
            fallback_lang: 0,
            fallback_after,
            queues: topics.iter().map(|_| Vec::new()).collect(),
            by_topic: topics.iter().map(|_| TopicLines::default()).collect(),
            available: topics.iter().map(|_| Vec::new()).collect(),
            agents: Vec::new(),
            agent_ix: HashMap::new(),
            entries: HashMap::default(),
            next_arrival: 0,
            changed: HashSet::default(),
        };
        router.fallback_lang = router.intern_lang(fallback_language);
        router
    }

    fn intern_lang(&mut self, lang: &Language) -> LangIx {
        if let Some(&ix) = self.lang_ix.get(lang) {
            return ix;
        }
        let ix = self.langs.len();
        self.langs.push(lang.clone());
        self.lang_ix.insert(lang.clone(), ix);
        for per_topic in &mut self.queues {
            per_topic.push(Lines::default());
        }
        for per_topic in &mut self.available {
            per_topic.push(BTreeSet::new());
        }
        ix
    }

    /// Is this a configured topic?
    pub fn has_topic(&self, topic: &str) -> bool {
        self.topic_ix.contains_key(topic)
    }

    /// The configured topics.
    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    /// Add an agent, not yet accepting chats.
    pub fn add_agent(
        &mut self,
        id: AgentId,
        skills: &[Topic],
        languages: &[Language],
        capacity: u32,
        now: Instant,
    ) -> Result<(), RouteError> {
        if self.agent_ix.contains_key(&id) {
            return Err(RouteError::DuplicateAgent(id));
        }
        let mut skill_ixs = Vec::with_capacity(skills.len());
        for skill in skills {
            let ix = *self
                .topic_ix
                .get(skill)
                .ok_or_else(|| RouteError::UnknownTopic(skill.clone()))?;
            if !skill_ixs.contains(&ix) {
                skill_ixs.push(ix);
            }
        }
        let mut langs = Vec::with_capacity(languages.len());
        for lang in languages {
            let ix = self.intern_lang(lang);
            if !langs.contains(&ix) {
                langs.push(ix);
            }
        }
        let ix = self.agents.len();
        self.agent_ix.insert(id.clone(), ix);
        self.agents.push(AgentSlot {
            id,
            speaks_fallback: langs.contains(&self.fallback_lang),
            skills: skill_ixs,
            langs,
            capacity,
            accepting: false,
            chats: HashSet::default(),
            idle_since: now,
            indexed: None,
        });
        Ok(())
    }

    fn agent(&self, id: &AgentId) -> Result<AgentIx, RouteError> {
        self.agent_ix
            .get(id)
            .copied()
            .ok_or_else(|| RouteError::UnknownAgent(id.clone()))
    }

    /// Let the agent take new chats or not (online and connected, or not). Returns
    /// the chats it takes from the queue at once.
    pub fn set_accepting(
        &mut self,
        id: &AgentId,
        accepting: bool,
        now: Instant,
    ) -> Result<Vec<Assignment>, RouteError> {
        let a = self.agent(id)?;
        let slot = &mut self.agents[a];
        if slot.accepting == accepting {
            return Ok(Vec::new());
        }
        slot.accepting = accepting;
        if accepting {
            slot.idle_since = now;
        }
        Ok(self.refresh_agent(a, now))
    }

    /// Change an agent's capacity. Lowering it below the load keeps the chats and
    /// takes no new ones until the load falls under it.
    pub fn set_capacity(
        &mut self,
        id: &AgentId,
        capacity: u32,
        now: Instant,
    ) -> Result<Vec<Assignment>, RouteError> {
        let a = self.agent(id)?;
        self.agents[a].capacity = capacity;
        Ok(self.refresh_agent(a, now))
    }

    /// Put back a conversation found in the store at start-up, in creation order:
    /// queued (first entry at `enqueued_at`), or held by `agent`. Nothing is
    /// matched here; the hub lets agents take the queue as they connect.
    pub fn restore(
        &mut self,
        conversation: ConversationId,
        spec: RouteSpec,
        enqueued_at: Instant,
        agent: Option<&AgentId>,
    ) -> Result<(), RouteError> {
        if self.entries.contains_key(&conversation) {
            return Err(RouteError::AlreadyRouted(conversation));
        }
        let topic = *self
            .topic_ix
            .get(&spec.topic)
            .ok_or_else(|| RouteError::UnknownTopic(spec.topic.clone()))?;
        let place = match agent {
            Some(id) => Place::Assigned(self.agent(id)?),
            None => Place::Queued,
        };
        let lang = self.intern_lang(&spec.language);
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        self.entries.insert(
            conversation,
            Entry {
                priority: spec.priority,
                topic,
                lang,
                arrival,
                enqueued_at,
                place,
            },
        );
        match place {
            Place::Queued => self.insert_line(conversation),
            Place::Assigned(a) => {
                self.unindex(a);
                self.agents[a].chats.insert(conversation);
                self.index(a);
            }
        }
        Ok(())
    }

    /// Put a new conversation in its queue and match it if an agent can take it.
    pub fn enqueue(
        &mut self,
        conversation: ConversationId,
        spec: RouteSpec,
        now: Instant,
    ) -> Result<Option<Assignment>, RouteError> {
        if self.entries.contains_key(&conversation) {
            return Err(RouteError::AlreadyRouted(conversation));
        }
        let topic = *self
            .topic_ix
            .get(&spec.topic)
            .ok_or_else(|| RouteError::UnknownTopic(spec.topic.clone()))?;
        let lang = self.intern_lang(&spec.language);
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        let p = prio_ix(spec.priority);
        self.entries.insert(
            conversation,
            Entry {
                priority: spec.priority,
                topic,
                lang,
                arrival,
                enqueued_at: now,
                place: Place::Queued,
            },
        );
        // Work from the values at hand: reading the new entry back would wait for
        // its (cold) cache line.
        self.insert_line_at(conversation, topic, lang, p, arrival, now);
        Ok(self.match_at(conversation, topic, lang, now, now, None))
    }

    /// Send a held conversation back to the queue, keeping its original place,
    /// optionally under a new topic or priority. The agent who held it is skipped
    /// unless nobody else can take it. Returns every assignment this caused.
    pub fn requeue(
        &mut self,
        conversation: ConversationId,
        topic: Option<Topic>,
        priority: Option<Priority>,
        now: Instant,
    ) -> Result<Vec<Assignment>, RouteError> {
        let new_topic = match &topic {
            Some(t) => Some(
                *self
                    .topic_ix
                    .get(t)
                    .ok_or_else(|| RouteError::UnknownTopic(t.clone()))?,
            ),
            None => None,
        };
        let entry = self
            .entries
            .get_mut(&conversation)
            .ok_or(RouteError::NotRouted(conversation))?;
        let Place::Assigned(previous) = entry.place else {
            // Already queued: only the topic or priority may change.
            self.remove_line(conversation);
            self.retarget(conversation, new_topic, priority);
            self.insert_line(conversation);
            return Ok(self
                .match_conversation(conversation, now, None)
                .into_iter()
                .collect());
        };
        entry.place = Place::Queued;
        self.retarget(conversation, new_topic, priority);
        self.agents[previous].chats.remove(&conversation);
        self.insert_line(conversation);
        let mut assignments: Vec<Assignment> = self
            .match_conversation(conversation, now, Some(previous))
            .into_iter()
            .collect();
        assignments.extend(self.refresh_agent(previous, now));
        Ok(assignments)
    }

    fn retarget(
        &mut self,
        conversation: ConversationId,
        topic_ix: Option<TopicIx>,
        priority: Option<Priority>,
    ) {
        if let Some(entry) = self.entries.get_mut(&conversation) {
            if let Some(ix) = topic_ix {
                entry.topic = ix;
            }
            if let Some(p) = priority {
                entry.priority = p;
            }
        }
    }

    /// The conversation ended: forget it, free its agent's slot. Returns the chats
    /// the freed agent takes next.
    pub fn remove(
        &mut self,
        conversation: ConversationId,
        now: Instant,
    ) -> Result<Vec<Assignment>, RouteError> {
        let place = self
            .entries
            .get(&conversation)
            .ok_or(RouteError::NotRouted(conversation))?
            .place;
        match place {
            Place::Queued => {
                self.remove_line(conversation);
                self.entries.remove(&conversation);
                Ok(Vec::new())
            }
            Place::Assigned(a) => {
                self.entries.remove(&conversation);
                self.agents[a].chats.remove(&conversation);
                Ok(self.refresh_agent(a, now))
            }
        }
    }

    /// The conversation has waited `fallback_after`: agents speaking the fallback
    /// language may now take it. Each agent that can take it takes, in fair
    /// order, the best it can serve, which is another conversation when a
    /// higher-priority or older one became fallback-ready in the same instant.
    /// Returns every assignment made.
    pub fn fallback_due(&mut self, conversation: ConversationId, now: Instant) -> Vec<Assignment> {
        let mut assignments = Vec::new();
        while let Some(e) = self.entries.get(&conversation)
            && e.place == Place::Queued
        {
            let Some(agent) = self.best_agent_for(e.topic, e.lang, e.enqueued_at, now, None) else {
                break;
            };
            let taken = self.refresh_agent(agent, now);
            if taken.is_empty() {
                break;
            }
            assignments.extend(taken);
        }
        assignments
    }

    /// Where an open conversation is.
    pub fn placement(&self, conversation: &ConversationId) -> Option<Placement<'_>> {
        let entry = self.entries.get(conversation)?;
        Some(match entry.place {
            Place::Queued => Placement::Queued,
            Place::Assigned(a) => Placement::Assigned(&self.agents[a].id),
        })
    }

    /// The routing spec of an open conversation.
    pub fn spec(&self, conversation: &ConversationId) -> Option<RouteSpec> {
        self.entries.get(conversation).map(|e| RouteSpec {
            topic: self.topics[e.topic].clone(),
            language: self.langs[e.lang].clone(),
            priority: e.priority,
        })
    }

    /// First queue entry time and arrival number of an open conversation.
    pub fn arrival(&self, conversation: &ConversationId) -> Option<(u64, Instant)> {
        self.entries
            .get(conversation)
            .map(|e| (e.arrival, e.enqueued_at))
    }

    /// The conversations an agent holds.
    pub fn chats(&self, agent: &AgentId) -> impl Iterator<Item = &ConversationId> {
        self.agent_ix
            .get(agent)
            .into_iter()
            .flat_map(|&a| self.agents[a].chats.iter())
    }

    /// An agent's current load (chats held).
    pub fn load(&self, agent: &AgentId) -> u32 {
        self.agent_ix
            .get(agent)
            .map_or(0, |&a| self.agents[a].load())
    }

    /// 1-based place in its (topic, language) line, urgent before vip before
    /// standard, first come first served within each.
    pub fn position(&self, conversation: &ConversationId) -> Option<usize> {
        let entry = self.entries.get(conversation)?;
        if entry.place != Place::Queued {
            return None;
        }
        let lines = &self.queues[entry.topic][entry.lang];
        let own = prio_ix(entry.priority);
        let line = &lines[own];
        // The newest of its priority (the common case: a new arrival) is O(1);
        // a requeued one in the middle counts those ahead.
        let ahead_in_own = if line.last_key_value().map(|(&k, _)| k) == Some(entry.arrival) {
            line.len() - 1
        } else {
            line.range(..entry.arrival).count()
        };
        let ahead: usize = lines[..own].iter().map(BTreeMap::len).sum::<usize>() + ahead_in_own;
        Some(ahead + 1)
    }

    /// Lines (topic, language) whose order changed since the last call, each with
    /// its conversations in serving order: the hub refreshes their positions.
    pub fn take_changed_lines(&mut self) -> Vec<Vec<ConversationId>> {
        let changed = std::mem::take(&mut self.changed);
        changed
            .into_iter()
            .map(|(t, l)| {
                self.queues[t][l]
                    .iter()
                    .flat_map(|line| line.values().copied())
                    .collect()
            })
            .collect()
    }

    /// Number queued in all lines of a topic (every language and priority).
    pub fn queued_in_topic(&self, topic: usize) -> usize {
        self.by_topic
            .get(topic)
            .map_or(0, |lines| lines.iter().map(BTreeMap::len).sum())
    }

    /// First entry time of the longest-waiting conversation of a topic.
    pub fn oldest_in_topic(&self, topic: usize) -> Option<Instant> {
        self.by_topic
            .get(topic)?
            .iter()
            .filter_map(|line| line.values().next())
            .map(|&(_, since)| since)
            .min()
    }

    /// Total conversations waiting.
    pub fn queued_total(&self) -> usize {
        self.by_topic
            .iter()
            .map(|lines| lines.iter().map(BTreeMap::len).sum::<usize>())
            .sum()
    }

    /// Every (topic, language, priority) line with someone waiting, topics in
    /// configured order, then languages as first seen, urgent before vip
    /// before standard.
    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        self.queues
            .iter()
            .enumerate()
            .flat_map(move |(t, by_lang)| {
                by_lang.iter().enumerate().flat_map(move |(l, lines)| {
                    Priority::ALL
                        .into_iter()
                        .filter(move |&p| !lines[prio_ix(p)].is_empty())
                        .map(move |priority| Line {
                            router: self,
                            topic: &self.topics[t],
                            language: &self.langs[l],
                            priority,
                            line: &lines[prio_ix(priority)],
                        })
                })
            })
    }

    fn insert_line(&mut self, conversation: ConversationId) {
        let Some(e) = self.entries.get(&conversation) else {
            return;
        };
        let (t, l, p, arrival, since) = (
            e.topic,
            e.lang,
            prio_ix(e.priority),
            e.arrival,
            e.enqueued_at,
        );
        self.insert_line_at(conversation, t, l, p, arrival, since);
    }

    fn insert_line_at(
        &mut self,
        conversation: ConversationId,
        t: TopicIx,
        l: LangIx,
        p: usize,
        arrival: u64,
        since: Instant,
    ) {
        self.queues[t][l][p].insert(arrival, conversation);
        self.by_topic[t][p].insert(arrival, (conversation, since));
        self.changed.insert((t, l));
    }

    fn remove_line(&mut self, conversation: ConversationId) {
        let Some(e) = self.entries.get(&conversation) else {
            return;
        };
        let p = prio_ix(e.priority);
        self.queues[e.topic][e.lang][p].remove(&e.arrival);
        self.by_topic[e.topic][p].remove(&e.arrival);
        self.changed.insert((e.topic, e.lang));
    }

    fn unindex(&mut self, a: AgentIx) {
        if let Some(rank) = self.agents[a].indexed.take() {
            for &t in &self.agents[a].skills {
                for &l in &self.agents[a].langs {
                    self.available[t][l].remove(&rank);
                }
            }
        }
    }

    fn index(&mut self, a: AgentIx) {
        let slot = &self.agents[a];
        if !slot.accepting || slot.load() >= slot.capacity {
            return;
        }
        let rank = AgentRank {
            load: slot.load(),
            capacity: slot.capacity,
            idle_since: slot.idle_since,
            agent: a,
        };
        for &t in &slot.skills {
            for &l in &slot.langs {
                self.available[t][l].insert(rank);
            }
        }
        self.agents[a].indexed = Some(rank);
    }

    /// Re-rank an agent whose load, capacity or status changed, then let it take
    /// what it can from the queue, longest wait at the highest priority first.
    fn refresh_agent(&mut self, a: AgentIx, now: Instant) -> Vec<Assignment> {
        self.unindex(a);
        let mut assignments = Vec::new();
        loop {
            let slot = &self.agents[a];
            if !slot.accepting || slot.load() >= slot.capacity {
                break;
            }
            let Some(conversation) = self.best_waiting_for(a, now) else {
                break;
            };
            assignments.push(self.assign(conversation, a, now));
        }
        self.index(a);
        assignments
    }

    /// The conversation this agent should take next, if any.
    fn best_waiting_for(&self, a: AgentIx, now: Instant) -> Option<ConversationId> {
        let slot = &self.agents[a];
        for p in 0..3 {
            let mut best: Option<(u64, ConversationId)> = None;
            let mut consider = |candidate: Option<(&u64, &ConversationId)>| {
                if let Some((&arrival, &c)) = candidate
                    && best.is_none_or(|(b, _)| arrival < b)
                {
                    best = Some((arrival, c));
                }
            };
            for &t in &slot.skills {
                for &l in &slot.langs {
                    consider(self.queues[t][l][p].first_key_value());
                }
                if slot.speaks_fallback
                    && let Some((arrival, (c, since))) = self.by_topic[t][p].first_key_value()
                    && now.saturating_duration_since(*since) >= self.fallback_after
                {
                    consider(Some((arrival, c)));
                }
            }
            if let Some((_, c)) = best {
                return Some(c);
            }
        }
        None
    }

    /// Find the best agent for a queued conversation and assign it.
    fn match_conversation(
        &mut self,
        conversation: ConversationId,
        now: Instant,
        skip: Option<AgentIx>,
    ) -> Option<Assignment> {
        let e = self.entries.get(&conversation)?;
        let (t, l, since) = (e.topic, e.lang, e.enqueued_at);
        self.match_at(conversation, t, l, since, now, skip)
    }

    fn match_at(
        &mut self,
        conversation: ConversationId,
        t: TopicIx,
        l: LangIx,
        since: Instant,
        now: Instant,
        skip: Option<AgentIx>,
    ) -> Option<Assignment> {
        let best = self.best_agent_for(t, l, since, now, skip)?;
        Some(self.assign(conversation, best, now))
    }

    /// The agent to serve a conversation of this topic and language, queued
    /// since `since`: lowest load ratio, then longest idle.
    fn best_agent_for(
        &self,
        t: TopicIx,
        l: LangIx,
        since: Instant,
        now: Instant,
        skip: Option<AgentIx>,
    ) -> Option<AgentIx> {
        let fallback =
            l != self.fallback_lang && now.saturating_duration_since(since) >= self.fallback_after;
        [Some(l), fallback.then_some(self.fallback_lang)]
            .into_iter()
            .flatten()
            .filter_map(|l| {
                self.available[t][l]
                    .iter()
                    .find(|rank| Some(rank.agent) != skip)
            })
            .min()
            .map(|rank| rank.agent)
    }

    fn assign(&mut self, conversation: ConversationId, a: AgentIx, now: Instant) -> Assignment {
        self.remove_line(conversation);
        if let Some(e) = self.entries.get_mut(&conversation) {
            e.place = Place::Assigned(a);
        }
        let was_indexed = self.agents[a].indexed.is_some();
        self.unindex(a);
        let slot = &mut self.agents[a];
        slot.chats.insert(conversation);
        slot.idle_since = now;
        if was_indexed {
            self.index(a);
        }
        Assignment {
            conversation,
            agent: self.agents[a].id.clone(),
        }
    }

    /// Check every invariant of the routing state; for tests and debug builds.
    pub fn check_invariants(&self, now: Instant) -> Result<(), String> {
        let mut seen = HashSet::new();
        for (t, per_lang) in self.queues.iter().enumerate() {
            for (l, lines) in per_lang.iter().enumerate() {
                for (p, line) in lines.iter().enumerate() {
                    for (&arrival, c) in line {
                        let e = self
                            .entries
                            .get(c)
                            .ok_or(format!("{c} queued but unknown"))?;
                        if e.place != Place::Queued
                            || e.topic != t
                            || e.lang != l
                            || prio_ix(e.priority) != p
                            || e.arrival != arrival
                        {
                            return Err(format!("{c} in the wrong line or not queued"));
                        }
                        if !seen.insert(*c) {
                            return Err(format!("{c} queued twice"));
                        }
                        if self.by_topic[t][p].get(&arrival) != Some(&(*c, e.enqueued_at)) {
                            return Err(format!("{c} missing from the topic index"));
                        }
                    }
                }
            }
        }
        let by_topic: usize = self.queued_total();
        if by_topic != seen.len() {
            return Err(format!(
                "topic index holds {by_topic}, lines {}",
                seen.len()
            ));
        }
        for (a, slot) in self.agents.iter().enumerate() {
            if slot.load() > slot.capacity && slot.indexed.is_some() {
                return Err(format!("agent {} over capacity and available", slot.id));
            }
            for c in &slot.chats {
                match self.entries.get(c).map(|e| e.place) {
                    Some(Place::Assigned(holder)) if holder == a => {}
                    _ => return Err(format!("agent {} holds {c} which is not its", slot.id)),
                }
                if seen.contains(c) {
                    return Err(format!("{c} both queued and assigned"));
                }
            }
            let should_index = slot.accepting && slot.load() < slot.capacity;
            if should_index != slot.indexed.is_some() {
                return Err(format!("agent {} availability index is stale", slot.id));
            }
            if should_index {
                // An available agent must have nothing it could take waiting.
                if let Some(c) = self.best_waiting_for(a, now) {
                    return Err(format!("agent {} is free while {c} waits for it", slot.id));
                }
            }
        }
        for (c, e) in &self.entries {
            if let Place::Assigned(a) = e.place
                && !self.agents[a].chats.contains(c)
            {
                return Err(format!(
                    "{c} assigned to {} who does not hold it",
                    self.agents[a].id
                ));
            }
        }
        Ok(())
    }
}
