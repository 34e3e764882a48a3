//! The correctness checker on hand-made event logs: a clean chat, then one log
//! per violation kind, then a run with four faults at once.

use switchboard_loadtest::check::{CheckSettings, Verdict, ViolationKind, check};
use switchboard_loadtest::events::{Event, SessionRef, Side};

const MS: u64 = 1_000;
const SEC: u64 = 1_000_000;

fn customer(who: &str, session: u32) -> SessionRef {
    SessionRef {
        side: Side::Customer,
        who: who.to_owned(),
        session,
    }
}

fn agent(who: &str, session: u32) -> SessionRef {
    SessionRef {
        side: Side::Agent,
        who: who.to_owned(),
        session,
    }
}

/// A log under construction; times are in milliseconds.
#[derive(Default)]
struct Log {
    events: Vec<Event>,
}

impl Log {
    fn welcome(
        &mut self,
        ms: u64,
        s: &SessionRef,
        conversation: Option<&str>,
        expected: Option<&str>,
    ) -> &mut Self {
        self.events.push(Event::Welcome {
            at_us: ms * MS,
            session: s.clone(),
            conversation: conversation.map(str::to_owned),
            expected: expected.map(str::to_owned),
        });
        self
    }

    fn follow(&mut self, ms: u64, s: &SessionRef, conversation: &str, from_seq: u64) -> &mut Self {
        self.events.push(Event::Follow {
            at_us: ms * MS,
            session: s.clone(),
            conversation: conversation.to_owned(),
            from_seq,
        });
        self
    }

    fn sent(&mut self, ms: u64, s: &SessionRef, conversation: Option<&str>, id: &str) -> &mut Self {
        self.events.push(Event::Sent {
            at_us: ms * MS,
            session: s.clone(),
            conversation: conversation.map(str::to_owned),
            client_msg_id: id.to_owned(),
        });
        self
    }

    fn msg(
        &mut self,
        ms: u64,
        s: &SessionRef,
        conversation: &str,
        seq: u64,
        from: &str,
        id: Option<&str>,
    ) -> &mut Self {
        self.events.push(Event::Message {
            at_us: ms * MS,
            session: s.clone(),
            conversation: conversation.to_owned(),
            seq,
            from: from.to_owned(),
            client_msg_id: id.map(str::to_owned),
        });
        self
    }

    fn assigned(
        &mut self,
        ms: u64,
        s: &SessionRef,
        conversation: &str,
        transcript: &[u64],
    ) -> &mut Self {
        self.events.push(Event::Assigned {
            at_us: ms * MS,
            session: s.clone(),
            conversation: conversation.to_owned(),
            transcript: transcript.to_vec(),
        });
        self
    }

    fn unassigned(&mut self, ms: u64, s: &SessionRef, conversation: &str) -> &mut Self {
        self.events.push(Event::Unassigned {
            at_us: ms * MS,
            session: s.clone(),
            conversation: conversation.to_owned(),
        });
        self
    }

    fn ended(
        &mut self,
        ms: u64,
        s: &SessionRef,
        conversation: &str,
        reason: &str,
        ticket: Option<&str>,
    ) -> &mut Self {
        self.events.push(Event::Ended {
            at_us: ms * MS,
            session: s.clone(),
            conversation: conversation.to_owned(),
            reason: reason.to_owned(),
            ticket_id: ticket.map(str::to_owned),
        });
        self
    }

    fn started(
        &mut self,
        ms: u64,
        s: &SessionRef,
        conversation: &str,
        repeated: bool,
    ) -> &mut Self {
        self.events.push(Event::Started {
            at_us: ms * MS,
            session: s.clone(),
            conversation: conversation.to_owned(),
            repeated,
        });
        self
    }

    fn capacity(&mut self, ms: u64, s: &SessionRef, capacity: u32) -> &mut Self {
        self.events.push(Event::Capacity {
            at_us: ms * MS,
            session: s.clone(),
            capacity,
        });
        self
    }

    fn error(&mut self, ms: u64, s: &SessionRef, code: &str) -> &mut Self {
        self.events.push(Event::Error {
            at_us: ms * MS,
            session: s.clone(),
            code: code.to_owned(),
        });
        self
    }

    /// An agent comes online with a capacity.
    fn agent_online(&mut self, ms: u64, s: &SessionRef, capacity: u32) -> &mut Self {
        self.welcome(ms, s, None, None).capacity(ms, s, capacity)
    }

