//! Following a vehicle: the map glides with it, keeping it centred in the part of the map
//! the vehicle panel leaves uncovered.

use leaflet::Map;

use super::vehicle_canvas::View;
use crate::fleet;

/// Centres a followed vehicle, drawn at `(lat, lon)` now, in the part of the map the panel
/// leaves uncovered. Programmatic moves are not drags: only the rider's own drag stops a
/// follow.
pub fn keep_in_view(map: &Map, view: &View, (lat, lon): (f64, f64)) {
    let (x, y) = fleet::project(lat, lon, view.zoom);
    let at = (x - view.origin.0, y - view.origin.1);
    let target = (view.width / 2.0, uncovered_height(view.height) / 2.0);
    let (dx, dy) = (at.0 - target.0, at.1 - target.1);
    if dx.hypot(dy) > 0.5 {
        let centre = leaflet::Point::new(view.width / 2.0 + dx, view.height / 2.0 + dy);
        let centre = map.container_point_to_lat_lng(&centre);
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"animate".into(), &false.into());
        map.set_view_with_options(&centre, view.zoom, &options);
    }
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
