//! The Leaflet map (tiles, attribution, pan and zoom) and the fleet drawn over it by
//! [`VehicleCanvas`] in one `requestAnimationFrame` loop for all vehicles.
//!
//! The loop paints only when something visible changed: a gliding vehicle moved by a
//! visible step, vehicles came or went, the map moved, the selection or filter changed, or
//! a second passed (ages fade); and not in the frame a delta was applied in, so no frame
//! carries both. Browsers do not run animation frames in hidden tabs, so a background tab
//! costs nothing.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leaflet::{LatLng, Map, MapOptions, TileLayer, TileLayerOptions};
use leptos::prelude::*;
use wasm_bindgen::prelude::{Closure, wasm_bindgen};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlElement;

use super::vehicle_canvas::{Look, VehicleCanvas, View};
use crate::components::{MapState, Nearby};
use crate::fleet::{self, Fleet, GLIDE_MS, Placed};
use crate::model::{NetworkLine, VehicleId};
use crate::wire::WireFrame;

/// Central Helsinki, and a zoom that shows the inner city and the metro line.
const HELSINKI: (f64, f64) = (60.1699, 24.9384);
const START_ZOOM: f64 = 12.0;
/// How far from a vehicle (CSS pixels) a click still picks it, and a tap on a touch
/// screen (about half a fingertip's width).
const HIT_RADIUS: f64 = 16.0;
const TOUCH_HIT_RADIUS: f64 = 22.0;
/// Most vehicles offered besides the one a click picked.
const MAX_NEARBY: usize = 6;
/// Ages shown by fading change slowly: redrawing an idle map once a second is enough.
const IDLE_REDRAW_MS: f64 = 1_000.0;
/// Lines come and go with trips: the suggestions are refreshed this often (ms).
const LINES_EVERY_MS: f64 = 5_000.0;
/// The User Timing mark set when the first vehicle is painted (read by `end2end/bench/`).
const FIRST_VEHICLE_MARK: &str = "transit-stream:first-vehicle";
/// The User Timing mark set when the first snapshot is about to be applied: the page's
/// first snapshot may arrive long before the map starts (`crate::early_socket`), so the
/// benchmark counts the tasks that apply it from here.
const FIRST_SNAPSHOT_MARK: &str = "transit-stream:first-snapshot";

/// Tile source from the server's configuration.
pub struct Tiles {
    pub url: String,
    pub attribution: String,
}

/// Owns the map, the fleet and the canvas they are drawn on.
pub struct MapView {
    map: Map,
    canvas: VehicleCanvas,
    fleet: Fleet,
    /// What the last painted frame showed, and where: clicks are tested against it.
    placed: Vec<Placed>,
    /// Where the vehicles stand this frame, kept apart until it is painted.
    laid_out: Vec<Placed>,
    state: MapState,
    last_drawn: Option<(View, Look, f64)>,
    /// Until when (animation clock) some vehicle may still be gliding.
    glide_until: f64,
    /// A frame from the server was applied since the previous animation frame.
    applied: bool,
    rate: fleet::Rate,
    /// When the search's suggestions were last brought up to date.
    lines_checked: f64,
    tiles_missing: Rc<Cell<bool>>,
    hit_radius: f64,
    /// Whether a vehicle has been painted, and a snapshot applied, yet: the first time of
    /// each is marked for the benchmark.
    painted_any: bool,
    applied_snapshot: bool,
}

