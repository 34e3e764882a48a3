//! Open connections per client address, capped by
//! `security.max_connections_per_address`: a connection holds a [`Held`]
//! for as long as it is open, and one over the cap is refused.

use std::{net::IpAddr, sync::Arc};

use dashmap::DashMap;

use super::ClientKey;

/// Counts per address (only addresses holding connections are kept).
#[derive(Debug)]
pub struct ConnectionCounts {
    counts: Arc<DashMap<ClientKey, u32>>,
    max: u32,
}

/// One connection counted against its address until dropped.
#[derive(Debug)]
pub struct Held {
    counts: Arc<DashMap<ClientKey, u32>>,
    key: ClientKey,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.counts.remove_if_mut(&self.key, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
    }
}

impl ConnectionCounts {
    /// At most `max` per address.
    pub fn new(max: u32) -> Self {
        Self {
            counts: Arc::new(DashMap::new()),
            max,
        }
    }

    /// The cap.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Count one more connection of `addr`, or `None` if it holds the most
    /// it may.
    pub fn hold(&self, addr: IpAddr) -> Option<Held> {
        let key = ClientKey::of(addr);
        let mut count = self.counts.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Held {
            counts: self.counts.clone(),
            key,
        })
    }

    /// Connections `addr` holds now.
    pub fn held_by(&self, addr: IpAddr) -> u32 {
        self.counts.get(&ClientKey::of(addr)).map_or(0, |n| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_holds_per_address_and_frees_on_drop() {
        let counts = ConnectionCounts::new(2);
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        let first = counts.hold(a).unwrap();
        let _second = counts.hold(a).unwrap();
        assert!(counts.hold(a).is_none());
        assert!(counts.hold(b).is_some(), "another address is untouched");
        drop(first);
        assert_eq!(counts.held_by(a), 1);
        assert!(counts.hold(a).is_some());
    }

    #[test]
    fn an_address_that_left_is_forgotten() {
        let counts = ConnectionCounts::new(5);
        let a: IpAddr = "::1".parse().unwrap();
        drop(counts.hold(a));
        assert!(counts.counts.is_empty());
    }
}
