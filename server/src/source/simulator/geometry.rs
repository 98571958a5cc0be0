//! Flat-earth geometry, plenty for distances and bearings within one city.

/// Metres between two points; equirectangular, plenty for city distances.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let mean_lat = ((a.0 + b.0) / 2.0).to_radians();
    let dx = (b.1 - a.1).to_radians() * mean_lat.cos() * 6_371_000.0;
    let dy = (b.0 - a.0).to_radians() * 6_371_000.0;
    dx.hypot(dy)
}

/// Compass bearing from `a` to `b`, degrees clockwise from north.
pub fn bearing_deg(a: (f64, f64), b: (f64, f64)) -> f64 {
    let mean_lat = ((a.0 + b.0) / 2.0).to_radians();
    let dx = (b.1 - a.1) * mean_lat.cos();
    let dy = b.0 - a.0;
    dx.atan2(dy).to_degrees().rem_euclid(360.0)
}
