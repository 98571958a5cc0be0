//! The page: a full-window map with a status badge and a panel for the clicked vehicle.
//!
//! Components own their signals; the browser-only work (Leaflet, the WebSocket, timers) is
//! started from them through `crate::browser`, which exists only in the hydrate build.

mod data_notice;
mod legend;
mod status_badge;
mod vehicle_map;
mod vehicle_panel;

use leptos::prelude::*;

pub use data_notice::DataNotice;
pub use legend::Legend;
pub use status_badge::{ConnectionStatus, StatusBadge};
pub use vehicle_map::VehicleMap;
pub use vehicle_panel::VehiclePanel;

use crate::model::VehicleId;
use crate::palette::ColourBy;

/// What the page's parts share: the map reads it every frame, the controls set it.
#[derive(Clone, Copy)]
pub struct MapState {
    pub status: RwSignal<ConnectionStatus>,
    pub vehicle_count: RwSignal<usize>,
    /// Position updates per second reaching this page.
    pub updates_per_s: RwSignal<u32>,
    pub selected: RwSignal<Option<VehicleId>>,
    pub colour_by: RwSignal<ColourBy>,
}

/// The one page of the app.
#[component]
pub fn MapPage() -> impl IntoView {
    let state = MapState {
        status: RwSignal::new(ConnectionStatus::Connecting),
        vehicle_count: RwSignal::new(0_usize),
        updates_per_s: RwSignal::new(0),
        selected: RwSignal::new(None::<VehicleId>),
        colour_by: RwSignal::new(ColourBy::default()),
    };
    let MapState { selected, colour_by, .. } = state;

    view! {
        <div class="page">
            <header class="topbar">
                <h1>"transit-stream"</h1>
                <span class="subtitle">"Helsinki public transport, live"</span>
                <DataNotice />
                <StatusBadge state />
            </header>
            <main class="map-area">
                <VehicleMap state />
                <Legend colour_by />
                <VehiclePanel selected />
            </main>
        </div>
    }
}
