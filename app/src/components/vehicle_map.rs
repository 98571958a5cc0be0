//! The Leaflet map. On the server it renders an empty container; in the browser
//! `crate::browser` fills it with tiles and one canvas marker per vehicle and keeps the
//! markers in step with `/ws`.

use leptos::html::Div;
use leptos::prelude::*;

use super::ConnectionStatus;
use crate::model::VehicleId;

/// The map container. Clicking a marker sets `selected`.
#[component]
pub fn VehicleMap(
    status: RwSignal<ConnectionStatus>,
    vehicle_count: RwSignal<usize>,
    selected: RwSignal<Option<VehicleId>>,
) -> impl IntoView {
    let container = NodeRef::<Div>::new();

    #[cfg(feature = "hydrate")]
    crate::browser::start_live_map(container, status, vehicle_count, selected);
    #[cfg(not(feature = "hydrate"))]
    let _ = (status, vehicle_count, selected);

    view! {
        <div node_ref=container id="map" class="map" role="application" aria-label="Map of vehicles"></div>
    }
}
