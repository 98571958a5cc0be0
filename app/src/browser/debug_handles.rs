//! Read-only handles on the map for people debugging in the console and for the browser
//! tests (`end2end/tests/vehicles.ts`).

use std::cell::RefCell;
use std::rc::Rc;

use leaflet::Map;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::Closure;

use super::frame_clock;
use super::map_view::MapView;

/// Read-only handles for people debugging in the console and for the browser tests:
/// `transitMap` (the Leaflet map) and `transitVehicles()` (every vehicle with the position
/// it is drawn at now and its point on the map's container).
pub fn expose(map: &Map, view: &Rc<RefCell<MapView>>) {
    let Some(window) = web_sys::window() else { return };
    let _ = js_sys::Reflect::set(&window, &JsValue::from_str("transitMap"), map);
    let view = Rc::downgrade(view);
    let list = Closure::<dyn Fn() -> JsValue>::new(move || {
        let all = js_sys::Array::new();
        let Some(view) = view.upgrade() else { return all.into() };
        let Ok(view) = view.try_borrow() else { return all.into() };
        let (now, placement) = (frame_clock::now(), view.view());
        for shown in view.fleet().iter() {
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
