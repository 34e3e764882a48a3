//! The embedded web assets, read once: for each file its bytes (the widget's
//! JS and CSS slimmed, `slim`), a gzip of the text types, strong ETags and the
//! MIME type; and the widget's asset version.
//!
//! Three folders are embedded (`rust-embed` with `debug-embed`, so a debug build
//! serves the same bytes as a release build, not the work tree of the moment):
//! `web-widget/src/`, the widget and the console's modules, `web-widget/demo/`,
//! the demo page, and `web-widget/console/`, the console's and the live view's
//! pages (which name the versioned modules, so the version is substituted in
//! them too). Files and folders whose name starts with `.` are left out.

use std::{borrow::Cow, collections::HashMap, io::Write, sync::OnceLock};

use axum::{body::Bytes, http::HeaderValue};
use flate2::{Compression, write::GzEncoder};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "web-widget/src/"]
struct WidgetFiles;

#[derive(RustEmbed)]
#[folder = "web-widget/demo/"]
struct DemoFiles;

#[derive(RustEmbed)]
#[folder = "web-widget/console/"]
struct PageFiles;

/// Replaced by the asset version wherever it occurs in `widget.js`, so the
/// loader can fetch the rest of the widget from `/widget/{version}/…`.
pub const VERSION_PLACEHOLDER: &str = "__SWITCHBOARD_ASSET_VERSION__";

/// The widget's entry point, served at `/widget.js` too.
pub(super) const WIDGET_ENTRY: &str = "widget.js";

/// One representation of a file: its body and its ETag.
#[derive(Debug, Clone)]
pub struct Variant {
    /// What is sent.
    pub body: Bytes,
    /// Strong ETag, quoted: derived from the file's content hash.
    pub etag: HeaderValue,
}

/// One file, ready to serve.
#[derive(Debug)]
pub struct Asset {
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The file as served: after the version substitution (`widget.js`) and
    /// slimming (the widget's JS and CSS).
    pub plain: Variant,
    /// Gzipped at best compression: text types only (images and fonts are
    /// compressed already).
    pub gzip: Option<Variant>,
}

/// Every embedded file.
#[derive(Debug)]
pub struct Catalog {
    /// First 12 hex digits of a SHA-256 over the widget's file names and
    /// contents (before substitution), in name order: changes whenever any
    /// widget file does.
    pub version: String,
    widget: HashMap<String, Asset>,
    demo: HashMap<String, Asset>,
    pages: HashMap<String, Asset>,
}

impl Catalog {
    /// The widget file at `path` (relative to `web-widget/src/`).
    pub fn widget(&self, path: &str) -> Option<&Asset> {
        self.widget.get(path)
    }

    /// The demo file at `path` (relative to `web-widget/demo/`).
    pub fn demo(&self, path: &str) -> Option<&Asset> {
        self.demo.get(path)
    }

    /// The console page `name` (`agent.html`, `dashboard.html`).
    pub fn page(&self, name: &str) -> Option<&Asset> {
        self.pages.get(name)
    }

    /// How many files are embedded.
    pub fn len(&self) -> usize {
        self.widget.len() + self.demo.len() + self.pages.len()
    }

    /// True when nothing is embedded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The catalogue, built on first use (`server` calls it at start-up, so no
/// request pays for the hashing and compressing).
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(build)
}

fn build() -> Catalog {
    let widget_files = files::<WidgetFiles>();
    let version = version_of(&widget_files);
    let widget = widget_files
        .into_iter()
        .map(|(name, bytes)| {
            let bytes = if name == WIDGET_ENTRY {
                Cow::Owned(substitute(
                    &bytes,
                    VERSION_PLACEHOLDER.as_bytes(),
                    version.as_bytes(),
                ))
            } else {
                bytes
            };
            let bytes = match super::slim::slim(&name, &bytes) {
                Some(slim) => Cow::Owned(slim),
                None => bytes,
            };
            let asset = asset(&name, bytes);
            (name, asset)
        })
        .collect();
    let demo = files::<DemoFiles>()
        .into_iter()
        .map(|(name, bytes)| {
            let asset = asset(&name, bytes);
            (name, asset)
        })
        .collect();
    let pages = files::<PageFiles>()
        .into_iter()
        .map(|(name, bytes)| {
            let bytes = substitute(&bytes, VERSION_PLACEHOLDER.as_bytes(), version.as_bytes());
            let asset = asset(&name, Cow::Owned(bytes));
            (name, asset)
        })
        .collect();
    Catalog {
        version,
        widget,
        demo,
        pages,
    }
}

