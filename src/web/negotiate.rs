//! From an asset and the request's headers to a response: the representation
//! the client accepts (gzip or not, `Accept-Encoding`), and `304 Not Modified`
//! when it already holds it (`If-None-Match`).

use axum::{
    body::Body,
    http::{
        HeaderMap, HeaderName, HeaderValue, StatusCode,
        header::{
            ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
            VARY, X_CONTENT_TYPE_OPTIONS,
        },
    },
    response::{IntoResponse, Response},
};

use super::catalog::Asset;

/// `asset` as the request asks for it, with `Cache-Control: cache_control`
/// and the `extra` headers (CORS, CSP) on the 200 and the 304 alike.
pub(super) fn respond(
    asset: &Asset,
    request: &HeaderMap,
    cache_control: &'static str,
    extra: &[(HeaderName, &'static str)],
) -> Response {
    let gzipped = asset.gzip.as_ref().filter(|_| accepts_gzip(request));
    let variant = gzipped.unwrap_or(&asset.plain);
    let mut headers = HeaderMap::new();
    headers.insert(ETAG, variant.etag.clone());
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if asset.gzip.is_some() {
        // Shared caches must key on it: the same URL has two bodies.
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    for (name, value) in extra {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
    if holds(request, &variant.etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    if gzipped.is_some() {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    (headers, Body::from(variant.body.clone())).into_response()
}

/// Does `Accept-Encoding` accept gzip, by name or by `*`, with a `q` above 0?
/// A coding named explicitly wins over `*`; an unreadable `q` counts as 0.
fn accepts_gzip(request: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    let items = request
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for item in items {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let q = parts
            .find_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| value.trim().parse::<f32>().unwrap_or(0.0))
            })
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q > 0.0);
        } else if coding == "*" {
            any = Some(q > 0.0);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Does `If-None-Match` name `etag` (or `*`)? Compared weakly, as RFC 9110
/// asks for this header: a `W/` prefix added by a proxy still matches.
fn holds(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    request
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: HeaderName, values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(name.clone(), HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn gzip_is_chosen_only_when_accepted() {
        let accepts = |values: &[&'static str]| accepts_gzip(&with(ACCEPT_ENCODING, values));
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["gzip, deflate, br, zstd"]));
        assert!(accepts(&["br;q=1.0, GZIP;q=0.5"]));
        assert!(accepts(&["*"]));
        assert!(accepts(&["deflate", "gzip"]));
        assert!(!accepts(&[]));
        assert!(!accepts(&["identity"]));
        assert!(!accepts(&["br, deflate"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(!accepts(&["gzip; q=0.000"]));
        assert!(!accepts(&["*;q=0"]));
        assert!(!accepts(&["gzip;q=0, *"]));
        assert!(accepts(&["*;q=0, gzip"]));
        assert!(!accepts(&["gzip;q=nonsense"]));
    }

    #[test]
    fn if_none_match_names_the_tag_or_any() {
        let etag = HeaderValue::from_static("\"abc\"");
        let matches = |values: &[&'static str]| holds(&with(IF_NONE_MATCH, values), &etag);
        assert!(matches(&["\"abc\""]));
        assert!(matches(&["\"x\", \"abc\""]));
        assert!(matches(&["W/\"abc\""]));
        assert!(matches(&["*"]));
        assert!(!matches(&[]));
        assert!(!matches(&["\"abcd\""]));
        assert!(!matches(&["abc"]));
    }
}