    /// A customer message `id` stored as `seq`: sent, echoed to the customer
    /// sessions `echo`, delivered to the agent sessions `to`, 1 ms apart.
    fn customer_says(
        &mut self,
        ms: u64,
        conversation: &str,
        seq: u64,
        id: &str,
        echo: &[&SessionRef],
        to: &[&SessionRef],
    ) -> &mut Self {
        self.sent(ms, echo[0], Some(conversation), id);
        for s in echo {
            self.msg(ms + 1, s, conversation, seq, "customer", Some(id));
        }
        for s in to {
            self.msg(ms + 2, s, conversation, seq, "customer", Some(id));
        }
        self
    }

    /// An agent message, as [`Log::customer_says`] the other way round.
    fn agent_says(
        &mut self,
        ms: u64,
        conversation: &str,
        seq: u64,
        id: &str,
        echo: &[&SessionRef],
        to: &[&SessionRef],
    ) -> &mut Self {
        self.sent(ms, echo[0], Some(conversation), id);
        for s in echo {
            self.msg(ms + 1, s, conversation, seq, "agent", Some(id));
        }
        for s in to {
            self.msg(ms + 2, s, conversation, seq, "agent", Some(id));
        }
        self
    }

    fn check(&self) -> Verdict {
        let verdict = check(&self.events, &CheckSettings::default());
        for violation in &verdict.violations {
            println!("{violation}");
        }
        verdict
    }
}

/// The kinds reported, sorted, with repeats.
fn kinds(verdict: &Verdict) -> Vec<ViolationKind> {
    let mut kinds: Vec<_> = verdict.violations.iter().map(|v| v.kind).collect();
    kinds.sort();
    kinds
}

/// A whole chat: the customer starts with a question (seq 1), an agent takes
/// it, two answers and a question more go both ways (seqs 2-4), the agent
/// resolves. `conv` is the conversation, `c` and `a` the customer and agent.
fn clean_chat(log: &mut Log, t: u64, conv: &str, c: &str, a: &str) {
    let cs = customer(c, 0);
    let ag = agent(a, 0);
    log.agent_online(t, &ag, 3)
        .welcome(t, &cs, None, None)
        .sent(t + 10, &cs, None, "s-1")
        .started(t + 20, &cs, conv, false)
        .msg(t + 21, &cs, conv, 1, "customer", Some("s-1"))
        .assigned(t + 30, &ag, conv, &[1])
        .agent_says(t + 40, conv, 2, "a-1", &[&ag], &[&cs])
        .customer_says(t + 50, conv, 3, "c-1", &[&cs], &[&ag])
        .agent_says(t + 60, conv, 4, "a-2", &[&ag], &[&cs])
        .ended(t + 70, &ag, conv, "resolved", None)
        .ended(t + 71, &cs, conv, "resolved", None);
}

#[test]
fn a_clean_chat_has_no_violation() {
    let mut log = Log::default();
    clean_chat(&mut log, 0, "k1", "v:1", "ana");
    let verdict = log.check();
    assert!(verdict.is_clean(), "{:?}", verdict.violations);
    let stats = &verdict.stats;
    assert_eq!(stats.conversations, 1);
    assert_eq!(stats.conversations_assigned, 1);
    assert_eq!(stats.conversations_ended, 1);
    assert_eq!(stats.messages_acknowledged, 4);
    assert_eq!(stats.customer_messages, 2);
    assert_eq!(stats.agent_messages, 2);
    assert_eq!(stats.messages_sent, 4);
    assert_eq!(stats.sessions, 2);
    assert_eq!(stats.customers, 1);
    assert_eq!(stats.agents, 1);
    // 1 start echo + 1 transcript entry + 3 messages to two sessions each.
    assert_eq!(stats.deliveries_checked, 8);
}

#[test]
fn the_log_order_does_not_matter() {
    let mut log = Log::default();
    clean_chat(&mut log, 0, "k1", "v:1", "ana");
    log.events.reverse();
    // Only a session's welcome and capacity share an instant, and their
    // order does not matter.
    assert!(log.check().is_clean());
}

#[test]
fn a_message_seen_twice_by_a_session_is_duplicated() {
    let mut log = Log::default();
    clean_chat(&mut log, 0, "k1", "v:1", "ana");
    log.msg(45, &customer("v:1", 0), "k1", 2, "agent", Some("a-1"));
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::Duplicated]);
    assert_eq!(verdict.violations[0].session, Some(customer("v:1", 0)));
}

#[test]
fn a_message_stored_twice_is_duplicated() {
    let mut log = Log::default();
    clean_chat(&mut log, 0, "k1", "v:1", "ana");
    let (cs, ag) = (customer("v:1", 0), agent("ana", 0));
    // The customer's resend of `c-1` got a new seq: stored twice.
    log.customer_says(62, "k1", 5, "c-1", &[&cs], &[&ag]);
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::Duplicated]);
    assert!(
        verdict.violations[0].detail.contains("[3, 5]"),
        "{}",
        verdict.violations[0]
    );
}