impl MapView {
    /// Starts Leaflet in `element`, adds the vehicle canvas and starts the animation loop.
    pub fn start(
        element: &HtmlElement,
        tiles: &Tiles,
        state: MapState,
        at: Option<(f64, f64, f64)>,
    ) -> Result<Rc<RefCell<Self>>, JsValue> {
        let (lat, lon, zoom) = at.unwrap_or((HELSINKI.0, HELSINKI.1, START_ZOOM));
        let options = MapOptions::new();
        options.set_center(LatLng::new(lat, lon));
        options.set_zoom(zoom);
        let map = Map::new_with_element(element, &options)?;
        // The search box takes the top-left corner and the panel the top-right.
        let _ = map.unchecked_ref::<MapExtras>().zoom_control().set_position("bottomright");
        // Without tiles (none configured, or none loading: offline) the map draws a sketch
        // of the network, so vehicles never float on an empty field.
        let tiles_missing = Rc::new(Cell::new(tiles.url.is_empty()));
        if !tiles.url.is_empty() {
            let tile_options = TileLayerOptions::new();
            tile_options.set_attribution(tiles.attribution.clone());
            tile_options.set_max_zoom(19.0);
            let layer = TileLayer::new_options(&tiles.url, &tile_options);
            layer.add_to(&map);
            let missing = Rc::clone(&tiles_missing);
            let failed = Closure::<dyn Fn()>::new(move || missing.set(true));
            layer.unchecked_ref::<leaflet::Evented>().on("tileerror", failed.as_ref());
            // Lives as long as the tile layer, which lives as long as the page.
            failed.forget();
        }
        attribution_control(&map).add_attribution(
            "Vehicle data © <a href=\"https://www.hsl.fi/en/hsl/open-data\">HSL</a>, CC BY 4.0",
        );
        let mut canvas = VehicleCanvas::new(element)?;
        canvas.set_network(network());
        let view = Rc::new(RefCell::new(Self {
            map: map.clone(),
            canvas,
            fleet: Fleet::default(),
            placed: Vec::new(),
            laid_out: Vec::new(),
            state,
            last_drawn: None,
            glide_until: 0.0,
            applied: false,
            rate: fleet::Rate::default(),
            lines_checked: 0.0,
            tiles_missing,
            hit_radius: if coarse_pointer() { TOUCH_HIT_RADIUS } else { HIT_RADIUS },
            painted_any: false,
            applied_snapshot: false,
        }));

        let clicked = Rc::downgrade(&view);
        map.on_mouse_click(Box::new(move |event: leaflet::MouseEvent| {
            let point = event.container_point();
            if let Some(view) = clicked.upgrade() {
                let mut hits = view.borrow().pick((point.x(), point.y()));
                let Some(nearest) = hits.first().map(|hit| hit.id) else { return };
                hits.truncate(MAX_NEARBY + 1);
                // The group first, so that selecting its nearest keeps it.
                state.nearby.set(hits);
                state.select(Some(nearest));
            }
        }));
        // Only the rider's own drag fires `dragstart`; following's moves do not.
        let dragged = Closure::<dyn Fn()>::new(move || {
            if state.following.get_untracked() {
                state.following.set(false);
                state.follow_lost.set(true);
            }
        });
        map.unchecked_ref::<leaflet::Evented>().on("dragstart", dragged.as_ref());
        // Lives as long as the map, which lives as long as the page.
        dragged.forget();
        animate(Rc::clone(&view));
        expose_for_debugging(&map, &view);
        Ok(view)
    }

    pub fn map(&self) -> Map {
        self.map.clone()
    }

    /// Number of vehicles on the map.
    pub fn len(&self) -> usize {
        self.fleet.len()
    }

    /// Applies one frame; the vehicles it moves glide from where they are drawn.
    pub fn apply(&mut self, frame: WireFrame) {
        let now = animation_clock();
        if let WireFrame::Delta { upserts, .. } = &frame {
            self.rate.add(now, upserts.len());
            self.state.updates_per_s.set(self.rate.per_second(now).round() as u32);
        }
        let snapshot = matches!(frame, WireFrame::Snapshot { .. });
        if snapshot && !self.applied_snapshot {
            self.applied_snapshot = true;
            mark(FIRST_SNAPSHOT_MARK);
        }
        let unknown = self.fleet.apply(frame, now);
        if unknown > 0 {
            leptos::logging::warn!("Skipped {unknown} updates for vehicles never described.");
        }
        self.glide_until = now + GLIDE_MS;
        self.applied = true;
        if snapshot || now - self.lines_checked > LINES_EVERY_MS {
            self.lines_checked = now;
            self.suggest_lines();
        }
    }

    /// The vehicles drawn close enough to a point of the map, nearest first.
    fn pick(&self, at: (f64, f64)) -> Vec<Nearby> {
        fleet::under(&self.placed, at, self.hit_radius)
            .into_iter()
            .filter_map(|id| self.fleet.get(&id))
            .map(|shown| Nearby {
                id: shown.marker.id,
                mode: shown.marker.mode,
                line: shown.marker.line.clone(),
                headsign: shown.marker.headsign.clone(),
            })
            .collect()
    }

    /// Where the map stands, in the terms Leaflet places its tiles by: the projected
    /// pixel of the container's top-left corner is the layer origin plus the layer point
    /// of that corner (which moves while the map is dragged).
    fn view(&self) -> View {
        let zoom = self.map.get_zoom();
        let size = self.map.get_size();
        let extras = self.map.unchecked_ref::<MapExtras>();
        let origin = extras.pixel_origin();
        let corner = extras.container_point_to_layer_point(&leaflet::Point::new(0.0, 0.0));
        View {
            zoom,
            origin: (origin.x() + corner.x(), origin.y() + corner.y()),
            width: size.x(),
            height: size.y(),
        }
    }

