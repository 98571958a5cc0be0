//! What every request handler can reach: the router's state. Leptos finds its options
//! through [`FromRef`]; server functions find the backend through Leptos context, which
//! [`crate::startup`] fills from here.

use std::sync::Arc;

use app::MapSettings;
use app::ssr::BackendHandle;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::metrics::Stats;
use crate::readiness::Readiness;
use crate::rest_api::Stores;
use crate::ws::WsContext;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub map: MapSettings,
    pub backend: BackendHandle,
    pub stats: Arc<Stats>,
    pub readiness: Readiness,
    pub stores: Stores,
    pub ws: WsContext,
}