#[test]
fn a_resend_answered_with_the_original_is_not_a_duplicate() {
    let mut log = Log::default();
    clean_chat(&mut log, 0, "k1", "v:1", "ana");
    let cs = customer("v:1", 0);
    // The customer resends `c-1` (its echo was slow): the server sends the
    // original seq 3 back to this session once more, and stores nothing.
    log.sent(52, &cs, Some("k1"), "c-1")
        .msg(53, &cs, "k1", 3, "customer", Some("c-1"));
    assert!(log.check().is_clean());
    // A third copy is one too many.
    log.msg(54, &cs, "k1", 3, "customer", Some("c-1"));
    assert_eq!(kinds(&log.check()), [ViolationKind::Duplicated]);
}

#[test]
fn the_same_agent_key_from_two_agents_is_not_a_duplicate() {
    let mut log = Log::default();
    let (cs, ana, bob) = (customer("v:1", 0), agent("ana", 0), agent("bob", 0));
    log.agent_online(0, &ana, 3)
        .agent_online(0, &bob, 3)
        .started(10, &cs, "k1", false)
        .assigned(20, &ana, "k1", &[])
        .agent_says(30, "k1", 1, "a-1", &[&ana], &[&cs])
        .unassigned(40, &ana, "k1")
        .assigned(50, &bob, "k1", &[1])
        .agent_says(60, "k1", 2, "a-1", &[&bob], &[&cs])
        .ended(70, &bob, "k1", "resolved", None)
        .ended(70, &cs, "k1", "resolved", None);
    assert!(log.check().is_clean());
}

#[test]
fn a_customer_message_no_agent_saw_is_lost() {
    let mut log = Log::default();
    let (cs, ag) = (customer("v:1", 0), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .sent(10, &cs, None, "s-1")
        .started(20, &cs, "k1", false)
        .msg(21, &cs, "k1", 1, "customer", Some("s-1"))
        .assigned(30, &ag, "k1", &[1])
        .agent_says(40, "k1", 2, "a-1", &[&ag], &[&cs])
        // Acknowledged to the customer, never delivered to the agent.
        .customer_says(50, "k1", 3, "c-1", &[&cs], &[])
        .ended(5_000, &ag, "k1", "resolved", None)
        .ended(5_001, &cs, "k1", "resolved", None);
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::Lost]);
    let lost = &verdict.violations[0];
    assert_eq!(lost.conversation.as_deref(), Some("k1"));
    assert!(lost.detail.contains("seq 3"), "{lost}");
}

