//! The browser's picture of the fleet, without any drawing: where each vehicle is shown at a
//! given instant (gliding from where it was to where it was reported), how faded it is by
//! its age, and which vehicles lie under a click. Pure and unit-tested; `browser` draws it.
//!
//! Why glide and not jump: a vehicle reports about once a second, so a map that moves
//! markers on arrival shows every vehicle hopping. Each report starts a glide from the
//! position shown at that instant to the reported one, lasting [`GLIDE_MS`], the feed's
//! cadence; a late report leaves the vehicle resting at its last reported position, never
//! running ahead of the data (no extrapolation, so no drift).

use std::collections::HashMap;

use crate::model::{Marker, VehicleId};
use crate::wire::{Update, WireFrame};

/// How long a vehicle takes to glide to a newly reported position: HFP's cadence.
pub const GLIDE_MS: f64 = 1_000.0;
/// Beyond this jump (metres, roughly) a vehicle is placed, not glided: a glide across town
/// would draw a vehicle where it never was.
const MAX_GLIDE_M: f64 = 1_500.0;
/// A position this old (ms) is drawn at full strength; older ones fade.
const FRESH_MS: f64 = 15_000.0;
/// At this age the fading stops; the server removes the vehicle at its TTL (180 s).
const FADED_MS: f64 = 180_000.0;
/// How far back a vehicle's trail reaches (ms of event time), and its most points.
const TRAIL_MS: i64 = 180_000;
const TRAIL_POINTS: usize = 120;
/// Reports closer than this (metres) to the last trail point add nothing to the trail.
const TRAIL_STEP_M: f64 = 10.0;
/// The faintest a vehicle is drawn: still visible, clearly not current.
pub const FADED_ALPHA: f64 = 0.3;

/// One vehicle as the map shows it.
#[derive(Clone, Debug)]
pub struct Shown {
    pub marker: Marker,
    /// Where the glide started and when (ms, the caller's animation clock).
    from: (f64, f64),
    started_ms: f64,
    /// Reported positions of the last few minutes, oldest first: the trail drawn behind
    /// the selected vehicle.
    trail: std::collections::VecDeque<(f64, f64)>,
    /// Event times of the trail's points.
    trail_times: std::collections::VecDeque<i64>,
}

impl Shown {
    /// Latitude and longitude shown at `now_ms`.
    pub fn at(&self, now_ms: f64) -> (f64, f64) {
        let t = ((now_ms - self.started_ms) / GLIDE_MS).clamp(0.0, 1.0);
        let to = (self.marker.lat, self.marker.lon);
        (self.from.0 + (to.0 - self.from.0) * t, self.from.1 + (to.1 - self.from.1) * t)
    }

    /// Where the vehicle was reported over the last few minutes, oldest first.
    pub fn trail(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.trail.iter().copied()
    }

    fn extend_trail(&mut self) {
        let (at, time) = ((self.marker.lat, self.marker.lon), self.marker.timestamp_ms);
        if self.trail.back().is_none_or(|&last| metres_between(last, at) >= TRAIL_STEP_M) {
            self.trail.push_back(at);
            self.trail_times.push_back(time);
        } else if let Some(last) = self.trail_times.back_mut() {
            // Still there: a vehicle waiting at a stop keeps the stop on its trail.
            *last = time;
        }
        while self.trail.len() > TRAIL_POINTS
            || self.trail_times.front().is_some_and(|&t| time - t > TRAIL_MS)
        {
            self.trail.pop_front();
            self.trail_times.pop_front();
        }
    }

    /// Whether the vehicle is still on its way to its reported position at `now_ms`.
    pub fn gliding(&self, now_ms: f64) -> bool {
        now_ms - self.started_ms < GLIDE_MS && self.from != (self.marker.lat, self.marker.lon)
    }
}

/// Every vehicle the map shows, by id.
#[derive(Default)]
pub struct Fleet {
    vehicles: HashMap<VehicleId, Shown>,
}

impl Fleet {
    pub fn len(&self) -> usize {
        self.vehicles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vehicles.is_empty()
    }

