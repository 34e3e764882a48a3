//! `[security] allowed_origins`: which web pages may open a WebSocket or call
//! the REST API. Browsers send `Origin` on both and a page cannot forge it,
//! which is what stops another site from using a signed-in visitor's browser
//! to talk to the hub (cross-site WebSocket hijacking).

use std::collections::HashSet;

use axum::http::{HeaderMap, Uri, header};

/// An origin in its one spelling: lowercase scheme and host, the port only
/// when it is not the scheme's default. `Err` says what is wrong.
pub fn normalize(origin: &str) -> Result<String, String> {
    let problem = || {
        format!(
            "`{origin}` is not an origin: give scheme, host and port if not the default, e.g. `https://www.exchange.com`, `http://localhost:8080`"
        )
    };
    let uri: Uri = origin.trim().parse().map_err(|_| problem())?;
    let scheme = uri.scheme_str().ok_or_else(problem)?.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(problem());
    }
    let authority = uri.authority().ok_or_else(problem)?;
    if authority.as_str().contains('@') {
        return Err(problem());
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(problem());
    }
    let host = authority.host().to_ascii_lowercase();
    let default_port = if scheme == "https" { 443 } else { 80 };
    Ok(match authority.port_u16() {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// A request's host and port as its `Host` header names them, default ports
/// left out for the scheme the origin uses.
fn host_of(origin: &str) -> Option<&str> {
    origin.split_once("://").map(|(_, rest)| rest)
}

/// Why a request was refused: the origin it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("origin `{0}` is not allowed to use this server (security.allowed_origins)")]
pub struct ForeignOrigin(pub String);

/// The configured origins.
#[derive(Debug, Default)]
pub struct OriginPolicy {
    allowed: HashSet<String>,
}

impl OriginPolicy {
    /// The policy of `allowed_origins` (entries that do not parse, which
    /// validation refuses, are left out).
    pub fn new(allowed: &[String]) -> Self {
        Self {
            allowed: allowed.iter().filter_map(|o| normalize(o).ok()).collect(),
        }
    }

    /// No list: every origin passes (development).
    pub fn is_open(&self) -> bool {
        self.allowed.is_empty()
    }

    /// May a request with these headers go on? Without `Origin` (a server, a
    /// tool), yes; from a listed origin, yes; from the server's own pages
    /// (the origin names the `Host` the request went to), yes.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ForeignOrigin> {
        if self.is_open() {
            return Ok(());
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let text = origin.to_str().unwrap_or("<not text>");
        let Ok(origin) = normalize(text) else {
            // `null` (sandboxed frames, files) and anything malformed.
            return Err(ForeignOrigin(text.to_owned()));
        };
        if self.allowed.contains(&origin) {
            return Ok(());
        }
        let own = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|host| normalize(&format!("{}://{host}", scheme_of(&origin))).ok());
        if own.as_deref().and_then(host_of) == host_of(&origin) {
            return Ok(());
        }
        Err(ForeignOrigin(text.to_owned()))
    }
}

fn scheme_of(origin: &str) -> &str {
    origin
        .split_once("://")
        .map_or("http", |(scheme, _)| scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn origins_have_one_spelling() {
        assert_eq!(
            normalize("HTTPS://WWW.Exchange.com:443").unwrap(),
            "https://www.exchange.com"
        );
        assert_eq!(
            normalize("http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(normalize("http://[::1]:80").unwrap(), "http://[::1]");
        for bad in [
            "www.exchange.com",
            "ftp://x.com",
            "https://x.com/app",
            "https://u@x.com",
            "null",
            "",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listed_own_and_absent_origins_pass_the_rest_do_not() {
        let policy = OriginPolicy::new(&["https://www.exchange.com".into()]);
        let host = "chat.exchange.com";
        assert!(policy.check(&headers(None, host)).is_ok());
        assert!(
            policy
                .check(&headers(Some("https://www.exchange.com"), host))
                .is_ok()
        );
        assert!(
            policy
                .check(&headers(Some("https://WWW.exchange.com:443"), host))
                .is_ok()
        );
        assert!(
            policy
                .check(&headers(Some("https://chat.exchange.com"), host))
                .is_ok(),
            "own pages"
        );
        assert!(
            policy
                .check(&headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"))
                .is_ok()
        );
        for foreign in [
            "https://evil.example",
            "http://www.exchange.com",
            "https://www.exchange.com.evil.example",
            "null",
        ] {
            assert_eq!(
                policy.check(&headers(Some(foreign), host)),
                Err(ForeignOrigin(foreign.into())),
                "{foreign}"
            );
        }
        assert!(
            policy
                .check(&headers(Some("http://127.0.0.1:9999"), "127.0.0.1:8080"))
                .is_err()
        );
    }

    #[test]
    fn no_list_lets_every_origin_in() {
        let policy = OriginPolicy::new(&[]);
        assert!(policy.is_open());
        assert!(
            policy
                .check(&headers(Some("https://evil.example"), "x"))
                .is_ok()
        );
    }
}
