//! The page: a full-window map with a status badge and a panel for the clicked vehicle.
//!
//! Components own their signals; the browser-only work (Leaflet, the WebSocket, timers) is
//! started from them through `crate::browser`, which exists only in the hydrate build.

mod data_notice;
mod status_badge;
mod vehicle_map;
mod vehicle_panel;

use leptos::prelude::*;

pub use data_notice::DataNotice;
pub use status_badge::{ConnectionStatus, StatusBadge};
pub use vehicle_map::VehicleMap;
pub use vehicle_panel::VehiclePanel;

use crate::model::VehicleId;

/// The one page of the app.
#[component]
pub fn MapPage() -> impl IntoView {
    let status = RwSignal::new(ConnectionStatus::Connecting);
    let vehicle_count = RwSignal::new(0_usize);
    let selected = RwSignal::new(None::<VehicleId>);

    view! {
        <div class="page">
            <header class="topbar">
                <h1>"transit-stream"</h1>
                <span class="subtitle">"Helsinki public transport, live"</span>
                <DataNotice />
                <StatusBadge status vehicle_count />
            </header>
            <main class="map-area">
                <VehicleMap status vehicle_count selected />
                <VehiclePanel selected />
            </main>
        </div>
    }
}