    /// One animation frame at `now` (the animation clock).
    fn frame(&mut self, now: f64) {
        let state = self.state;
        let look = Look {
            selected: state.selected.get_untracked(),
            colour_by: state.colour_by.get_untracked(),
            filter: state.filter.get_untracked(),
            network: self.tiles_missing.get(),
        };
        if state.following.get_untracked() {
            self.keep_in_view(look.selected, now);
        }
        let view = self.view();
        let applied = std::mem::take(&mut self.applied);
        // The canvas shows this view and look, painted less than a second ago (ages fade).
        let current = self.last_drawn.as_ref().is_some_and(|(last_view, last_look, drawn_at)| {
            *last_view == view && *last_look == look && now - drawn_at < IDLE_REDRAW_MS
        });
        if current && now > self.glide_until {
            return;
        }
        // The frame a delta lands in already parsed and applied it; its glides start where
        // the vehicles are drawn, so painting can wait one frame without a visible jump,
        // and no frame carries both costs.
        if current && applied {
            return;
        }
        let matching =
            VehicleCanvas::layout(&self.fleet, &view, now, &look.filter, &mut self.laid_out);
        if state.matching.get_untracked() != matching {
            state.matching.set(matching);
        }
        // Zoomed out, a gliding vehicle crosses a pixel in seconds: repainting thousands of
        // them on every frame to show nothing new is most of what the map would cost.
        if current && !fleet::visibly_moved(&self.placed, &self.laid_out) {
            return;
        }
        let wall = js_sys::Date::now();
        self.canvas.paint(&self.fleet, &view, wall, &look, &self.laid_out);
        // What is on the canvas now is what clicks are tested against.
        std::mem::swap(&mut self.placed, &mut self.laid_out);
        if !self.painted_any && !self.placed.is_empty() {
            self.painted_any = true;
            // How long a rider waits for the first vehicle: the browser benchmark reads it.
            mark(FIRST_VEHICLE_MARK);
        }
        self.last_drawn = Some((view, look, now));
    }
}

/// A User Timing mark, so that its time is counted from navigation.
fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}

impl MapView {
    /// Centres the followed vehicle, where it is drawn now, in the part of the map the
    /// panel leaves uncovered, so the map glides with it. Programmatic moves are not drags:
    /// only the rider's own drag stops a follow.
    fn keep_in_view(&self, selected: Option<VehicleId>, now: f64) {
        let Some(shown) = selected.and_then(|id| self.fleet.get(&id)) else { return };
        let (lat, lon) = shown.at(now);
        let view = self.view();
        let (x, y) = fleet::project(lat, lon, view.zoom);
        let at = (x - view.origin.0, y - view.origin.1);
        let target = (view.width / 2.0, uncovered_height(view.height) / 2.0);
        let (dx, dy) = (at.0 - target.0, at.1 - target.1);
        if dx.hypot(dy) > 0.5 {
            let centre = leaflet::Point::new(view.width / 2.0 + dx, view.height / 2.0 + dy);
            let centre = self.map.container_point_to_lat_lng(&centre);
            let options = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&options, &"animate".into(), &false.into());
            self.map.set_view_with_options(&centre, view.zoom, &options);
        }
    }

    /// Refreshes the search's suggestions when the lines running change.
    fn suggest_lines(&self) {
        let lines = crate::filter::lines_now(self.fleet.iter().map(|shown| &shown.marker));
        if self.state.lines.with_untracked(|known| *known != lines) {
            self.state.lines.set(lines);
        }
    }
}

/// The network sketch the server wrote into the page.
fn network() -> Vec<NetworkLine> {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(crate::NETWORK_ID))
        .and_then(|element| element.text_content())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// How much of the map, from its top, the vehicle panel leaves visible: on a phone the
/// panel is a sheet across the bottom, and a followed vehicle centred behind it would be
/// out of sight. A side panel (wider screens) covers no full row and leaves it all.
fn uncovered_height(map_height: f64) -> f64 {
    let rect = |selector: &str| {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector(selector).ok().flatten())
            .map(|element| element.get_bounding_client_rect())
    };
    let (Some(map), Some(panel)) = (rect("#map"), rect("[data-testid=vehicle-panel]")) else {
        return map_height;
    };
    let spans_map = panel.left() <= map.left() + 1.0 && panel.right() >= map.right() - 1.0;
    if spans_map && panel.top() > map.top() {
        (panel.top() - map.top()).min(map_height)
    } else {
        map_height
    }
}