#[test]
fn an_agent_message_no_customer_saw_is_lost() {
    let mut log = Log::default();
    let (cs, ag) = (customer("v:1", 0), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .started(20, &cs, "k1", false)
        .assigned(30, &ag, "k1", &[])
        .agent_says(40, "k1", 1, "a-1", &[&ag], &[])
        .ended(5_000, &ag, "k1", "resolved", None)
        .ended(5_001, &cs, "k1", "resolved", None);
    assert_eq!(kinds(&log.check()), [ViolationKind::Lost]);
}

#[test]
fn messages_of_a_chat_never_assigned_are_not_lost() {
    let mut log = Log::default();
    let cs = customer("v:1", 0);
    log.sent(10, &cs, None, "s-1")
        .started(20, &cs, "k1", false)
        .msg(21, &cs, "k1", 1, "customer", Some("s-1"))
        .customer_says(30, "k1", 2, "c-1", &[&cs], &[])
        .msg(900_000, &cs, "k1", 3, "system", None)
        .ended(900_001, &cs, "k1", "ticketed", Some("t-1"));
    let verdict = log.check();
    assert!(verdict.is_clean(), "{:?}", verdict.violations);
    assert_eq!(verdict.stats.tickets, 1);
}

#[test]
fn a_message_sent_as_the_agent_was_unassigned_is_not_lost() {
    let mut log = Log::default();
    let (cs, ag) = (customer("v:1", 0), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .started(20, &cs, "k1", false)
        .assigned(30, &ag, "k1", &[])
        // Stored just after the transfer: the agent no longer gets it.
        .customer_says(1_000, "k1", 1, "c-1", &[&cs], &[])
        .unassigned(1_500, &ag, "k1")
        .ended(900_000, &cs, "k1", "ticketed", Some("t-1"));
    let verdict = log.check();
    assert!(verdict.is_clean(), "{:?}", verdict.violations);
}

#[test]
fn an_agent_resuming_a_chat_it_no_longer_holds_is_owed_nothing() {
    let mut log = Log::default();
    let (cs, a0, a1) = (customer("v:1", 0), agent("ana", 0), agent("ana", 1));
    log.agent_online(0, &a0, 3)
        .started(20, &cs, "k1", false)
        .assigned(30, &a0, "k1", &[])
        .customer_says(100, "k1", 1, "c-1", &[&cs], &[&a0])
        // ana's connection drops for good: its last event is at 102 ms. The
        // customer writes on; after ana's grace the chat is requeued.
        .customer_says(10_000, "k1", 2, "c-2", &[&cs], &[])
        // ana comes back and resumes; the hub says she no longer holds it.
        .welcome(80_000, &a1, None, None)
        .capacity(80_000, &a1, 3)
        .follow(80_000, &a1, "k1", 1)
        .unassigned(80_000, &a1, "k1")
        // Nobody else could take it: it became a ticket.
        .msg(200_000, &cs, "k1", 3, "system", None)
        .ended(200_001, &cs, "k1", "ticketed", Some("t-1"));
    let verdict = log.check();
    assert!(verdict.is_clean(), "{:?}", verdict.violations);
}

#[test]
fn a_message_to_an_agent_that_is_alive_and_holding_is_owed() {
    let mut log = Log::default();
    let (c1, c2, ag) = (customer("v:1", 0), customer("v:2", 0), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .started(20, &c1, "k1", false)
        .assigned(30, &ag, "k1", &[])
        .started(40, &c2, "k2", false)
        .assigned(50, &ag, "k2", &[])
        // k1's question never reaches ana, who is busy with k2 for a minute.
        .customer_says(1_000, "k1", 1, "c-1", &[&c1], &[])
        .customer_says(60_000, "k2", 1, "c-1", &[&c2], &[&ag])
        .agent_says(60_100, "k2", 2, "a-1", &[&ag], &[&c2]);
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::Lost]);
    assert_eq!(verdict.violations[0].conversation.as_deref(), Some("k1"));
}

#[test]
fn seqs_one_three_two_are_out_of_order() {
    let mut log = Log::default();
    let (cs, ag) = (customer("v:1", 0), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .sent(10, &cs, None, "s-1")
        .started(20, &cs, "k1", false)
        .msg(21, &cs, "k1", 1, "customer", Some("s-1"))
        .assigned(30, &ag, "k1", &[1])
        .sent(40, &ag, Some("k1"), "a-1")
        .msg(41, &ag, "k1", 2, "agent", Some("a-1"))
        .sent(42, &ag, Some("k1"), "a-2")
        .msg(43, &ag, "k1", 3, "agent", Some("a-2"))
        .msg(44, &cs, "k1", 3, "agent", Some("a-2"))
        .msg(45, &cs, "k1", 2, "agent", Some("a-1"))
        .ended(70, &ag, "k1", "resolved", None)
        .ended(71, &cs, "k1", "resolved", None);
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::OutOfOrder]);
    assert!(verdict.violations[0].detail.contains("seq 2"));
}

#[test]
fn a_gap_another_session_filled_is_reported_when_never_filled() {
    let mut log = Log::default();
    let (c0, c1, ag) = (customer("v:1", 0), customer("v:1", 1), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .started(20, &c0, "k1", false)
        .welcome(25, &c1, Some("k1"), Some("k1"))
        .follow(25, &c1, "k1", 0)
        .assigned(30, &ag, "k1", &[])
        .agent_says(40, "k1", 1, "a-1", &[&ag], &[&c0])
        .agent_says(50, "k1", 2, "a-2", &[&ag], &[&c0, &c1])
        .ended(5_000, &ag, "k1", "resolved", None)
        .ended(5_001, &c0, "k1", "resolved", None)
        .ended(5_001, &c1, "k1", "resolved", None);
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::Gap]);
    assert_eq!(verdict.violations[0].session, Some(c1));
}

#[test]
fn a_double_assignment_released_late_is_reported() {
    let mut log = Log::default();
    let (cs, ana, bob) = (customer("v:1", 0), agent("ana", 0), agent("bob", 0));
    log.agent_online(0, &ana, 3)
        .agent_online(0, &bob, 3)
        .started(20, &cs, "k1", false)
        .assigned(30, &ana, "k1", &[])
        .assigned(1_000, &bob, "k1", &[])
        .unassigned(6_000, &ana, "k1")
        .ended(7_000, &bob, "k1", "resolved", None)
        .ended(7_000, &cs, "k1", "resolved", None);
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::DoubleAssignment]);
    assert_eq!(verdict.violations[0].session, Some(bob));
}

