//! The simulator against the real parser: rates, movement, determinism.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::hfp;

const T0: i64 = 1_795_500_000_000; // 2026-11-24, a Tuesday morning in Helsinki

fn one_second(simulator: &mut Simulator, second: i64) -> Vec<HfpMessage> {
    let mut out = Vec::new();
    for slot in 0..SLOTS {
        simulator.step_slot(slot, T0 + second * 1_000 + slot as i64 * 100, &mut out);
    }
    out
}

#[test]
fn every_vehicle_reports_once_a_second_through_the_real_parser() {
    let mut simulator = Simulator::new(300, 7, T0);
    let messages = one_second(&mut simulator, 0);
    let mut seen = HashSet::new();
    for message in &messages {
        let parsed = hfp::parse(&message.topic, &message.payload).unwrap_or_else(|error| {
            panic!("{error}: {} {:?}", message.topic, String::from_utf8_lossy(&message.payload))
        });
        assert!(parsed.is_vehicle_position());
        seen.insert(parsed.topic.vehicle);
    }
    assert_eq!(seen.len(), 300, "each vehicle reported, ids are unique");
    // Duplicates and re-sent messages come on top of one message per vehicle.
    assert!(messages.len() >= 300 && messages.len() < 330, "{}", messages.len());
}

#[test]
fn vehicles_stay_in_the_helsinki_area_and_move() {
    let mut simulator = Simulator::new(200, 11, T0);
    let first: HashMap<_, _> = positions(&one_second(&mut simulator, 0));
    for second in 1..60 {
        one_second(&mut simulator, second);
    }
    let later: HashMap<_, _> = positions(&one_second(&mut simulator, 60));
    let mut moved = 0;
    for (id, (lat, lon)) in &later {
        assert!((60.0..60.4).contains(lat) && (24.5..25.3).contains(lon), "{id}: {lat},{lon}");
        if first.get(id).is_some_and(|before| before != &(*lat, *lon)) {
            moved += 1;
        }
    }
    assert!(moved > later.len() / 2, "{moved} of {} moved in a minute", later.len());
}

#[test]
fn the_feeds_quirks_appear_at_about_their_real_rates() {
    let mut simulator = Simulator::new(500, 3, T0);
    let (mut null_coordinates, mut null_speed, mut total) = (0, 0, 0);
    for second in 0..20 {
        for message in one_second(&mut simulator, second) {
            let parsed = hfp::parse(&message.topic, &message.payload).expect("parses");
            total += 1;
            null_coordinates += usize::from(parsed.position().is_none());
            null_speed += usize::from(parsed.payload.speed_mps.is_none());
        }
    }
    let per_mille = |n: usize| n * 1_000 / total;
    assert!((10..=30).contains(&per_mille(null_coordinates)), "{}", per_mille(null_coordinates));
    assert!((35..=65).contains(&per_mille(null_speed)), "{}", per_mille(null_speed));
}

#[test]
fn the_same_seed_gives_the_same_messages() {
    let mut a = Simulator::new(50, 99, T0);
    let mut b = Simulator::new(50, 99, T0);
    assert_eq!(one_second(&mut a, 0), one_second(&mut b, 0));
    let mut c = Simulator::new(50, 100, T0);
    assert_ne!(one_second(&mut a, 1), one_second(&mut c, 1));
}

#[test]
fn the_fleet_covers_every_mode_the_map_colours() {
    let modes: HashSet<_> = modes().collect();
    for mode in [
        TransportMode::Bus,
        TransportMode::Tram,
        TransportMode::Metro,
        TransportMode::Train,
        TransportMode::Ferry,
    ] {
        assert!(modes.contains(&mode), "{mode:?}");
    }
}

#[test]
fn the_topic_geohash_follows_the_hfp_digit_interleaving() {
    assert_eq!(geohash(60.269247, 24.853777), "60;24/28/65/93");
}

fn positions(messages: &[HfpMessage]) -> HashMap<app::model::VehicleId, (f64, f64)> {
    messages
        .iter()
        .filter_map(|m| hfp::parse(&m.topic, &m.payload).ok()?.position())
        .map(|p| (p.id, (p.lat, p.lon)))
        .collect()
}

#[test]
fn bearings_are_compass_degrees_and_distances_are_metres() {
    let rautatientori = (60.1707, 24.9415);
    let north = (60.1807, 24.9415);
    let east = (60.1707, 24.9615);
    assert!((geometry::bearing_deg(rautatientori, north) - 0.0).abs() < 0.5);
    assert!((geometry::bearing_deg(rautatientori, east) - 90.0).abs() < 0.5);
    assert!((geometry::bearing_deg(north, rautatientori) - 180.0).abs() < 0.5);
    // 0.01° of latitude is about 1.11 km anywhere.
    assert!((geometry::distance_m(rautatientori, north) - 1_112.0).abs() < 5.0);
}

#[test]
fn every_route_is_a_drawable_line_with_headsigns() {
    for route in ROUTES {
        assert!(route.path.len() >= 2, "{}", route.route_id);
        assert!(
            route.headsigns.iter().all(|h| !h.is_empty() && !h.contains('/')),
            "{}",
            route.route_id
        );
        assert!(route.weight > 0 && route.cruise_mps > 0.0, "{}", route.route_id);
    }
}

/// The share of the fleet moving during `seconds` seconds from `start`, advancing it.
fn moving_share(simulator: &mut Simulator, seconds: i64) -> f64 {
    let Simulator { rng, lines, vehicles } = simulator;
    let mut moving = 0;
    for second in 0..seconds {
        for vehicle in vehicles.iter_mut() {
            vehicle.advance(&lines[vehicle.line], rng, T0 + second * 1_000);
            moving += usize::from(vehicle.dwell_s == 0);
        }
    }
    moving as f64 / (vehicles.len() as f64 * seconds as f64)
}

#[test]
fn a_new_fleet_moves_like_one_that_has_run_for_twenty_minutes() {
    let mut simulator = Simulator::new(1_000, 11, T0);
    let fresh = moving_share(&mut simulator, 10);
    moving_share(&mut simulator, 20 * 60);
    let warm = moving_share(&mut simulator, 10);
    assert!(warm > 0.5, "most of a warm fleet is on the move: {warm}");
    assert!((fresh - warm).abs() < 0.1, "fresh {fresh:.2}, warm {warm:.2}");
}