    pub fn get(&self, id: &VehicleId) -> Option<&Shown> {
        self.vehicles.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Shown> {
        self.vehicles.values()
    }

    /// Applies a frame received at `now_ms`: a snapshot replaces the set (vehicles already
    /// shown glide on), a delta moves, adds and removes. Returns how many updates named a
    /// vehicle the fleet does not know without saying what it is; the server never sends
    /// one (see `wire`), so they are skipped and counted, not guessed at.
    pub fn apply(&mut self, frame: WireFrame, now_ms: f64) -> usize {
        match frame {
            WireFrame::Snapshot { vehicles, .. } => {
                let keep: std::collections::HashSet<VehicleId> =
                    vehicles.iter().map(|update| update.id).collect();
                self.vehicles.retain(|id, _| keep.contains(id));
                self.upsert_all(vehicles, now_ms)
            }
            WireFrame::Delta { upserts, removed, .. } => {
                let unknown = self.upsert_all(upserts, now_ms);
                for id in removed {
                    self.vehicles.remove(&id);
                }
                unknown
            }
            WireFrame::Status { .. } => 0,
        }
    }

    fn upsert_all(&mut self, updates: Vec<Update>, now_ms: f64) -> usize {
        updates.into_iter().map(|update| usize::from(!self.upsert(update, now_ms))).sum()
    }

    /// Whether the update was applied.
    fn upsert(&mut self, update: Update, now_ms: f64) -> bool {
        let to = (update.lat, update.lon);
        match self.vehicles.get_mut(&update.id) {
            Some(shown) => {
                let drawn = shown.at(now_ms);
                let jump = metres_between(drawn, to) > MAX_GLIDE_M;
                shown.from = if jump { to } else { drawn };
                if jump {
                    // A trail across the jump would draw a route the vehicle never took.
                    shown.trail.clear();
                    shown.trail_times.clear();
                }
                shown.started_ms = now_ms;
                update.apply_to(&mut shown.marker);
                shown.extend_trail();
                true
            }
            None => {
                let Some(marker) = update.into_marker() else { return false };
                let mut shown = Shown {
                    marker,
                    from: to,
                    started_ms: now_ms,
                    trail: Default::default(),
                    trail_times: Default::default(),
                };
                shown.extend_trail();
                self.vehicles.insert(shown.marker.id, shown);
                true
            }
        }
    }
}

/// Position updates per second over the last few seconds: the status's "updates/s".
#[derive(Default)]
pub struct Rate {
    /// (time ms, updates) per frame received within the window.
    samples: std::collections::VecDeque<(f64, usize)>,
}

impl Rate {
    const WINDOW_MS: f64 = 5_000.0;

    pub fn add(&mut self, now_ms: f64, updates: usize) {
        self.samples.push_back((now_ms, updates));
        while self.samples.front().is_some_and(|&(t, _)| now_ms - t >= Self::WINDOW_MS) {
            self.samples.pop_front();
        }
    }

    /// Updates per second over the window ending at `now_ms`. The oldest frame in the
    /// window marks where the measured span starts: the updates it carried arrived before.
    pub fn per_second(&self, now_ms: f64) -> f64 {
        let mut recent = self.samples.iter().filter(|&&(t, _)| now_ms - t < Self::WINDOW_MS);
        let Some(&(start, _)) = recent.next() else { return 0.0 };
        let total: usize = recent.map(|&(_, n)| n).sum();
        total as f64 * 1_000.0 / (now_ms - start).max(250.0)
    }
}

/// Opacity of a vehicle whose position is `age_ms` old: full while fresh, then fading
/// linearly to [`FADED_ALPHA`].
pub fn opacity(age_ms: f64) -> f64 {
    if age_ms <= FRESH_MS {
        return 1.0;
    }
    let t = ((age_ms - FRESH_MS) / (FADED_MS - FRESH_MS)).min(1.0);
    FADED_ALPHA + (1.0 - FADED_ALPHA) * (1.0 - t)
}

/// A vehicle where a frame places it on the canvas (CSS pixels): where a click finds it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    pub id: VehicleId,
    pub x: f64,
    pub y: f64,
}

/// The smallest move worth a repaint (CSS pixels): below it, a glide's next step does not
/// show, and zoomed out most steps of a glide are that small (a bus at 10 m/s crosses a
/// pixel every two seconds at zoom 12).
pub const MIN_STEP_PX: f64 = 0.4;

