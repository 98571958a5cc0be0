//! Tells the server which part of the map is shown (`crate::viewport`), so a zoomed-in
//! page is sent only the vehicles around it: when the map comes to rest (debounced), and
//! only when that changes the cells it is sent ([`ViewRequest::set`]).
//!
//! A search, a hidden mode or a selected vehicle asks for the whole fleet instead: they are
//! about vehicles that may be out of sight (a line's buses across town, the vehicle the
//! panel follows).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use gloo_timers::callback::Timeout;
use leaflet::Map;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use super::live::ViewRequest;
use crate::components::MapState;
use crate::viewport::{self, Bounds};
use crate::wire::client::ClientMessage;

/// How long the map must rest before its view is told: a flick of the scroll wheel zooms
/// several steps, and only where it stops matters.
const SETTLE: Duration = Duration::from_millis(200);

/// Keeps the server told of the view for the life of the page.
pub fn report(map: &Map, state: MapState, request: ViewRequest) {
    let tell = {
        let map = map.clone();
        move || {
            let message = wanted(&map, state);
            state.partial.set(matches!(message, ClientMessage::View(_)));
            request.set(message);
        }
    };
    // Before the socket first opens, so it opens in this view.
    tell();
    // Whenever search or selection change.
    let now = tell.clone();
    Effect::new(move |_| {
        state.filter.track();
        state.selected.track();
        now();
    });
    let pending: Rc<RefCell<Option<Timeout>>> = Rc::default();
    let moved = Closure::<dyn Fn()>::new(move || {
        let tell = tell.clone();
        // Replacing the timeout drops, and so cancels, the previous one.
        pending.replace(Some(Timeout::new(SETTLE.as_millis() as u32, tell)));
    });
    map.unchecked_ref::<leaflet::Evented>().on("moveend", moved.as_ref());
    // Lives as long as the map, which lives as long as the page.
    moved.forget();
}

/// What the page should be sent now.
fn wanted(map: &Map, state: MapState) -> ClientMessage {
    let needs_all = state.filter.with_untracked(|filter| filter.is_active())
        || state.selected.with_untracked(Option::is_some);
    if needs_all {
        return ClientMessage::Everything;
    }
    let bounds = map.get_bounds();
    let (south_west, north_east) = (bounds.get_south_west(), bounds.get_north_east());
    match Bounds::clamped(south_west.lat(), south_west.lng(), north_east.lat(), north_east.lng()) {
        Some(bounds) if viewport::cells(&bounds).is_some() => ClientMessage::View(bounds),
        _ => ClientMessage::Everything,
    }
}
