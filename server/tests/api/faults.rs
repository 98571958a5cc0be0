//! Faults under load: 500 browsers connected while the live feed runs, and the broker
//! killed, then restarted. The server keeps serving, `/readyz` names the upstream it waits
//! for and recovers, every browser is told the feed stalled and then that it is live, the
//! server's open files and tasks come back to where they were, and afterwards every
//! browser holds exactly what was published last.

use std::collections::HashMap;
use std::sync::Arc;

use app::model::{FeedState, ServerFrame, VehicleId};
use tokio::sync::watch;
use tokio::task::JoinSet;

use server::config::SourceKind;

use crate::helpers::{TestApp, WAIT, WsClient, spawn_app_with, vehicle, vp_message};
use crate::mosquitto::Mosquitto;

const BROWSERS: usize = 500;
const VEHICLES: u32 = 300;

/// Topic and payload of each message of a round.
type Messages = Vec<(String, Vec<u8>)>;

/// Where every vehicle is in `round`: each moves east a little per round.
fn round(number: u32) -> (Messages, HashMap<VehicleId, (f64, f64)>) {
    let tst = format!("2026-11-24T06:{:02}:{:02}.000Z", number / 60, number % 60);
    let mut messages = Vec::new();
    let mut positions = HashMap::new();
    for n in 1..=VEHICLES {
        let (lat, lon) = (60.1 + f64::from(n) * 1e-4, 24.9 + f64::from(number) * 1e-4);
        let (topic, payload) = vp_message(n, &tst, lat, lon);
        messages.push((topic, payload.into_bytes()));
        // As the wire keeps them, to 1e-7 degrees.
        let wire = |degrees: f64| (degrees * 1e7).round() / 1e7;
        positions.insert(vehicle(n), (wire(lat), wire(lon)));
    }
    (messages, positions)
}

/// What one browser went through.
#[derive(Debug, Default)]
struct Seen {
    stalled: bool,
    live_again: bool,
    current: bool,
}

type Positions = Arc<HashMap<VehicleId, (f64, f64)>>;

/// Reads until the browser holds exactly the `target` positions (once there is one),
/// noting the status frames on the way. Returns the client still connected.
async fn browse(
    mut client: WsClient,
    mut target: watch::Receiver<Option<Positions>>,
) -> (Seen, WsClient) {
    let mut seen = Seen::default();
    loop {
        if let Some(target) = target.borrow().clone() {
            let held: HashMap<VehicleId, (f64, f64)> =
                client.known().values().map(|m| (m.id, (m.lat, m.lon))).collect();
            if held == *target {
                seen.current = true;
                return (seen, client);
            }
        }
        tokio::select! {
            changed = target.changed() => if changed.is_err() { return (seen, client) },
            frame = client.next_frame_or_end() => match frame {
                None => return (seen, client),
                Some(ServerFrame::Status { feed: FeedState::Stalled }) => seen.stalled = true,
                Some(ServerFrame::Status { feed: FeedState::Live }) => seen.live_again = seen.stalled,
                Some(_) => {}
            },
        }
    }
}

/// How many vehicles `/api/vehicles` lists (it answers 200 even while the feed is down).
async fn listed(app: &TestApp) -> usize {
    let (status, listing) = app.get_json("/api/vehicles").await;
    assert_eq!(status, 200);
    listing["vehicles"].as_array().map_or(0, Vec::len)
}

/// Files the tests running beside this one may open meanwhile.
const OTHER_TESTS_FILES: usize = 100;

/// The server's open files (this process: the test and the server share it).
fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_broker_killed_under_load_comes_back_and_every_browser_ends_current() {
    let mut broker = Mosquitto::start();
    let url = broker.url();
    let app = spawn_app_with(move |config| {
        config.source = SourceKind::Live;
        config.mqtt.url = url;
        config.mqtt.topic = "/hfp/v2/journey/ongoing/vp/#".into();
        // Every browser here comes from 127.0.0.1.
        config.max_connections_per_address = 0;
        config.max_ws_clients = BROWSERS as u32 + 10;
    })
    .await;
    app.wait_until_ready(true).await;
    let (target, watching) = watch::channel(None);
    let mut browsers = JoinSet::new();
    for _ in 0..BROWSERS {
        browsers.spawn(browse(app.connect().await, watching.clone()));
    }
    for number in 0..3 {
        broker.publish_raw(round(number).0).await;
    }
    // QoS 0: published is not yet received. The outage starts once the server has them all.
    tokio::time::timeout(WAIT, async {
        while listed(&app).await != VEHICLES as usize {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the fleet reaches the server before the outage");
    let files_before = open_files();
    let tasks_before = app.stats.ws_clients.get();

    broker.kill();
    app.wait_until_ready(false).await;
    let (status, readiness) = app.get_json("/readyz").await;
    assert_eq!((status.as_u16(), readiness["down"].as_str()), (503, Some("mqtt")));
    // Still serving what it has.
    assert_eq!(listed(&app).await, VEHICLES as usize);
    assert_eq!(app.stats.ws_clients.get(), tasks_before, "no browser dropped");

    broker.restart();
    app.wait_until_ready(true).await;
    let (messages, last) = round(9);
    broker.publish_raw(messages).await;
    target.send_replace(Some(Arc::new(last)));

    let (mut seen, mut connected) = (Vec::with_capacity(BROWSERS), Vec::with_capacity(BROWSERS));
    let joined = tokio::time::timeout(WAIT * 3, async {
        while let Some(browser) = browsers.join_next().await {
            let (browser, client) = browser.expect("a browser task");
            seen.push(browser);
            connected.push(client);
        }
    })
    .await;
    assert!(joined.is_ok(), "{} of {BROWSERS} browsers caught up in time", seen.len());
    assert!(seen.iter().all(|s| s.current), "every browser ends with the last positions");
    assert!(seen.iter().all(|s| s.stalled && s.live_again), "every browser was told");
    // The reconnect leaves nothing behind. Other tests run in this process too, so the
    // count has a margin; anything kept per browser would be hundreds over it.
    let files_after = open_files();
    assert!(
        files_after <= files_before + OTHER_TESTS_FILES,
        "open files {files_before} before the outage, {files_after} after"
    );
    assert_eq!(app.stats.ws_clients.get(), tasks_before);
    drop(connected);
}
