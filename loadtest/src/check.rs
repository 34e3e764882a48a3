//! The correctness checker: reads what the simulated clients saw (the event log
//! of [`crate::events`]) and reports every breach of invariants 1-4 of the
//! design (one conversation per customer, no double assignment, no lost
//! message, nothing unserved dropped) that the log proves.
//!
//! The log may come in any order across sessions: [`check`] sorts it by
//! `at_us` (stably, so events of one instant keep the order they were logged
//! in) and reads it once, keeping hash maps keyed by conversation and by
//! session, then settles what can only be judged at the end (was a message
//! lost, was a gap ever filled, did an agent ever release a chat).
//!
//! Frames on one connection arrive in the order the hub produced them, so
//! everything judged within one session is exact. Frames on different
//! connections are not ordered with each other: wherever a rule compares times
//! of two sessions, it gives [`CheckSettings::tolerance_us`] of slack.
//!
//! # Rules
//!
//! **Following.** A session follows a conversation from a `Follow` (messages
//! continue at `from_seq + 1`), from an `Assigned` on an agent session (a
//! follow from 0 whose transcript seqs are the first seqs seen), or, lacking
//! both, from its first `Message` of the conversation or a customer's
//! `Started` (a follow from 0). A new `Follow` or `Assigned` starts a new
//! follow of that session and conversation (so a `resync` must be logged as a
//! `Follow` from 0). A follow ends at an `Unassigned` or `Ended` of the
//! conversation on that session, or else at the session's last event.
//!
//! - [`ViolationKind::Duplicated`]: within one follow, a seq seen twice, or a
//!   seq at or below `from_seq` (except that each resend, a second `Sent` of a
//!   `client_msg_id` by the same session, excuses one more `Message` with that
//!   key on that session: the server answers a resend with the original); or
//!   one `client_msg_id` of one author (customer, or agent) stored under two
//!   seqs of a conversation (an agent key sent by two different agents is not
//!   judged).
//! - [`ViolationKind::OutOfOrder`]: within one follow, a seq lower than the
//!   highest seen that was not seen yet (a gap filled late).
//! - [`ViolationKind::Gap`]: within one follow, a seq between `from_seq` and
//!   the highest seen that never arrived, that some session saw (first at
//!   `ack`), when the follow lasted more than the tolerance after `ack`, and
//!   the message is not reported [`ViolationKind::Lost`].
//! - [`ViolationKind::Lost`]: a customer (agent) message that no agent
//!   (customer) session saw, although a follow by an agent (customer) session
//!   should have brought it: one that started below its seq, lasted more than
//!   the tolerance (a resume answered at once by `unassigned` or `ended` is
//!   owed nothing), and ended with the conversation's `Ended` or more than the
//!   tolerance after the message was first seen (`ack`). So a chat never
//!   assigned loses no customer message, and a session that went silent (a
//!   killed client) is owed nothing after its last event. Only conversations
//!   that ended or were still followed at the end of the log are judged;
//!   system messages are judged only by the gap rule.
//! - [`ViolationKind::DoubleAssignment`]: one agent session `Assigned` a
//!   conversation it already holds from an earlier `Assigned`; or agent B
//!   `Assigned` a conversation that agent A holds (an `Assigned` on any of A's
//!   sessions, no `Unassigned`/`Ended` on any of them since), when A's release
//!   comes more than the tolerance after B's assignment, or never comes while A
//!   logs events more than the tolerance after it.
//! - [`ViolationKind::OverCapacity`]: an agent session holding (through
//!   `Assigned` or an agent `Follow`, until `Unassigned`/`Ended` on that
//!   session) more conversations than its `Capacity` (else the agent's latest
//!   `Capacity` on any session); one violation per agent, its worst moment.
//! - [`ViolationKind::SecondTabMismatch`]: a `Welcome` with `expected` x whose
//!   `conversation` is not x, or a `Started { repeated: true }` whose
//!   conversation is not the customer's open one (its last `Started` or
//!   `Welcome` conversation), unless that conversation was seen `Ended` no
//!   later than the tolerance after.
//! - [`ViolationKind::UnresolvedWithoutTicket`]: an `Ended` `ticketed` without
//!   a `ticket_id`; an `Ended` `abandoned` while the last customer or agent
//!   message is the customer's; an `Ended` with an unknown reason and no
//!   `ticket_id`. Once per conversation and problem.
//! - [`ViolationKind::UnexpectedError`]: an `Error` whose code is not in
//!   [`CheckSettings::allowed_error_codes`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::events::{Event, SessionRef, Side};

/// At most this many missing seqs are noted per follow (a guard against a
/// corrupt log naming an absurd seq).
const MAX_MISSING_PER_FOLLOW: u64 = 10_000;

