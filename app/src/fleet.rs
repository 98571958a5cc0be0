//! The browser's picture of the fleet, without any drawing: where each vehicle is shown at a
//! given instant (gliding from where it was to where it was reported), how faded it is by
//! its age, and which vehicles lie under a click. Pure and unit-tested; `browser` draws it.
//!
//! Why glide and not jump: a vehicle reports about once a second, so a map that moves
//! markers on arrival shows every vehicle hopping. Each report starts a glide from the
//! position shown at that instant to the reported one, lasting [`GLIDE_MS`], the feed's
//! cadence; a late report leaves the vehicle resting at its last reported position, never
//! running ahead of the data (no extrapolation, so no drift).

use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};

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
/// Ages shown by fading change slowly: repainting a still map once a second shows them.
pub const AGES_REPAINT_MS: f64 = 1_000.0;

/// One vehicle as the map shows it.
#[derive(Clone, Debug)]
pub struct Shown {
    pub marker: Marker,
    /// Where the glide started and when (ms, the caller's animation clock).
    from: (f64, f64),
    started_ms: f64,
    /// The glide's ends projected at zoom 0 ([`project`]): the map lays the fleet out on
    /// every frame it may paint, and scaling these is plain arithmetic, where projecting
    /// each vehicle's position took a tangent and a logarithm.
    from_px: (f64, f64),
    to_px: (f64, f64),
    /// Reported positions of the last few minutes, oldest first: the trail drawn behind
    /// the selected vehicle.
    trail: VecDeque<(f64, f64)>,
    /// Event times of the trail's points.
    trail_times: VecDeque<i64>,
}

impl Shown {
    /// Latitude and longitude shown at `now_ms`.
    pub fn at(&self, now_ms: f64) -> (f64, f64) {
        lerp(self.from, (self.marker.lat, self.marker.lon), self.progress(now_ms))
    }

    /// Where the vehicle is drawn at `now_ms`: projected pixels at zoom 0, to be scaled by
    /// 2^zoom. The glide runs straight in the projection, not in latitude: for a second's
    /// travel (under 50 m) that is within a thousandth of a pixel of projecting
    /// [`Self::at`] even at zoom 19, and for the longest glide (1.5 km) within a pixel.
    pub fn projected_at(&self, now_ms: f64) -> (f64, f64) {
        lerp(self.from_px, self.to_px, self.progress(now_ms))
    }

    /// How far along its glide the vehicle is at `now_ms`, from 0 to 1.
    fn progress(&self, now_ms: f64) -> f64 {
        ((now_ms - self.started_ms) / GLIDE_MS).clamp(0.0, 1.0)
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
    /// Fx, not the standard SipHash: every paint looks up each vehicle in view, and in a
    /// fresh page's first paint (its code not yet optimised) SipHash was up to a tenth of
    /// the frame. The keys are the server's vehicle ids, not text anyone could choose to
    /// make collide.
    vehicles: FxHashMap<VehicleId, Shown>,
    /// Per applied frame, when it started glides and the fastest of them (projected pixels
    /// per ms at zoom 0, along the faster axis), oldest first: how far anything can have
    /// moved since a given instant, without laying the fleet out.
    paces: VecDeque<(f64, f64)>,
    /// Glides that ended before this instant (ms) are no longer in `paces`.
    paces_from: f64,
    /// Counts vehicles coming, going and jumping: changes no glide speed foretells.
    placements: u64,
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
        let before = self.vehicles.len();
        let mut pace = 0.0;
        let unknown = match frame {
            WireFrame::Snapshot { vehicles, .. } => {
                let keep: FxHashSet<VehicleId> = vehicles.iter().map(|update| update.id).collect();
                self.vehicles.retain(|id, _| keep.contains(id));
                self.placements += (before - self.vehicles.len()) as u64;
                self.upsert_all(vehicles, now_ms, &mut pace)
            }
            WireFrame::Delta { upserts, removed, .. } => {
                let unknown = self.upsert_all(upserts, now_ms, &mut pace);
                for id in removed {
                    self.placements += u64::from(self.vehicles.remove(&id).is_some());
                }
                unknown
            }
            WireFrame::Status { .. } => 0,
        };
        self.add_pace(now_ms, pace);
        unknown
    }

    fn upsert_all(&mut self, updates: Vec<Update>, now_ms: f64, pace: &mut f64) -> usize {
        updates.into_iter().map(|update| usize::from(!self.upsert(update, now_ms, pace))).sum()
    }

