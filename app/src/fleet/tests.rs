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
        received_ms: 0,
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
fn a_glide_is_drawn_where_projecting_its_position_puts_it() {
    const ZOOM: f64 = 19.0;
    let mut fleet = Fleet::default();
    fleet.apply(delta(vec![marker(1, 60.1700, 24.9400)]), 0.0);
    // 45 m north-east in a second; half-way there, a report 65 m on.
    fleet.apply(delta(vec![marker(1, 60.1703, 24.9405)]), 1_000.0);
    fleet.apply(delta(vec![marker(1, 60.1706, 24.9410)]), 1_500.0);
    let shown = fleet.get(&VehicleId::new(22, 1).expect("fits")).expect("shown");
    for now in [1_500.0, 1_750.0, 2_000.0, 2_500.0, 9_000.0] {
        let (lat, lon) = shown.at(now);
        let (x, y) = project(lat, lon, ZOOM);
        let (x0, y0) = shown.projected_at(now);
        let scale = ZOOM.exp2();
        let off = (x0 * scale - x).abs().max((y0 * scale - y).abs());
        assert!(off < 1e-3, "{off} pixels apart at {now} ms");
    }
}

#[test]
fn a_jump_across_town_is_placed_not_glided() {
    let mut fleet = Fleet::default();
    fleet.apply(delta(vec![marker(1, 60.17, 24.94)]), 0.0);
    fleet.apply(delta(vec![marker(1, 60.25, 25.10)]), 1_000.0);
    let shown = fleet.get(&VehicleId::new(22, 1).expect("fits")).expect("shown");
    assert_eq!(shown.at(1_000.0), (60.25, 25.10));
    assert_eq!(shown.projected_at(1_000.0), project(60.25, 25.10, 0.0));
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
    let frame =
        WireFrame::Delta { seq: 1, received_ms: 0, upserts: vec![bare.clone()], removed: vec![] };
    assert_eq!(fleet.apply(frame, 0.0), 1);
    assert!(fleet.is_empty());
    // Once the vehicle is known, the same update moves it and keeps its line.
    fleet.apply(delta(vec![marker(1, 60.10, 24.90)]), 0.0);
    let frame = WireFrame::Delta { seq: 2, received_ms: 0, upserts: vec![bare], removed: vec![] };
    assert_eq!(fleet.apply(frame, 5_000.0), 0);
    let shown = fleet.get(&VehicleId::new(22, 1).expect("fits")).expect("shown");
    assert_eq!((shown.marker.lat, shown.marker.line.as_deref()), (60.17, Some("550")));
}

