//! Browser-only code (hydrate build): Leaflet, the vehicle canvas, the `/ws` subscription
//! and timers.
//!
//! # Layout
//! * `map_view`: owns the Leaflet map and the fleet ([`crate::fleet`]), and paints them.
//! * `frame_clock`: runs the map's animation frames only when they may show something new.
//! * `follow`: keeps a followed vehicle in view.
//! * `debug_handles`: `transitMap` and `transitVehicles()` for the console and the tests.
//! * `vehicle_canvas`: draws the fleet on one canvas over the map.
//! * `sprites`: vehicle bodies drawn once and stamped by `vehicle_canvas`.
//! * `live`: the reconnecting WebSocket that feeds frames to the map view.
//! * `view_report`: tells the server which part of the map is shown.
//! * `address`: the view in the URL (deep links, back and forward) and Escape.
//! * `yielding`: gives the main thread back between the steps of start-up.
//!
//! Vehicles are not signals: a frame touches hundreds of them and the map's animation
//! frames read them up to sixty times a second. Signals carry only what the rest of the
//! page shows (status, count, selection).

mod address;
mod debug_handles;
mod follow;
mod frame_clock;
mod live;
mod map_view;
mod sprites;
mod vehicle_canvas;
mod view_report;
mod yielding;

pub use yielding::after_yield;

use std::cell::RefCell;
use std::rc::Rc;

use leptos::html::Div;
use leptos::prelude::*;

use crate::components::MapState;
use crate::{META_TILE_ATTRIBUTION, META_TILE_URL};

/// Map tiles are added once the first vehicles are painted, so that on a fresh page
/// their images do not compete with the snapshot for the main thread; but no later than
/// this after the map starts, so that a map without vehicles (the server down, say) still
/// shows where it is.
const TILES_AT_THE_LATEST: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts Leaflet in `container` once it is mounted, then subscribes to `/ws`.
pub fn start_live_map(container: NodeRef<Div>, state: MapState) {
    let started = Rc::new(RefCell::new(false));
    Effect::new(move |_| {
        let Some(element) = container.get() else { return };
        if started.replace(true) {
            return;
        }
        // In tasks of their own (`yielding`): each first call into wasm compiles its code
        // then, and hydration with the whole start-up made one 110-150 ms task that kept
        // the page from painting.
        yielding::after_yield(start(element, state));
    });
}

/// Leaflet in `element`, the fleet on it, and the subscription that feeds it.
async fn start(element: web_sys::HtmlDivElement, state: MapState) {
    let tiles = map_view::Tiles {
        url: meta_content(META_TILE_URL).unwrap_or_default(),
        attribution: meta_content(META_TILE_ATTRIBUTION).unwrap_or_default(),
    };
    let link = address::initial();
    address::apply(&link, state);
    let view = match map_view::MapView::start(&element, &tiles, state, link.at).await {
        Ok(view) => view,
        Err(error) => {
            leptos::logging::error!("Leaflet could not start: {error:?}");
            return;
        }
    };
    address::sync(state, view.borrow().map());
    let map = view.borrow().map();
    let feeding = Rc::clone(&view);
    let request = live::subscribe(state.status, move |frame| {
        let mut view = feeding.borrow_mut();
        view.apply(frame);
        state.vehicle_count.set(view.len());
    });
    view_report::report(&map, state, request);
    let painted = view.borrow_mut().first_paint();
    let _ = futures::future::select(painted, gloo_timers::future::sleep(TILES_AT_THE_LATEST)).await;
    // Told from the paint's animation frame: not in the same task.
    yielding::yield_now().await;
    view.borrow().add_tiles(&tiles);
}

/// Updates `now_ms` once a second.
pub fn tick_clock(now_ms: RwSignal<i64>) {
    Effect::new(move |_| {
        now_ms.set(js_sys::Date::now() as i64);
        // The interval lives as long as the page; there is nothing to clear it for.
        let _ = set_interval_with_handle(
            move || now_ms.set(js_sys::Date::now() as i64),
            std::time::Duration::from_secs(1),
        );
    });
}

/// Calls `action` every `period` for the life of the page.
pub fn every(period: std::time::Duration, action: impl Fn() + 'static) {
    let mut action = Some(action);
    Effect::new(move |_| {
        if let Some(action) = action.take() {
            // Lives as long as the page, like `tick_clock`'s interval.
            let _ = set_interval_with_handle(action, period);
        }
    });
}

pub(crate) fn meta_content(name: &str) -> Option<String> {
    let document = web_sys::window()?.document()?;
    let element = document.query_selector(&format!("meta[name='{name}']")).ok()??;
    element.get_attribute("content").filter(|content| !content.is_empty())
}
