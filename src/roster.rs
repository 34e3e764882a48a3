//! The agent roster as the node checks it: SHA-256 digests of the agents'
//! tokens, never the tokens, compared in constant time.
//!
//! Why SHA-256 and not argon2: agent tokens are random secrets of 256 bits
//! (`switchboard hash-token` makes them), not passwords people choose, so no
//! dictionary can guess them and a slow hash would add nothing but CPU time
//! at every sign-in, which during a reconnect storm, or a flood of wrong
//! tokens, is CPU the hub needs.

use sha2::{Digest, Sha256};
use smol_str::SmolStr;
use subtle::ConstantTimeEq;

use crate::{config::AgentConfig, domain::AgentId};

/// A token's SHA-256.
pub type TokenDigest = [u8; 32];

/// The SHA-256 of a token.
pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// The SHA-256 of a token in lowercase hex, as `token_sha256` takes it.
pub fn hex_digest(token: &str) -> String {
    hex::encode(digest(token))
}

/// A `token_sha256` value (64 hex digits, either case), or `None`.
pub fn parse_digest(hex_digits: &str) -> Option<TokenDigest> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digits.trim(), &mut out).ok()?;
    Some(out)
}

/// A new random agent token: 32 bytes from the operating system, in hex
/// behind `sbt_` (so a leaked one is easy to search for).
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("sbt_{}", hex::encode(bytes)))
}

/// Token digests and the agents they belong to.
#[derive(Debug, Default, Clone)]
pub struct Roster {
    entries: Vec<(TokenDigest, AgentId)>,
}

impl Roster {
    /// The roster of validated agent configurations (each has a token or a
    /// digest; one that has neither is skipped, as validation refuses it).
    pub fn new(agents: &[AgentConfig]) -> Self {
        let entries = agents
            .iter()
            .filter_map(|agent| {
                let digest = match (&agent.token_sha256, &agent.token) {
                    (Some(hash), _) => parse_digest(hash)?,
                    (None, Some(token)) => digest(token),
                    (None, None) => return None,
                };
                Some((digest, SmolStr::new(&agent.id)))
            })
            .collect();
        Self { entries }
    }

    /// The agents whose token is configured in the clear, for the start-up
    /// warning.
    pub fn plain_token_agents(agents: &[AgentConfig]) -> Vec<&str> {
        agents
            .iter()
            .filter(|a| a.token.is_some())
            .map(|a| a.id.as_str())
            .collect()
    }

    /// The agent this token belongs to. Every entry is compared, each in
    /// constant time, so how long it takes tells nothing of which digest, or
    /// how much of one, matched.
    pub fn agent(&self, token: &str) -> Option<&AgentId> {
        let presented = digest(token);
        let mut found = None;
        for (known, agent) in &self.entries {
            if bool::from(known.ct_eq(&presented)) {
                found = Some(agent);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, token: Option<&str>, hash: Option<String>) -> AgentConfig {
        AgentConfig {
            id: id.into(),
            name: id.into(),
            token_sha256: hash,
            token: token.map(Into::into),
            skills: vec!["general".into()],
            languages: vec!["en".into()],
            capacity: 1,
            role: Default::default(),
        }
    }

    #[test]
    fn hashed_and_plain_tokens_both_sign_in_and_nothing_else_does() {
        let roster = Roster::new(&[
            agent("ann", None, Some(hex_digest("ann-secret-token"))),
            agent("bob", Some("bob-secret-token"), None),
        ]);
        assert_eq!(
            roster.agent("ann-secret-token").map(|a| a.as_str()),
            Some("ann")
        );
        assert_eq!(
            roster.agent("bob-secret-token").map(|a| a.as_str()),
            Some("bob")
        );
        assert_eq!(
            roster.agent(&hex_digest("ann-secret-token")),
            None,
            "the digest is not the token"
        );
        assert_eq!(roster.agent("ann-secret-toke"), None);
        assert_eq!(roster.agent(""), None);
    }

    #[test]
    fn new_tokens_are_long_random_and_parse_back() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(parse_digest(&hex_digest(&a)), Some(digest(&a)));
        assert_eq!(parse_digest("zz"), None);
    }
}
