//! Replays of a recording: into the map, deterministically, and through a real broker.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use app::model::VehicleId;
use async_trait::async_trait;
use server::config::SourceKind;
use server::hfp::Payload;
use server::source::Sink;
use server::source::replay::Replay;
use tokio_util::sync::CancellationToken;

use crate::helpers::{ScratchDir, TestApp, WAIT, spawn_app_with};
use crate::mosquitto::Mosquitto;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replay/simulator-30-vehicles-10s.ndjson.gz")
}

/// The vehicles with a position in the fixture, read with the same parser as the server.
fn vehicles_in_fixture() -> (usize, HashSet<VehicleId>) {
    let source = server::recording::open(&fixture()).expect("fixture opens");
    let mut messages = 0;
    let mut ids = HashSet::new();
    for record in server::recording::read_all(source) {
        let record = record.expect("fixture lines are valid");
        messages += 1;
        let payload = record.payload_bytes().expect("payload");
        if let Some(position) =
            server::hfp::parse(&record.topic, &payload).ok().and_then(|m| m.position())
        {
            ids.insert(position.id);
        }
    }
    (messages, ids)
}

async fn vehicle_count(app: &TestApp) -> usize {
    let (_, list) = app.get_json("/api/vehicles").await;
    list["vehicles"].as_array().map_or(0, Vec::len)
}

async fn wait_for_vehicles(app: &TestApp, expected: usize) {
    tokio::time::timeout(WAIT, async {
        while vehicle_count(app).await != expected {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the replayed fleet arrives");
}

#[tokio::test]
async fn a_replay_puts_every_recorded_vehicle_on_the_map() {
    let (messages, ids) = vehicles_in_fixture();
    assert!(ids.len() >= 25, "the fixture has a fleet: {}", ids.len());
    let app = spawn_app_with(|config| {
        config.source = SourceKind::Replay;
        config.replay_file = Some(fixture());
        config.replay_speed = 0.0;
    })
    .await;
    wait_for_vehicles(&app, ids.len()).await;
    assert_eq!(app.stats.messages_received.get(), messages as u64);
}

#[derive(Default)]
struct Collect(Mutex<Vec<(String, Vec<u8>)>>);

#[async_trait]
impl Sink for Collect {
    async fn deliver(&self, topic: &str, payload: &[u8], _received: Instant) {
        self.0.lock().expect("not poisoned").push((topic.to_owned(), payload.to_vec()));
    }
}

#[tokio::test]
async fn the_same_recording_replays_to_the_same_messages() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sink = Arc::new(Collect::default());
        let replay = Replay { path: fixture(), speed: None, looping: false, retime: false };
        let delivered = replay.run(sink.clone(), CancellationToken::new()).await.expect("replays");
        let messages =
            Arc::into_inner(sink).expect("sole owner").0.into_inner().expect("not poisoned");
        assert_eq!(delivered as usize, messages.len());
        runs.push(messages);
    }
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0].len(), vehicles_in_fixture().0);
}

#[tokio::test]
async fn a_retimed_replay_carries_the_time_it_is_played_at_and_nothing_else_changes() {
    let play = |retime| async move {
        let sink = Arc::new(Collect::default());
        let replay = Replay { path: fixture(), speed: None, looping: false, retime };
        replay.run(sink.clone(), CancellationToken::new()).await.expect("replays");
        Arc::into_inner(sink).expect("sole owner").0.into_inner().expect("not poisoned")
    };
    let before = server::clock::now_ms();
    let (original, retimed) = (play(false).await, play(true).await);
    let after = server::clock::now_ms();
    assert_eq!(original.len(), retimed.len());
    let mut compared = 0;
    for ((topic, was), (same_topic, now)) in original.iter().zip(&retimed) {
        assert_eq!(topic, same_topic);
        let (Ok(was), Ok(now)) = (Payload::parse(was), Payload::parse(now)) else { continue };
        assert!((before..=after).contains(&now.timestamp_ms), "{} not now", now.timestamp_ms);
        assert!(now.timestamp_ms - was.timestamp_ms > 60_000, "the recording is older than that");
        assert_eq!((now.lat, now.lon, now.line), (was.lat, was.lon, was.line));
        compared += 1;
    }
    assert!(compared > original.len() / 2, "{compared} of {} compared", original.len());
}

#[tokio::test]
async fn a_published_replay_reaches_the_map_through_a_real_broker() {
    let broker = Mosquitto::start();
    let app = broker.spawn_subscribed_app("/hfp/v2/journey/ongoing/vp/#").await;
    app.wait_until_ready(true).await;

    let fixture = fixture();
    broker
        .publish_with_the_subcommand(&[
            "--replay-speed",
            "0",
            "--replay-file",
            fixture.to_str().expect("a UTF-8 path"),
        ])
        .await;

    wait_for_vehicles(&app, vehicles_in_fixture().1.len()).await;
}

/// Counts deliveries and restarts, and stops the replay after `stop_after` messages.
struct Counting {
    delivered: std::sync::atomic::AtomicUsize,
    restarts: std::sync::atomic::AtomicUsize,
    stop_after: usize,
    stop: CancellationToken,
}

#[async_trait]
impl Sink for Counting {
    async fn deliver(&self, _topic: &str, _payload: &[u8], _received: Instant) {
        let delivered = self.delivered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if delivered >= self.stop_after {
            self.stop.cancel();
        }
    }

    fn restart(&self) {
        self.restarts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_looping_replay_starts_over_and_clears_the_previous_pass() {
    let per_pass = vehicles_in_fixture().0;
    let stop = CancellationToken::new();
    let sink = Arc::new(Counting {
        delivered: Default::default(),
        restarts: Default::default(),
        stop_after: per_pass * 2 + 10,
        stop: stop.clone(),
    });
    let replay = Replay { path: fixture(), speed: None, looping: true, retime: false };
    replay.run(sink.clone(), stop).await.expect("replays");
    assert_eq!(sink.restarts.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(sink.delivered.load(std::sync::atomic::Ordering::SeqCst) >= per_pass * 2 + 10);
}

#[tokio::test]
async fn a_replay_that_cannot_play_makes_the_server_not_ready_and_is_counted() {
    let scratch = ScratchDir::new("bad-replays");
    let dir = scratch.path();
    let corrupt_gzip = dir.join("corrupt.ndjson.gz");
    std::fs::write(&corrupt_gzip, b"\x1f\x8b\x08\x00 this is not deflate").expect("writes");
    let no_newline = dir.join("endless.ndjson");
    std::fs::write(&no_newline, vec![b'0'; server::recording::MAX_LINE_BYTES + 10])
        .expect("writes");
    let bad_line = dir.join("bad-line.ndjson");
    std::fs::write(&bad_line, "not a recorded message\n").expect("writes");

    for path in [dir.join("missing.ndjson"), corrupt_gzip, no_newline, bad_line] {
        let app = spawn_app_with(|config| {
            config.source = SourceKind::Replay;
            config.replay_file = Some(path.clone());
        })
        .await;
        app.wait_until_ready(false).await;
        assert_eq!(app.stats.replay_failures.total(), 1, "{}", path.display());
        let (_, body) = app.get_json("/readyz").await;
        assert_eq!((&body["ready"], &body["down"]), (&false.into(), &"replay".into()));
    }
}
