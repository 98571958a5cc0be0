//! The views run's clients: browsers zoomed in all over the city, as `/ws?view=` opens the
//! feed for them (`app::viewport`), in four groups of equal size.

use app::viewport::Bounds;

/// The groups, by index: what each client looks at.
pub const GROUPS: [&str; 4] =
    ["whole fleet", "city centre at zoom 15", "elsewhere at zoom 15", "elsewhere at zoom 13"];

/// A laptop's map (1440 × 900 CSS pixels) at zoom 15 and Helsinki's latitude, in degrees:
/// 2.39 m per pixel.
const ZOOM_15: (f64, f64) = (0.0193, 0.0619);
/// Helsinki's railway station.
const CENTRE: (f64, f64) = (60.1710, 24.9414);
/// Where "elsewhere" lies: HSL's densest area, from Espoo to Vuosaari.
const SOUTH_WEST: (f64, f64) = (60.15, 24.65);
const SPAN: (f64, f64) = (0.15, 0.50);

/// The `/ws` address and group of the `index`th client.
pub fn target(ws_url: &str, index: usize) -> (String, usize) {
    let group = index % GROUPS.len();
    let view = match group {
        0 => None,
        1 => Some(around(CENTRE, 1.0)),
        2 => Some(around(somewhere(index), 1.0)),
        _ => Some(around(somewhere(index), 4.0)),
    };
    match view {
        Some(bounds) => (format!("{ws_url}?view={bounds}"), group),
        None => (ws_url.to_owned(), group),
    }
}

/// A zoom-15 view (times `scale` on each side: 4 is zoom 13) centred on `at`.
fn around(at: (f64, f64), scale: f64) -> Bounds {
    let (half_lat, half_lon) = (ZOOM_15.0 * scale / 2.0, ZOOM_15.1 * scale / 2.0);
    Bounds::new(at.0 - half_lat, at.1 - half_lon, at.0 + half_lat, at.1 + half_lon)
        .expect("views around Helsinki are on the globe")
}

/// A place in the city, the same for the same index on every run.
fn somewhere(index: usize) -> (f64, f64) {
    let mut x = index as u64 ^ 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 10_000) as f64 / 10_000.0
    };
    (SOUTH_WEST.0 + SPAN.0 * next(), SOUTH_WEST.1 + SPAN.1 * next())
}
