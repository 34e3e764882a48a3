//! Who a customer is: a visitor id the widget made up, or a user the exchange
//! vouches for with an HS256 identity token. A bad token is refused, never
//! downgraded to an anonymous visitor.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;
use smol_str::SmolStr;

use crate::{
    domain::CustomerProfile,
    error::{ErrorCode, FrameError},
};

/// Claims the exchange puts in an identity token.
#[derive(Debug, Deserialize)]
struct Claims {
    /// The exchange's user id (an `Option` so that its absence is told as
    /// such rather than as a malformed token).
    sub: Option<String>,
    /// `vip` or `standard`.
    tier: Option<String>,
    /// Display name for the agent.
    name: Option<String>,
}

/// Verifies identity tokens with the configured secret.
#[derive(Clone)]
pub struct IdentityVerifier {
    key: Option<DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for IdentityVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityVerifier")
            .field("configured", &self.key.is_some())
            .finish()
    }
}

fn unauthorized(message: impl Into<String>) -> FrameError {
    FrameError::new(ErrorCode::Unauthorized, message)
}

impl IdentityVerifier {
    /// A verifier for `identity_secret`; without one, every token is refused.
    pub fn new(secret: Option<&str>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        // The exchange may add an audience; we do not require one.
        validation.validate_aud = false;
        // A token issued for later is not valid yet.
        validation.validate_nbf = true;
        Self {
            key: secret.map(|s| DecodingKey::from_secret(s.as_bytes())),
            validation,
        }
    }

    /// The customer a `hello` names: the token's user if there is a token (and it
    /// is valid), else the visitor.
    pub fn customer(
        &self,
        identity: Option<&str>,
        visitor_id: Option<&str>,
    ) -> Result<CustomerProfile, FrameError> {
        if let Some(token) = identity {
            return self.verify(token);
        }
        let Some(visitor) = visitor_id else {
            return Err(FrameError::bad_request(
                "`hello` frame: `visitor_id` or `identity` is required",
            ));
        };
        if visitor.is_empty()
            || visitor.len() > 128
            || !visitor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(FrameError::bad_request(
                "`hello` frame: `visitor_id` must be 1-128 characters of A-Z, a-z, 0-9, -, _ and .",
            ));
        }
        Ok(CustomerProfile {
            key: SmolStr::new(format!("v:{visitor}")),
            verified: false,
            name: None,
            vip: false,
        })
    }

    fn verify(&self, token: &str) -> Result<CustomerProfile, FrameError> {
        let Some(key) = &self.key else {
            return Err(unauthorized(
                "identity tokens are not accepted: the server has no identity_secret",
            ));
        };
        let claims = decode::<Claims>(token, key, &self.validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => unauthorized("identity token has expired"),
                    ErrorKind::InvalidSignature => {
                        unauthorized("identity token signature is invalid")
                    }
                    ErrorKind::MissingRequiredClaim(claim) => {
                        unauthorized(format!("identity token lacks the `{claim}` claim"))
                    }
                    ErrorKind::InvalidAlgorithm => {
                        unauthorized("identity token is invalid: it must be signed with HS256")
                    }
                    ErrorKind::ImmatureSignature => {
                        unauthorized("identity token is invalid: not valid yet (nbf)")
                    }
                    _ => unauthorized("identity token is invalid: not a well-formed JWT"),
                }
            })?
            .claims;
        let Some(sub) = claims.sub else {
            return Err(unauthorized("identity token lacks the `sub` claim"));
        };
        if sub.is_empty() || sub.len() > 128 {
            return Err(unauthorized("identity token `sub` must be 1-128 bytes"));
        }
        let vip = match claims.tier.as_deref() {
            Some("vip") => true,
            None | Some("standard") => false,
            Some(other) => {
                return Err(unauthorized(format!(
                    "identity token `tier` is `{other}`; expected `vip` or `standard`"
                )));
            }
        };
        Ok(CustomerProfile {
            key: SmolStr::new(format!("u:{sub}")),
            verified: true,
            name: claims.name.map(SmolStr::new),
            vip,
        })
    }
}
