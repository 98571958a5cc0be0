//! The Leaflet map (tiles, attribution, pan and zoom) and the fleet drawn over it by
//! [`VehicleCanvas`] in animation frames for all vehicles at once, run by a [`FrameClock`].
//!
//! A frame paints only when something visible changed: a gliding vehicle moved by a
//! visible step, vehicles came or went, the map moved, the selection or filter changed, or
//! a second passed (ages fade); and not in the frame a delta was applied in, so no frame
//! carries both. Frames run only when one of those may have happened. Browsers do not run
//! animation frames in hidden tabs, so a background tab costs nothing.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::oneshot;
use leaflet::{LatLng, Map, MapOptions, TileLayer, TileLayerOptions};
use leptos::prelude::*;
use wasm_bindgen::prelude::{Closure, wasm_bindgen};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlElement;

use super::frame_clock::{self, FrameClock, Next};
use super::vehicle_canvas::{self, Look, VehicleCanvas, View};
use super::yielding::yield_now;
use super::{debug_handles, follow};
use crate::components::{MapState, Nearby};
use crate::fleet::{self, Fleet, Placed};
use crate::model::NetworkLine;
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
    /// What the last paint showed, when, and the fleet's placements then.
    last_drawn: Option<(View, Look, f64, u64)>,
    clock: FrameClock,
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
    /// Told when the first vehicles are painted ([`Self::first_paint`]).
    first_paint: Option<oneshot::Sender<()>>,
}

impl MapView {
    /// Starts Leaflet in `element`, adds the vehicle canvas and starts painting it, in two
    /// tasks (`super::yielding`): the map, then the fleet. Tiles come later
    /// ([`Self::add_tiles`]).
    pub async fn start(
        element: &HtmlElement,
        tiles: &Tiles,
        state: MapState,
        at: Option<(f64, f64, f64)>,
    ) -> Result<Rc<RefCell<Self>>, JsValue> {
        let (lat, lon, zoom) = at.unwrap_or((HELSINKI.0, HELSINKI.1, START_ZOOM));
        let clock = FrameClock::new();
        let options = MapOptions::new();
        options.set_center(LatLng::new(lat, lon));
        options.set_zoom(zoom);
        let map = Map::new_with_element(element, &options)?;
        // The search box takes the top-left corner and the panel the top-right.
        let _ = map.unchecked_ref::<MapExtras>().zoom_control().set_position("bottomright");
        yield_now().await;
        // Without tiles (none configured, or none loading: offline) the map draws a sketch
        // of the network, so vehicles never float on an empty field.
        let tiles_missing = Rc::new(Cell::new(tiles.url.is_empty()));
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
            clock: clock.clone(),
            applied: false,
            rate: fleet::Rate::default(),
            lines_checked: 0.0,
            tiles_missing,
            hit_radius: if coarse_pointer() { TOUCH_HIT_RADIUS } else { HIT_RADIUS },
            painted_any: false,
            applied_snapshot: false,
            first_paint: None,
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
        wake_on_changes(&map, state, &clock);
        let frames = Rc::clone(&view);
        clock.drive(move |now| frames.borrow_mut().frame(now));
        debug_handles::expose(&map, &view);
        Ok(view)
    }

    /// Adds the tile layer. A tile that fails to load turns the network sketch on.
    pub fn add_tiles(&self, tiles: &Tiles) {
        if tiles.url.is_empty() {
            return;
        }
        let tile_options = TileLayerOptions::new();
        tile_options.set_attribution(tiles.attribution.clone());
        tile_options.set_max_zoom(19.0);
        let layer = TileLayer::new_options(&tiles.url, &tile_options);
        layer.add_to(&self.map);
        let (missing, clock) = (Rc::clone(&self.tiles_missing), self.clock.clone());
        let failed = Closure::<dyn Fn()>::new(move || {
            missing.set(true);
            clock.soon();
        });
        layer.unchecked_ref::<leaflet::Evented>().on("tileerror", failed.as_ref());
        // Lives as long as the tile layer, which lives as long as the page.
        failed.forget();
    }

    /// Resolves when the first vehicles have been painted (at once if they have been).
    pub fn first_paint(&mut self) -> oneshot::Receiver<()> {
        let (painted, receiver) = oneshot::channel();
        if self.painted_any {
            let _ = painted.send(());
        } else {
            self.first_paint = Some(painted);
        }
        receiver
    }

    pub fn map(&self) -> Map {
        self.map.clone()
    }

    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// Number of vehicles on the map.
    pub fn len(&self) -> usize {
        self.fleet.len()
    }