#[test]
fn removed_vehicles_leave_the_map() {
    let mut fleet = Fleet::default();
    fleet.apply(delta(vec![marker(1, 60.17, 24.94)]), 0.0);
    let id = VehicleId::new(22, 1).expect("fits");
    fleet.apply(
        WireFrame::Delta { seq: 2, received_ms: 0, upserts: vec![], removed: vec![id] },
        10.0,
    );
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
fn the_furthest_move_since_the_paint_is_measured_and_a_vehicle_coming_or_going_is_infinite() {
    let at = |number: u32, x: f64, y: f64| Placed { id: marker(number, 0.0, 0.0).id, x, y };
    let drawn = [at(1, 10.0, 10.0), at(2, 50.0, 50.0)];
    assert_eq!(furthest_move(&drawn, &drawn), 0.0);
    assert!((furthest_move(&drawn, &[at(1, 10.6, 9.3), at(2, 50.0, 50.2)]) - 0.7).abs() < 1e-9);
    assert!((furthest_move(&drawn, &[at(1, 10.0, 10.0), at(2, 48.5, 50.0)]) - 1.5).abs() < 1e-9);
    assert_eq!(furthest_move(&drawn, &drawn[..1]), f64::INFINITY);
    assert_eq!(furthest_move(&drawn, &[at(1, 10.0, 10.0), at(3, 50.0, 50.0)]), f64::INFINITY);
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

#[test]
fn how_far_any_vehicle_can_have_glided_since_an_instant_is_known_without_placing_them() {
    let mut fleet = Fleet::default();
    fleet.apply(delta(vec![marker(1, 60.170, 24.940), marker(2, 60.170, 24.950)]), 0.0);
    // Vehicle 2 moves ten times as far as vehicle 1 in the same second.
    fleet.apply(delta(vec![marker(1, 60.1701, 24.940), marker(2, 60.171, 24.950)]), 1_000.0);
    let pace = fleet.fastest_since(1_000.0);
    let (from, to) = (project(60.170, 24.950, 0.0), project(60.171, 24.950, 0.0));
    let exact = (to.1 - from.1).abs() / GLIDE_MS;
    assert!(pace >= exact && pace < exact * 1.001, "{pace} against {exact}");
    // No vehicle moved further than the pace allows, at any zoom.
    let shown = fleet.get(&VehicleId::new(22, 2).expect("fits")).expect("shown");
    for zoom in [10.0, 15.0] {
        let (a, b) = (shown.at(1_200.0), shown.at(1_700.0));
        let moved = (project(b.0, b.1, zoom).1 - project(a.0, a.1, zoom).1).abs();
        assert!(moved <= pace * zoom.exp2() * 500.0 + 1e-9, "{moved}");
        assert!(moved >= pace * zoom.exp2() * 500.0 * 0.99, "the bound is tight: {moved}");
    }
    // Once the glides are over, nothing moves any more.
    fleet.apply(delta(vec![]), 2_000.0);
    assert_eq!(fleet.fastest_since(2_000.0), 0.0);
    // From before what the fleet remembers, anything may have moved.
    fleet.apply(delta(vec![]), 9_000.0);
    assert_eq!(fleet.fastest_since(500.0), f64::INFINITY);
}

#[test]
fn vehicles_coming_going_or_jumping_are_counted_as_placements() {
    let mut fleet = Fleet::default();
    fleet.apply(delta(vec![marker(1, 60.17, 24.94), marker(2, 60.17, 24.95)]), 0.0);
    assert_eq!(fleet.placements(), 2);
    fleet.apply(delta(vec![marker(1, 60.1701, 24.94)]), 1_000.0);
    assert_eq!(fleet.placements(), 2, "a glide is not a placement");
    fleet.apply(delta(vec![marker(1, 60.30, 24.94)]), 2_000.0);
    assert_eq!(fleet.placements(), 3, "a jump across town is");
    let gone = WireFrame::Delta {
        seq: 2,
        received_ms: 0,
        upserts: vec![],
        removed: vec![VehicleId::new(22, 2).expect("fits"), VehicleId::new(22, 9).expect("fits")],
    };
    fleet.apply(gone, 3_000.0);
    assert_eq!(fleet.placements(), 4, "only a vehicle that was shown can go");
}

#[test]
fn the_next_look_is_when_the_fastest_glide_can_have_gone_a_visible_step_or_ages_need_a_repaint() {
    // Nothing glides: only the ages, a second after the paint.
    assert_eq!(next_look(5_000.0, 5_000.0, 0.0, 0.0, 1.0), 5_000.0 + AGES_REPAINT_MS);
    // One pixel per 100 ms: the next step is 100 ms after the paint.
    assert_eq!(next_look(5_000.0, 5_000.0, 0.0, 0.01, 1.0), 5_100.0);
    // Half a step is gone already: half the time is left, on a screen of two device pixels
    // per CSS pixel too.
    assert_eq!(next_look(5_000.0, 5_050.0, 0.5, 0.01, 1.0), 5_100.0);
    assert_eq!(next_look(5_000.0, 5_000.0, 0.25, 0.01, 0.5), 5_025.0);
    // A step already gone (or infinitely fast glides): look now.
    assert_eq!(next_look(5_000.0, 5_200.0, 1.5, 0.01, 1.0), 5_200.0);
    assert_eq!(next_look(5_000.0, 5_000.0, 0.0, f64::INFINITY, 1.0), 5_000.0);
    // A crawl never waits past the ages' repaint.
    assert_eq!(next_look(5_000.0, 5_000.0, 0.0, 1e-6, 1.0), 5_000.0 + AGES_REPAINT_MS);
}
