//! Viewport subscriptions: the part of the map a browser is shown, as the server's grid of
//! cells sees it.
//!
//! A browser zoomed into a neighbourhood needs the few dozen vehicles around it, not the
//! whole fleet four times a second. It tells the server its map bounds
//! (`wire::client`); the server widens them by a margin, so a short pan finds vehicles
//! already there, and rounds them out to whole [`Cell`]s. Rounding to cells is what lets
//! the server decide per vehicle with two integer comparisons, and lets clients looking at
//! the same area share one encoded frame. A view wider than [`MAX_VIEW_LAT`] by
//! [`MAX_VIEW_LON`] degrees is the whole fleet: zooming out gets everything.
//!
//! Both sides use [`cells`], so the browser knows when a move changes what it is sent
//! and says nothing otherwise.

/// A cell's height and width in degrees: about 1.1 km by 1.1 km at Helsinki's latitude.
pub const CELL_LAT: f64 = 0.01;
pub const CELL_LON: f64 = 0.02;
/// Views (margin included) taller or wider than this get the whole fleet: at that size
/// most of HSL's area is in view anyway, and the shared frame costs the server nothing.
pub const MAX_VIEW_LAT: f64 = 0.3;
pub const MAX_VIEW_LON: f64 = 0.6;
/// How far beyond each edge of the view vehicles are still sent, as a share of the view's
/// height or width.
pub const MARGIN: f64 = 0.25;

/// One cell of the grid: row and column counted from the equator and the prime meridian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    pub row: i32,
    pub col: i32,
}

impl Cell {
    /// The cell a point lies in. Points come from checked coordinates (the globe), so
    /// the casts cannot saturate.
    pub fn of(lat: f64, lon: f64) -> Self {
        Self { row: (lat / CELL_LAT).floor() as i32, col: (lon / CELL_LON).floor() as i32 }
    }
}

/// A rectangle of whole cells, edges included: a view, or the cells a vehicle passed
/// through between two deltas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CellRect {
    pub south: i32,
    pub west: i32,
    pub north: i32,
    pub east: i32,
}

impl CellRect {
    /// The rectangle of one cell.
    pub fn cell(cell: Cell) -> Self {
        Self { south: cell.row, west: cell.col, north: cell.row, east: cell.col }
    }

    /// Grows the rectangle to take in `cell`.
    pub fn extend(&mut self, cell: Cell) {
        self.south = self.south.min(cell.row);
        self.north = self.north.max(cell.row);
        self.west = self.west.min(cell.col);
        self.east = self.east.max(cell.col);
    }

    pub fn contains(&self, cell: Cell) -> bool {
        (self.south..=self.north).contains(&cell.row) && (self.west..=self.east).contains(&cell.col)
    }

    /// Whether every cell of `other` is in this rectangle.
    pub fn contains_rect(&self, other: &CellRect) -> bool {
        self.south <= other.south
            && other.north <= self.north
            && self.west <= other.west
            && other.east <= self.east
    }

    /// Whether the two rectangles share a cell.
    pub fn intersects(&self, other: &CellRect) -> bool {
        self.south <= other.north
            && other.south <= self.north
            && self.west <= other.east
            && other.west <= self.east
    }
}

/// A map's visible area in degrees, checked: finite, on the globe, south of north and
/// west of east.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    south: f64,
    west: f64,
    north: f64,
    east: f64,
}

impl Bounds {
    /// `None` when the four numbers are not a rectangle on the globe.
    pub fn new(south: f64, west: f64, north: f64, east: f64) -> Option<Self> {
        let lat = -90.0..=90.0;
        let lon = -180.0..=180.0;
        let valid = lat.contains(&south)
            && lat.contains(&north)
            && lon.contains(&west)
            && lon.contains(&east)
            && south <= north
            && west <= east;
        valid.then_some(Self { south, west, north, east })
    }

    /// A map's bounds as Leaflet reports them, brought onto the globe: Leaflet's
    /// longitudes run past ±180 when the world repeats, and its latitudes past ±85 are
    /// clamped by the projection anyway.
    pub fn clamped(south: f64, west: f64, north: f64, east: f64) -> Option<Self> {
        let lat = |value: f64| value.clamp(-90.0, 90.0);
        let lon = |value: f64| value.clamp(-180.0, 180.0);
        Self::new(lat(south), lon(west), lat(north), lon(east))
    }

    pub fn south(&self) -> f64 {
        self.south
    }

    pub fn west(&self) -> f64 {
        self.west
    }

    pub fn north(&self) -> f64 {
        self.north
    }

    pub fn east(&self) -> f64 {
        self.east
    }
}

/// Why text is not a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "a view is south,west,north,east in degrees, on the globe, south below north and west of east"
)]
pub struct BoundsError;

impl std::str::FromStr for Bounds {
    type Err = BoundsError;

