//! The browser side, served from the binary: the customer widget
//! (`/widget.js` and `/widget/{version}/…`) and its demo page (`/demo`). The
//! files are embedded at build time (`catalog`), the widget's JS and CSS
//! without their comment lines (`slim`); how each route caches and whom it
//! lets embed it is decided here; `negotiate` picks gzip and answers `304`.
//!
//! | route | file | `Cache-Control` |
//! |---|---|---|
//! | `/widget.js` | `web-widget/src/widget.js`, the version substituted | `public, max-age=300` |
//! | `/widget/{version}/{path}` | `web-widget/src/{path}` | current version: `public, max-age=31536000, immutable`; any other: `no-cache` |
//! | `/demo`, `/demo/` | `web-widget/demo/index.html` | `no-cache` |
//! | `/demo/{path}` | `web-widget/demo/{path}` | `no-cache` |
//! | `/agent`, `/dashboard` | `web-widget/console/{agent,dashboard}.html`, the version substituted (they load `/widget/{version}/console/…`) | `no-cache` |
//! | `/` | redirect (303) to `/demo` | — |

mod catalog;
mod negotiate;
mod slim;

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, rejection::PathRejection},
    http::{
        HeaderMap, HeaderName,
        header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_SECURITY_POLICY, REFERRER_POLICY},
    },
    response::{IntoResponse, Redirect, Response},
    routing::get,
};

pub use catalog::{Asset, Catalog, VERSION_PLACEHOLDER, Variant, catalog};
pub use slim::slim;

use crate::{error::ErrorCode, http::ApiError, state::AppState};

/// The entry point changes with every release, so caches keep it briefly.
const ENTRY_CACHE: &str = "public, max-age=300";
/// A versioned URL's content never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Revalidate every time (the ETag makes that a `304`).
const NO_CACHE: &str = "no-cache";

/// The demo page runs no inline script or style and builds no HTML from
/// strings: whatever would, the browser refuses.
pub const DEMO_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'; \
    require-trusted-types-for 'script'; trusted-types 'none'";

/// Widget files are loaded by other origins' pages: module scripts and the
/// stylesheet are fetched in CORS mode, and a page isolated with
/// `Cross-Origin-Embedder-Policy` needs the resource policy. No credentials
/// are involved, so `*` is enough.
fn widget_headers() -> [(HeaderName, &'static str); 2] {
    [
        (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "cross-origin",
        ),
    ]
}

fn html_headers() -> [(HeaderName, &'static str); 2] {
    [
        (CONTENT_SECURITY_POLICY, DEMO_CSP),
        (REFERRER_POLICY, "no-referrer"),
    ]
}

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/demo") }))
        .route("/widget.js", get(widget_entry))
        .route("/widget/{version}/{*path}", get(widget_file))
        .route(
            "/widget/{version}/",
            get(|| async { not_found("widget", "") }),
        )
        .route(
            "/agent",
            get(|headers: HeaderMap| async move { page(&headers, "agent.html") }),
        )
        .route(
            "/dashboard",
            get(|headers: HeaderMap| async move { page(&headers, "dashboard.html") }),
        )
        .route("/demo", get(demo_index))
        .route("/demo/", get(demo_index))
        .route("/demo/{*path}", get(demo_file))
}

fn not_found(what: &str, path: &str) -> Response {
    ApiError::new(ErrorCode::NotFound, format!("no {what} file `{path}`")).into_response()
}

/// A relative path of plain segments: no `..`, `.`, empty or hidden segment,
/// no backslash. The catalogue holds only such names anyway; refusing the
/// rest up front keeps a lookup from ever meaning something else.
fn plain(path: &str) -> bool {
    !path.contains('\\')
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && !segment.starts_with('.'))
}

async fn widget_entry(headers: HeaderMap) -> Response {
    match catalog().widget(catalog::WIDGET_ENTRY) {
        Some(asset) => negotiate::respond(asset, &headers, ENTRY_CACHE, &widget_headers()),
        None => not_found("widget", catalog::WIDGET_ENTRY),
    }
}

async fn widget_file(
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path((version, path))) = path else {
        return not_found("widget", "(not UTF-8)");
    };
    let catalog = catalog();
    let Some(asset) = Some(path.as_str())
        .filter(|p| plain(p))
        .and_then(|p| catalog.widget(p))
    else {
        return not_found("widget", &path);
    };
    // A page that loaded an older widget.js during an upgrade still gets a
    // working (current) file, but no cache may keep it under the old URL.
    let cache = if version == catalog.version {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    negotiate::respond(asset, &headers, cache, &widget_headers())
}

/// A console page: same-origin only, under the demo's strict CSP (its
/// modules and the sockets it opens are this server's).
fn page(headers: &HeaderMap, name: &str) -> Response {
    match catalog().page(name) {
        Some(asset) => negotiate::respond(asset, headers, NO_CACHE, &html_headers()),
        None => not_found("page", name),
    }
}

async fn demo_index(headers: HeaderMap) -> Response {
    demo(&headers, "index.html")
}

async fn demo_file(path: Result<Path<String>, PathRejection>, headers: HeaderMap) -> Response {
    match path {
        Ok(Path(path)) => demo(&headers, &path),
        Err(_) => not_found("demo", "(not UTF-8)"),
    }
}

fn demo(headers: &HeaderMap, path: &str) -> Response {
    let Some(asset) = Some(path)
        .filter(|p| plain(p))
        .and_then(|p| catalog().demo(p))
    else {
        return not_found("demo", path);
    };
    let extra: &[_] = if asset.content_type.starts_with("text/html") {
        &html_headers()
    } else {
        &[]
    };
    negotiate::respond(asset, headers, NO_CACHE, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_looked_up() {
        for ok in ["widget.js", "panel/view.js", "i18n/en.json"] {
            assert!(plain(ok), "{ok}");
        }
        for bad in [
            "",
            "../Cargo.toml",
            "a/../b.js",
            "./widget.js",
            "a//b.js",
            "a/",
            "/etc/passwd",
            ".hidden",
            "a\\..\\b",
        ] {
            assert!(!plain(bad), "{bad}");
        }
    }
}
