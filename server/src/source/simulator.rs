//! The simulator: a fleet of synthetic vehicles on real Helsinki lines, each reporting once
//! a second as a real HFP v2 `vp` message (topic and JSON payload bytes), with the feed's
//! awkward parts included: null coordinates, null speeds, repeated deliveries and messages
//! that arrive out of order.
//!
//! [`Simulator`] is a pure generator (time goes in, messages come out), so it is
//! deterministic for a seed and usable by anything that needs HFP traffic; [`run`] drives
//! it in real time into the server's [`Ingest`].

mod geometry;
mod routes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::TransportMode;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;
use tokio_util::sync::CancellationToken;

use super::Sink;
use crate::clock::now_ms;
use geometry::{bearing_deg, distance_m};
use routes::{ROUTES, Route};

/// Each vehicle reports once a second; the fleet is split into this many slots, one slot
/// per 100 ms, so messages arrive spread over the second as they do from the real feed.
pub const SLOTS: usize = 10;
const SLOT_PERIOD: Duration = Duration::from_millis(1_000 / SLOTS as u64);

/// Share of messages with each quirk of the real feed, in parts per thousand.
const NULL_COORDINATES_PER_MILLE: u32 = 20;
const NULL_SPEED_PER_MILLE: u32 = 50;
const DUPLICATE_PER_MILLE: u32 = 10;
const OUT_OF_ORDER_PER_MILLE: u32 = 5;

/// Metres between stops, on average.
const STOP_SPACING_M: f64 = 500.0;
/// The share of a warm fleet standing at a stop at any moment: a stop's mean dwell (19 s)
/// against the time to the next one at cruising pace (about a minute). A new fleet starts
/// with this share standing, partway through their dwell, so its first deltas look like
/// those of a fleet that has run for hours.
const STANDING_SHARE: f64 = 0.25;

/// One MQTT message: what a broker would deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfpMessage {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// The simulated fleet.
pub struct Simulator {
    rng: SmallRng,
    lines: Vec<Line>,
    vehicles: Vec<Vehicle>,
}

/// A route with its geometry measured once.
struct Line {
    route: &'static Route,
    /// Distance from the start of the path to each point, in metres.
    cumulative_m: Vec<f64>,
}

struct Vehicle {
    line: usize,
    number: u32,
    direction: u8,
    /// Metres travelled along the path in the current direction.
    progress_m: f64,
    /// This vehicle's pace relative to the line's cruising speed.
    pace: f64,
    delay_s: f64,
    /// Seconds left standing at the current stop.
    dwell_s: u32,
    next_stop_at_m: f64,
    odometer_m: f64,
    journey: u32,
    start_ms: i64,
    /// The previous message, re-sent now and then to imitate out-of-order delivery.
    previous: Option<HfpMessage>,
}

impl Simulator {
    /// A fleet of `vehicles` vehicles spread over the lines by weight. The same seed gives
    /// the same fleet and the same messages for the same times.
    pub fn new(vehicles: u32, seed: u64, now_ms: i64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let lines: Vec<Line> = ROUTES.iter().map(Line::new).collect();
        let total_weight: u32 = ROUTES.iter().map(|r| r.weight).sum();
        let mut next_number = std::collections::HashMap::<u16, u32>::new();
        let vehicles = (0..vehicles)
            .map(|i| {
                // Deterministic spread by weight: vehicle i goes to the line whose weight
                // bucket contains i mod total.
                let mut bucket = i % total_weight;
                let line = ROUTES
                    .iter()
                    .position(|route| {
                        if bucket < route.weight {
                            return true;
                        }
                        bucket -= route.weight;
                        false
                    })
                    .unwrap_or(0);
                let route = &ROUTES[line];
                // Vehicle numbers repeat between operators, as in the real fleet.
                let number = next_number.entry(route.operator).or_insert(100);
                *number += 1;
                let length = lines[line].length_m();
                let progress_m = rng.random_range(0.0..length);
                let standing = rng.random_bool(STANDING_SHARE);
                Vehicle {
                    line,
                    number: *number,
                    direction: rng.random_range(1..=2),
                    progress_m,
                    pace: rng.random_range(0.7..1.2),
                    delay_s: rng.random_range(-60.0..240.0),
                    dwell_s: if standing { rng.random_range(1..30) } else { 0 },
                    // Measured from where the vehicle is: a stop behind it would stop it
                    // again at once, and again, until the stops caught up (minutes).
                    next_stop_at_m: progress_m + rng.random_range(0.0..STOP_SPACING_M),
                    odometer_m: rng.random_range(0.0..50_000.0),
                    journey: rng.random_range(1..1_000),
                    start_ms: now_ms - rng.random_range(0..3_600_000),
                    previous: None,
                }
            })
            .collect();
        Self { rng, lines, vehicles }
    }