    /// `south,west,north,east` in degrees: how a page names its view in `/ws?view=`.
    fn from_str(text: &str) -> Result<Self, BoundsError> {
        let mut numbers = text.split(',').map(|part| part.trim().parse::<f64>());
        let mut next = || numbers.next().and_then(Result::ok).ok_or(BoundsError);
        let (south, west, north, east) = (next()?, next()?, next()?, next()?);
        if numbers.next().is_some() {
            return Err(BoundsError);
        }
        Self::new(south, west, north, east).ok_or(BoundsError)
    }
}

impl std::fmt::Display for Bounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{},{}", self.south, self.west, self.north, self.east)
    }
}

/// The cells a client looking at `bounds` is sent (the view and its margin), or `None`
/// for the whole fleet.
pub fn cells(bounds: &Bounds) -> Option<CellRect> {
    let lat_margin = (bounds.north - bounds.south) * MARGIN;
    let lon_margin = (bounds.east - bounds.west) * MARGIN;
    let (south, north) = (bounds.south - lat_margin, bounds.north + lat_margin);
    let (west, east) = (bounds.west - lon_margin, bounds.east + lon_margin);
    if north - south > MAX_VIEW_LAT || east - west > MAX_VIEW_LON {
        return None;
    }
    let (low, high) = (Cell::of(south, west), Cell::of(north, east));
    Some(CellRect { south: low.row, west: low.col, north: high.row, east: high.col })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Helsinki's railway station, and a view around it at about zoom 15 on a laptop.
    const STATION: (f64, f64) = (60.1710, 24.9414);

    fn zoom_15_view() -> Bounds {
        Bounds::new(60.160, 24.900, 60.182, 24.982).expect("a valid view")
    }

    #[test]
    fn a_point_lies_in_the_cell_its_coordinates_round_down_to() {
        assert_eq!(Cell::of(STATION.0, STATION.1), Cell { row: 6017, col: 1247 });
        assert_eq!(Cell::of(-0.001, -0.001), Cell { row: -1, col: -1 });
    }

    #[test]
    fn a_zoomed_in_view_is_widened_by_its_margin_and_rounded_out_to_cells() {
        let rect = cells(&zoom_15_view()).expect("a neighbourhood, not the fleet");
        // 60.1545..60.1875 and 24.8795..25.0025 degrees, rounded out.
        assert_eq!(rect, CellRect { south: 6015, west: 1243, north: 6018, east: 1250 });
        assert!(rect.contains(Cell::of(STATION.0, STATION.1)));
        assert!(!rect.contains(Cell::of(60.2055, 24.6559)), "Espoo is out of view");
    }

    #[test]
    fn a_wide_view_gets_the_whole_fleet() {
        let city = Bounds::new(60.05, 24.5, 60.35, 25.3).expect("a valid view");
        assert_eq!(cells(&city), None);
        let tall = Bounds::new(60.0, 24.9, 60.3, 24.95).expect("a valid view");
        assert_eq!(cells(&tall), None, "too tall counts as wide");
    }

    #[test]
    fn bounds_that_are_not_a_rectangle_on_the_globe_are_refused() {
        assert!(Bounds::new(60.2, 24.9, 60.1, 25.0).is_none(), "south above north");
        assert!(Bounds::new(60.1, 25.0, 60.2, 24.9).is_none(), "west beyond east");
        assert!(Bounds::new(60.1, 24.9, 91.0, 25.0).is_none());
        assert!(Bounds::new(f64::NAN, 24.9, 60.2, 25.0).is_none());
        assert!(Bounds::new(60.1, -181.0, 60.2, 25.0).is_none());
        let wrapped = Bounds::clamped(-95.0, -540.0, 95.0, 540.0).expect("clamped onto the globe");
        assert_eq!(cells(&wrapped), None);
    }

    #[test]
    fn a_view_reads_back_from_its_text_and_anything_else_is_an_error() {
        let view = zoom_15_view();
        assert_eq!(view.to_string().parse::<Bounds>(), Ok(view));
        for bad in
            ["", "60.16,24.9,60.18", "60.16,24.9,60.18,24.98,1", "a,b,c,d", "60.2,24.9,60.1,25"]
        {
            assert_eq!(bad.parse::<Bounds>(), Err(BoundsError), "{bad:?}");
        }
    }

    #[test]
    fn rectangles_contain_and_meet_as_cells_do() {
        let mut trail = CellRect::cell(Cell { row: 10, col: 10 });
        trail.extend(Cell { row: 12, col: 9 });
        assert_eq!(trail, CellRect { south: 10, west: 9, north: 12, east: 10 });
        let view = CellRect { south: 11, west: 10, north: 20, east: 20 };
        assert!(view.intersects(&trail) && trail.intersects(&view));
        assert!(!view.contains_rect(&trail));
        assert!(view.contains_rect(&CellRect::cell(Cell { row: 11, col: 10 })));
        let apart = CellRect { south: 13, west: 0, north: 14, east: 8 };
        assert!(!apart.intersects(&trail) && !trail.intersects(&apart));
    }
}
