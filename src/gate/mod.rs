//! Who may connect: the allowed origins, the address a request comes from
//! (believing `X-Forwarded-For` only from trusted proxies), failed sign-ins
//! per address, and connections per address. One [`Gate`] per node, in the
//! state every handler shares.

pub mod connections;
pub mod failures;
pub mod origin;

use std::net::{IpAddr, Ipv6Addr};

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::SecuritySettings;
pub use connections::{ConnectionCounts, Held};
pub use failures::SignInFailures;
pub use origin::OriginPolicy;

/// A proxy entry: an address (`10.0.0.7`, `::1`) or a CIDR block (`10.0.0.0/8`).
pub fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// What the limits count by: an IPv4 address, or an IPv6 address's /64 (one
/// host is usually handed a whole /64, and could otherwise take a fresh
/// address per attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of an address (IPv4-mapped IPv6 counts as the IPv4 address).
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let segments = v6.segments();
                    Self(IpAddr::V6(Ipv6Addr::new(
                        segments[0],
                        segments[1],
                        segments[2],
                        segments[3],
                        0,
                        0,
                        0,
                        0,
                    )))
                }
            },
        }
    }
}

/// The client address of a request, as the gate resolved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// The client (the forwarded one behind a trusted proxy, else the peer).
    pub ip: IpAddr,
    /// Whether the TCP peer is a trusted proxy: its connections are not
    /// counted per address when accepted, so the session counts the client.
    pub via_proxy: bool,
}

/// The node's gate.
#[derive(Debug)]
pub struct Gate {
    /// Which pages may call in.
    pub origins: OriginPolicy,
    /// Peers whose `X-Forwarded-For` is believed.
    proxies: Vec<IpNet>,
    /// Failed sign-ins per client.
    pub failures: SignInFailures,
    /// Open connections per client.
    pub connections: ConnectionCounts,
    /// `security.require_identity`.
    pub require_identity: bool,
}

impl Gate {
    /// The gate of validated settings (an entry that does not parse, which
    /// validation refuses, is left out).
    pub fn new(settings: &SecuritySettings) -> Self {
        Self {
            origins: OriginPolicy::new(&settings.allowed_origins),
            proxies: settings
                .trusted_proxies
                .iter()
                .filter_map(|p| parse_network(p))
                .collect(),
            failures: SignInFailures::new(
                settings.auth_failure_burst,
                std::time::Duration::from_secs(settings.auth_failure_refill_secs),
            ),
            connections: ConnectionCounts::new(settings.max_connections_per_address),
            require_identity: settings.require_identity,
        }
    }

    /// Is this peer one of the trusted proxies?
    pub fn is_proxy(&self, peer: IpAddr) -> bool {
        let peer = ClientKey::of(peer).0;
        self.proxies.iter().any(|net| net.contains(&peer))
    }

    /// The client behind a request from `peer`: from a trusted proxy, the
    /// right-most `X-Forwarded-For` address that is not itself a trusted
    /// proxy (the left part of the header is whatever the client wrote);
    /// from anyone else, the peer.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> ClientAddr {
        if !self.is_proxy(peer) {
            return ClientAddr {
                ip: peer,
                via_proxy: false,
            };
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in forwarded.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                break; // garbage: trust nothing further left
            };
            client = ip;
            if !self.is_proxy(ip) {
                break;
            }
        }
        ClientAddr {
            ip: client,
            via_proxy: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(proxies: &[&str]) -> Gate {
        Gate::new(&SecuritySettings {
            trusted_proxies: proxies.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        })
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let g = gate(&["10.0.0.0/8"]);
        let claim = forwarded(&["203.0.113.9"]);
        assert_eq!(g.client(ip("198.51.100.1"), &claim).ip, ip("198.51.100.1"));
        assert!(!g.client(ip("198.51.100.1"), &claim).via_proxy);
        assert_eq!(g.client(ip("10.1.2.3"), &claim).ip, ip("203.0.113.9"));
        assert!(g.client(ip("10.1.2.3"), &claim).via_proxy);
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let g = gate(&["10.0.0.0/8", "192.0.2.1"]);
        // The client wrote "1.1.1.1" itself; 203.0.113.9 is what our proxies saw.
        let chain = forwarded(&["1.1.1.1, 203.0.113.9", "192.0.2.1"]);
        assert_eq!(g.client(ip("10.0.0.2"), &chain).ip, ip("203.0.113.9"));
        let garbage = forwarded(&["1.1.1.1, not-an-ip"]);
        assert_eq!(g.client(ip("10.0.0.2"), &garbage).ip, ip("10.0.0.2"));
        assert_eq!(
            g.client(ip("10.0.0.2"), &HeaderMap::new()).ip,
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_v4_as_v4() {
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2:aaaa::1")),
            ClientKey::of(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            ClientKey::of(ip("2001:db8:1:2::1")),
            ClientKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            ClientKey::of(ip("::ffff:10.0.0.1")),
            ClientKey::of(ip("10.0.0.1"))
        );
        assert!(gate(&["10.0.0.1"]).is_proxy(ip("::ffff:10.0.0.1")));
    }

    #[test]
    fn proxies_parse_as_addresses_or_blocks() {
        assert!(parse_network("10.0.0.0/8").is_some());
        assert!(parse_network("::1").is_some());
        assert!(parse_network(" 127.0.0.1 ").is_some());
        assert!(parse_network("10.0.0.0/33").is_none());
        assert!(parse_network("lb.internal").is_none());
    }
}
