//! Redis (a real redis-server) killed and restarted empty, frozen, and cut in the middle
//! of a reply, while 500 browsers watch and clicks keep coming. Redis only answers lookups, so the server stays ready:
//! `/readyz` lists it as degraded, clicks are answered by the in-memory table meanwhile,
//! and the map is not disturbed at all (no browser is told of a stall). Once Redis is back
//! (and the sink has written to it again), clicks are answered from it again.

use std::collections::HashMap;

use app::model::{DataSource, VehicleLookup};

use super::{
    BROWSERS, Browsers, FREEZE, Footprint, Positions, losses, on_the_wire, one_at_a_time,
    readiness, under_load,
};
use crate::helpers::{TestApp, WAIT, spawn_app_with, vehicle};
use crate::proxy::FaultProxy;
use crate::redis::value;
use crate::redis_server::RedisServer;

const DB: u8 = 1;
const VEHICLES: u32 = 300;
/// The vehicle whose clicks the test follows.
const CLICKED: &str = "0022/00001";

/// Moves every vehicle to where `round` puts it (the feed goes on whatever Redis does).
fn publish_round(app: &TestApp, number: u32) -> Positions {
    let tst = format!("2026-11-24T06:{:02}:{:02}.000Z", number / 60, number % 60);
    let mut positions = HashMap::new();
    for n in 1..=VEHICLES {
        let (lat, lon) = (60.1 + f64::from(n) * 1e-4, 24.9 + f64::from(number) * 1e-4);
        app.publish_position(n, &tst, lat, lon);
        positions.insert(vehicle(n), (on_the_wire(lat), on_the_wire(lon)));
    }
    positions
}

/// Redis holding the clicked vehicle, and the server on it.
async fn start() -> (RedisServer, TestApp) {
    let redis = RedisServer::start();
    let app = spawn_on(&redis, redis.url(DB)).await;
    (redis, app)
}

/// The server on Redis at `url` (Redis itself, or a proxy before it).
async fn spawn_on(redis: &RedisServer, url: String) -> TestApp {
    redis.command(DB, &["SET", CLICKED, &value(60.5, 1_795_500_000_000)]);
    let app = spawn_app_with(move |config| {
        under_load(config);
        config.redis_url = Some(url);
    })
    .await;
    publish_round(&app, 0);
    assert_eq!(click(&app).await, (DataSource::Redis, 60.5));
    app
}

/// Who answered a click on [`CLICKED`], and its latitude.
async fn click(app: &TestApp) -> (DataSource, f64) {
    let response = app.lookup(CLICKED).await;
    assert_eq!(response.status(), 200, "a click is always answered");
    let found: VehicleLookup = response.json().await.expect("a lookup");
    (found.source, found.position.lat)
}

/// Waits until `/readyz` says Redis is degraded (or not); the server stays ready.
async fn until_degraded(app: &TestApp, degraded: bool) {
    tokio::time::timeout(WAIT, async {
        loop {
            let (status, body) = readiness(app).await;
            assert_eq!(status, 200, "Redis never makes the server unready: {body}");
            if (body["degraded"] == serde_json::json!(["redis"])) == degraded {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("/readyz follows Redis in time");
}

/// After Redis is back: clicks come from it again, every browser holds the feed's last
/// round without ever having been told of a stall, and nothing piled up.
async fn recover(app: &TestApp, redis: &RedisServer, browsers: Browsers, before: Footprint) {
    // The sink writes the latest row again.
    redis.command(DB, &["SET", CLICKED, &value(60.6, 1_795_500_001_000)]);
    until_degraded(app, false).await;
    assert_eq!(click(app).await, (DataSource::Redis, 60.6));
    assert!(losses(app, "redis").await.0 >= 1);
    let last = publish_round(app, 9);
    let (seen, connected) = browsers.end_with(last).await;
    assert!(seen.iter().all(|s| !s.stalled), "the map never stalled");
    Footprint::of(app).assert_back_to(&before);
    drop(connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_empty_degrades_clicks_to_the_table_and_back() {
    let _scenario = one_at_a_time().await;
    let (mut redis, app) = start().await;
    let browsers = Browsers::open(&app, BROWSERS).await;
    let before = Footprint::of(&app);

    redis.kill();
    until_degraded(&app, true).await;
    publish_round(&app, 3);
    assert_eq!(click(&app).await.0, DataSource::Memory);
    redis.restart();
    recover(&app, &redis, browsers, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_degrades_clicks_to_the_table_and_back() {
    let _scenario = one_at_a_time().await;
    let (redis, app) = start().await;
    let browsers = Browsers::open(&app, BROWSERS).await;
    let before = Footprint::of(&app);

    redis.freeze();
    let frozen = tokio::time::Instant::now();
    until_degraded(&app, true).await;
    assert!(frozen.elapsed() < FREEZE, "found while still frozen");
    publish_round(&app, 3);
    assert_eq!(click(&app).await.0, DataSource::Memory, "answered while Redis hangs");
    tokio::time::sleep_until(frozen + FREEZE).await;
    redis.thaw();
    recover(&app, &redis, browsers, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_reply_cut_midway_is_answered_by_the_table_and_redis_comes_back() {
    let _scenario = one_at_a_time().await;
    let redis = RedisServer::start();
    // A listing's reply long enough to be cut inside: every vehicle's row.
    let rows: Vec<(String, String)> =
        (1..=VEHICLES).map(|n| (format!("0022/{n:05}"), value(60.3, 1_795_500_000_000))).collect();
    let mut mset = vec!["MSET"];
    for (key, row) in &rows {
        mset.extend([key.as_str(), row.as_str()]);
    }
    redis.command(DB, &mset);
    let proxy = FaultProxy::start(redis.addr()).await;
    let app = spawn_on(&redis, format!("redis://{}/{DB}", proxy.addr)).await;
    let browsers = Browsers::open(&app, BROWSERS).await;
    let before = Footprint::of(&app);

    let cut = proxy.arm_cut();
    let (status, listing) = app.get_json("/api/vehicles").await;
    cut.wait().await;
    assert_eq!(status, 200, "the table answers what Redis could not: {listing}");
    let vehicles = listing["vehicles"].as_array().expect("a listing");
    assert_eq!(vehicles.len(), VEHICLES as usize);
    assert!(vehicles.iter().all(|v| v["source"] == "memory"), "not Redis's cut reply");
    until_degraded(&app, true).await;
    assert_eq!(click(&app).await.0, DataSource::Memory);
    proxy.restore();
    recover(&app, &redis, browsers, before).await;
}