/// Hash maps with a fast hasher: the keys are ids from our own runner's log,
/// so there is no flooding to defend against, and a run may log millions of
/// events.
type Map<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
type Set<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// The multiply-rotate hash of rustc (`FxHasher`).
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// How strict the checker is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckSettings {
    /// Slack, in microseconds, when comparing times seen on different
    /// connections (which are not ordered with each other). Default 2 s.
    pub tolerance_us: u64,
    /// `error` codes the runner provokes on purpose or expects in a run
    /// (default `conflict`, `not_found`); any other is a violation.
    pub allowed_error_codes: Vec<String>,
}

impl Default for CheckSettings {
    fn default() -> Self {
        Self {
            tolerance_us: 2_000_000,
            allowed_error_codes: vec!["conflict".to_owned(), "not_found".to_owned()],
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// An acknowledged message never reached the other side.
    Lost,
    /// A session saw a seq twice, or a message was stored twice.
    Duplicated,
    /// A session saw seqs out of order.
    OutOfOrder,
    /// A session missed a seq that others saw, and never got it.
    Gap,
    /// A conversation held by two agents at once (or assigned twice to one).
    DoubleAssignment,
    /// An agent held more chats than its capacity.
    OverCapacity,
    /// A second tab, a reconnect or a repeated `start` was shown another
    /// conversation than the open one.
    SecondTabMismatch,
    /// A chat ended unserved without becoming a ticket.
    UnresolvedWithoutTicket,
    /// An `error` frame with a code the run did not expect.
    UnexpectedError,
}

impl ViolationKind {
    /// Every kind, in report order.
    pub const ALL: [Self; 9] = [
        Self::Lost,
        Self::Duplicated,
        Self::OutOfOrder,
        Self::Gap,
        Self::DoubleAssignment,
        Self::OverCapacity,
        Self::SecondTabMismatch,
        Self::UnresolvedWithoutTicket,
        Self::UnexpectedError,
    ];

    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lost => "lost",
            Self::Duplicated => "duplicated",
            Self::OutOfOrder => "out_of_order",
            Self::Gap => "gap",
            Self::DoubleAssignment => "double_assignment",
            Self::OverCapacity => "over_capacity",
            Self::SecondTabMismatch => "second_tab_mismatch",
            Self::UnresolvedWithoutTicket => "unresolved_without_ticket",
            Self::UnexpectedError => "unexpected_error",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One breach, with what it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// What went wrong.
    pub kind: ViolationKind,
    /// The conversation, where there is one.
    pub conversation: Option<String>,
    /// The session that saw it (or should have), where there is one.
    pub session: Option<SessionRef>,
    /// What exactly, with the seqs, ids and times (seconds since the start).
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(conversation) = &self.conversation {
            write!(f, " conversation {conversation}")?;
        }
        if let Some(session) = &self.session {
            write!(f, " at {}", SessionName(session))?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Counts of what was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStats {
    /// Events read.
    pub events: u64,
    /// Distinct sessions (connections).
    pub sessions: u64,
    /// Distinct customers.
    pub customers: u64,
    /// Distinct agents.
    pub agents: u64,
    /// Distinct conversations named by any event.
    pub conversations: u64,
    /// Conversations assigned to an agent at least once.
    pub conversations_assigned: u64,
    /// Conversations seen ended.
    pub conversations_ended: u64,
    /// `Sent` events (messages, starts with text, `leave_message`).
    pub messages_sent: u64,
    /// Distinct messages (conversation, seq) seen by any session.
    pub messages_acknowledged: u64,
    /// Of those, by customers.
    pub customer_messages: u64,
    /// Of those, by agents.
    pub agent_messages: u64,
    /// Of those, by the system (or of unknown author).
    pub other_messages: u64,
    /// Deliveries checked: `Message` events plus transcript entries.
    pub deliveries_checked: u64,
    /// `Assigned` events.
    pub assignments: u64,
    /// Distinct ticket ids named by `Ended`.
    pub tickets: u64,
    /// `Error` events.
    pub errors: u64,
    /// Of those, with a code not allowed.
    pub unexpected_errors: u64,
}

/// The checker's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Every breach found, sorted by kind, conversation, session.
    pub violations: Vec<Violation>,
    /// What was checked.
    pub stats: CheckStats,
}

impl Verdict {
    /// No violation at all?
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// How many violations of one kind.
    pub fn count(&self, kind: ViolationKind) -> usize {
        self.violations.iter().filter(|v| v.kind == kind).count()
    }

    /// Violations counted per kind (kinds with none left out).
    pub fn by_kind(&self) -> BTreeMap<ViolationKind, usize> {
        let mut counts = BTreeMap::new();
        for violation in &self.violations {
            *counts.entry(violation.kind).or_insert(0) += 1;
        }
        counts
    }
}

/// Checks a run's event log. See the module documentation for the rules.
pub fn check(events: &[Event], settings: &CheckSettings) -> Verdict {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|event| event.at_us());
    let mut state = State::new(settings);
    for event in sorted {
        state.event(event);
    }
    state.finish()
}

/// `customer v:1#0`.
struct SessionName<'a>(&'a SessionRef);

impl fmt::Display for SessionName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.0.side {
            Side::Customer => "customer",
            Side::Agent => "agent",
        };
        write!(f, "{side} {}#{}", self.0.who, self.0.session)
    }
}

