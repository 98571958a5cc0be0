//! The hub's frames; frames cut to views are in `views`.

mod views;

use super::*;
use crate::readiness::Upstream;
use app::model::{TransportMode, VehicleId, VehiclePosition};

fn hub() -> (Hub, Arc<LatestPositions>, Arc<Stats>) {
    let positions = Arc::new(LatestPositions::new(Duration::from_secs(60)));
    let stats = Arc::new(Stats::default());
    (Hub::new(Arc::clone(&positions), Arc::clone(&stats), Readiness::ready()), positions, stats)
}

fn position(number: u32, timestamp_ms: i64) -> VehiclePosition {
    VehiclePosition {
        id: VehicleId::new(12, number).expect("fits"),
        mode: TransportMode::Bus,
        line: None,
        route: None,
        direction: None,
        headsign: None,
        operator: None,
        lat: 60.2,
        lon: 24.9 + timestamp_ms as f64 * 1e-6,
        speed_mps: None,
        heading: None,
        delay_s: None,
        timestamp_ms,
        start_time: None,
        next_stop: None,
        doors_open: None,
        occupancy: None,
        location_source: None,
    }
}

fn parse(frame: &Frame) -> ServerFrame {
    serde_json::from_slice(&frame.json()).expect("frames are valid JSON")
}

#[test]
fn every_subscriber_receives_the_same_bytes_serialized_once() {
    let (hub, positions, stats) = hub();
    let (_, mut first) = hub.subscribe();
    let (_, mut second) = hub.subscribe();
    positions.upsert(position(1, 1_000), Instant::now());
    hub.tick(Instant::now());

    let a = first.try_recv().expect("a frame");
    let b = second.try_recv().expect("a frame");
    assert_eq!(a.binary().as_ptr(), b.binary().as_ptr(), "shared, not copied");
    assert_eq!(a.ws_message().as_ptr(), b.ws_message().as_ptr(), "framed once, too");
    assert_eq!(a.json().as_ptr(), b.json().as_ptr(), "JSON once, too");
    assert_eq!(stats.frames_published.get(), 1);
    match parse(&a) {
        ServerFrame::Delta { seq, upserts, removed } => {
            assert_eq!(seq, 1);
            assert_eq!(upserts.len(), 1);
            assert!(removed.is_empty());
        }
        other => panic!("expected a delta, got {other:?}"),
    }
}

#[test]
fn the_binary_delta_says_what_a_vehicle_is_only_when_that_is_news() {
    let (hub, positions, _) = hub();
    let (_, mut rx) = hub.subscribe();
    let abouts = |rx: &mut broadcast::Receiver<Frame>| {
        let frame = rx.try_recv().expect("a frame");
        match wire::decode(&frame.binary()).expect("decodes") {
            wire::WireFrame::Delta { upserts, .. } => {
                upserts.into_iter().map(|u| u.about.is_some()).collect::<Vec<_>>()
            }
            other => panic!("expected a delta, got {other:?}"),
        }
    };
    positions.upsert(position(1, 1_000), Instant::now());
    hub.tick(Instant::now());
    assert_eq!(abouts(&mut rx), vec![true], "new");
    positions.upsert(position(1, 2_000), Instant::now());
    hub.tick(Instant::now());
    assert_eq!(abouts(&mut rx), vec![false], "only moved");
    let mut renamed = position(1, 3_000);
    renamed.line = Some("9".into());
    positions.upsert(renamed, Instant::now());
    hub.tick(Instant::now());
    assert_eq!(abouts(&mut rx), vec![true], "line changed");
}

#[test]
fn a_delta_carries_when_its_oldest_message_was_received() {
    let (hub, positions, _) = hub();
    let (_, mut rx) = hub.subscribe();
    let tick = Instant::now();
    let waited = Duration::from_millis(200);
    positions.upsert(position(1, 1_000), tick - waited);
    positions.upsert(position(2, 1_000), tick - waited / 2);
    let before = clock::now_ms() as u64;
    hub.tick(tick);
    let after = clock::now_ms() as u64;

    let frame = rx.try_recv().expect("a frame");
    let wire::WireFrame::Delta { received_ms, .. } =
        wire::decode(&frame.binary()).expect("decodes")
    else {
        panic!("a delta");
    };
    // The wall clock is read once inside the tick, between `before` and `after`.
    let waited = waited.as_millis() as u64;
    assert!(
        (before - waited..=after - waited).contains(&received_ms),
        "{received_ms} is not {waited} ms before the tick ({before}..={after})"
    );

    positions.upsert(position(1, 2_000), tick);
    hub.tick(tick);
    let frame = rx.try_recv().expect("a frame");
    let wire::WireFrame::Delta { received_ms: next, .. } =
        wire::decode(&frame.binary()).expect("decodes")
    else {
        panic!("a delta");
    };
    assert!(next >= received_ms + waited, "the clock restarts with each drain");
}