    pub fn len(&self) -> usize {
        self.vehicles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vehicles.is_empty()
    }

    /// Moves the vehicles of `slot` (0..[`SLOTS`]) one second ahead and appends their
    /// messages, stamped `now_ms`, to `out`.
    pub fn step_slot(&mut self, slot: usize, now_ms: i64, out: &mut Vec<HfpMessage>) {
        let Self { rng, lines, vehicles } = self;
        for vehicle in vehicles.iter_mut().skip(slot % SLOTS).step_by(SLOTS) {
            let line = &lines[vehicle.line];
            vehicle.advance(line, rng, now_ms);
            let message = vehicle.message(line, rng, now_ms);
            // Now and then the previous message arrives after this one, as when a broker
            // redelivers late.
            if rng.random_range(0..1_000) < OUT_OF_ORDER_PER_MILLE
                && let Some(previous) = vehicle.previous.take()
            {
                out.push(message.clone());
                out.push(previous);
                vehicle.previous = Some(message);
                continue;
            }
            if rng.random_range(0..1_000) < DUPLICATE_PER_MILLE {
                out.push(message.clone());
            }
            out.push(message.clone());
            vehicle.previous = Some(message);
        }
    }
}

impl Line {
    fn new(route: &'static Route) -> Self {
        let mut cumulative_m = Vec::with_capacity(route.path.len());
        let mut total = 0.0;
        for (i, point) in route.path.iter().enumerate() {
            if i > 0 {
                total += distance_m(route.path[i - 1], *point);
            }
            cumulative_m.push(total);
        }
        Self { route, cumulative_m }
    }

    fn length_m(&self) -> f64 {
        self.cumulative_m.last().copied().unwrap_or(0.0).max(1.0)
    }

    /// Position and heading (degrees from north) `along_m` metres into the path.
    fn locate(&self, along_m: f64, direction: u8) -> (f64, f64, f64) {
        let path = self.route.path;
        let distance = if direction == 1 { along_m } else { self.length_m() - along_m };
        let segment =
            self.cumulative_m.partition_point(|&d| d <= distance).clamp(1, path.len() - 1);
        let (from, to) = (path[segment - 1], path[segment]);
        let span = (self.cumulative_m[segment] - self.cumulative_m[segment - 1]).max(1e-9);
        let t = ((distance - self.cumulative_m[segment - 1]) / span).clamp(0.0, 1.0);
        let lat = from.0 + (to.0 - from.0) * t;
        let lon = from.1 + (to.1 - from.1) * t;
        let mut bearing = bearing_deg(from, to);
        if direction == 2 {
            bearing = (bearing + 180.0) % 360.0;
        }
        (lat, lon, bearing)
    }
}

impl Vehicle {
    fn advance(&mut self, line: &Line, rng: &mut SmallRng, now_ms: i64) {
        self.delay_s = (self.delay_s + rng.random_range(-2.0..2.2)).clamp(-180.0, 900.0);
        if self.dwell_s > 0 {
            self.dwell_s -= 1;
            return;
        }
        let speed = line.route.cruise_mps * self.pace * rng.random_range(0.8..1.1);
        self.progress_m += speed;
        self.odometer_m += speed;
        if self.progress_m >= line.length_m() {
            // End of the line: turn around and wait for the next departure.
            self.progress_m = 0.0;
            self.direction = 3 - self.direction;
            self.dwell_s = 60;
            self.journey += 1;
            self.start_ms = now_ms + 60_000;
            self.next_stop_at_m = STOP_SPACING_M;
            self.delay_s = rng.random_range(-30.0..120.0);
        } else if self.progress_m >= self.next_stop_at_m {
            self.dwell_s = rng.random_range(8..30);
            self.next_stop_at_m += rng.random_range(0.6..1.4) * STOP_SPACING_M;
        }
    }