    /// Applies one frame; the vehicles it moves glide from where they are drawn.
    pub fn apply(&mut self, frame: WireFrame) {
        let now = frame_clock::now();
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
        self.applied = true;
        self.clock.soon();
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
    pub fn view(&self) -> View {
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

    /// One animation frame at `now` (the animation clock); says when the next is due.
    fn frame(&mut self, now: f64) -> Next {
        let state = self.state;
        let look = Look {
            selected: state.selected.get_untracked(),
            colour_by: state.colour_by.get_untracked(),
            filter: state.filter.get_untracked(),
            network: self.tiles_missing.get(),
        };
        let following = state.following.get_untracked();
        if let Some(shown) = look.selected.filter(|_| following).and_then(|id| self.fleet.get(&id))
        {
            follow::keep_in_view(&self.map, &self.view(), shown.at(now));
        }
        let view = self.view();
        let same_view = self
            .last_drawn
            .as_ref()
            .is_some_and(|(last_view, last_look, ..)| *last_view == view && *last_look == look);
        // The frame a delta lands in already parsed and applied it; its glides start where
        // the vehicles are drawn, so painting can wait one frame without a visible jump, and
        // no frame carries both costs. A moved map is painted at once, or the vehicles
        // would lag behind it.
        if std::mem::take(&mut self.applied) && same_view {
            return Next::Frame;
        }
        // Vehicles are painted on whole device pixels: a smaller move may not show at all.
        let step = 1.0 / vehicle_canvas::device_pixel_ratio();
        // When the canvas shows this view and look, and the vehicles that were there then,
        // painted less than a second ago (ages fade).
        let drawn_at = self.last_drawn.as_ref().and_then(|&(.., at, placements)| {
            let current = same_view
                && placements == self.fleet.placements()
                && now - at < fleet::AGES_REPAINT_MS;
            current.then_some(at)
        });
        // How fast a vehicle can have moved since then (CSS pixels per ms).
        let pace = |since: f64| self.fleet.fastest_since(since) * view.zoom.exp2();
        let since_paint = drawn_at.map(|at| (at, pace(at)));
        if let Some((drawn_at, pace)) = since_paint {
            // Nothing can have moved a visible step yet: not even the fleet's layout is
            // needed. Zoomed out, that is most frames of a glide.
            if pace * (now - drawn_at) < step {
                return Next::At(fleet::next_look(drawn_at, drawn_at, 0.0, pace, step));
            }
        }
        let matching =
            VehicleCanvas::layout(&self.fleet, &view, now, &look.filter, &mut self.laid_out);
        if state.matching.get_untracked() != matching {
            state.matching.set(matching);
        }
        if let Some((drawn_at, pace)) = since_paint {
            // The fastest may be off screen: the furthest move in view says how long the
            // ones in view need for a visible step at that pace.
            let moved = fleet::furthest_move(&self.placed, &self.laid_out);
            if moved < step {
                return Next::At(fleet::next_look(drawn_at, now, moved, pace, step));
            }
        }
        let wall = js_sys::Date::now();
        self.canvas.paint(&self.fleet, &view, wall, &look, &self.laid_out);
        // What is on the canvas now is what clicks are tested against.
        std::mem::swap(&mut self.placed, &mut self.laid_out);
        if !self.painted_any && !self.placed.is_empty() {
            self.painted_any = true;
            // How long a rider waits for the first vehicle: the browser benchmark reads it.
            mark(FIRST_VEHICLE_MARK);
            if let Some(painted) = self.first_paint.take() {
                let _ = painted.send(());
            }
        }
        self.last_drawn = Some((view, look, now, self.fleet.placements()));
        Next::At(fleet::next_look(now, now, 0.0, pace(now), step))
    }
}

/// A User Timing mark, so that its time is counted from navigation.
fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}

impl MapView {
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

/// Whether the main pointer is a finger rather than a mouse.
fn coarse_pointer() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(pointer: coarse)").ok().flatten())
        .is_some_and(|query| query.matches())
}

/// Asks `clock` for a frame whenever the map moves or the page changes how vehicles are
/// drawn; glides and fading ages ask for their own ([`MapView::frame`]).
fn wake_on_changes(map: &Map, state: MapState, clock: &FrameClock) {
    let moved = clock.clone();
    let moved = Closure::<dyn Fn()>::new(move || moved.soon());
    // `zoomanim`: an animated zoom sets the new zoom at its start, and says so only here.
    map.unchecked_ref::<leaflet::Evented>()
        .on("move zoom zoomanim viewreset resize", moved.as_ref());
    // Lives as long as the map, which lives as long as the page.
    moved.forget();
    let clock = clock.clone();
    Effect::new(move |_| {
        state.selected.track();
        state.colour_by.track();
        state.filter.track();
        state.following.track();
        clock.soon();
    });
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
