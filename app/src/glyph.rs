//! The shape of each mode's vehicle, used by the canvas that draws the fleet and by the
//! legend (as SVG), so the two cannot disagree. Colour is never the only cue: a
//! colour-blind rider tells a tram (square) from a bus (circle) by its outline.

use std::f64::consts::{PI, TAU};
use std::fmt::Write;

use crate::model::TransportMode;

/// A mode's outline around the origin, for a vehicle of radius `r`.
#[derive(Clone, Debug, PartialEq)]
pub enum Outline {
    Circle(f64),
    Polygon(Vec<(f64, f64)>),
}

impl Outline {
    pub fn of(mode: TransportMode, r: f64) -> Self {
        match mode {
            TransportMode::Tram => {
                let h = r * 0.9;
                Self::Polygon(vec![(-h, -h), (h, -h), (h, h), (-h, h)])
            }
            // Large enough that "M2" fits inside.
            TransportMode::Metro => Self::Polygon(regular(4, reach(mode) * r, 0.0)),
            TransportMode::Train => Self::Polygon(regular(6, reach(mode) * r, PI / 6.0)),
            // A boat's hull: wide deck, narrow keel.
            TransportMode::Ferry => Self::Polygon(vec![
                (-r * 1.3, -r * 0.8),
                (r * 1.3, -r * 0.8),
                (r * 0.8, r * 0.9),
                (-r * 0.8, r * 0.9),
            ]),
            TransportMode::Bus
            | TransportMode::Ubus
            | TransportMode::Robot
            | TransportMode::Other => Self::Circle(r),
        }
    }

    /// The outline as an SVG path centred on the origin.
    pub fn svg_path(&self) -> String {
        match self {
            Self::Circle(r) => format!("M{r},0A{r},{r} 0 1,1 {},0A{r},{r} 0 1,1 {r},0Z", -r),
            Self::Polygon(points) => {
                let mut path = String::new();
                for (i, (x, y)) in points.iter().enumerate() {
                    let _ = write!(path, "{}{x:.2},{y:.2}", if i == 0 { 'M' } else { 'L' });
                }
                path.push('Z');
                path
            }
        }
    }
}

/// How far a mode's outline reaches from its centre, in radii: where its heading wedge
/// has to reach past.
pub fn reach(mode: TransportMode) -> f64 {
    match mode {
        TransportMode::Metro => 1.45,
        TransportMode::Ferry => 1.3,
        TransportMode::Tram | TransportMode::Train => 1.15,
        TransportMode::Bus | TransportMode::Ubus | TransportMode::Robot | TransportMode::Other => {
            1.0
        }
    }
}

/// Corners of a regular polygon with its first corner straight up, turned by `turn`.
fn regular(corners: u32, r: f64, turn: f64) -> Vec<(f64, f64)> {
    (0..corners)
        .map(|i| {
            let angle = turn + TAU * f64::from(i) / f64::from(corners);
            (r * angle.sin(), -r * angle.cos())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_listed_mode_has_a_distinct_outline() {
        let modes = [
            TransportMode::Bus,
            TransportMode::Tram,
            TransportMode::Metro,
            TransportMode::Train,
            TransportMode::Ferry,
        ];
        let paths: std::collections::HashSet<String> =
            modes.iter().map(|&mode| Outline::of(mode, 10.0).svg_path()).collect();
        assert_eq!(paths.len(), modes.len());
    }

    #[test]
    fn every_outline_stays_within_its_reach() {
        for mode in
            [TransportMode::Tram, TransportMode::Metro, TransportMode::Train, TransportMode::Ferry]
        {
            let Outline::Polygon(points) = Outline::of(mode, 10.0) else { panic!("a polygon") };
            for (x, y) in points {
                assert!(x.hypot(y) <= reach(mode) * 10.0 * 1.2 + 1e-9, "{mode:?} {x},{y}");
            }
        }
    }

    #[test]
    fn a_polygon_becomes_a_closed_svg_path() {
        let path = Outline::of(TransportMode::Tram, 10.0).svg_path();
        assert_eq!(path, "M-9.00,-9.00L9.00,-9.00L9.00,9.00L-9.00,9.00Z");
    }
}
