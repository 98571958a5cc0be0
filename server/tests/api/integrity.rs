//! Data integrity end to end: a deterministic replay, with repeated and out-of-order
//! deliveries mixed in, reaches a `/ws` client as exactly the latest position of each
//! vehicle by event time, in embedded mode and in ksqlDB mode (against the protocol fake,
//! not ksqlDB). The expected positions are computed here from the recording itself, its
//! JSON read directly rather than through the server's parser, positions without
//! coordinates skipped.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use app::model::VehicleId;
use serde_json::Value;
use server::config::SourceKind;
use server::recording::{Recorded, read_all};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::fake_ksqldb::{FakeKsqldb, row_from};
use crate::helpers::{ScratchDir, WAIT, WsClient, spawn_app_with};
use server::positions::Upsert;

/// The bundled recording: a minute of the simulator's 200 vehicles, enough of them on the
/// move for the disorder to matter.
fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/replay/simulator-200-vehicles-60s.ndjson.gz")
}

/// The fixture's messages as delivered by a broker having a bad day: every seventh twice,
/// and every fifth pair of one vehicle's consecutive messages in the wrong order.
fn delivered() -> Vec<Recorded> {
    let source = server::recording::open(&fixture()).expect("the fixture opens");
    let mut records: Vec<Recorded> =
        read_all(source).collect::<Result<_, _>>().expect("the fixture reads");
    let mut last_of: HashMap<String, usize> = HashMap::new();
    let mut swaps = 0;
    for index in 0..records.len() {
        let vehicle = vehicle_of(&records[index].topic);
        if let Some(previous) = vehicle.as_ref().and_then(|v| last_of.get(v).copied()) {
            swaps += 1;
            if swaps % 5 == 0 {
                records.swap(previous, index);
            }
        }
        if let Some(vehicle) = vehicle {
            last_of.insert(vehicle, index);
        }
    }
    // And for every other vehicle that moved, its last message delivered before an older
    // one with another position: the end state itself depends on event time winning.
    let mut by_vehicle: HashMap<String, Vec<usize>> = HashMap::new();
    for (index, record) in records.iter().enumerate() {
        if let Some(vehicle) = vehicle_of(&record.topic) {
            by_vehicle.entry(vehicle).or_default().push(index);
        }
    }
    let mut vehicles: Vec<&String> = by_vehicle.keys().collect();
    vehicles.sort();
    let mut moved = 0;
    for vehicle in vehicles {
        let indices = &by_vehicle[vehicle];
        let Some(&last) = indices.last() else { continue };
        let elsewhere = indices.iter().rev().find(|&&i| {
            coordinates(&records[i]).is_some()
                && coordinates(&records[i]) != coordinates(&records[last])
        });
        if let Some(&earlier) = elsewhere {
            moved += 1;
            if moved % 2 == 1 {
                records.swap(earlier, last);
            }
        }
    }
    assert!(moved >= 20, "the recording has vehicles on the move: {moved}");
    let mut out = Vec::with_capacity(records.len() * 8 / 7 + 1);
    for (index, record) in records.into_iter().enumerate() {
        if index % 7 == 0 {
            out.push(record.clone());
        }
        out.push(record);
    }
    out
}

/// A message's coordinates, when it has them.
fn coordinates(record: &Recorded) -> Option<(f64, f64)> {
    let payload: Value = serde_json::from_slice(&record.payload_bytes().ok()?).ok()?;
    Some((payload["VP"]["lat"].as_f64()?, payload["VP"]["long"].as_f64()?))
}

/// `operator/vehicle` of a `vp` topic, read from its levels:
/// `/hfp/v2/<journey>/<temporal>/<event>/<mode>/<operator>/<vehicle>/...`.
fn vehicle_of(topic: &str) -> Option<String> {
    let levels: Vec<&str> = topic.split('/').collect();
    if levels.get(5) != Some(&"vp") {
        return None;
    }
    Some(format!("{}/{}", levels.get(7)?, levels.get(8)?))
}

/// The reference: per vehicle, the coordinates of its message with the latest `tst`
/// (the first of equals, as repeats are), skipping messages without coordinates.
fn latest_by_event_time(records: &[Recorded]) -> HashMap<VehicleId, (f64, f64)> {
    let mut latest: HashMap<VehicleId, (i64, f64, f64)> = HashMap::new();
    for record in records {
        let Some(vehicle) = vehicle_of(&record.topic) else { continue };
        let payload: Value =
            serde_json::from_slice(&record.payload_bytes().expect("payload")).expect("JSON");
        let fields = &payload["VP"];
        let (Some(lat), Some(lon)) = (fields["lat"].as_f64(), fields["long"].as_f64()) else {
            continue;
        };
        let tst = fields["tst"].as_str().expect("a time");
        let at = OffsetDateTime::parse(tst, &Rfc3339).expect("RFC 3339");
        let at_ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
        let id: VehicleId = vehicle.parse().expect("an id");
        if latest.get(&id).is_none_or(|(newest, _, _)| at_ms > *newest) {
            latest.insert(id, (at_ms, lat, lon));
        }
    }
    latest.into_iter().map(|(id, (_, lat, lon))| (id, (lat, lon))).collect()
}

