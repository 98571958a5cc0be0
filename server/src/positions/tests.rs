use super::*;
use app::model::TransportMode;

const TTL: Duration = Duration::from_secs(180);

fn position(number: u32, timestamp_ms: i64, lat: f64) -> VehiclePosition {
    VehiclePosition {
        id: VehicleId::new(22, number).expect("fits"),
        mode: TransportMode::Bus,
        line: Some("550".into()),
        route: Some("2550".into()),
        direction: Some(1),
        headsign: Some("Itäkeskus (M)".into()),
        operator: Some(22),
        lat,
        lon: 24.9,
        speed_mps: Some(8.0),
        heading: Some(90),
        delay_s: Some(30),
        timestamp_ms,
        start_time: Some("08:15".into()),
        next_stop: Some("1201129".into()),
        doors_open: Some(false),
        occupancy: None,
        location_source: Some("GPS".into()),
    }
}

#[test]
fn the_newest_event_time_wins_whatever_the_arrival_order() {
    let table = LatestPositions::new(TTL);
    let now = Instant::now();
    assert_eq!(table.upsert(position(1, 2_000, 60.2), now), Upsert::Inserted);
    assert_eq!(table.upsert(position(1, 1_000, 60.1), now), Upsert::Stale);
    assert_eq!(table.upsert(position(1, 2_000, 60.3), now), Upsert::Duplicate);
    let stored = table.get(VehicleId::new(22, 1).expect("fits")).expect("stored");
    assert_eq!((stored.timestamp_ms, stored.lat), (2_000, 60.2));

    assert_eq!(table.upsert(position(1, 3_000, 60.4), now), Upsert::Moved);
    assert_eq!(table.get(stored.id).expect("stored").lat, 60.4);
}

#[test]
fn a_newer_position_with_the_same_marker_is_stored_but_not_sent() {
    let table = LatestPositions::new(TTL);
    let now = Instant::now();
    table.upsert(position(1, 1_000, 60.2), now);
    table.drain_changes(now).expect("the insert is a change");

    let mut standing = position(1, 2_000, 60.2);
    standing.delay_s = Some(45);
    assert_eq!(table.upsert(standing, now), Upsert::Refreshed);
    assert_eq!(table.drain_changes(now), None);
    assert_eq!(table.get(VehicleId::new(22, 1).expect("fits")).expect("kept").delay_s, Some(45));
}

#[test]
fn a_drain_returns_each_changed_vehicle_once_and_numbers_the_change_set() {
    let table = LatestPositions::new(TTL);
    let now = Instant::now();
    table.upsert(position(1, 1_000, 60.1), now);
    table.upsert(position(1, 2_000, 60.2), now);
    table.upsert(position(2, 1_000, 60.3), now);

    let changes = table.drain_changes(now).expect("changes");
    assert_eq!(changes.seq, 1);
    let mut upserts: Vec<(u32, f64)> =
        changes.upserts.iter().map(|c| (c.marker.id.number(), c.marker.lat)).collect();
    upserts.sort_by_key(|(number, _)| *number);
    assert_eq!(upserts, vec![(1, 60.2), (2, 60.3)]);
    assert!(changes.removed.is_empty());

    assert_eq!(table.drain_changes(now), None, "nothing changed since");
    assert_eq!(table.seq(), 1);
}

/// Which vehicles of the next drain are described, by number.
fn described(table: &LatestPositions, now: Instant) -> Vec<(u32, bool)> {
    let changes = table.drain_changes(now).expect("changes");
    let mut out: Vec<_> =
        changes.upserts.iter().map(|c| (c.marker.id.number(), c.described)).collect();
    out.sort_unstable();
    out
}

#[test]
fn a_vehicle_is_described_when_new_and_when_its_line_or_destination_changes() {
    let table = LatestPositions::new(TTL);
    let now = Instant::now();
    table.upsert(position(1, 1_000, 60.1), now);
    table.upsert(position(2, 1_000, 60.1), now);
    assert_eq!(described(&table, now), vec![(1, true), (2, true)]);

    table.upsert(position(1, 2_000, 60.2), now);
    let mut turned = position(2, 2_000, 60.1);
    turned.headsign = Some("Kamppi".into());
    table.upsert(turned, now);
    assert_eq!(described(&table, now), vec![(1, false), (2, true)]);

    // Changed and changed back between two drains: a snapshot taken in between saw the
    // other line, so the delta still says which line it is.
    let mut other = position(1, 3_000, 60.3);
    other.line = Some("551".into());
    table.upsert(other, now);
    table.upsert(position(1, 4_000, 60.4), now);
    assert_eq!(described(&table, now), vec![(1, true)]);
}