/// Every client, whenever it joins, ends with the table's markers: the rule that a
/// delta leaves out what clients already know holds for snapshots taken between ticks.
#[test]
fn clients_joining_at_any_moment_end_with_the_tables_markers() {
    let (hub, positions, _) = hub();
    let mut next = random(0x2545_f491_4f6c_dd1d);
    let mut clients = Vec::new();
    for step in 0..400_i64 {
        let mut p = position((next() % 12) as u32, 1_000 + step);
        p.line = Some(["1", "2"][(next() % 2) as usize].into());
        p.headsign = next().is_multiple_of(3).then(|| "Kamppi".into());
        positions.upsert(p, Instant::now());
        match next() % 4 {
            0 => hub.tick(Instant::now()),
            1 => clients.push(Mirror::join(&hub)),
            _ => {}
        }
        clients.iter_mut().for_each(Mirror::catch_up);
    }
    hub.tick(Instant::now());
    clients.push(Mirror::join(&hub));
    let mut expected = positions.snapshot().1;
    expected.sort_by_key(|m| m.id);
    // The wire keeps coordinates to 1e-7 degrees.
    for marker in &mut expected {
        marker.lat = (marker.lat * 1e7).round() / 1e7;
        marker.lon = (marker.lon * 1e7).round() / 1e7;
    }
    assert!(clients.len() > 50, "{} clients", clients.len());
    for mut client in clients {
        client.catch_up();
        let mut markers: Vec<_> = client.markers.into_values().collect();
        markers.sort_by_key(|m| m.id);
        assert_eq!(markers, expected);
    }
}

