//! Each session's frame budget: a client sending faster than
//! `limits.*_frames_per_sec` (after a burst of `limits.*_frame_burst`) has the
//! extra frames refused with `rate_limited`, each naming its `client_msg_id`
//! so the client can send it again; nothing refused is stored or relayed. One
//! that keeps sending into a closed budget is cut off, so a flood costs the
//! node a close frame rather than an error reply per frame.

use std::num::NonZeroU32;

use governor::{
    Quota, RateLimiter,
    clock::MonotonicClock,
    middleware::NoOpMiddleware,
    state::{InMemoryState, NotKeyed},
};

use super::Side;
use crate::config::Limits;

/// Refusals in a row, in bursts, before the session is closed.
const BURSTS_REFUSED_BEFORE_CLOSE: u32 = 4;

/// What to do with the next frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Within the budget.
    Take,
    /// Over it: answer `rate_limited`.
    Refuse,
    /// Over it for too long: close the session.
    Close,
}

pub(super) struct FrameBudget {
    limiter:
        RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<std::time::Instant>>,
    per_sec: u32,
    refused_in_a_row: u32,
    close_after: u32,
}

impl FrameBudget {
    /// The budget of a session on `side` (limits are validated to be ≥ 1).
    pub(super) fn new(limits: &Limits, side: Side) -> Self {
        let (per_sec, burst) = match side {
            Side::Customer => (limits.customer_frames_per_sec, limits.customer_frame_burst),
            Side::Agent => (limits.agent_frames_per_sec, limits.agent_frame_burst),
        };
        let per_sec = NonZeroU32::new(per_sec).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::direct_with_clock(
                Quota::per_second(per_sec).allow_burst(burst),
                MonotonicClock,
            ),
            per_sec: per_sec.get(),
            refused_in_a_row: 0,
            close_after: burst.get().saturating_mul(BURSTS_REFUSED_BEFORE_CLOSE),
        }
    }

    /// Frames a second, on average.
    pub(super) fn per_sec(&self) -> u32 {
        self.per_sec
    }

    /// Spend one frame.
    pub(super) fn spend(&mut self) -> Verdict {
        if self.limiter.check().is_ok() {
            self.refused_in_a_row = 0;
            return Verdict::Take;
        }
        self.refused_in_a_row += 1;
        if self.refused_in_a_row > self.close_after {
            Verdict::Close
        } else {
            Verdict::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_sec: u32, burst: u32) -> Limits {
        Limits {
            customer_frames_per_sec: per_sec,
            customer_frame_burst: burst,
            ..Limits::default()
        }
    }

    #[test]
    fn a_burst_is_taken_then_refused_then_closed() {
        let mut budget = FrameBudget::new(&limits(1, 5), Side::Customer);
        for _ in 0..5 {
            assert_eq!(budget.spend(), Verdict::Take);
        }
        for _ in 0..20 {
            assert_eq!(budget.spend(), Verdict::Refuse);
        }
        assert_eq!(budget.spend(), Verdict::Close);
    }

    #[test]
    fn the_budget_refills_at_its_rate() {
        let mut budget = FrameBudget::new(&limits(100, 1), Side::Customer);
        assert_eq!(budget.spend(), Verdict::Take);
        assert_eq!(budget.spend(), Verdict::Refuse);
        std::thread::sleep(std::time::Duration::from_millis(25));
        assert_eq!(budget.spend(), Verdict::Take);
    }

    #[test]
    fn agents_have_their_own_limits() {
        let limits = Limits {
            customer_frame_burst: 1,
            agent_frame_burst: 3,
            ..Limits::default()
        };
        let mut agent = FrameBudget::new(&limits, Side::Agent);
        for _ in 0..3 {
            assert_eq!(agent.spend(), Verdict::Take);
        }
        assert_eq!(agent.spend(), Verdict::Refuse);
    }
}