    fn message(&self, line: &Line, rng: &mut SmallRng, now_ms: i64) -> HfpMessage {
        let route = line.route;
        let (lat, lon, heading) = line.locate(self.progress_m, self.direction);
        let headsign = route.headsigns[usize::from(self.direction - 1)];
        let start = helsinki_hh_mm(self.start_ms);
        let stop_index = (self.progress_m / STOP_SPACING_M) as u32 + 1;
        let next_stop =
            route.stop_prefix * 1_000 + (stop_index + 500 * u32::from(self.direction - 1)) % 1_000;
        let standing = self.dwell_s > 0;
        let speed = if standing { 0.0 } else { route.cruise_mps * self.pace };
        let no_fix = rng.random_range(0..1_000) < NULL_COORDINATES_PER_MILLE;
        let no_speed = rng.random_range(0..1_000) < NULL_SPEED_PER_MILLE;

        let topic = format!(
            "/hfp/v2/journey/ongoing/vp/{mode}/{operator:04}/{number:05}/{route_id}/{direction}/{headsign}/{start}/{next_stop}/4/{geohash}",
            mode = route.mode.as_str(),
            operator = route.operator,
            number = self.number,
            route_id = route.route_id,
            direction = self.direction,
            geohash = geohash(lat, lon),
        );
        let timestamp = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let fields = VpFields {
            desi: route.line,
            dir: if self.direction == 1 { "1" } else { "2" },
            oper: route.operator,
            veh: self.number,
            tst: crate::clock::hfp_timestamp(now_ms),
            tsi: now_ms.div_euclid(1_000),
            spd: (!no_speed).then_some(round_to(speed, 2)),
            hdg: heading.round() as u16 % 360,
            lat: (!no_fix).then_some(round_to(lat, 6)),
            long: (!no_fix).then_some(round_to(lon, 6)),
            acc: 0.0,
            dl: -(self.delay_s.round() as i32),
            odo: self.odometer_m.round() as u64,
            drst: u8::from(standing),
            oday: timestamp.format(format_description!("[year]-[month]-[day]")).unwrap_or_default(),
            jrn: self.journey,
            line: 1_000 + line_number(route),
            start,
            loc: if no_fix { "N/A" } else { "GPS" },
            stop: standing.then_some(next_stop),
            route: route.route_id,
            occu: 0,
        };
        let payload = serde_json::to_vec(&Envelope { vp: fields }).unwrap_or_default();
        HfpMessage { topic, payload }
    }
}

/// The payload as HSL sends it: `{"VP":{...}}`, fields named as in the HFP documentation.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "VP")]
    vp: VpFields<'a>,
}

#[derive(Serialize)]
struct VpFields<'a> {
    desi: &'a str,
    dir: &'a str,
    oper: u16,
    veh: u32,
    tst: String,
    tsi: i64,
    spd: Option<f64>,
    hdg: u16,
    lat: Option<f64>,
    long: Option<f64>,
    acc: f64,
    dl: i32,
    odo: u64,
    drst: u8,
    oday: String,
    jrn: u32,
    line: u32,
    start: String,
    loc: &'a str,
    stop: Option<u32>,
    route: &'a str,
    occu: u8,
}

/// Drives `simulator` in real time into `sink` until `shutdown`.
pub async fn run(mut simulator: Simulator, sink: Arc<dyn Sink>, shutdown: CancellationToken) {
    tracing::info!(vehicles = simulator.len(), "Simulator started.");
    let mut interval = tokio::time::interval(SLOT_PERIOD);
    // If the process stalls, skip the missed slots rather than bursting: a real feed does
    // not replay the past either.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut batch = Vec::new();
    let mut slot = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = interval.tick() => {}
        }
        simulator.step_slot(slot, now_ms(), &mut batch);
        slot = (slot + 1) % SLOTS;
        let now = Instant::now();
        for message in batch.drain(..) {
            sink.deliver(&message.topic, &message.payload, now).await;
        }
    }
    tracing::info!("Simulator stopped.");
}

fn helsinki_hh_mm(timestamp_ms: i64) -> String {
    let mut clock = app::format::helsinki_clock(timestamp_ms);
    clock.truncate(5);
    clock
}

/// The number in the payload's `line` field: HSL's internal line id. Any stable number will
/// do for the simulator.
fn line_number(route: &Route) -> u32 {
    route.route_id.bytes().fold(0, |acc, b| (acc * 31 + u32::from(b)) % 9_000)
}

/// HFP's topic geohash: `<lat int>;<lon int>/<lat d1><lon d1>/<lat d2><lon d2>/<lat d3><lon d3>`.
fn geohash(lat: f64, lon: f64) -> String {
    let digits = |value: f64| {
        let scaled = (value.abs() * 1_000.0).floor() as u64;
        (scaled / 1_000, [scaled / 100 % 10, scaled / 10 % 10, scaled % 10])
    };
    let ((lat_int, a), (lon_int, b)) = (digits(lat), digits(lon));
    format!("{lat_int};{lon_int}/{}{}/{}{}/{}{}", a[0], b[0], a[1], b[1], a[2], b[2])
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let factor = 10_f64.powi(decimals);
    (value * factor).round() / factor
}

/// The simulator's lines as polylines: a sketch of Helsinki's network that the map draws
/// when its tiles cannot load, so vehicles never float on an empty field.
pub fn network() -> Vec<app::model::NetworkLine> {
    ROUTES
        .iter()
        .map(|route| app::model::NetworkLine {
            line: route.line.to_owned(),
            mode: route.mode,
            path: route.path.to_vec(),
        })
        .collect()
}

/// Which transport modes the simulated fleet covers (for tests and docs).
pub fn modes() -> impl Iterator<Item = TransportMode> {
    ROUTES.iter().map(|route| route.mode)
}

#[cfg(test)]
mod tests;
