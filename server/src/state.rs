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

/// The router's state. axum hands every handler its own clone of it, so it is one `Arc`:
/// cloning the parts themselves (a dozen reference counts, Leptos's options with their
/// strings) was a quarter of the server's CPU per one-vehicle answer.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares.
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub map: Arc<MapSettings>,
    pub backend: BackendHandle,
    pub stats: Arc<Stats>,
    pub readiness: Readiness,
    pub stores: Stores,
    pub ws: WsContext,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// `State<Part>` extractors: each clones only the part it asks for.
macro_rules! parts {
    ($($field:ident: $part:ty),* $(,)?) => {
        $(impl FromRef<AppState> for $part {
            fn from_ref(state: &AppState) -> Self {
                state.0.$field.clone()
            }
        })*
    };
}

parts! {
    leptos_options: LeptosOptions,
    backend: BackendHandle,
    stats: Arc<Stats>,
    readiness: Readiness,
    stores: Stores,
    ws: WsContext,
}