/// Whether vehicles laid out as `next` would look different from the painted `drawn`: one
/// came, went, or moved by [`MIN_STEP_PX`] or more. Both come from the same iteration over
/// the fleet, so an unchanged fleet lists them in the same order.
pub fn visibly_moved(drawn: &[Placed], next: &[Placed]) -> bool {
    drawn.len() != next.len()
        || drawn.iter().zip(next).any(|(a, b)| {
            a.id != b.id || (a.x - b.x).abs() >= MIN_STEP_PX || (a.y - b.y).abs() >= MIN_STEP_PX
        })
}

/// Vehicles drawn within `radius` pixels of `at`, nearest first.
pub fn under(placed: &[Placed], at: (f64, f64), radius: f64) -> Vec<VehicleId> {
    let mut hits: Vec<(f64, VehicleId)> = placed
        .iter()
        .map(|p| ((p.x - at.0).hypot(p.y - at.1), p.id))
        .filter(|&(distance, _)| distance <= radius)
        .collect();
    hits.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    hits.into_iter().map(|(_, id)| id).collect()
}

/// Web Mercator pixel coordinates of a position at `zoom` (Leaflet's EPSG:3857 with
/// 256-pixel tiles), so thousands of vehicles are placed without a call into Leaflet each.
pub fn project(lat: f64, lon: f64, zoom: f64) -> (f64, f64) {
    // Leaflet clamps to the same latitude, where the projection reaches infinity.
    const MAX_LAT: f64 = 85.051_128_779_8;
    let scale = 256.0 * zoom.exp2();
    let phi = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = scale * (lon / 360.0 + 0.5);
    let y = scale
        * (0.5 - (std::f64::consts::FRAC_PI_4 + phi / 2.0).tan().ln() / std::f64::consts::TAU);
    (x, y)
}