/// Microseconds as seconds, `12.345678s`.
struct Secs(u64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Who wrote a message, from its `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Author {
    Customer,
    Agent,
    System,
    Other,
}

impl Author {
    fn parse(from: &str) -> Self {
        match from {
            "customer" => Self::Customer,
            "agent" => Self::Agent,
            "system" => Self::System,
            _ => Self::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Agent => "agent",
            Self::System => "system",
            Self::Other => "unknown author",
        }
    }

    /// The side that must receive it (the other one), for customer and agent
    /// messages.
    fn recipient(self) -> Option<Side> {
        match self {
            Self::Customer => Some(Side::Agent),
            Self::Agent => Some(Side::Customer),
            Self::System | Self::Other => None,
        }
    }
}

/// One message (conversation, seq) as observed anywhere.
#[derive(Debug)]
struct Msg<'a> {
    author: Option<Author>,
    client_msg_id: Option<&'a str>,
    /// First time any session saw it.
    ack_at: u64,
    seen_by_customer: bool,
    seen_by_agent: bool,
}

/// One finished follow of a conversation by one session: which messages it
/// should have brought.
#[derive(Debug)]
struct Cover {
    side: Side,
    from_seq: u64,
    start_at: u64,
    end_at: u64,
    /// Ended by the conversation's `Ended`: it should have brought every
    /// message stored before.
    ended: bool,
}

impl Cover {
    /// Should this follow have brought seq, first seen at `ack_at`? It must
    /// have started below it and lasted more than the tolerance (a follow
    /// answered at once by `unassigned`/`ended` is a resume of a chat the
    /// session no longer has), then ended with the conversation or more than
    /// the tolerance after the message was first seen.
    fn owes(&self, seq: u64, ack_at: u64, tolerance: u64) -> bool {
        self.from_seq < seq
            && self.end_at > self.start_at.saturating_add(tolerance)
            && (self.ended || self.end_at > ack_at.saturating_add(tolerance))
    }
}

/// An agent's hold of a conversation, across its sessions.
#[derive(Debug)]
struct Hold<'a> {
    since: u64,
    /// Other agents assigned the conversation meanwhile: (session, when).
    overlaps: Vec<(&'a SessionRef, u64)>,
}

/// Everything known of one conversation.
#[derive(Debug, Default)]
struct Conv<'a> {
    msgs: Map<u64, Msg<'a>>,
    /// (author, client_msg_id) → seqs it was stored under.
    keys: Map<(Author, &'a str), Vec<u64>>,
    covers: Vec<Cover>,
    /// Agent id → its hold.
    holders: Map<&'a str, Hold<'a>>,
    assigned: bool,
    first_ended_at: Option<u64>,
    followed_at_end: bool,
    abandoned: Option<(&'a SessionRef, u64)>,
    ticketed_without_id: Option<(&'a SessionRef, u64)>,
    unknown_reason: Option<(&'a SessionRef, u64, &'a str)>,
}

/// What a session has seen of one conversation since its last follow.
#[derive(Debug)]
struct Period {
    from_seq: u64,
    start_at: u64,
    /// Every seq in `from_seq + 1 ..= contig` was seen.
    contig: u64,
    max_seen: u64,
    /// Seen seqs above `contig + 1`.
    above: BTreeSet<u64>,
    active: bool,
}

enum Arrival {
    Fresh,
    Duplicate,
    BelowFollow,
    OutOfOrder,
}

impl Period {
    fn new(from_seq: u64, start_at: u64) -> Self {
        Self {
            from_seq,
            start_at,
            contig: from_seq,
            max_seen: from_seq,
            above: BTreeSet::new(),
            active: true,
        }
    }

    fn arrive(&mut self, seq: u64) -> Arrival {
        if seq <= self.from_seq {
            return Arrival::BelowFollow;
        }
        if seq <= self.contig || self.above.contains(&seq) {
            return Arrival::Duplicate;
        }
        let late = seq < self.max_seen;
        if seq == self.contig + 1 {
            self.contig = seq;
            while self.above.remove(&(self.contig + 1)) {
                self.contig += 1;
            }
        } else {
            self.above.insert(seq);
        }
        self.max_seen = self.max_seen.max(seq);
        if late {
            Arrival::OutOfOrder
        } else {
            Arrival::Fresh
        }
    }

    /// Seqs below the highest seen that never arrived.
    fn missing(&self) -> impl Iterator<Item = u64> + '_ {
        let end = self
            .max_seen
            .min(self.contig.saturating_add(MAX_MISSING_PER_FOLLOW));
        (self.contig + 1..end).filter(|seq| !self.above.contains(seq))
    }
}

/// A seq a follow never got.
#[derive(Debug)]
struct Missing<'a> {
    session: &'a SessionRef,
    conversation: &'a str,
    seq: u64,
    /// When the follow ended.
    end_at: u64,
}

/// How an agent session came to hold a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoldSource {
    Assigned,
    Follow,
}

#[derive(Debug, Default)]
struct SessionInfo<'a> {
    last_at: u64,
    held: Map<&'a str, HoldSource>,
    capacity: Option<u32>,
}

/// The worst overload of one agent: (held, capacity, when, session).
type Overload<'a> = (usize, u32, u64, &'a SessionRef);

#[derive(Debug, Default)]
struct AgentInfo<'a> {
    last_at: u64,
    capacity: Option<u32>,
    worst: Option<Overload<'a>>,
}

/// Who sent an agent `client_msg_id`.
#[derive(Debug)]
enum Senders<'a> {
    One(&'a str),
    Many,
}

/// A `Welcome` or repeated `Started` to judge at the end: (session, when,
/// the conversation expected, the one shown, is it a repeated start).
type TabCheck<'a> = (&'a SessionRef, u64, &'a str, Option<&'a str>, bool);

struct State<'a> {
    tolerance_us: u64,
    allowed_errors: Set<String>,
    convs: Map<&'a str, Conv<'a>>,
    periods: Map<(&'a SessionRef, &'a str), Period>,
    sessions: Map<&'a SessionRef, SessionInfo<'a>>,
    agents: Map<&'a str, AgentInfo<'a>>,
    /// Customer key → its open conversation as last shown.
    open: Map<&'a str, Option<&'a str>>,
    agent_senders: Map<&'a str, Senders<'a>>,
    /// (session, client_msg_id) → (times sent, repeats excused): each resend
    /// may bring its message back to the session once more.
    resends: Map<(&'a SessionRef, &'a str), (u32, u32)>,
    tab_checks: Vec<TabCheck<'a>>,
    missing: Vec<Missing<'a>>,
    tickets: Set<&'a str>,
    violations: Vec<Violation>,
    stats: CheckStats,
}

fn violation(
    kind: ViolationKind,
    conversation: Option<&str>,
    session: Option<&SessionRef>,
    detail: String,
) -> Violation {
    Violation {
        kind,
        conversation: conversation.map(str::to_owned),
        session: session.cloned(),
        detail,
    }
}

/// Ends a session's follow of a conversation: notes its cover and what it
/// never got.
fn finalize<'a>(
    period: &mut Period,
    session: &'a SessionRef,
    conversation: &'a str,
    conv: &mut Conv<'a>,
    missing: &mut Vec<Missing<'a>>,
    ended: bool,
    end_at: u64,
) {
    if !period.active {
        return;
    }
    period.active = false;
    conv.covers.push(Cover {
        side: session.side,
        from_seq: period.from_seq,
        start_at: period.start_at,
        end_at,
        ended,
    });
    missing.extend(period.missing().map(|seq| Missing {
        session,
        conversation,
        seq,
        end_at,
    }));
}

impl<'a> State<'a> {
    fn new(settings: &CheckSettings) -> Self {
        Self {
            tolerance_us: settings.tolerance_us,
            allowed_errors: settings.allowed_error_codes.iter().cloned().collect(),
            convs: Map::default(),
            periods: Map::default(),
            sessions: Map::default(),
            agents: Map::default(),
            open: Map::default(),
            agent_senders: Map::default(),
            resends: Map::default(),
            tab_checks: Vec::new(),
            missing: Vec::new(),
            tickets: Set::default(),
            violations: Vec::new(),
            stats: CheckStats::default(),
        }
    }

    fn session_of(event: &'a Event) -> &'a SessionRef {
        match event {
            Event::Welcome { session, .. }
            | Event::Follow { session, .. }
            | Event::Sent { session, .. }
            | Event::Message { session, .. }
            | Event::Assigned { session, .. }
            | Event::Unassigned { session, .. }
            | Event::Ended { session, .. }
            | Event::Started { session, .. }
            | Event::Capacity { session, .. }
            | Event::Error { session, .. } => session,
        }
    }

    fn event(&mut self, event: &'a Event) {
        self.stats.events += 1;
        let at = event.at_us();
        let session = Self::session_of(event);
        self.sessions.entry(session).or_default().last_at = at;
        if session.side == Side::Agent {
            self.agents.entry(&session.who).or_default().last_at = at;
        }
        match event {
            Event::Welcome {
                conversation,
                expected,
                ..
            } => self.welcome(session, at, conversation.as_deref(), expected.as_deref()),
            Event::Follow {
                conversation,
                from_seq,
                ..
            } => self.follow(session, at, conversation, *from_seq),
            Event::Sent {
                conversation,
                client_msg_id,
                ..
            } => self.sent(session, conversation.as_deref(), client_msg_id),
            Event::Message {
                conversation,
                seq,
                from,
                client_msg_id,
                ..
            } => {
                self.stats.deliveries_checked += 1;
                self.record(
                    conversation,
                    *seq,
                    at,
                    session.side,
                    Some(Author::parse(from)),
                    client_msg_id.as_deref(),
                );
                self.deliver(
                    session,
                    conversation,
                    *seq,
                    at,
                    Some(client_msg_id.as_deref()),
                );
            }
            Event::Assigned {
                conversation,
                transcript,
                ..
            } => self.assigned(session, at, conversation, transcript),
            Event::Unassigned { conversation, .. } => {
                self.convs.entry(conversation).or_default();
                self.close_follow(session, conversation, false, at);
                self.release(session, conversation, at);
            }
            Event::Ended {
                conversation,
                reason,
                ticket_id,
                ..
            } => self.ended(session, at, conversation, reason, ticket_id.as_deref()),
            Event::Started {
                conversation,
                repeated,
                ..
            } => self.started(session, at, conversation, *repeated),
            Event::Capacity { capacity, .. } => {
                self.sessions.entry(session).or_default().capacity = Some(*capacity);
                if session.side == Side::Agent {
                    self.agents.entry(&session.who).or_default().capacity = Some(*capacity);
                }
            }
            Event::Error { code, .. } => {
                self.stats.errors += 1;
                if !self.allowed_errors.contains(code) {
                    self.stats.unexpected_errors += 1;
                    self.violations.push(violation(
                        ViolationKind::UnexpectedError,
                        None,
                        Some(session),
                        format!("error code `{code}` at {}", Secs(at)),
                    ));
                }
            }
        }
    }

    fn welcome(
        &mut self,
        session: &'a SessionRef,
        at: u64,
        conversation: Option<&'a str>,
        expected: Option<&'a str>,
    ) {
        if let Some(conversation) = conversation {
            self.convs.entry(conversation).or_default();
        }
        if session.side != Side::Customer {
            return;
        }
        if let Some(expected) = expected
            && conversation != Some(expected)
        {
            self.tab_checks
                .push((session, at, expected, conversation, false));
        }
        self.open.insert(&session.who, conversation);
    }

    fn started(&mut self, session: &'a SessionRef, at: u64, conversation: &'a str, repeated: bool) {
        self.convs.entry(conversation).or_default();
        if session.side == Side::Customer {
            let open = self.open.get(session.who.as_str()).copied().flatten();
            if repeated
                && let Some(open) = open
                && open != conversation
            {
                self.tab_checks
                    .push((session, at, open, Some(conversation), true));
            }
            self.open.insert(&session.who, Some(conversation));
            self.periods
                .entry((session, conversation))
                .or_insert_with(|| Period::new(0, at));
        }
    }

    fn sent(&mut self, session: &'a SessionRef, conversation: Option<&'a str>, id: &'a str) {
        self.stats.messages_sent += 1;
        if let Some(conversation) = conversation {
            self.convs.entry(conversation).or_default();
        }
        self.resends.entry((session, id)).or_default().0 += 1;
        if session.side == Side::Agent {
            let who = session.who.as_str();
            self.agent_senders
                .entry(id)
                .and_modify(|senders| {
                    if let Senders::One(first) = senders
                        && *first != who
                    {
                        *senders = Senders::Many;
                    }
                })
                .or_insert(Senders::One(who));
        }
    }

    /// Notes a message (conversation, seq) as seen by a session of `side`.
    fn record(
        &mut self,
        conversation: &'a str,
        seq: u64,
        at: u64,
        side: Side,
        author: Option<Author>,
        client_msg_id: Option<&'a str>,
    ) {
        let conv = self.convs.entry(conversation).or_default();
        let msg = conv.msgs.entry(seq).or_insert(Msg {
            author: None,
            client_msg_id: None,
            ack_at: at,
            seen_by_customer: false,
            seen_by_agent: false,
        });
        match side {
            Side::Customer => msg.seen_by_customer = true,
            Side::Agent => msg.seen_by_agent = true,
        }
        if msg.author.is_none() {
            msg.author = author;
        }
        if msg.client_msg_id.is_none() {
            msg.client_msg_id = client_msg_id;
        }
        if let (Some(author @ (Author::Customer | Author::Agent)), Some(id)) =
            (author, client_msg_id)
        {
            let seqs = conv.keys.entry((author, id)).or_default();
            if !seqs.contains(&seq) {
                seqs.push(seq);
            }
        }
    }

    /// A session got seq of a conversation: order and duplicates. A `Message`
    /// frame has its `client_msg_id` (`None` for a transcript entry).
    fn deliver(
        &mut self,
        session: &'a SessionRef,
        conversation: &'a str,
        seq: u64,
        at: u64,
        frame: Option<Option<&'a str>>,
    ) {
        let period = self
            .periods
            .entry((session, conversation))
            .or_insert_with(|| Period::new(0, at));
        let via = match frame {
            Some(_) => "as a message",
            None => "in an assigned transcript",
        };
        let (max_before, next_before) = (period.max_seen, period.contig + 1);
        let arrival = period.arrive(seq);
        if matches!(arrival, Arrival::Duplicate | Arrival::BelowFollow)
            && let Some(Some(id)) = frame
            && let Some((sent, excused)) = self.resends.get_mut(&(session, id))
            && *sent > *excused + 1
        {
            // The answer to a resend from this session: the original again.
            *excused += 1;
            return;
        }
        let problem = match arrival {
            Arrival::Fresh => None,
            Arrival::Duplicate => Some((
                ViolationKind::Duplicated,
                format!("seq {seq} seen again {via} at {}", Secs(at)),
            )),
            Arrival::BelowFollow => Some((
                ViolationKind::Duplicated,
                format!(
                    "seq {seq} {via} at {}, at or below the follow point {}",
                    Secs(at),
                    period.from_seq
                ),
            )),
            Arrival::OutOfOrder => Some((
                ViolationKind::OutOfOrder,
                format!(
                    "seq {seq} {via} at {} after seq {max_before} (seq {next_before} was next due)",
                    Secs(at),
                ),
            )),
        };
        if let Some((kind, detail)) = problem {
            self.violations
                .push(violation(kind, Some(conversation), Some(session), detail));
        }
    }

    /// Ends the session's current follow of the conversation, if any.
    fn close_follow(
        &mut self,
        session: &'a SessionRef,
        conversation: &'a str,
        ended: bool,
        end_at: u64,
    ) {
        if let Some(period) = self.periods.get_mut(&(session, conversation)) {
            let conv = self.convs.entry(conversation).or_default();
            finalize(
                period,
                session,
                conversation,
                conv,
                &mut self.missing,
                ended,
                end_at,
            );
        }
    }

    fn follow(&mut self, session: &'a SessionRef, at: u64, conversation: &'a str, from_seq: u64) {
        self.convs.entry(conversation).or_default();
        self.close_follow(session, conversation, false, at);
        self.periods
            .insert((session, conversation), Period::new(from_seq, at));
        if session.side == Side::Agent {
            let info = self.sessions.entry(session).or_default();
            info.held.entry(conversation).or_insert(HoldSource::Follow);
            self.check_capacity(session, at);
        }
    }

    fn assigned(
        &mut self,
        session: &'a SessionRef,
        at: u64,
        conversation: &'a str,
        transcript: &[u64],
    ) {
        self.stats.assignments += 1;
        let conv = self.convs.entry(conversation).or_default();
        if session.side != Side::Agent {
            return;
        }
        conv.assigned = true;
        // Across agents: anyone else still holding it?
        let who = session.who.as_str();
        if !conv.holders.contains_key(who) {
            for hold in conv.holders.values_mut() {
                hold.overlaps.push((session, at));
            }
            conv.holders.insert(
                who,
                Hold {
                    since: at,
                    overlaps: Vec::new(),
                },
            );
        }
        // This session: assigned twice without release?
        let info = self.sessions.entry(session).or_default();
        let before = info.held.insert(conversation, HoldSource::Assigned);
        if before == Some(HoldSource::Assigned) {
            self.violations.push(violation(
                ViolationKind::DoubleAssignment,
                Some(conversation),
                Some(session),
                format!(
                    "assigned again at {} to the same agent session, which still held it",
                    Secs(at)
                ),
            ));
        }
        self.check_capacity(session, at);
        // A new follow from 0, the transcript first.
        self.close_follow(session, conversation, false, at);
        self.periods
            .insert((session, conversation), Period::new(0, at));
        for &seq in transcript {
            self.stats.deliveries_checked += 1;
            self.record(conversation, seq, at, session.side, None, None);
            self.deliver(session, conversation, seq, at, None);
        }
    }

    fn check_capacity(&mut self, session: &'a SessionRef, at: u64) {
        let Some(info) = self.sessions.get(session) else {
            return;
        };
        let held = info.held.len();
        let agent = self.agents.entry(&session.who).or_default();
        let Some(capacity) = info.capacity.or(agent.capacity) else {
            return;
        };
        let over = held.saturating_sub(capacity as usize);
        if over == 0 {
            return;
        }
        let worse = agent.worst.is_none_or(|(held_then, cap_then, ..)| {
            over > held_then.saturating_sub(cap_then as usize)
        });
        if worse {
            agent.worst = Some((held, capacity, at, session));
        }
    }

    /// An agent session let go of a conversation (`Unassigned`, `Ended`).
    fn release(&mut self, session: &'a SessionRef, conversation: &'a str, at: u64) {
        if session.side != Side::Agent {
            return;
        }
        if let Some(info) = self.sessions.get_mut(session) {
            info.held.remove(conversation);
        }
        let conv = self.convs.entry(conversation).or_default();
        let Some(hold) = conv.holders.remove(session.who.as_str()) else {
            return;
        };
        for (other, other_at) in hold.overlaps {
            if at > other_at.saturating_add(self.tolerance_us) {
                self.violations.push(violation(
                    ViolationKind::DoubleAssignment,
                    Some(conversation),
                    Some(other),
                    format!(
                        "assigned to agent {} at {} while agent {} held it (since {}); \
                         its release came at {}, {} later",
                        other.who,
                        Secs(other_at),
                        session.who,
                        Secs(hold.since),
                        Secs(at),
                        Secs(at - other_at)
                    ),
                ));
            }
        }
    }

    fn ended(
        &mut self,
        session: &'a SessionRef,
        at: u64,
        conversation: &'a str,
        reason: &'a str,
        ticket_id: Option<&'a str>,
    ) {
        let ticket_id = ticket_id.filter(|id| !id.is_empty());
        {
            let conv = self.convs.entry(conversation).or_default();
            conv.first_ended_at.get_or_insert(at);
            match (reason, ticket_id) {
                ("resolved" | "closed", _) => {}
                ("abandoned", _) => {
                    conv.abandoned.get_or_insert((session, at));
                }
                ("ticketed", None) => {
                    conv.ticketed_without_id.get_or_insert((session, at));
                }
                ("ticketed", Some(_)) => {}
                (other, None) => {
                    conv.unknown_reason.get_or_insert((session, at, other));
                }
                (_, Some(_)) => {}
            }
        }
        if let Some(ticket_id) = ticket_id {
            self.tickets.insert(ticket_id);
        }
        self.close_follow(session, conversation, true, at);
        self.release(session, conversation, at);
    }

    fn finish(mut self) -> Verdict {
        let tolerance = self.tolerance_us;

        // Follows still open at the end last until their session's last event.
        for ((session, conversation), period) in &mut self.periods {
            if !period.active {
                continue;
            }
            let end_at = self.sessions.get(session).map_or(0, |info| info.last_at);
            let conv = self.convs.entry(conversation).or_default();
            conv.followed_at_end = true;
            finalize(
                period,
                session,
                conversation,
                conv,
                &mut self.missing,
                false,
                end_at,
            );
        }

        // Lost: nobody of the other side saw it, though a follow should have.
        let mut lost: Set<(&str, u64)> = Set::default();
        for (conversation, conv) in &self.convs {
            if conv.first_ended_at.is_none() && !conv.followed_at_end {
                continue;
            }
            for (&seq, msg) in &conv.msgs {
                let Some(author) = msg.author else { continue };
                let Some(recipient) = author.recipient() else {
                    continue;
                };
                let seen = match recipient {
                    Side::Customer => msg.seen_by_customer,
                    Side::Agent => msg.seen_by_agent,
                };
                if seen {
                    continue;
                }
                let due = conv
                    .covers
                    .iter()
                    .filter(|cover| {
                        cover.side == recipient && cover.owes(seq, msg.ack_at, tolerance)
                    })
                    .count();
                if due == 0 {
                    continue;
                }
                lost.insert((conversation, seq));
                let side = match recipient {
                    Side::Customer => "customer",
                    Side::Agent => "agent",
                };
                self.violations.push(violation(
                    ViolationKind::Lost,
                    Some(conversation),
                    None,
                    format!(
                        "{} message seq {seq}{} (first seen at {}) never reached any {side} \
                         session; {due} {side} follow(s) should have brought it",
                        author.name(),
                        msg.client_msg_id
                            .map(|id| format!(" `{id}`"))
                            .unwrap_or_default(),
                        Secs(msg.ack_at),
                    ),
                ));
            }
        }

        // Gaps: a follow skipped a seq others saw, and never got it.
        for missing in &self.missing {
            if lost.contains(&(missing.conversation, missing.seq)) {
                continue;
            }
            let Some(msg) = self
                .convs
                .get(missing.conversation)
                .and_then(|conv| conv.msgs.get(&missing.seq))
            else {
                continue;
            };
            if missing.end_at > msg.ack_at.saturating_add(tolerance) {
                self.violations.push(violation(
                    ViolationKind::Gap,
                    Some(missing.conversation),
                    Some(missing.session),
                    format!(
                        "seq {} (first seen at {}) never arrived, though later seqs did \
                         and the session followed until {}",
                        missing.seq,
                        Secs(msg.ack_at),
                        Secs(missing.end_at)
                    ),
                ));
            }
        }

        for (conversation, conv) in &self.convs {
            // Stored twice.
            for (&(author, id), seqs) in &conv.keys {
                if seqs.len() < 2 {
                    continue;
                }
                if author == Author::Agent
                    && matches!(self.agent_senders.get(id), Some(Senders::Many))
                {
                    continue;
                }
                let mut seqs = seqs.clone();
                seqs.sort_unstable();
                self.violations.push(violation(
                    ViolationKind::Duplicated,
                    Some(conversation),
                    None,
                    format!(
                        "{} client_msg_id `{id}` stored as seqs {seqs:?}",
                        author.name()
                    ),
                ));
            }

            // Holds never released while another agent was assigned.
            for (&who, hold) in &conv.holders {
                let last_at = self.agents.get(who).map_or(0, |agent| agent.last_at);
                for &(other, other_at) in &hold.overlaps {
                    if last_at > other_at.saturating_add(tolerance) {
                        self.violations.push(violation(
                            ViolationKind::DoubleAssignment,
                            Some(conversation),
                            Some(other),
                            format!(
                                "assigned to agent {} at {} while agent {who} held it \
                                 (since {}), which never released it (seen until {})",
                                other.who,
                                Secs(other_at),
                                Secs(hold.since),
                                Secs(last_at)
                            ),
                        ));
                    }
                }
            }

            // Unserved chats that are not tickets.
            if let Some((session, at)) = conv.ticketed_without_id {
                self.violations.push(violation(
                    ViolationKind::UnresolvedWithoutTicket,
                    Some(conversation),
                    Some(session),
                    format!("ended `ticketed` without a ticket_id at {}", Secs(at)),
                ));
            }
            if let Some((session, at, reason)) = conv.unknown_reason {
                self.violations.push(violation(
                    ViolationKind::UnresolvedWithoutTicket,
                    Some(conversation),
                    Some(session),
                    format!("ended `{reason}` without a ticket_id at {}", Secs(at)),
                ));
            }
            if let Some((session, at)) = conv.abandoned {
                let last_customer = conv
                    .msgs
                    .iter()
                    .filter(|(_, msg)| msg.author == Some(Author::Customer))
                    .map(|(&seq, _)| seq)
                    .max();
                let last_agent = conv
                    .msgs
                    .iter()
                    .filter(|(_, msg)| msg.author == Some(Author::Agent))
                    .map(|(&seq, _)| seq)
                    .max();
                if let Some(customer_seq) = last_customer
                    && last_agent.is_none_or(|agent_seq| agent_seq < customer_seq)
                {
                    self.violations.push(violation(
                        ViolationKind::UnresolvedWithoutTicket,
                        Some(conversation),
                        Some(session),
                        format!(
                            "ended `abandoned` at {} with the customer's message seq \
                             {customer_seq} unanswered: it should have been ticketed",
                            Secs(at)
                        ),
                    ));
                }
            }
        }

        // Over capacity, once per agent.
        for (who, agent) in &self.agents {
            if let Some((held, capacity, at, session)) = agent.worst {
                self.violations.push(violation(
                    ViolationKind::OverCapacity,
                    None,
                    Some(session),
                    format!(
                        "agent {who} held {held} conversations at {} (capacity {capacity})",
                        Secs(at)
                    ),
                ));
            }
        }

        // Second tabs and repeated starts.
        for &(session, at, expected, shown, repeated) in &self.tab_checks {
            let ended_in_time = self
                .convs
                .get(expected)
                .and_then(|conv| conv.first_ended_at)
                .is_some_and(|ended| ended <= at.saturating_add(tolerance));
            if ended_in_time {
                continue;
            }
            let detail = if repeated {
                format!(
                    "a repeated start at {} led to {} while {expected} was open",
                    Secs(at),
                    shown.unwrap_or("nothing")
                )
            } else {
                format!(
                    "welcome at {} showed {} while {expected} was open",
                    Secs(at),
                    shown.unwrap_or("no conversation")
                )
            };
            self.violations.push(violation(
                ViolationKind::SecondTabMismatch,
                Some(expected),
                Some(session),
                detail,
            ));
        }

        self.fill_stats();
        let mut violations = self.violations;
        violations.sort_by(|a, b| {
            (a.kind, &a.conversation, &a.session, &a.detail).cmp(&(
                b.kind,
                &b.conversation,
                &b.session,
                &b.detail,
            ))
        });
        Verdict {
            violations,
            stats: self.stats,
        }
    }

    fn fill_stats(&mut self) {
        let stats = &mut self.stats;
        stats.sessions = self.sessions.len() as u64;
        let mut customers = Set::default();
        let mut agents = Set::default();
        for session in self.sessions.keys() {
            match session.side {
                Side::Customer => customers.insert(session.who.as_str()),
                Side::Agent => agents.insert(session.who.as_str()),
            };
        }
        stats.customers = customers.len() as u64;
        stats.agents = agents.len() as u64;
        stats.conversations = self.convs.len() as u64;
        stats.tickets = self.tickets.len() as u64;
        for conv in self.convs.values() {
            stats.conversations_assigned += u64::from(conv.assigned);
            stats.conversations_ended += u64::from(conv.first_ended_at.is_some());
            stats.messages_acknowledged += conv.msgs.len() as u64;
            for msg in conv.msgs.values() {
                match msg.author {
                    Some(Author::Customer) => stats.customer_messages += 1,
                    Some(Author::Agent) => stats.agent_messages += 1,
                    _ => stats.other_messages += 1,
                }
            }
        }
    }
}