    /// Whether the update was applied; raises `pace` to the speed of the glide it starts.
    fn upsert(&mut self, update: Update, now_ms: f64, pace: &mut f64) -> bool {
        let to = (update.lat, update.lon);
        match self.vehicles.get_mut(&update.id) {
            Some(shown) => {
                let (drawn, drawn_px) = (shown.at(now_ms), shown.projected_at(now_ms));
                let jump = metres_between(drawn, to) > MAX_GLIDE_M;
                shown.from = if jump { to } else { drawn };
                shown.to_px = project(to.0, to.1, 0.0);
                shown.from_px = if jump { shown.to_px } else { drawn_px };
                if jump {
                    // A trail across the jump would draw a route the vehicle never took.
                    shown.trail.clear();
                    shown.trail_times.clear();
                    self.placements += 1;
                } else {
                    *pace = pace.max(glide_bound(drawn, to) / GLIDE_MS);
                }
                shown.started_ms = now_ms;
                update.apply_to(&mut shown.marker);
                shown.extend_trail();
                true
            }
            None => {
                let Some(marker) = update.into_marker() else { return false };
                self.placements += 1;
                let projected = project(to.0, to.1, 0.0);
                let mut shown = Shown {
                    marker,
                    from: to,
                    started_ms: now_ms,
                    from_px: projected,
                    to_px: projected,
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

impl Fleet {
    /// Changes whenever a vehicle comes, goes or jumps: what [`Fleet::fastest_since`]
    /// cannot foresee.
    pub fn placements(&self) -> u64 {
        self.placements
    }

    /// The fastest any vehicle has glided at any moment since `since_ms` (projected pixels
    /// per ms at zoom 0, along either axis), so no vehicle has moved further than this
    /// times the time since; infinite when that is no longer known.
    pub fn fastest_since(&self, since_ms: f64) -> f64 {
        if since_ms < self.paces_from {
            return f64::INFINITY;
        }
        self.paces
            .iter()
            .filter(|&&(started, _)| started + GLIDE_MS > since_ms)
            .map(|&(_, pace)| pace)
            .fold(0.0, f64::max)
    }

    fn add_pace(&mut self, now_ms: f64, pace: f64) {
        if pace > 0.0 {
            self.paces.push_back((now_ms, pace));
        }
        // Glides that ended a while ago: asked about only after a long idle, when
        // `fastest_since` answers "unknown" and the map lays everything out anyway.
        while let Some(&(started, _)) = self.paces.front() {
            if started + 2.0 * GLIDE_MS > now_ms {
                break;
            }
            self.paces_from = self.paces_from.max(started + GLIDE_MS);
            self.paces.pop_front();
        }
    }
}

/// Position updates per second over the last few seconds: the status's "updates/s".
#[derive(Default)]
pub struct Rate {
    /// (time ms, updates) per frame received within the window.
    samples: VecDeque<(f64, usize)>,
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

/// How far the vehicles laid out as `next` stand from where they were painted (`drawn`),
/// the furthest along either axis (CSS pixels); infinite when one came or went. Both come
/// from the same iteration over the fleet, so an unchanged fleet lists them in the same
/// order.
pub fn furthest_move(drawn: &[Placed], next: &[Placed]) -> f64 {
    if drawn.len() != next.len() {
        return f64::INFINITY;
    }
    drawn.iter().zip(next).fold(0.0, |furthest, (a, b)| {
        if a.id != b.id {
            return f64::INFINITY;
        }
        furthest.max((a.x - b.x).abs()).max((a.y - b.y).abs())
    })
}

/// When (ms) a repaint may next show something new, for a canvas `painted` then and
/// `seen` since with its vehicles at most `moved` (CSS pixels) from where they are painted:
/// once a vehicle going at `pace` (CSS pixels per ms, [`Fleet::fastest_since`] at the
/// map's zoom) can have gone a visible `step`, and at the latest when ages have faded for
/// another [`AGES_REPAINT_MS`].
pub fn next_look(painted: f64, seen: f64, moved: f64, pace: f64, step: f64) -> f64 {
    let ages = painted + AGES_REPAINT_MS;
    if pace <= 0.0 {
        return ages;
    }
    (seen + (step - moved).max(0.0) / pace).min(ages)
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

fn lerp(from: (f64, f64), to: (f64, f64), t: f64) -> (f64, f64) {
    (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t)
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

/// How far apart two nearby positions are projected at zoom 0, along the longer axis
/// (pixels), never less than [`project`] says but without its logarithm: a degree of
/// longitude is 256/360 pixels across, and Mercator stretches a degree of latitude by the
/// secant of the latitude, taken at the end nearer a pole, where it is largest. Thousands
/// of glides start every second.
fn glide_bound(from: (f64, f64), to: (f64, f64)) -> f64 {
    const PX_PER_DEGREE: f64 = 256.0 / 360.0;
    let nearer_pole = from.0.abs().max(to.0.abs()).min(85.0);
    let stretch = 1.0 / nearer_pole.to_radians().cos();
    let across = (to.1 - from.1).abs();
    let up = (to.0 - from.0).abs() * stretch;
    across.max(up) * PX_PER_DEGREE
}

/// Roughly the distance in metres between two positions: plenty for "is this a jump".
fn metres_between(a: (f64, f64), b: (f64, f64)) -> f64 {
    const METRES_PER_DEGREE: f64 = 111_320.0;
    let dy = (a.0 - b.0) * METRES_PER_DEGREE;
    let dx = (a.1 - b.1) * METRES_PER_DEGREE * a.0.to_radians().cos();
    dx.hypot(dy)
}

#[cfg(test)]
mod tests;