#[test]
fn a_double_assignment_within_the_tolerance_is_not_reported() {
    let mut log = Log::default();
    let (cs, ana, bob) = (customer("v:1", 0), agent("ana", 0), agent("bob", 0));
    log.agent_online(0, &ana, 3)
        .agent_online(0, &bob, 3)
        .started(20, &cs, "k1", false)
        .assigned(30, &ana, "k1", &[])
        .assigned(1_000, &bob, "k1", &[])
        // A second later on ana's own socket: within the 2 s slack.
        .unassigned(2_000, &ana, "k1")
        .ended(7_000, &bob, "k1", "resolved", None)
        .ended(7_000, &cs, "k1", "resolved", None);
    let verdict = log.check();
    assert!(verdict.is_clean(), "{:?}", verdict.violations);
}

#[test]
fn a_hold_never_released_by_a_live_agent_is_a_double_assignment() {
    let mut log = Log::default();
    let (c1, c2, ana, bob) = (
        customer("v:1", 0),
        customer("v:2", 0),
        agent("ana", 0),
        agent("bob", 0),
    );
    log.agent_online(0, &ana, 3)
        .agent_online(0, &bob, 3)
        .started(20, &c1, "k1", false)
        .assigned(30, &ana, "k1", &[])
        .assigned(1_000, &bob, "k1", &[])
        .ended(7_000, &bob, "k1", "resolved", None)
        .ended(7_000, &c1, "k1", "resolved", None)
        // ana is alive later (another chat) and never let go of k1.
        .started(8_000, &c2, "k2", false)
        .assigned(8_010, &ana, "k2", &[])
        .ended(9_000, &ana, "k2", "resolved", None)
        .ended(9_000, &c2, "k2", "resolved", None);
    assert_eq!(kinds(&log.check()), [ViolationKind::DoubleAssignment]);
}

#[test]
fn the_same_agent_session_assigned_twice_is_a_double_assignment() {
    let mut log = Log::default();
    let (cs, ana) = (customer("v:1", 0), agent("ana", 0));
    log.agent_online(0, &ana, 3)
        .started(20, &cs, "k1", false)
        .assigned(30, &ana, "k1", &[])
        .assigned(40, &ana, "k1", &[])
        .ended(70, &ana, "k1", "resolved", None)
        .ended(70, &cs, "k1", "resolved", None);
    assert_eq!(kinds(&log.check()), [ViolationKind::DoubleAssignment]);
}

#[test]
fn an_agent_over_capacity_is_reported_once() {
    let mut log = Log::default();
    let ana = agent("ana", 0);
    log.agent_online(0, &ana, 1);
    for (i, conv) in ["k1", "k2", "k3"].into_iter().enumerate() {
        let cs = customer(&format!("v:{i}"), 0);
        let t = 10 * i as u64;
        log.started(t + 1, &cs, conv, false)
            .assigned(t + 2, &ana, conv, &[]);
    }
    for (i, conv) in ["k1", "k2", "k3"].into_iter().enumerate() {
        let cs = customer(&format!("v:{i}"), 0);
        log.ended(100, &ana, conv, "resolved", None)
            .ended(100, &cs, conv, "resolved", None);
    }
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::OverCapacity]);
    assert!(
        verdict.violations[0].detail.contains("held 3"),
        "{}",
        verdict.violations[0]
    );
}

#[test]
fn assignments_after_releases_stay_within_capacity() {
    let mut log = Log::default();
    let ana = agent("ana", 0);
    log.agent_online(0, &ana, 1);
    for (i, conv) in ["k1", "k2", "k3"].into_iter().enumerate() {
        let cs = customer(&format!("v:{i}"), 0);
        let t = 10 * i as u64;
        log.started(t + 1, &cs, conv, false)
            .assigned(t + 2, &ana, conv, &[])
            .ended(t + 3, &ana, conv, "resolved", None)
            .ended(t + 3, &cs, conv, "resolved", None);
    }
    assert!(log.check().is_clean());
}

#[test]
fn a_second_tab_shown_another_conversation_is_a_mismatch() {
    let mut log = Log::default();
    let (c0, c1) = (customer("v:1", 0), customer("v:1", 1));
    log.started(10, &c0, "k1", false)
        .welcome(20, &c1, Some("k2"), Some("k1"));
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::SecondTabMismatch]);
}

#[test]
fn a_second_tab_shown_nothing_after_the_chat_ended_is_fine() {
    let mut log = Log::default();
    let (c0, c1) = (customer("v:1", 0), customer("v:1", 1));
    log.started(10, &c0, "k1", false)
        .welcome(20, &c1, None, Some("k1"))
        .ended(21, &c0, "k1", "closed", None);
    assert!(log.check().is_clean());
}