/// Whether the main pointer is a finger rather than a mouse.
fn coarse_pointer() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(pointer: coarse)").ok().flatten())
        .is_some_and(|query| query.matches())
}

/// Milliseconds on the clock `requestAnimationFrame` passes to its callbacks.
fn animation_clock() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Calls [`MapView::frame`] on every animation frame for the life of the page.
fn animate(view: Rc<RefCell<MapView>>) {
    type FrameCallback = Closure<dyn FnMut(f64)>;
    let callback: Rc<RefCell<Option<FrameCallback>>> = Rc::new(RefCell::new(None));
    let next = Rc::clone(&callback);
    *callback.borrow_mut() = Some(Closure::new(move |now: f64| {
        view.borrow_mut().frame(now);
        if let Some(callback) = next.borrow().as_ref() {
            request_frame(callback);
        }
    }));
    if let Some(callback) = callback.borrow().as_ref() {
        request_frame(callback);
    }
}

fn request_frame(callback: &Closure<dyn FnMut(f64)>) {
    if let Some(window) = web_sys::window() {
        let _ = window.request_animation_frame(callback.as_ref().unchecked_ref());
    }
}

/// Read-only handles for people debugging in the console and for the browser tests:
/// `transitMap` (the Leaflet map) and `transitVehicles()` (every vehicle with the position
/// it is drawn at now and its point on the map's container).
fn expose_for_debugging(map: &Map, view: &Rc<RefCell<MapView>>) {
    let Some(window) = web_sys::window() else { return };
    let _ = js_sys::Reflect::set(&window, &JsValue::from_str("transitMap"), map);
    let view = Rc::downgrade(view);
    let list = Closure::<dyn Fn() -> JsValue>::new(move || {
        let all = js_sys::Array::new();
        let Some(view) = view.upgrade() else { return all.into() };
        let Ok(view) = view.try_borrow() else { return all.into() };
        let (now, placement) = (animation_clock(), view.view());
        for shown in view.fleet.iter() {
            let (lat, lon) = shown.at(now);
            let (x, y) = placement.place(lat, lon);
            let entry = js_sys::Object::new();
            for (key, value) in [
                ("id", JsValue::from_str(&shown.marker.id.to_string())),
                ("lat", JsValue::from_f64(lat)),
                ("lng", JsValue::from_f64(lon)),
                ("x", JsValue::from_f64(x)),
                ("y", JsValue::from_f64(y)),
                ("gliding", JsValue::from_bool(shown.gliding(now))),
                ("mode", JsValue::from_str(shown.marker.mode.as_str())),
                ("line", shown.marker.line.as_deref().map_or(JsValue::NULL, JsValue::from_str)),
                ("delay", shown.marker.delay_s.map_or(JsValue::NULL, JsValue::from)),
            ] {
                let _ = js_sys::Reflect::set(&entry, &JsValue::from_str(key), &value);
            }
            all.push(&entry);
        }
        all.into()
    });
    let _ = js_sys::Reflect::set(&window, &JsValue::from_str("transitVehicles"), list.as_ref());
    // Lives as long as the page, like the map it describes.
    list.forget();
}

// What the `leaflet` crate does not bind and we need: the attribution control, and the
// two values that place a projected point on the container exactly as Leaflet does.
#[wasm_bindgen]
extern "C" {
    type AttributionControl;

    #[wasm_bindgen(js_name = Object)]
    type MapExtras;

    #[wasm_bindgen(method, getter, js_name = attributionControl)]
    fn attribution_control(this: &MapExtras) -> AttributionControl;

    #[wasm_bindgen(method, js_name = addAttribution)]
    fn add_attribution(this: &AttributionControl, text: &str);

    #[wasm_bindgen(method, getter, js_name = zoomControl)]
    fn zoom_control(this: &MapExtras) -> leaflet::Control;

    #[wasm_bindgen(method, js_name = getPixelOrigin)]
    fn pixel_origin(this: &MapExtras) -> leaflet::Point;

    #[wasm_bindgen(method, js_name = containerPointToLayerPoint)]
    fn container_point_to_layer_point(this: &MapExtras, point: &leaflet::Point) -> leaflet::Point;
}

fn attribution_control(map: &Map) -> AttributionControl {
    map.unchecked_ref::<MapExtras>().attribution_control()
}
