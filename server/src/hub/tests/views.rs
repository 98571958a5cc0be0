//! Frames cut to a client's view (`Frame::ws_message_in`), and a subscription's view
//! changes.

use super::*;
use app::model::Marker;
use app::wire::WireFrame;

/// Around Helsinki's railway station: rows 60.15..60.20, columns 24.90..25.00.
const VIEW: CellRect = CellRect { south: 6015, west: 1245, north: 6019, east: 1249 };
const INSIDE: (f64, f64) = (60.17, 24.94);
/// North of the view, in Pakila; east of it, in Herttoniemi.
const NORTH: (f64, f64) = (60.25, 24.94);
const EAST: (f64, f64) = (60.19, 25.03);

fn at(number: u32, timestamp_ms: i64, (lat, lon): (f64, f64)) -> VehiclePosition {
    VehiclePosition { lat, lon, line: Some("55".into()), ..position(number, timestamp_ms) }
}

fn decoded(message: Option<Bytes>) -> WireFrame {
    wire::decode(&ws::payload_of(&message.expect("a message for the view"))).expect("decodes")
}

fn numbers(updates: &[wire::Update]) -> Vec<u32> {
    let mut numbers: Vec<u32> = updates.iter().map(|u| u.id.number()).collect();
    numbers.sort_unstable();
    numbers
}

