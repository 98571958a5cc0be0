//! transit-stream's user interface and the types it shares with the server.
//!
//! # Layout
//! * [`model`]: vehicle ids, positions, markers and the frames; shared by both sides.
//! * [`wire`]: the `/ws` frames as compact binary messages, encoded by the server and
//!   decoded by the browser.
//! * [`viewport`]: the grid of cells that decides which vehicles a zoomed-in browser is
//!   sent.
//! * [`early_socket`]: the page's first `/ws` connection, opened by an inline script
//!   before the wasm loads, and handed to the map when it starts.
//! * [`error`]: the errors a browser can see ([`error::ApiError`]).
//! * [`api`]: server functions. Their bodies run on the server and reach data only through
//!   the [`ssr::Backend`] seam, so the store behind them can change without touching the UI.
//! * [`fleet`]: the fleet as the map shows it: gliding positions, fading, hit tests; pure.
//! * [`filter`]: which vehicles are shown (search, mode toggles); [`link`]: the view as a
//!   URL query (deep links, back and forward).
//! * [`glyph`], [`palette`]: each mode's outline and the colours (by mode or by delay),
//!   shared by the canvas and the legend.
//! * [`format`]: how numbers are shown (km/h, delay, Helsinki time); pure and unit-tested.
//! * [`components`]: the page: map, status badge, vehicle panel.
//! * `ssr` (server build only): the [`ssr::Backend`] trait and its context handle.
//! * `browser` (browser build only): Leaflet, the vehicle canvas and the `/ws` subscription.
//!
//! The `ssr` and `hydrate` features are gated here, once: the rest of the crate compiles on
//! both sides and calls into these modules at a few marked points.

pub mod api;
pub mod components;
pub mod early_socket;
pub mod error;
pub mod filter;
pub mod fleet;
pub mod format;
pub mod glyph;
pub mod link;
pub mod model;
pub mod palette;
pub mod viewport;
pub mod wire;

#[cfg(feature = "ssr")]
pub mod ssr;

#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "hydrate")]
pub use browser::after_yield;

use leptos::prelude::*;

use crate::components::MapPage;

/// Map settings the server hands to the page: they come from the server's configuration and
/// are written into the HTML head, where the browser reads them before starting Leaflet.
#[derive(Clone, Debug, PartialEq)]
pub struct MapSettings {
    /// Tile URL template with `{z}`, `{x}`, `{y}` (and optionally `{s}`).
    pub tile_url: String,
    /// Attribution HTML for the tiles.
    pub tile_attribution: String,
    /// Said on the map when the data is not live HSL data (simulated, replayed, or the
    /// live feed unreachable).
    pub notice: Option<String>,
    /// Where the positions come from (live HSL feed, replay, simulator, ksqlDB), shown in
    /// the status.
    pub source: model::Feed,
    /// A sketch of the network, drawn when the tiles cannot load.
    pub network: Vec<model::NetworkLine>,
    /// What the site's files (scripts, styles, wasm) are named under: `/v/<version>` for a
    /// versioned build, whose files browsers may keep, or empty.
    pub assets: String,
}

/// Id of the `<script type="application/json">` carrying [`MapSettings::network`].
pub const NETWORK_ID: &str = "transit-network";

/// Names of the `<meta>` tags carrying [`MapSettings`].
pub const META_TILE_URL: &str = "transit-stream:tile-url";
pub const META_TILE_ATTRIBUTION: &str = "transit-stream:tile-attribution";
pub const META_NOTICE: &str = "transit-stream:notice";
pub const META_SOURCE: &str = "transit-stream:source";

/// The HTML document around the app. Rendered only on the server.
pub fn shell(options: LeptosOptions, map: MapSettings) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::send_content_security_policy(&map.tile_url);
    // A data block, never run; `<` escaped so no text can close the element early.
    let network = serde_json::to_string(&map.network).unwrap_or_default().replace('<', "\\u003c");
    let assets = map.assets;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // Static, in the shell: when the app set it (`leptos_meta`), hydration set it
                // again to the same text, a few milliseconds of start-up's busiest task.
                <title>"transit-stream · Helsinki vehicles live"</title>
                <meta name=META_TILE_URL content=map.tile_url />
                <meta name=META_TILE_ATTRIBUTION content=map.tile_attribution />
                <meta name=META_NOTICE content=map.notice.unwrap_or_default() />
                <meta name=META_SOURCE content=map.source.as_str() />
                // First in the head: an inline script after a stylesheet waits for it, and
                // the snapshot should be on its way while everything else loads.
                <script nonce=leptos::nonce::use_nonce() inner_html=early_socket::script()></script>
                <script type="application/json" id=NETWORK_ID inner_html=network></script>
                // No favicon request: the page has nothing to show there yet.
                <link rel="icon" href="data:," />
                <link rel="stylesheet" href=format!("{assets}/leaflet/leaflet.css") />
                <link rel="stylesheet" href=format!("{assets}/style/main.css") />
                // Leaflet must define the global `L` before the wasm module starts: the
                // `leaflet` crate binds to it. Deferred, it still runs first, as deferred
                // and module scripts run in document order once the page is parsed; but the
                // page no longer waits for it to paint (first contentful paint at 0.74x in
                // 16 alternating pairs of loads).
                <script defer src=format!("{assets}/leaflet/leaflet.js")></script>
                <AutoReload options=options.clone() />
                <HydrationScripts options root=assets.clone() />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application root.
#[component]
pub fn App() -> impl IntoView {
    view! { <MapPage /> }
}
