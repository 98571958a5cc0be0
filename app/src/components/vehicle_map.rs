//! The Leaflet map. On the server it renders an empty container; in the browser
//! `crate::browser` fills it with tiles and the fleet's canvas and keeps the fleet in step
//! with `/ws`.

use leptos::html::Div;
use leptos::prelude::*;

use super::MapState;

/// The map container. Clicking a vehicle sets `state.selected`.
#[component]
pub fn VehicleMap(state: MapState) -> impl IntoView {
    let container = NodeRef::<Div>::new();

    #[cfg(feature = "hydrate")]
    crate::browser::start_live_map(container, state);
    #[cfg(not(feature = "hydrate"))]
    let _ = state;

    view! {
        <div node_ref=container id="map" class="map" role="application" aria-label="Map of vehicles"></div>
    }
}