/// The files of one embedded folder, sorted by name, hidden ones left out.
fn files<E: RustEmbed>() -> Vec<(String, Cow<'static, [u8]>)> {
    let mut files: Vec<_> = E::iter()
        .filter(|name| !name.split('/').any(|part| part.starts_with('.')))
        .filter_map(|name| {
            let file = E::get(&name)?;
            Some((name.into_owned(), file.data))
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn version_of(files: &[(String, Cow<'static, [u8]>)]) -> String {
    let mut hash = Sha256::new();
    for (name, bytes) in files {
        // Lengths first, so no two different file sets hash alike.
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    }
    let mut version = hex::encode(hash.finalize());
    version.truncate(12);
    version
}

/// `bytes` with every `from` replaced by `to`; `from` must not be empty.
fn substitute(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fn asset(name: &str, bytes: Cow<'static, [u8]>) -> Asset {
    let (content_type, text) = content_type(name);
    let hash = hex::encode(Sha256::digest(&bytes));
    let tag = &hash[..32];
    let body = match bytes {
        Cow::Borrowed(b) => Bytes::from_static(b),
        Cow::Owned(v) => Bytes::from(v),
    };
    let gzip = if text { gzip(&body) } else { None };
    Asset {
        content_type,
        plain: Variant {
            body,
            etag: quoted(tag.to_string()),
        },
        gzip: gzip.map(|body| Variant {
            body: Bytes::from(body),
            etag: quoted(format!("{tag}-gzip")),
        }),
    }
}

/// A strong ETag of hex digits (and `-gzip`), which are always a valid header value.
fn quoted(tag: String) -> HeaderValue {
    HeaderValue::try_from(format!("\"{tag}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// The MIME type of a file by its extension, and whether it is text (worth gzipping).
fn content_type(name: &str) -> (&'static str, bool) {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "js" | "mjs" => ("text/javascript; charset=utf-8", true),
        "css" => ("text/css; charset=utf-8", true),
        "html" | "htm" => ("text/html; charset=utf-8", true),
        "json" | "map" => ("application/json", true),
        "webmanifest" => ("application/manifest+json", true),
        "svg" => ("image/svg+xml", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "xml" => ("application/xml", true),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "gif" => ("image/gif", false),
        "webp" => ("image/webp", false),
        "avif" => ("image/avif", false),
        "ico" => ("image/x-icon", false),
        "woff2" => ("font/woff2", false),
        "woff" => ("font/woff", false),
        "wasm" => ("application/wasm", false),
        _ => ("application/octet-stream", false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitute_replaces_every_occurrence() {
        assert_eq!(substitute(b"a__X__b__X__", b"__X__", b"v1"), b"av1bv1");
        assert_eq!(
            substitute(b"nothing here", b"__X__", b"v1"),
            b"nothing here"
        );
        assert_eq!(substitute(b"", b"__X__", b"v1"), b"");
    }

    #[test]
    fn the_version_changes_with_any_name_or_content() {
        let set = |files: &[(&str, &str)]| {
            version_of(
                &files
                    .iter()
                    .map(|(n, c)| (n.to_string(), Cow::Owned(c.as_bytes().to_vec())))
                    .collect::<Vec<_>>(),
            )
        };
        let base = set(&[("a.js", "1"), ("b.js", "2")]);
        assert_eq!(base.len(), 12);
        assert!(base.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(base, set(&[("a.js", "1"), ("b.js", "2")]));
        assert_ne!(base, set(&[("a.js", "1"), ("b.js", "3")]));
        assert_ne!(base, set(&[("a.js", "1"), ("c.js", "2")]));
        assert_ne!(base, set(&[("a.js", "1b"), (".js", "2")]));
    }

    #[test]
    fn text_types_get_a_charset_and_a_gzip() {
        assert_eq!(
            content_type("panel/view.JS"),
            ("text/javascript; charset=utf-8", true)
        );
        assert_eq!(content_type("icon.svg"), ("image/svg+xml", true));
        assert_eq!(content_type("logo.png"), ("image/png", false));
        assert_eq!(content_type("LICENSE"), ("application/octet-stream", false));
        let a = asset("x.css", Cow::Borrowed(b"body { color: red }"));
        let gz = a.gzip.expect("css is gzipped");
        assert_ne!(gz.etag, a.plain.etag);
        assert!(gz.body.starts_with(&[0x1f, 0x8b]));
    }
}