/// Roughly the distance in metres between two positions: plenty for "is this a jump".
fn metres_between(a: (f64, f64), b: (f64, f64)) -> f64 {
    const METRES_PER_DEGREE: f64 = 111_320.0;
    let dy = (a.0 - b.0) * METRES_PER_DEGREE;
    let dx = (a.1 - b.1) * METRES_PER_DEGREE * a.0.to_radians().cos();
    dx.hypot(dy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TransportMode;

    fn marker(number: u32, lat: f64, lon: f64) -> Marker {
        Marker {
            id: VehicleId::new(22, number).expect("fits"),
            lat,
            lon,
            mode: TransportMode::Bus,
            line: Some("550".into()),
            headsign: None,
            heading: Some(90),
            delay_s: None,
            timestamp_ms: 0,
        }
    }

    fn delta(upserts: Vec<Marker>) -> WireFrame {
        WireFrame::Delta {
            seq: 1,
            upserts: upserts.iter().map(Update::from).collect(),
            removed: vec![],
        }
    }

    #[test]
    fn a_new_vehicle_appears_where_it_was_reported() {
        let mut fleet = Fleet::default();
        fleet.apply(delta(vec![marker(1, 60.17, 24.94)]), 0.0);
        let shown = fleet.get(&VehicleId::new(22, 1).expect("fits")).expect("shown");
        assert_eq!(shown.at(0.0), (60.17, 24.94));
        assert!(!shown.gliding(0.0));
    }

    #[test]
    fn a_moved_vehicle_glides_there_over_one_second_and_then_rests() {
        let mut fleet = Fleet::default();
        fleet.apply(delta(vec![marker(1, 60.170, 24.940)]), 0.0);
        fleet.apply(delta(vec![marker(1, 60.171, 24.942)]), 5_000.0);
        let shown = fleet.get(&VehicleId::new(22, 1).expect("fits")).expect("shown");
        assert_eq!(shown.at(5_000.0), (60.170, 24.940));
        let (lat, lon) = shown.at(5_500.0);
        assert!((lat - 60.1705).abs() < 1e-9 && (lon - 24.941).abs() < 1e-9, "{lat},{lon}");
        assert!(shown.gliding(5_500.0));
        // A late report: the vehicle waits at its reported position, it does not run on.
        assert_eq!(shown.at(9_000.0), (60.171, 24.942));
        assert!(!shown.gliding(9_000.0));
    }

    #[test]
    fn a_report_during_a_glide_continues_from_where_the_vehicle_is_drawn() {
        let mut fleet = Fleet::default();
        fleet.apply(delta(vec![marker(1, 60.170, 24.940)]), 0.0);
        fleet.apply(delta(vec![marker(1, 60.172, 24.940)]), 1_000.0);
        fleet.apply(delta(vec![marker(1, 60.174, 24.940)]), 1_500.0);
        let shown = fleet.get(&VehicleId::new(22, 1).expect("fits")).expect("shown");
        let (lat, _) = shown.at(1_500.0);
        assert!((lat - 60.171).abs() < 1e-9, "no jump back or forward: {lat}");
    }

    #[test]
    fn a_jump_across_town_is_placed_not_glided() {
        let mut fleet = Fleet::default();
        fleet.apply(delta(vec![marker(1, 60.17, 24.94)]), 0.0);
        fleet.apply(delta(vec![marker(1, 60.25, 25.10)]), 1_000.0);
        let shown = fleet.get(&VehicleId::new(22, 1).expect("fits")).expect("shown");
        assert_eq!(shown.at(1_000.0), (60.25, 25.10));
    }

    /// The trail after reports at `seconds`, each `step_m` metres north of the last
    /// when `moving(second)`.
    fn trail_after(seconds: std::ops::Range<i64>, moving: impl Fn(i64) -> bool) -> Vec<(f64, f64)> {
        const STEP_DEGREES: f64 = 50.0 / 111_320.0;
        let mut fleet = Fleet::default();
        let mut lat = 60.17;
        for second in seconds {
            if moving(second) {
                lat += STEP_DEGREES;
            }
            let mut m = marker(1, lat, 24.94);
            m.timestamp_ms = second * 1_000;
            fleet.apply(delta(vec![m]), second as f64 * 1_000.0);
        }
        fleet.get(&VehicleId::new(22, 1).expect("fits")).expect("shown").trail().collect()
    }

    #[test]
    fn a_stop_is_one_trail_point_that_lasts_as_long_as_the_vehicle_waits() {
        let trail = trail_after(0..300, |second| second >= 200);
        assert_eq!(trail.len(), 1 + 100);
        assert_eq!(trail[0], (60.17, 24.94));
        assert!(trail.windows(2).all(|w| w[1].0 > w[0].0), "oldest first");
    }

    #[test]
    fn the_trail_keeps_three_minutes_and_at_most_its_point_budget() {
        assert_eq!(trail_after(0..300, |_| true).len(), TRAIL_POINTS);
        // A move every 3 s: 100 points over 300 s, of which the last 180 s are kept.
        assert_eq!(trail_after(0..300, |second| second % 3 == 0).len(), 61);
    }

    #[test]
    fn a_snapshot_removes_vehicles_it_does_not_list_and_keeps_the_others_gliding() {
        let mut fleet = Fleet::default();
        fleet.apply(delta(vec![marker(1, 60.170, 24.94), marker(2, 60.2, 24.9)]), 0.0);
        let vehicles = vec![Update::from(&marker(1, 60.171, 24.94))];
        let snapshot = WireFrame::Snapshot { seq: 9, vehicles };
        fleet.apply(snapshot, 2_000.0);
        assert_eq!(fleet.len(), 1);
        let shown = fleet.get(&VehicleId::new(22, 1).expect("fits")).expect("kept");
        assert!(shown.gliding(2_100.0));
    }

    #[test]
    fn an_update_that_does_not_say_what_an_unknown_vehicle_is_is_skipped_and_counted() {
        let mut fleet = Fleet::default();
        let mut bare = Update::from(&marker(1, 60.17, 24.94));
        bare.about = None;
        let frame = WireFrame::Delta { seq: 1, upserts: vec![bare.clone()], removed: vec![] };
        assert_eq!(fleet.apply(frame, 0.0), 1);
        assert!(fleet.is_empty());
        // Once the vehicle is known, the same update moves it and keeps its line.
        fleet.apply(delta(vec![marker(1, 60.10, 24.90)]), 0.0);
        let frame = WireFrame::Delta { seq: 2, upserts: vec![bare], removed: vec![] };
        assert_eq!(fleet.apply(frame, 5_000.0), 0);
        let shown = fleet.get(&VehicleId::new(22, 1).expect("fits")).expect("shown");
        assert_eq!((shown.marker.lat, shown.marker.line.as_deref()), (60.17, Some("550")));
    }

    #[test]
    fn removed_vehicles_leave_the_map() {
        let mut fleet = Fleet::default();
        fleet.apply(delta(vec![marker(1, 60.17, 24.94)]), 0.0);
        let id = VehicleId::new(22, 1).expect("fits");
        fleet.apply(WireFrame::Delta { seq: 2, upserts: vec![], removed: vec![id] }, 10.0);
        assert!(fleet.is_empty());
    }

    #[test]
    fn the_update_rate_is_averaged_over_the_last_five_seconds() {
        let mut rate = Rate::default();
        assert_eq!(rate.per_second(0.0), 0.0);
        for second in 0..10 {
            for quarter in 0..4 {
                rate.add(f64::from(second * 1_000 + quarter * 250), 25);
            }
        }
        // 100 updates a second, steadily.
        assert_eq!(rate.per_second(9_750.0), 100.0);
        // The feed stops: the rate falls to zero within the window.
        assert_eq!(rate.per_second(16_000.0), 0.0);
    }

    #[test]
    fn vehicles_fade_with_the_age_of_their_position_but_stay_visible() {
        assert_eq!(opacity(0.0), 1.0);
        assert_eq!(opacity(FRESH_MS), 1.0);
        let midway = opacity((FRESH_MS + FADED_MS) / 2.0);
        assert!(midway < 1.0 && midway > FADED_ALPHA, "{midway}");
        assert_eq!(opacity(FADED_MS), FADED_ALPHA);
        assert_eq!(opacity(10.0 * FADED_MS), FADED_ALPHA);
    }

    #[test]
    fn a_click_finds_the_nearest_vehicle_first_and_lists_the_others_under_it() {
        let id = |n| VehicleId::new(22, n).expect("fits");
        let at = |n, x, y| Placed { id: id(n), x, y };
        let points = [at(1, 100.0, 100.0), at(2, 104.0, 100.0), at(3, 200.0, 200.0)];
        assert_eq!(under(&points, (103.0, 100.0), 12.0), vec![id(2), id(1)]);
        assert!(under(&points, (150.0, 150.0), 12.0).is_empty());
    }

    #[test]
    fn only_a_visible_step_or_a_vehicle_coming_or_going_asks_for_a_repaint() {
        let at = |number: u32, x: f64, y: f64| Placed { id: marker(number, 0.0, 0.0).id, x, y };
        let drawn = [at(1, 10.0, 10.0), at(2, 50.0, 50.0)];
        assert!(!visibly_moved(&drawn, &drawn));
        assert!(!visibly_moved(&drawn, &[at(1, 10.3, 9.7), at(2, 50.0, 50.39)]));
        assert!(visibly_moved(&drawn, &[at(1, 10.0, 10.0), at(2, 50.0, 50.5)]));
        assert!(visibly_moved(&drawn, &[at(1, 9.5, 10.0), at(2, 50.0, 50.0)]));
        assert!(visibly_moved(&drawn, &drawn[..1]));
        assert!(visibly_moved(&drawn, &[at(1, 10.0, 10.0), at(3, 50.0, 50.0)]));
    }

    #[test]
    fn the_projection_puts_the_world_on_one_256_pixel_tile_at_zoom_0() {
        // Anchors of EPSG:3857 as Leaflet uses it; the browser tests check our placement
        // against Leaflet's own `latLngToContainerPoint`.
        assert_eq!(project(0.0, 0.0, 0.0), (128.0, 128.0));
        let (east, _) = project(0.0, 180.0, 0.0);
        assert_eq!(east, 256.0);
        let (_, top) = project(85.051_128_779_8, 0.0, 0.0);
        assert!(top.abs() < 1e-6, "{top}");
        let (x, y) = project(60.17, 24.94, 12.0);
        let (x1, y1) = project(60.17, 24.94, 13.0);
        assert_eq!((x1, y1), (2.0 * x, 2.0 * y), "each zoom level doubles the scale");
    }
}
