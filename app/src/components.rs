//! The page: a full-window map with a status badge and a panel for the clicked vehicle.
//!
//! Components own their signals; the browser-only work (Leaflet, the WebSocket, timers) is
//! started from them through `crate::browser`, which exists only in the hydrate build.

mod data_notice;
mod finder;
mod legend;
mod status_badge;
mod vehicle_map;
mod vehicle_panel;

use leptos::prelude::*;

pub use data_notice::DataNotice;
pub use finder::Finder;
pub use legend::Legend;
pub use status_badge::{ConnectionStatus, StatusBadge};
pub use vehicle_map::VehicleMap;
pub use vehicle_panel::VehiclePanel;

use crate::filter::Filter;
use crate::model::VehicleId;
use crate::palette::ColourBy;

/// What the page's parts share: the map reads it every frame, the controls set it.
#[derive(Clone, Copy)]
pub struct MapState {
    pub status: RwSignal<ConnectionStatus>,
    pub vehicle_count: RwSignal<usize>,
    /// Whether the server sends only the vehicles around the view (zoomed in): the count
    /// is then of those.
    pub partial: RwSignal<bool>,
    /// Position updates per second reaching this page.
    pub updates_per_s: RwSignal<u32>,
    pub selected: RwSignal<Option<VehicleId>>,
    pub colour_by: RwSignal<ColourBy>,
    pub filter: RwSignal<Filter>,
    /// Vehicles the filter lets through (all of them when it is empty).
    pub matching: RwSignal<usize>,
    /// Lines running now, for the search's suggestions.
    pub lines: RwSignal<Vec<String>>,
    /// Whether the map keeps the selected vehicle in view.
    pub following: RwSignal<bool>,
    /// Set when the rider panned away while following: a "follow again" control shows.
    pub follow_lost: RwSignal<bool>,
    /// The vehicles under the last click, nearest first, the selected one among them: the
    /// panel offers the others, since where vehicles crowd a click cannot tell them apart.
    pub nearby: RwSignal<Vec<Nearby>>,
}

/// A vehicle offered next to the selected one.
#[derive(Clone, Debug, PartialEq)]
pub struct Nearby {
    pub id: VehicleId,
    pub mode: crate::model::TransportMode,
    pub line: Option<String>,
    pub headsign: Option<String>,
}

impl MapState {
    /// Selects a vehicle (or none): a new selection starts unfollowed. Choosing among the
    /// vehicles of the last click keeps that group on offer, so a rider can step through
    /// a crowded stop; any other choice ends it.
    pub fn select(&self, id: Option<VehicleId>) {
        if self.selected.get_untracked() != id {
            self.following.set(false);
            self.follow_lost.set(false);
            let in_group = id.is_some_and(|id| {
                self.nearby.with_untracked(|group| group.iter().any(|v| v.id == id))
            });
            if !in_group {
                self.nearby.set(Vec::new());
            }
            self.selected.set(id);
        }
    }
}

/// The one page of the app.
#[component]
pub fn MapPage() -> impl IntoView {
    let state = MapState {
        status: RwSignal::new(ConnectionStatus::Connecting),
        vehicle_count: RwSignal::new(0_usize),
        partial: RwSignal::new(false),
        updates_per_s: RwSignal::new(0),
        selected: RwSignal::new(None::<VehicleId>),
        colour_by: RwSignal::new(ColourBy::default()),
        filter: RwSignal::new(Filter::default()),
        matching: RwSignal::new(0),
        lines: RwSignal::new(Vec::new()),
        following: RwSignal::new(false),
        follow_lost: RwSignal::new(false),
        nearby: RwSignal::new(Vec::new()),
    };
    view! {
        <div class="page">
            <header class="topbar">
                <h1>"transit-stream"</h1>
                <span class="subtitle">"Helsinki public transport as it moves"</span>
                <DataNotice />
                <StatusBadge state />
            </header>
            <main class="map-area">
                <VehicleMap state />
                <Finder state />
                <Legend state />
                <VehiclePanel state />
            </main>
        </div>
    }
}