#[test]
fn a_repeated_start_leading_elsewhere_is_a_mismatch() {
    let mut log = Log::default();
    let (c0, c1) = (customer("v:1", 0), customer("v:1", 1));
    log.started(10, &c0, "k1", false)
        .welcome(20, &c1, Some("k1"), Some("k1"))
        .follow(20, &c1, "k1", 0)
        .started(30, &c1, "k2", true);
    assert_eq!(kinds(&log.check()), [ViolationKind::SecondTabMismatch]);
}

#[test]
fn an_abandoned_chat_with_an_unanswered_question_needed_a_ticket() {
    let mut log = Log::default();
    let (cs, ag) = (customer("v:1", 0), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .sent(10, &cs, None, "s-1")
        .started(20, &cs, "k1", false)
        .msg(21, &cs, "k1", 1, "customer", Some("s-1"))
        .assigned(30, &ag, "k1", &[1])
        .agent_says(40, "k1", 2, "a-1", &[&ag], &[&cs])
        .customer_says(50, "k1", 3, "c-1", &[&cs], &[&ag])
        // The customer's tab is gone; after its grace the chat ends.
        .ended(120_000, &ag, "k1", "abandoned", None);
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::UnresolvedWithoutTicket]);
    assert!(verdict.violations[0].detail.contains("seq 3"));
}

