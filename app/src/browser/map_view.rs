//! The Leaflet map and its markers: one canvas `circleMarker` per vehicle, updated in place.

use std::collections::HashMap;

use leaflet::{
    CircleMarker, LatLng, Map, MapOptions, MouseEvents, PathOptions, TileLayer, TileLayerOptions,
};
use leptos::prelude::*;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;
use web_sys::HtmlElement;

use crate::model::{Marker, ServerFrame, TransportMode, VehicleId};

/// Central Helsinki, and a zoom that shows the inner city and the metro line.
const HELSINKI: (f64, f64) = (60.1699, 24.9384);
const START_ZOOM: f64 = 12.0;
const RADIUS: f64 = 5.0;
const SELECTED_RADIUS: f64 = 9.0;

/// Tile source from the server's configuration.
pub struct Tiles {
    pub url: String,
    pub attribution: String,
}

/// Owns the map and the markers of every vehicle currently shown.
pub struct MapView {
    map: Map,
    markers: HashMap<VehicleId, CircleMarker>,
    selected: RwSignal<Option<VehicleId>>,
    highlighted: Option<VehicleId>,
}

impl MapView {
    pub fn new(
        element: &HtmlElement,
        tiles: &Tiles,
        selected: RwSignal<Option<VehicleId>>,
    ) -> Result<Self, JsValue> {
        let options = MapOptions::new();
        // One canvas for all markers: thousands of DOM or SVG markers make panning stutter.
        options.set_prefer_canvas(true);
        options.set_center(LatLng::new(HELSINKI.0, HELSINKI.1));
        options.set_zoom(START_ZOOM);
        let map = Map::new_with_element(element, &options)?;

        if !tiles.url.is_empty() {
            let tile_options = TileLayerOptions::new();
            tile_options.set_attribution(tiles.attribution.clone());
            tile_options.set_max_zoom(19.0);
            // Tiles are decoration: when they cannot load the markers still draw and click.
            TileLayer::new_options(&tiles.url, &tile_options).add_to(&map);
        }
        attribution_control(&map).add_attribution(
            "Vehicle data © <a href=\"https://www.hsl.fi/en/hsl/open-data\">HSL</a>, CC BY 4.0",
        );

        // A read-only handle for people debugging in the console and for the browser tests,
        // which need marker positions on the canvas to click them.
        if let Some(window) = web_sys::window() {
            let _ = js_sys::Reflect::set(&window, &JsValue::from_str("transitMap"), &map);
        }
        Ok(Self { map, markers: HashMap::new(), selected, highlighted: None })
    }

    /// Number of markers on the map.
    pub fn len(&self) -> usize {
        self.markers.len()
    }

    /// Applies one frame: a snapshot replaces everything, a delta moves, adds and removes.
    pub fn apply(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Snapshot { vehicles, .. } => {
                let keep: std::collections::HashSet<VehicleId> =
                    vehicles.iter().map(|marker| marker.id).collect();
                self.markers.retain(|id, marker| {
                    let stays = keep.contains(id);
                    if !stays {
                        marker.remove();
                    }
                    stays
                });
                for vehicle in &vehicles {
                    self.upsert(vehicle);
                }
            }
            ServerFrame::Delta { upserts, removed, .. } => {
                for vehicle in &upserts {
                    self.upsert(vehicle);
                }
                for id in removed {
                    if let Some(marker) = self.markers.remove(&id) {
                        marker.remove();
                    }
                }
            }
            // Status frames are for the badge; `live` handles them.
            ServerFrame::Status { .. } => {}
        }
    }

    fn upsert(&mut self, vehicle: &Marker) {
        let position = LatLng::new(vehicle.lat, vehicle.lon);
        if let Some(marker) = self.markers.get(&vehicle.id) {
            marker.set_lat_lng(&position);
            return;
        }
        let marker = CircleMarker::new_with_options(&position, &style(vehicle, false));
        let (id, selected) = (vehicle.id, self.selected);
        marker.on_click(Box::new(move |_| selected.set(Some(id))));
        marker.add_to(&self.map);
        if self.selected.get_untracked() == Some(id) {
            // The selected vehicle came back (or arrived after the click): highlight it,
            // and remember it so the next selection restores it.
            marker.set_style(&style(vehicle, true));
            marker.set_radius(SELECTED_RADIUS);
            self.highlighted = Some(id);
        }
        self.markers.insert(id, marker);
    }

    /// Enlarges and outlines the selected vehicle's marker, restoring the previous one.
    pub fn highlight(&mut self, id: Option<VehicleId>) {
        if let Some(previous) = self.highlighted.take()
            && let Some(marker) = self.markers.get(&previous)
        {
            marker.set_style(&highlight_style(false));
            marker.set_radius(RADIUS);
        }
        if let Some(marker) = id.and_then(|id| self.markers.get(&id)) {
            marker.set_style(&highlight_style(true));
            marker.set_radius(SELECTED_RADIUS);
            marker.bring_to_front();
            self.highlighted = id;
        }
    }
}

/// Full style of a new marker. `vehicleId` is not a Leaflet option: Leaflet keeps unknown
/// options on the layer, which lets the browser tests find a vehicle's marker.
fn style(vehicle: &Marker, selected: bool) -> PathOptions {
    let options = highlight_style(selected);
    options.set_fill(true);
    options.set_fill_color(mode_colour(vehicle.mode).to_owned());
    options.set_fill_opacity(0.9);
    options.set_radius(RADIUS);
    let _ = js_sys::Reflect::set(
        &options,
        &JsValue::from_str("vehicleId"),
        &JsValue::from_str(&vehicle.id.to_string()),
    );
    options
}

/// The part of the style that changes with selection.
fn highlight_style(selected: bool) -> PathOptions {
    let options = PathOptions::new();
    options.set_color(if selected { "#111" } else { "#fff" }.to_owned());
    options.set_weight(if selected { 3.0 } else { 1.0 });
    options
}

/// HSL's colours per mode, so the map reads like the city's own signs.
fn mode_colour(mode: TransportMode) -> &'static str {
    match mode {
        TransportMode::Bus => "#007ac9",
        TransportMode::Tram => "#00985f",
        TransportMode::Train => "#8c4799",
        TransportMode::Metro => "#ff6319",
        TransportMode::Ferry => "#00b9e4",
        TransportMode::Ubus | TransportMode::Robot | TransportMode::Other => "#666666",
    }
}

trait RadiusOption {
    fn set_radius(&self, radius: f64);
}

impl RadiusOption for PathOptions {
    fn set_radius(&self, radius: f64) {
        let _ =
            js_sys::Reflect::set(self, &JsValue::from_str("radius"), &JsValue::from_f64(radius));
    }
}

// The `leaflet` crate has no binding for the map's attribution control; these two are all
// we need of it.
#[wasm_bindgen]
extern "C" {
    type AttributionControl;

    #[wasm_bindgen(js_name = Object)]
    type MapWithControls;

    #[wasm_bindgen(method, getter, js_name = attributionControl)]
    fn attribution_control(this: &MapWithControls) -> AttributionControl;

    #[wasm_bindgen(method, js_name = addAttribution)]
    fn add_attribution(this: &AttributionControl, text: &str);
}

fn attribution_control(map: &Map) -> AttributionControl {
    use wasm_bindgen::JsCast;
    map.unchecked_ref::<MapWithControls>().attribution_control()
}