#[test]
fn a_change_names_every_cell_its_vehicle_was_in_since_the_previous_drain() {
    let table = LatestPositions::new(TTL);
    let now = Instant::now();
    let cell = |lat: f64| app::viewport::Cell::of(lat, 24.9);
    let visited =
        |table: &LatestPositions| table.drain_changes(now).expect("changes").upserts[0].visited;
    table.upsert(position(1, 1_000, 60.15), now);
    assert_eq!(visited(&table), CellRect::cell(cell(60.15)));

    // North across two cells and back south within one drain: the drained cell counts too.
    table.upsert(position(1, 2_000, 60.175), now);
    table.upsert(position(1, 3_000, 60.165), now);
    let mut span = CellRect::cell(cell(60.15));
    span.extend(cell(60.175));
    assert_eq!(visited(&table), span);

    // The next drain starts from where the vehicle was drained.
    table.upsert(position(1, 4_000, 60.1651), now);
    assert_eq!(visited(&table), CellRect::cell(cell(60.165)));
}

#[test]
fn vehicles_not_heard_from_within_the_ttl_expire_once() {
    let table = LatestPositions::new(TTL);
    let start = Instant::now();
    table.upsert(position(1, 1_000, 60.1), start);
    table.upsert(position(2, 1_000, 60.1), start);
    table.drain_changes(start);

    // Vehicle 2 is heard from (even a duplicate counts as a sign of life); vehicle 1 is not.
    let later = start + TTL - Duration::from_secs(1);
    table.upsert(position(2, 1_000, 60.1), later);

    let after_ttl = start + TTL;
    let changes = table.drain_changes(after_ttl).expect("one expiry");
    assert_eq!(changes.removed, vec![VehicleId::new(22, 1).expect("fits")]);
    assert!(changes.upserts.is_empty());
    assert_eq!(table.len(), 1);
    assert_eq!(table.drain_changes(after_ttl), None);
}

#[test]
fn a_snapshot_carries_the_sequence_it_is_consistent_with() {
    let table = LatestPositions::new(TTL);
    let now = Instant::now();
    table.upsert(position(1, 1_000, 60.1), now);
    assert_eq!(table.snapshot().0, 0);
    table.drain_changes(now);
    table.upsert(position(2, 1_000, 60.1), now);
    let (seq, markers) = table.snapshot();
    assert_eq!(seq, 1);
    assert_eq!(markers.len(), 2, "undrained changes are already in the snapshot");
}

#[test]
fn replacing_the_table_drops_the_missing_and_keeps_the_newest() {
    let table = LatestPositions::new(TTL);
    let now = Instant::now();
    table.upsert(position(1, 5_000, 60.1), now);
    table.upsert(position(2, 1_000, 60.1), now);
    table.drain_changes(now);

    // An upstream snapshot without vehicle 2, with an older position of vehicle 1 and a
    // new vehicle 3.
    table.replace_all(vec![position(1, 4_000, 60.9), position(3, 1_000, 60.3)], now, || {});
    let changes = table.drain_changes(now).expect("changes");
    assert_eq!(changes.removed, vec![VehicleId::new(22, 2).expect("fits")]);
    let upserted: Vec<u32> = changes.upserts.iter().map(|c| c.marker.id.number()).collect();
    assert_eq!(upserted, vec![3]);
    assert_eq!(table.get(VehicleId::new(22, 1).expect("fits")).expect("kept").lat, 60.1);
}

#[test]
fn a_vehicle_dropped_and_back_before_the_drain_is_not_removed() {
    let table = LatestPositions::new(TTL);
    let now = Instant::now();
    table.upsert(position(1, 1_000, 60.1), now);
    table.drain_changes(now);
    table.replace_all(Vec::new(), now, || {});
    table.upsert(position(1, 2_000, 60.2), now);
    let changes = table.drain_changes(now).expect("changes");
    assert!(changes.removed.is_empty());
    assert_eq!(changes.upserts.len(), 1);
}

#[test]
fn what_follows_a_replacement_is_done_before_anyone_can_see_the_new_table() {
    let table = LatestPositions::new(TTL);
    let now = Instant::now();
    let mut ran = false;
    table.replace_all(vec![position(1, 1_000, 60.1)], now, || {
        assert!(table.table.try_lock().is_err(), "still under the table's lock");
        ran = true;
    });
    assert!(ran);
    assert_eq!(table.len(), 1);
}