#[test]
fn an_abandoned_chat_the_agent_answered_last_is_fine() {
    let mut log = Log::default();
    let (cs, ag) = (customer("v:1", 0), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .sent(10, &cs, None, "s-1")
        .started(20, &cs, "k1", false)
        .msg(21, &cs, "k1", 1, "customer", Some("s-1"))
        .assigned(30, &ag, "k1", &[1])
        .agent_says(40, "k1", 2, "a-1", &[&ag], &[&cs])
        .msg(120_000, &ag, "k1", 3, "system", None)
        .ended(120_001, &ag, "k1", "abandoned", None);
    let verdict = log.check();
    assert!(verdict.is_clean(), "{:?}", verdict.violations);
}

#[test]
fn a_ticketed_end_without_a_ticket_id_is_reported() {
    let mut log = Log::default();
    let (cs, ag) = (customer("v:1", 0), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .started(20, &cs, "k1", false)
        .assigned(30, &ag, "k1", &[])
        .ended(40, &ag, "k1", "ticketed", None)
        .ended(40, &cs, "k1", "ticketed", None);
    let verdict = log.check();
    // Once per conversation, however many sessions heard it.
    assert_eq!(kinds(&verdict), [ViolationKind::UnresolvedWithoutTicket]);
    assert_eq!(verdict.stats.tickets, 0);
}

#[test]
fn a_resumed_session_continuing_after_its_last_seq_is_clean() {
    let mut log = Log::default();
    let (c0, c1, ag) = (customer("v:1", 0), customer("v:1", 1), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .started(10, &c0, "k1", false)
        .assigned(20, &ag, "k1", &[]);
    for seq in 1..=5 {
        log.agent_says(100 * seq, "k1", seq, &format!("a-{seq}"), &[&ag], &[&c0]);
    }
    // c0's connection drops; the reconnect resumes after seq 5.
    log.welcome(1_000, &c1, Some("k1"), Some("k1"))
        .follow(1_000, &c1, "k1", 5);
    for seq in 6..=7 {
        log.agent_says(
            1_000 + 100 * seq,
            "k1",
            seq,
            &format!("a-{seq}"),
            &[&ag],
            &[&c1],
        );
    }
    log.ended(5_000, &ag, "k1", "resolved", None)
        .ended(5_000, &c1, "k1", "resolved", None);
    let verdict = log.check();
    assert!(verdict.is_clean(), "{:?}", verdict.violations);
}

#[test]
fn a_resumed_session_given_old_seqs_again_sees_duplicates() {
    let mut log = Log::default();
    let (c0, c1, ag) = (customer("v:1", 0), customer("v:1", 1), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .started(10, &c0, "k1", false)
        .assigned(20, &ag, "k1", &[]);
    for seq in 1..=5 {
        log.agent_says(100 * seq, "k1", seq, &format!("a-{seq}"), &[&ag], &[&c0]);
    }
    log.welcome(1_000, &c1, Some("k1"), Some("k1"))
        .follow(1_000, &c1, "k1", 5)
        .msg(1_001, &c1, "k1", 5, "agent", Some("a-5"))
        .ended(5_000, &ag, "k1", "resolved", None)
        .ended(5_000, &c1, "k1", "resolved", None);
    assert_eq!(kinds(&log.check()), [ViolationKind::Duplicated]);
}

#[test]
fn a_second_tab_replaying_the_transcript_is_clean() {
    let mut log = Log::default();
    let (c0, c1, ag) = (customer("v:1", 0), customer("v:1", 1), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .started(10, &c0, "k1", false)
        .assigned(20, &ag, "k1", &[]);
    for seq in 1..=4 {
        log.agent_says(100 * seq, "k1", seq, &format!("a-{seq}"), &[&ag], &[&c0]);
    }
    // A second tab: a fresh follow, the whole transcript, then live messages.
    log.welcome(1_000, &c1, Some("k1"), Some("k1"))
        .follow(1_000, &c1, "k1", 0);
    for seq in 1..=4 {
        log.msg(1_001, &c1, "k1", seq, "agent", Some(&format!("a-{seq}")));
    }
    log.customer_says(2_000, "k1", 5, "c-1", &[&c1, &c0], &[&ag])
        .ended(5_000, &ag, "k1", "resolved", None)
        .ended(5_000, &c0, "k1", "resolved", None)
        .ended(5_000, &c1, "k1", "resolved", None);
    let verdict = log.check();
    assert!(verdict.is_clean(), "{:?}", verdict.violations);
}

#[test]
fn a_resync_logged_as_a_fresh_follow_is_clean() {
    let mut log = Log::default();
    let (cs, ag) = (customer("v:1", 0), agent("ana", 0));
    log.agent_online(0, &ag, 3)
        .started(10, &cs, "k1", false)
        .assigned(20, &ag, "k1", &[]);
    for seq in 1..=3 {
        log.agent_says(100 * seq, "k1", seq, &format!("a-{seq}"), &[&ag], &[&cs]);
    }
    log.follow(1_000, &cs, "k1", 0);
    for seq in 1..=3 {
        log.msg(1_001, &cs, "k1", seq, "agent", Some(&format!("a-{seq}")));
    }
    log.ended(5_000, &ag, "k1", "resolved", None)
        .ended(5_000, &cs, "k1", "resolved", None);
    assert!(log.check().is_clean());
}

#[test]
fn an_unexpected_error_code_is_reported() {
    let mut log = Log::default();
    let cs = customer("v:1", 0);
    log.error(10, &cs, "conflict")
        .error(20, &cs, "not_found")
        .error(30, &cs, "bad_request");
    let verdict = log.check();
    assert_eq!(kinds(&verdict), [ViolationKind::UnexpectedError]);
    assert!(verdict.violations[0].detail.contains("bad_request"));
    assert_eq!(verdict.stats.errors, 3);
    assert_eq!(verdict.stats.unexpected_errors, 1);

    let settings = CheckSettings {
        allowed_error_codes: vec!["bad_request".into(), "conflict".into(), "not_found".into()],
        ..CheckSettings::default()
    };
    assert!(check(&log.events, &settings).is_clean());
}

/// The case: a run with a duplicated, a lost and a reordered message
/// and a double assignment reports each, and nothing else.
#[test]
fn a_run_with_four_faults_reports_exactly_those_four() {
    let mut log = Log::default();
    // Two clean chats around the faults.
    clean_chat(&mut log, 0, "ok-1", "v:ok1", "olga");
    clean_chat(&mut log, 10_000, "ok-2", "v:ok2", "omar");

    // k1: ana sees the customer's seq 3 twice.
    let (c1, ana) = (customer("v:1", 0), agent("ana", 0));
    log.agent_online(0, &ana, 3)
        .started(100, &c1, "k1", false)
        .assigned(110, &ana, "k1", &[])
        .customer_says(200, "k1", 1, "c-1", &[&c1], &[&ana])
        .agent_says(300, "k1", 2, "a-1", &[&ana], &[&c1])
        .customer_says(400, "k1", 3, "c-2", &[&c1], &[&ana])
        .msg(405, &ana, "k1", 3, "customer", Some("c-2"))
        .ended(6_000, &ana, "k1", "resolved", None)
        .ended(6_000, &c1, "k1", "resolved", None);

    // k2: the customer's last question never reaches bob.
    let (c2, bob) = (customer("v:2", 0), agent("bob", 0));
    log.agent_online(0, &bob, 3)
        .started(100, &c2, "k2", false)
        .assigned(110, &bob, "k2", &[])
        .customer_says(200, "k2", 1, "c-1", &[&c2], &[&bob])
        .agent_says(300, "k2", 2, "a-1", &[&bob], &[&c2])
        .customer_says(400, "k2", 3, "c-2", &[&c2], &[])
        .ended(6_000, &bob, "k2", "resolved", None)
        .ended(6_000, &c2, "k2", "resolved", None);

    // k3: the customer sees 1, 3, 2.
    let (c3, cleo) = (customer("v:3", 0), agent("cleo", 0));
    log.agent_online(0, &cleo, 3)
        .started(100, &c3, "k3", false)
        .assigned(110, &cleo, "k3", &[])
        .agent_says(200, "k3", 1, "a-1", &[&cleo], &[&c3])
        .sent(300, &cleo, Some("k3"), "a-2")
        .msg(301, &cleo, "k3", 2, "agent", Some("a-2"))
        .sent(302, &cleo, Some("k3"), "a-3")
        .msg(303, &cleo, "k3", 3, "agent", Some("a-3"))
        .msg(304, &c3, "k3", 3, "agent", Some("a-3"))
        .msg(305, &c3, "k3", 2, "agent", Some("a-2"))
        .ended(6_000, &cleo, "k3", "resolved", None)
        .ended(6_000, &c3, "k3", "resolved", None);

    // k4: assigned to dan, then to eve while dan holds it; dan's release
    // comes 5 s later.
    let (c4, dan, eve) = (customer("v:4", 0), agent("dan", 0), agent("eve", 0));
    log.agent_online(0, &dan, 3)
        .agent_online(0, &eve, 3)
        .started(100, &c4, "k4", false)
        .assigned(110, &dan, "k4", &[])
        .customer_says(200, "k4", 1, "c-1", &[&c4], &[&dan])
        .assigned(1_000, &eve, "k4", &[1])
        .unassigned(6_000, &dan, "k4")
        .agent_says(6_100, "k4", 2, "a-1", &[&eve], &[&c4])
        .ended(7_000, &eve, "k4", "resolved", None)
        .ended(7_000, &c4, "k4", "resolved", None);

    // The runner logs sessions one after another: shuffle them together.
    let mut events = std::mem::take(&mut log.events);
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    for i in (1..events.len()).rev() {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        events.swap(i, (rng % (i as u64 + 1)) as usize);
    }
    // Events of one session at one instant must keep their order: none
    // share an instant within a session above except ones whose order does
    // not matter (ends of different conversations).
    log.events = events;

    let verdict = log.check();
    assert_eq!(
        kinds(&verdict),
        [
            ViolationKind::Lost,
            ViolationKind::Duplicated,
            ViolationKind::OutOfOrder,
            ViolationKind::DoubleAssignment,
        ]
    );
    let conversation_of = |kind| {
        verdict
            .violations
            .iter()
            .find(|v| v.kind == kind)
            .and_then(|v| v.conversation.clone())
    };
    assert_eq!(
        conversation_of(ViolationKind::Duplicated).as_deref(),
        Some("k1")
    );
    assert_eq!(conversation_of(ViolationKind::Lost).as_deref(), Some("k2"));
    assert_eq!(
        conversation_of(ViolationKind::OutOfOrder).as_deref(),
        Some("k3")
    );
    assert_eq!(
        conversation_of(ViolationKind::DoubleAssignment).as_deref(),
        Some("k4")
    );
    assert_eq!(verdict.stats.conversations, 6);
    assert_eq!(verdict.stats.sessions, 13);

    // The verdict serializes with snake_case kinds, and displays one line each.
    let json = serde_json::to_value(&verdict).expect("a verdict serializes");
    let names: Vec<_> = json["violations"]
        .as_array()
        .expect("violations is an array")
        .iter()
        .map(|v| v["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        names,
        ["lost", "duplicated", "out_of_order", "double_assignment"]
    );
    for violation in &verdict.violations {
        let line = violation.to_string();
        assert!(line.starts_with(violation.kind.as_str()), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}

#[test]
fn the_tolerance_is_a_setting() {
    let mut log = Log::default();
    let (cs, ana, bob) = (customer("v:1", 0), agent("ana", 0), agent("bob", 0));
    log.agent_online(0, &ana, 3)
        .agent_online(0, &bob, 3)
        .started(20, &cs, "k1", false)
        .assigned(30, &ana, "k1", &[])
        .assigned(1_000, &bob, "k1", &[])
        .unassigned(6_000, &ana, "k1")
        .ended(7_000, &bob, "k1", "resolved", None)
        .ended(7_000, &cs, "k1", "resolved", None);
    let lenient = CheckSettings {
        tolerance_us: 10 * SEC,
        ..CheckSettings::default()
    };
    assert!(check(&log.events, &lenient).is_clean());
    assert!(!check(&log.events, &CheckSettings::default()).is_clean());
}
