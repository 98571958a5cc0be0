//! ksqlDB (the protocol fake of `fake_ksqldb.rs`, behind the fault proxy) killed and
//! restarted with a changed table, frozen, and cut in the middle of an HTTP/2 frame while
//! 500 browsers watch. The fake runs in this process, so it cannot be sent SIGSTOP; the
//! proxy holding every byte both ways is what a stopped ksqlDB looks like from outside.

use std::collections::HashMap;

use app::model::{FeedState, ServerFrame};

use crate::fake_ksqldb::{FakeKsqldb, row};
use crate::helpers::{TestApp, eventually, spawn_app_with};
use crate::proxy::FaultProxy;

use super::{
    BROWSERS, Browsers, FREEZE, Footprint, Positions, assert_all_told, losses, on_the_wire,
    one_at_a_time, readiness, under_load, until_listed,
};

const VEHICLES: u32 = 300;

/// The table's rows in `round` for vehicles `numbers`, and where they put each vehicle.
fn round(
    number: u32,
    numbers: impl Iterator<Item = u32>,
) -> (Vec<Vec<serde_json::Value>>, Positions) {
    // Recent event times: the bridge leaves rows older than the TTL off the map.
    let at = server::clock::now_ms() + i64::from(number);
    let mut rows = Vec::new();
    let mut positions = HashMap::new();
    for n in numbers {
        let id = format!("0040/{n:05}");
        let (lat, lon) = (60.1 + f64::from(n) * 1e-4, 24.9 + f64::from(number) * 1e-4);
        rows.push(row(&id, lat, lon, at));
        positions.insert(id.parse().expect("valid"), (on_the_wire(lat), on_the_wire(lon)));
    }
    (rows, positions)
}

fn fleet() -> std::ops::RangeInclusive<u32> {
    1..=VEHICLES
}

/// The fake with the whole fleet, the proxy before it, and the server on the proxy.
async fn start() -> (FakeKsqldb, FaultProxy, TestApp) {
    let fake = FakeKsqldb::start().await;
    fake.upsert_many(round(0, fleet()).0).await;
    let proxy = FaultProxy::start(fake.addr()).await;
    let url = format!("http://{}", proxy.addr);
    let app = spawn_app_with(move |config| {
        under_load(config);
        config.ksqldb_url = Some(url);
    })
    .await;
    app.wait_until_ready(true).await;
    until_listed(&app, VEHICLES as usize).await;
    (fake, proxy, app)
}

/// `/readyz` names ksqlDB; the API, which asks ksqlDB, says it is unavailable; and a
/// browser that comes now gets the last positions and is told the feed stalled.
async fn assert_down_and_serving(app: &TestApp) {
    let (status, body) = readiness(app).await;
    assert_eq!((status, body["down"].as_str()), (503, Some("ksqldb")));
    let (status, body) = app.get_json("/api/vehicles").await;
    assert_eq!((status.as_u16(), &body["error"]), (503, &"unavailable".into()));
    let mut late = app.connect().await;
    match late.next_frame().await {
        ServerFrame::Snapshot { vehicles, .. } => assert_eq!(vehicles.len(), VEHICLES as usize),
        other => panic!("a snapshot first, not {other:?}"),
    }
    assert_eq!(late.next_frame().await, ServerFrame::Status { feed: FeedState::Stalled });
}

/// Ready again, a last round pushed, and every browser holding exactly `fake`'s table.
async fn recover(
    app: &TestApp,
    fake: &FakeKsqldb,
    browsers: Browsers,
    before: Footprint,
    last: Positions,
) {
    app.wait_until_ready(true).await;
    let (seen, connected) = browsers.end_with(last).await;
    assert_all_told(&seen);
    // The proxy passes on the server's goodbyes to abandoned queries when it thaws.
    eventually("one push query, whatever the reconnects", || fake.open_push_queries() == 1).await;
    Footprint::of(app).assert_back_to(&before);
    drop(connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ksqldb_killed_and_restarted_with_another_table_resyncs_every_browser() {
    let _scenario = one_at_a_time().await;
    let (fake, proxy, app) = start().await;
    let addr = fake.addr();
    let browsers = Browsers::open(&app, BROWSERS).await;
    let before = Footprint::of(&app);

    // A crash: connections end without a word, and nothing answers until it is back.
    proxy.cut();
    drop(fake);
    app.wait_until_ready(false).await;
    assert_down_and_serving(&app).await;

    // Back with its table rebuilt from Kafka: moved on, and the last 20 vehicles gone.
    let fake = FakeKsqldb::start_on(addr).await;
    let kept = 1..=VEHICLES - 20;
    let (rows, mut last) = round(5, kept.clone());
    fake.upsert_many(rows).await;
    proxy.restore();
    app.wait_until_ready(true).await;
    // And one change pushed after the resync.
    let (rows, moved) = round(6, kept.take(10));
    fake.upsert_many(rows).await;
    last.extend(moved);
    recover(&app, &fake, browsers, before, last).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_ksqldb_is_found_by_http2_pings_and_every_browser_resyncs() {
    let _scenario = one_at_a_time().await;
    let (fake, proxy, app) = start().await;
    let browsers = Browsers::open(&app, BROWSERS).await;
    let before = Footprint::of(&app);

    proxy.freeze();
    let frozen = tokio::time::Instant::now();
    app.wait_until_ready(false).await;
    assert!(frozen.elapsed() < FREEZE, "found while still frozen");
    assert_down_and_serving(&app).await;
    assert!(losses(&app, "ksqldb").await.0 >= 1);
    // Changes meanwhile reach no push query: the resync must bring them.
    let (rows, last) = round(7, fleet());
    fake.upsert_many(rows).await;
    tokio::time::sleep_until(frozen + FREEZE).await;
    proxy.restore();
    recover(&app, &fake, browsers, before, last).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_stream_cut_mid_frame_reconnects_and_every_browser_resyncs() {
    let _scenario = one_at_a_time().await;
    let (fake, proxy, app) = start().await;
    let browsers = Browsers::open(&app, BROWSERS).await;
    let before = Footprint::of(&app);

    let cut = proxy.arm_cut();
    let (rows, last) = round(8, fleet());
    fake.upsert_many(rows).await;
    cut.wait().await;
    app.wait_until_ready(false).await;
    assert_down_and_serving(&app).await;
    assert!(losses(&app, "ksqldb").await.0 >= 1);
    proxy.restore();
    recover(&app, &fake, browsers, before, last).await;
}
