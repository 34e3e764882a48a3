//! Failed sign-ins per client address: a token bucket of `burst` attempts
//! that refills one every `refill`. A failure takes one; an address with
//! none left is refused before its credentials are even looked at, so
//! guessing gets no faster by trying harder, while a correct token from any
//! other address is untouched.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use dashmap::DashMap;

use super::ClientKey;

/// Addresses tracked before the full buckets (those that would allow a whole
/// burst again, so hold nothing worth keeping) are dropped.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Attempts left, fractional while refilling.
    left: f64,
    /// When `left` was last brought up to date.
    at: Instant,
}

/// The buckets of every address that failed lately.
#[derive(Debug)]
pub struct SignInFailures {
    buckets: DashMap<ClientKey, Bucket>,
    burst: f64,
    refill: Duration,
}

impl SignInFailures {
    /// `burst` failures at once, then one more per `refill`.
    pub fn new(burst: u32, refill: Duration) -> Self {
        Self {
            buckets: DashMap::new(),
            burst: f64::from(burst.max(1)),
            refill: refill.max(Duration::from_millis(1)),
        }
    }

    fn left(&self, bucket: &Bucket, now: Instant) -> f64 {
        let earned =
            now.saturating_duration_since(bucket.at).as_secs_f64() / self.refill.as_secs_f64();
        (bucket.left + earned).min(self.burst)
    }

    /// May `addr` try to sign in now? `Err`: not before this long.
    pub fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        let Some(bucket) = self.buckets.get(&ClientKey::of(addr)) else {
            return Ok(());
        };
        let left = self.left(&bucket, Instant::now());
        if left >= 1.0 {
            return Ok(());
        }
        Err(self.refill.mul_f64(1.0 - left).max(Duration::from_secs(1)))
    }

    /// `addr` failed a sign-in: it has one attempt fewer.
    pub fn failed(&self, addr: IpAddr) {
        let now = Instant::now();
        if self.buckets.len() >= PRUNE_AT {
            self.buckets.retain(|_, b| self.left(b, now) < self.burst);
        }
        let mut bucket = self.buckets.entry(ClientKey::of(addr)).or_insert(Bucket {
            left: self.burst,
            at: now,
        });
        let left = self.left(&bucket, now);
        *bucket = Bucket {
            left: (left - 1.0).max(0.0),
            at: now,
        };
    }

    /// Addresses tracked now (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_burst_of_failures_then_refusal_with_a_retry_time() {
        let limit = SignInFailures::new(3, Duration::from_secs(6));
        let attacker = ip("203.0.113.7");
        for _ in 0..3 {
            assert!(limit.check(attacker).is_ok());
            limit.failed(attacker);
        }
        let retry = limit.check(attacker).unwrap_err();
        assert!(
            retry > Duration::from_secs(5) && retry <= Duration::from_secs(6),
            "{retry:?}"
        );
        assert!(
            limit.check(ip("203.0.113.8")).is_ok(),
            "another address is untouched"
        );
    }

    #[test]
    fn the_bucket_refills() {
        let limit = SignInFailures::new(1, Duration::from_millis(50));
        let a = ip("2001:db8::1");
        limit.failed(a);
        assert!(limit.check(a).is_err());
        assert!(limit.check(ip("2001:db8::2")).is_err(), "same /64");
        std::thread::sleep(Duration::from_millis(60));
        assert!(limit.check(a).is_ok());
    }

    #[test]
    fn full_buckets_are_pruned() {
        let limit = SignInFailures::new(1, Duration::from_millis(1));
        for i in 0..PRUNE_AT as u32 {
            limit.failed(IpAddr::from(i.to_be_bytes()));
        }
        std::thread::sleep(Duration::from_millis(5));
        limit.failed(ip("198.51.100.1"));
        assert!(limit.tracked() < 10, "{}", limit.tracked());
    }
}
