//! The server-side seam of the UI: server functions find the position store through
//! [`BackendHandle`], which the server puts into Leptos context for every request; and the
//! page's Content-Security-Policy, which needs the nonce of the page being rendered.
//!
//! Which store sits behind it (the embedded in-memory table now, ksqlDB and Redis later) is
//! decided once, at server start-up. Nothing in the UI branches on it.

use std::sync::Arc;

use async_trait::async_trait;

use crate::model::{VehicleId, VehicleLookup};

/// A store that can answer "where is this vehicle now?".
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The latest known position of `id`, or `None` when the vehicle is unknown or expired.
    async fn vehicle(&self, id: VehicleId) -> Result<Option<VehicleLookup>, BackendError>;

    /// Every vehicle the store knows, in id order.
    async fn vehicles(&self) -> Result<Vec<VehicleLookup>, BackendError>;
}

/// Why a store could not answer. The browser only ever sees `ApiError::Unavailable`; the
/// reason is for the server's log.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{store} is unavailable: {reason}")]
    Unavailable { store: &'static str, reason: String },
}

impl BackendError {
    /// `store` could not answer, for the reason `error` gives.
    pub fn unavailable(store: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Unavailable { store, reason: error.to_string() }
    }
}

/// The backend as it travels through Leptos context.
#[derive(Clone)]
pub struct BackendHandle(pub Arc<dyn Backend>);

/// Sets the page's Content-Security-Policy header for this response (see
/// [`content_security_policy`]). Called while the shell renders, before any byte is sent.
pub fn send_content_security_policy(tile_url: &str) {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = http::HeaderValue::from_str(&content_security_policy(tile_url, &nonce)) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// What the map page may load and run: its own scripts (the inline ones by this page's
/// nonce), WebAssembly, styles and connections (the `/ws` feed) from its own origin,
/// images from itself and the tile server; no plugins, no framing, no other form or base.
/// Leaflet and the canvas style elements through the DOM, which a policy does not govern.
pub fn content_security_policy(tile_url: &str, nonce: &str) -> String {
    let tiles = tile_origin(tile_url).map(|origin| format!(" {origin}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:{tiles}; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// `https://{s}.tile.example.org/{z}/{x}/{y}.png` -> `https://*.tile.example.org`: the
/// origin a tile template loads from, or `None` when it has none a policy could name.
fn tile_origin(tile_url: &str) -> Option<String> {
    let (scheme, rest) = tile_url.split_once("://")?;
    let host = rest.split('/').next()?.replace("{s}", "*");
    let plain = |b: u8| b.is_ascii_alphanumeric() || b".-:*[]".contains(&b);
    (matches!(scheme, "http" | "https") && !host.is_empty() && host.bytes().all(plain))
        .then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_pages_nonce_and_the_tile_servers_origin() {
        let policy =
            content_security_policy("https://{s}.tile.example.org/{z}/{x}/{y}.png", "n0nce");
        assert!(policy.contains("script-src 'self' 'nonce-n0nce' 'wasm-unsafe-eval';"), "{policy}");
        assert!(policy.contains("img-src 'self' data: https://*.tile.example.org;"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"));
    }

    #[test]
    fn a_tile_template_without_a_plain_origin_adds_no_source() {
        assert_eq!(tile_origin(""), None);
        assert_eq!(
            tile_origin("https://tiles.example.org:8443/{z}/{x}/{y}.png").as_deref(),
            Some("https://tiles.example.org:8443")
        );
        assert_eq!(tile_origin("https://evil.example; script-src *"), None);
        assert_eq!(tile_origin("https://{z}.example/{x}"), None);
    }
}
