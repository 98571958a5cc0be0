//! The address bar and the keyboard's page-wide keys.
//!
//! The URL holds the view ([`Link`]): the page opens the view its URL names, a change of
//! selected vehicle adds a history entry (so back returns to the previous vehicle), other
//! changes (search, modes, colouring, following, moving the map) replace the current entry,
//! and back and forward re-open the view they name. Escape closes the vehicle panel.

use std::cell::Cell;
use std::rc::Rc;

use leaflet::{LatLng, Map};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use crate::components::MapState;
use crate::link::Link;
use crate::model::VehicleId;

/// The view the page's URL names.
pub fn initial() -> Link {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    Link::parse(&search)
}

/// Sets the page's state to what `link` says (the map's position is the caller's).
pub fn apply(link: &Link, state: MapState) {
    state.selected.set(link.selected);
    state.filter.set(link.filter.clone());
    state.colour_by.set(link.colour_by);
    state.following.set(link.follow);
    state.follow_lost.set(false);
}

/// Keeps the URL in step with the view, and the view with back and forward.
pub fn sync(state: MapState, map: Map) {
    let Some(window) = web_sys::window() else { return };
    let last_selected = Rc::new(Cell::new(state.selected.get_untracked()));

    let write = {
        let (map, last_selected) = (map.clone(), Rc::clone(&last_selected));
        move |selected: Option<VehicleId>| {
            let link = Link {
                selected,
                filter: state.filter.get_untracked(),
                colour_by: state.colour_by.get_untracked(),
                at: Some(centre(&map)),
                follow: state.following.get_untracked(),
            };
            record(&link, last_selected.replace(selected) != selected);
        }
    };
    let on_change = write.clone();
    Effect::new(move |_| {
        // Tracked: what the rider changes. The map's position is read when this runs.
        let selected = state.selected.get();
        state.filter.track();
        state.colour_by.track();
        state.following.track();
        on_change(selected);
    });
    let moved = Closure::<dyn Fn()>::new(move || {
        // Following moves the map every frame; the link says `follow` instead, and writing
        // the address sixty times a second would make the browser throttle the page.
        if !state.following.get_untracked() {
            write(state.selected.get_untracked());
        }
    });
    map.unchecked_ref::<leaflet::Evented>().on("moveend", moved.as_ref());
    // These listeners live as long as the page.
    moved.forget();

    let popped = Closure::<dyn Fn()>::new(move || {
        let link = initial();
        last_selected.set(link.selected);
        apply(&link, state);
        if let Some((lat, lon, zoom)) = link.at {
            map.set_view(&LatLng::new(lat, lon), zoom);
        }
    });
    let _ = window.add_event_listener_with_callback("popstate", popped.as_ref().unchecked_ref());
    popped.forget();

    let keys =
        Closure::<dyn Fn(web_sys::KeyboardEvent)>::new(move |event: web_sys::KeyboardEvent| {
            if event.key() == "Escape" && state.selected.get_untracked().is_some() {
                state.select(None);
            }
        });
    let _ = window.add_event_listener_with_callback("keydown", keys.as_ref().unchecked_ref());
    keys.forget();
}

/// Writes `link` to the address bar: a new history entry when the selection changed,
/// otherwise in place. Nothing when the URL already says it (as after back or forward).
fn record(link: &Link, new_entry: bool) {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    let query = link.to_query();
    if location.search().ok().as_deref() == Some(query.as_str()) {
        return;
    }
    let path = location.pathname().unwrap_or_else(|_| "/".to_owned());
    let url = format!("{path}{query}");
    let Ok(history) = window.history() else { return };
    let _ = if new_entry {
        history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url))
    } else {
        history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url))
    };
}

fn centre(map: &Map) -> (f64, f64, f64) {
    let centre = map.get_center();
    (centre.lat(), centre.lng(), map.get_zoom())
}