#[test]
fn a_snapshot_cut_to_a_view_holds_only_the_vehicles_in_its_cells() {
    let (hub, positions, _) = hub();
    let now = Instant::now();
    positions.upsert(at(1, 1_000, INSIDE), now);
    positions.upsert(at(2, 1_000, NORTH), now);
    hub.tick(now);
    let snapshot = hub.snapshot();
    match decoded(snapshot.ws_message_in(Some(VIEW))) {
        WireFrame::Snapshot { vehicles, .. } => assert_eq!(numbers(&vehicles), [1]),
        other => panic!("expected a snapshot, got {other:?}"),
    }
    match decoded(snapshot.ws_message_in(None)) {
        WireFrame::Snapshot { vehicles, .. } => assert_eq!(numbers(&vehicles), [1, 2]),
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

#[test]
fn a_vehicle_entering_a_view_is_described_and_one_leaving_it_is_removed() {
    let (hub, positions, _) = hub();
    let (_, mut deltas) = hub.subscribe();
    let now = Instant::now();
    positions.upsert(at(1, 1_000, NORTH), now);
    positions.upsert(at(2, 1_000, INSIDE), now);
    positions.upsert(at(3, 1_000, INSIDE), now);
    hub.tick(now);
    deltas.try_recv().expect("the first delta");

    positions.upsert(at(1, 2_000, INSIDE), now);
    positions.upsert(at(2, 2_000, NORTH), now);
    positions.upsert(at(3, 2_000, (INSIDE.0 + 0.001, INSIDE.1)), now);
    hub.tick(now);
    let delta = deltas.try_recv().expect("a delta");
    match decoded(delta.ws_message_in(Some(VIEW))) {
        WireFrame::Delta { upserts, removed, .. } => {
            assert_eq!(numbers(&upserts), [1, 3]);
            let about = |number| upserts.iter().find(|u| u.id.number() == number).expect("sent");
            assert!(about(1).about.is_some(), "new to the view: its line is told");
            assert!(about(3).about.is_none(), "the view has it: its line is not repeated");
            assert_eq!(removed.iter().map(|id| id.number()).collect::<Vec<_>>(), [2]);
        }
        other => panic!("expected a delta, got {other:?}"),
    }
}

#[test]
fn a_vehicle_that_crossed_a_view_between_two_deltas_is_removed_from_it() {
    let (hub, positions, _) = hub();
    let (_, mut deltas) = hub.subscribe();
    let now = Instant::now();
    positions.upsert(at(1, 1_000, NORTH), now);
    hub.tick(now);
    deltas.try_recv().expect("the first delta");

    // A client that joined in between holds the vehicle at INSIDE.
    positions.upsert(at(1, 2_000, INSIDE), now);
    positions.upsert(at(1, 3_000, EAST), now);
    hub.tick(now);
    let delta = deltas.try_recv().expect("a delta");
    match decoded(delta.ws_message_in(Some(VIEW))) {
        WireFrame::Delta { upserts, removed, .. } => {
            assert!(upserts.is_empty());
            assert_eq!(removed.iter().map(|id| id.number()).collect::<Vec<_>>(), [1]);
        }
        other => panic!("expected a delta, got {other:?}"),
    }
    let elsewhere = CellRect { south: 0, west: 0, north: 10, east: 10 };
    assert!(delta.ws_message_in(Some(elsewhere)).is_none(), "nothing there to tell");
}

#[test]
fn clients_of_the_same_view_share_one_cut() {
    let (hub, positions, _) = hub();
    let (_, mut deltas) = hub.subscribe();
    let now = Instant::now();
    positions.upsert(at(1, 1_000, INSIDE), now);
    hub.tick(now);
    let delta = deltas.try_recv().expect("a delta");
    let first = delta.ws_message_in(Some(VIEW)).expect("a message");
    let second = delta.ws_message_in(Some(VIEW)).expect("a message");
    assert_eq!(first.as_ptr(), second.as_ptr(), "cut once, shared");
    assert_ne!(first.as_ptr(), delta.ws_message().as_ptr());
}

#[test]
fn a_deltas_cuts_are_let_go_two_deltas_later() {
    let (hub, positions, _) = hub();
    let (_, mut deltas) = hub.subscribe();
    let mut published = Vec::new();
    for step in 0..3 {
        positions
            .upsert(at(1, 1_000 + step, (INSIDE.0 + step as f64 * 1e-4, INSIDE.1)), Instant::now());
        hub.tick(Instant::now());
        published.push(deltas.try_recv().expect("a delta"));
        if step == 0 {
            let first = published[0].ws_message_in(Some(VIEW)).expect("a cut");
            let again = published[0].ws_message_in(Some(VIEW)).expect("a cut");
            assert_eq!(first.as_ptr(), again.as_ptr(), "kept while current");
        }
    }
    let (old, older) = (
        published[0].ws_message_in(Some(VIEW)).expect("still cut"),
        published[0].ws_message_in(Some(VIEW)).expect("still cut"),
    );
    assert_eq!(old, older, "the same cut, made again");
    assert_ne!(old.as_ptr(), older.as_ptr(), "not kept any more");
    let kept = published[1].ws_message_in(Some(VIEW)).expect("a cut");
    assert_eq!(kept.as_ptr(), published[1].ws_message_in(Some(VIEW)).expect("a cut").as_ptr());
}

/// Clients in different views, some changing view, against vehicles wandering in and out
/// of them: each ends with exactly the table's vehicles in its view.
#[test]
fn clients_shown_a_view_end_with_the_tables_markers_in_it() {
    let (hub, positions, _) = hub();
    let mut next = random(0x9e37_79b9_7f4a_7c15);
    let views = [
        None,
        Some(VIEW),
        Some(CellRect { south: 6018, west: 1247, north: 6024, east: 1252 }),
        Some(CellRect::cell(app::viewport::Cell { row: 6017, col: 1247 })),
    ];
    let mut clients = Vec::new();
    for step in 0..600_i64 {
        // Anywhere from Lauttasaari to Malmi: in, out of and across the views.
        let lat = 60.14 + (next() % 1_200) as f64 * 1e-4;
        let lon = 24.86 + (next() % 2_000) as f64 * 1e-4;
        let mut p = at((next() % 16) as u32, 1_000 + step, (lat, lon));
        p.line = Some(["1", "2"][(next() % 2) as usize].into());
        positions.upsert(p, Instant::now());
        match next() % 6 {
            0 | 1 => hub.tick(Instant::now()),
            2 => clients.push(Mirror::join_in(&hub, views[(next() % 4) as usize])),
            3 if !clients.is_empty() => {
                let client = (next() as usize) % clients.len();
                clients[client].change_view(&hub, views[(next() % 4) as usize]);
            }
            _ => {}
        }
        clients.iter_mut().for_each(Mirror::catch_up);
    }
    hub.tick(Instant::now());
    let table: Vec<Marker> = positions
        .snapshot()
        .1
        .into_iter()
        .map(|mut marker| {
            // The wire keeps coordinates to 1e-7 degrees.
            marker.lat = (marker.lat * 1e7).round() / 1e7;
            marker.lon = (marker.lon * 1e7).round() / 1e7;
            marker
        })
        .collect();
    assert!(clients.iter().filter(|c| c.view.is_some()).count() > 30);
    for mut client in clients {
        client.catch_up();
        let mut expected: Vec<&Marker> = table
            .iter()
            .filter(|m| client.view.is_none_or(|v| v.contains(Cell::of(m.lat, m.lon))))
            .collect();
        expected.sort_by_key(|m| m.id);
        let mut markers: Vec<&Marker> = client.markers.values().collect();
        markers.sort_by_key(|m| m.id);
        assert_eq!(markers, expected, "view {:?}", client.view);
    }
}

#[tokio::test(start_paused = true)]
async fn a_view_change_starts_the_client_over_in_its_view_no_faster_than_the_tick() {
    let (hub, positions, stats) = hub();
    let hub = Arc::new(hub);
    positions.upsert(at(1, 1_000, INSIDE), Instant::now());
    positions.upsert(at(2, 1_000, NORTH), Instant::now());
    hub.tick(Instant::now());
    let mut subscription = hub.follow();
    let first = subscription.next().await.expect("the snapshot");
    assert_eq!(first.kind, FrameKind::Snapshot);

    let started = tokio::time::Instant::now();
    subscription.set_view(Some(VIEW));
    let zoomed = subscription.next().await.expect("a snapshot of the view");
    assert_eq!(zoomed.kind, FrameKind::Snapshot);
    assert_eq!(subscription.view(), Some(VIEW));
    match decoded(zoomed.ws_message_in(subscription.view())) {
        WireFrame::Snapshot { vehicles, .. } => assert_eq!(numbers(&vehicles), [1]),
        other => panic!("expected a snapshot, got {other:?}"),
    }
    assert_eq!(started.elapsed(), Duration::ZERO, "the first change is at once");

    subscription.set_view(Some(CellRect::cell(app::viewport::Cell { row: 0, col: 0 })));
    subscription.set_view(None);
    let zoomed_out = subscription.next().await.expect("a snapshot of everything");
    assert_eq!(zoomed_out.kind, FrameKind::Snapshot);
    assert_eq!(subscription.view(), None, "the last request wins");
    assert!(started.elapsed() >= VIEW_CHANGE_INTERVAL, "{:?}", started.elapsed());
    assert_eq!(stats.ws_view_changes.get(), 2);
}
