//! The built site (`scripts/build-site.sh`) as browsers get it: wasm, scripts and styles,
//! sent from the brotli and gzip copies the build wrote beside them when the browser takes
//! those (the 626 KiB wasm goes out as 211 KiB of brotli, compressed once at build time
//! rather than on every request).
//!
//! Caching: the build writes `version`, a hash of the files the page loads. The page then
//! names them under `/v/<version>/...`, and those answers may be kept a year without asking
//! again (`immutable`): a new build has a new version, so a new page names new URLs and no
//! browser keeps a stale copy. A request for another version (a page from before a deploy)
//! gets 404 rather than today's files under yesterday's name, which a cache would then keep
//! for a year. The same files under their plain paths, and everything of a site built
//! without a version, must be revalidated (`no-cache`: a 304 by `Last-Modified` when
//! nothing changed).

use std::path::Path;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeader;

/// Where versioned files live: `/v/<version>/<path in the site>`.
const VERSIONED: &str = "/v/";
/// A year: as long as caches are asked to keep anything.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The site's files and its version, if the build wrote one.
#[derive(Clone, Debug)]
pub struct Site {
    files: ServeDir,
    version: Option<String>,
}

impl Site {
    /// Reads `root/version`. A site without one (or with something else in it) is served
    /// unversioned.
    pub fn open(root: &Path) -> Self {
        let version = std::fs::read_to_string(root.join("version"))
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|v| (8..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit()));
        let files = ServeDir::new(root).precompressed_br().precompressed_gzip();
        Self { files, version }
    }

    /// What the page puts before the site's paths: `/v/<version>`, or nothing.
    pub fn prefix(&self) -> String {
        self.version.as_ref().map(|v| format!("{VERSIONED}{v}")).unwrap_or_default()
    }

    /// The files under their plain paths, to be revalidated on every use.
    pub fn plain(&self) -> SetResponseHeader<ServeDir, HeaderValue> {
        SetResponseHeader::if_not_present(
            self.files.clone(),
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        )
    }

    /// Answers a request under `/v/`: this version's files, cached for a year.
    pub async fn versioned(mut self, request: Request) -> Response {
        let (mut parts, body) = request.into_parts();
        let rest = parts.uri.path().strip_prefix(VERSIONED).unwrap_or_default();
        let (version, path) = rest.split_once('/').unwrap_or((rest, ""));
        if self.version.as_deref() != Some(version) {
            return StatusCode::NOT_FOUND.into_response();
        }
        let Ok(uri) = format!("/{path}").parse::<Uri>() else {
            return StatusCode::NOT_FOUND.into_response();
        };
        parts.uri = uri;
        match self.files.try_call(Request::from_parts(parts, body)).await {
            Ok(response) => {
                let mut response = response.map(Body::new);
                if response.status().is_success() {
                    let forever = HeaderValue::from_static(IMMUTABLE);
                    response.headers_mut().insert(header::CACHE_CONTROL, forever);
                }
                response
            }
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_some_hex_digits_and_nothing_else() {
        let dir =
            std::env::temp_dir().join(format!("transit-stream-assets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let prefix = |version: &str| {
            std::fs::write(dir.join("version"), version).expect("writes");
            Site::open(&dir).prefix()
        };
        assert_eq!(prefix("0123abcd89ef4567\n"), "/v/0123abcd89ef4567");
        for bad in ["", "abc", "../../etc", "0123abcd/89ef", "zzzzzzzzzzzz"] {
            assert_eq!(prefix(bad), "", "{bad:?}");
        }
        std::fs::remove_dir_all(&dir).expect("cleans up");
    }
}