/// A deterministic source of random numbers (xorshift64) for the randomized tests.
fn random(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A client as the browser is one: a snapshot, then deltas by their binary form.
/// A client shown part of the map reads the frames cut to its view.
struct Mirror {
    markers: std::collections::HashMap<VehicleId, app::model::Marker>,
    seq: u64,
    rx: broadcast::Receiver<Frame>,
    view: Option<CellRect>,
}

impl Mirror {
    fn join(hub: &Hub) -> Self {
        Self::join_in(hub, None)
    }

    fn join_in(hub: &Hub, view: Option<CellRect>) -> Self {
        let (snapshot, rx) = hub.subscribe();
        let mut client = Self { markers: Default::default(), seq: snapshot.seq, rx, view };
        client.apply(&snapshot);
        client
    }

    /// What `Subscription` does when the client asks for another view.
    fn change_view(&mut self, hub: &Hub, view: Option<CellRect>) {
        self.view = view;
        let snapshot = hub.snapshot();
        self.seq = snapshot.seq;
        self.apply(&snapshot);
    }

    fn catch_up(&mut self) {
        while let Ok(frame) = self.rx.try_recv() {
            if frame.kind == FrameKind::Delta && frame.seq > self.seq {
                self.seq = frame.seq;
                self.apply(&frame);
            }
        }
    }

    fn apply(&mut self, frame: &Frame) {
        let Some(message) = frame.ws_message_in(self.view) else { return };
        let (updates, removed) = match wire::decode(&ws::payload_of(&message)).expect("decodes") {
            wire::WireFrame::Snapshot { vehicles, .. } => {
                self.markers.clear();
                (vehicles, Vec::new())
            }
            wire::WireFrame::Delta { upserts, removed, .. } => (upserts, removed),
            wire::WireFrame::Status { .. } => return,
        };
        for update in updates {
            match self.markers.get_mut(&update.id) {
                Some(marker) => update.apply_to(marker),
                None => {
                    let marker = update.into_marker().expect("a new vehicle is described");
                    self.markers.insert(marker.id, marker);
                }
            }
        }
        for id in removed {
            self.markers.remove(&id);
        }
    }
}

#[test]
fn a_snapshot_is_built_once_per_sequence_number() {
    let (hub, positions, stats) = hub();
    positions.upsert(position(1, 1_000), Instant::now());
    let (first, _rx1) = hub.subscribe();
    let (second, _rx2) = hub.subscribe();
    assert_eq!(stats.snapshots_built.get(), 1);
    assert_eq!(first.binary().as_ptr(), second.binary().as_ptr());

    hub.tick(Instant::now());
    let (third, _rx3) = hub.subscribe();
    assert_eq!(third.seq, 1);
    assert_eq!(stats.snapshots_built.get(), 2);
}

#[test]
fn a_subscriber_that_falls_behind_is_told_it_lagged_instead_of_queueing() {
    let (hub, positions, _) = hub();
    let (_, mut slow) = hub.subscribe();
    for n in 0..(BROADCAST_CAPACITY as i64 + 5) {
        positions.upsert(position(1, 1_000 + n), Instant::now());
        hub.tick(Instant::now());
    }
    assert!(matches!(slow.try_recv(), Err(broadcast::error::TryRecvError::Lagged(5))));
}

#[test]
fn without_subscribers_ticks_still_drain_but_serialize_nothing() {
    let (hub, positions, stats) = hub();
    positions.upsert(position(1, 1_000), Instant::now());
    hub.tick(Instant::now());
    assert_eq!(stats.frames_published.get(), 0);
    assert_eq!(positions.seq(), 1);
}

#[test]
fn clients_are_told_when_the_data_source_stalls_and_recovers() {
    let positions = Arc::new(LatestPositions::new(Duration::from_secs(60)));
    let readiness = Readiness::waiting_for(Upstream::Ksqldb);
    let hub = Hub::new(positions, Arc::new(Stats::default()), readiness.clone());
    let (_, mut rx) = hub.subscribe();
    assert!(hub.stalled_status().is_some(), "a new client hears it is stalled");

    hub.tick(Instant::now());
    assert!(rx.try_recv().is_err(), "no change, no frame");

    readiness.up();
    hub.tick(Instant::now());
    let frame = rx.try_recv().expect("a status frame");
    assert_eq!(frame.kind, FrameKind::Status);
    assert_eq!(parse(&frame), ServerFrame::Status { feed: FeedState::Live });
    assert!(hub.stalled_status().is_none());

    readiness.down(Upstream::Ksqldb);
    hub.tick(Instant::now());
    assert_eq!(
        parse(&rx.try_recv().expect("a status frame")),
        ServerFrame::Status { feed: FeedState::Stalled }
    );
}

#[test]
fn a_reloaded_table_reaches_clients_after_the_word_that_the_feed_is_live() {
    let positions = Arc::new(LatestPositions::new(Duration::from_secs(60)));
    let readiness = Readiness::waiting_for(Upstream::Ksqldb);
    let hub = Hub::new(Arc::clone(&positions), Arc::new(Stats::default()), readiness.clone());
    let (_, mut rx) = hub.subscribe();
    // What the ksqlDB bridge does on every (re)connect (`Ingest::snapshot`).
    positions.replace_all(vec![position(1, 1_000), position(2, 1_000)], Instant::now(), || {
        readiness.up()
    });
    hub.tick(Instant::now());
    let first = rx.try_recv().expect("a first frame");
    assert_eq!(parse(&first), ServerFrame::Status { feed: FeedState::Live });
    let second = rx.try_recv().expect("a second frame");
    assert!(
        matches!(parse(&second), ServerFrame::Delta { ref upserts, .. } if upserts.len() == 2),
        "then the reloaded positions: {second:?}"
    );
}

#[test]
fn a_client_joining_between_ticks_follows_the_announcements() {
    let positions = Arc::new(LatestPositions::new(Duration::from_secs(60)));
    let readiness = Readiness::waiting_for(Upstream::Ksqldb);
    let hub = Hub::new(positions, Arc::new(Stats::default()), readiness.clone());
    // The source came up, and a client joins before the ticker noticed.
    readiness.up();
    let (_, mut rx) = hub.subscribe();
    assert!(hub.stalled_status().is_some(), "told the last announcement: stalled");
    // The source drops again before any tick: nothing changed for the hub...
    readiness.down(Upstream::Ksqldb);
    hub.tick(Instant::now());
    assert!(rx.try_recv().is_err());
    // ...and the client's view (stalled) was right all along. When it recovers:
    readiness.up();
    hub.tick(Instant::now());
    assert_eq!(
        parse(&rx.try_recv().expect("status")),
        ServerFrame::Status { feed: FeedState::Live }
    );
}