/// Reads frames until the client holds exactly `expected` (coordinates as the wire keeps
/// them, to 1e-7 degrees); fails with the difference when it does not within the wait.
async fn ends_with(client: &mut WsClient, expected: &HashMap<VehicleId, (f64, f64)>) {
    let round = |degrees: f64| (degrees * 1e7).round() / 1e7;
    let expected: HashMap<VehicleId, (f64, f64)> =
        expected.iter().map(|(id, (lat, lon))| (*id, (round(*lat), round(*lon)))).collect();
    let held = |client: &WsClient| -> HashMap<VehicleId, (f64, f64)> {
        client.known().values().map(|m| (m.id, (m.lat, m.lon))).collect()
    };
    let reached = tokio::time::timeout(WAIT, async {
        while held(client) != expected {
            client.next_frame().await;
        }
    })
    .await;
    if reached.is_err() {
        let held = held(client);
        let wrong: Vec<_> = expected
            .iter()
            .filter(|(id, position)| held.get(id) != Some(position))
            .map(|(id, position)| (id, position, held.get(id)))
            .collect();
        let extra: Vec<_> = held.keys().filter(|id| !expected.contains_key(id)).collect();
        panic!("the client ends wrong: {wrong:?} (expected, held); extra: {extra:?}");
    }
}

#[tokio::test]
async fn a_replay_with_repeats_and_disorder_ends_as_the_latest_position_by_event_time() {
    let records = delivered();
    let expected = latest_by_event_time(&records);
    assert!(expected.len() >= 150, "a fleet: {}", expected.len());
    let scratch = ScratchDir::new("integrity");
    let file = scratch.path().join("recording.ndjson");
    {
        let mut out = std::fs::File::create(&file).expect("a temporary recording");
        for record in &records {
            serde_json::to_writer(&mut out, record).expect("writes");
            out.write_all(b"\n").expect("writes");
        }
    }
    let replay = file.clone();
    let app = spawn_app_with(move |config| {
        config.source = SourceKind::Replay;
        config.replay_file = Some(replay);
        config.replay_speed = 0.0;
    })
    .await;
    let mut client = app.connect().await;
    ends_with(&mut client, &expected).await;
    assert_eq!(app.stats.messages_received.get(), records.len() as u64);
    assert!(
        app.stats.upserts.get(Upsert::Duplicate) > 0 && app.stats.upserts.get(Upsert::Stale) > 0
    );
}

#[tokio::test]
async fn the_same_through_ksqldb_ends_as_the_latest_position_by_event_time() {
    let records = delivered();
    // Rows as ksqlDB's streams make them, moved to the present: the bridge takes rows of
    // vehicles long out of service for gone.
    let first_ms = records
        .iter()
        .filter_map(|r| server::hfp::parse(&r.topic, &r.payload_bytes().ok()?).ok())
        .map(|m| m.payload.timestamp_ms)
        .min()
        .expect("messages");
    let shift = server::clock::now_ms() - first_ms;
    let mut rows = Vec::new();
    let mut shifted = Vec::new();
    for record in &records {
        let payload = record.payload_bytes().expect("payload");
        let Some(mut position) =
            server::hfp::parse(&record.topic, &payload).ok().and_then(|m| m.position())
        else {
            continue;
        };
        position.timestamp_ms += shift;
        rows.push(row_from(&position));
        shifted.push(record.clone());
    }
    let expected = latest_by_event_time(&shifted);

    let fake = FakeKsqldb::start().await;
    let url = fake.url.clone();
    let app = spawn_app_with(move |config| config.ksqldb_url = Some(url)).await;
    let mut client = app.connect().await;
    // The push query must be open before the rows are pushed, or they reach the server
    // only through the snapshot (which keeps the last row by offset, as ksqlDB's table).
    crate::helpers::eventually("the push query", || fake.open_push_queries() == 1).await;
    for chunk in rows.chunks(50) {
        fake.upsert_many(chunk.to_vec()).await;
    }
    ends_with(&mut client, &expected).await;
    assert!(app.stats.upserts.get(Upsert::Stale) > 0, "the disorder reached the server");
}
