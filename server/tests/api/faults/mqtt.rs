//! The live feed's broker (a real Mosquitto) killed, frozen and cut mid-packet while 500
//! browsers watch.

use std::collections::HashMap;

use server::config::SourceKind;

use super::{
    BROWSERS, Browsers, FREEZE, Footprint, Positions, assert_all_told, losses, on_the_wire,
    one_at_a_time, readiness, under_load, until_listed,
};
use crate::helpers::{TestApp, spawn_app_with, vehicle, vp_message};
use crate::mosquitto::{Mosquitto, publish_raw_to};
use crate::proxy::FaultProxy;

const VEHICLES: u32 = 300;

/// Topic and payload of each message of a round.
type Messages = Vec<(String, Vec<u8>)>;

/// Where every vehicle is in `round`: each moves east a little per round.
fn round(number: u32) -> (Messages, Positions) {
    let tst = format!("2026-11-24T06:{:02}:{:02}.000Z", number / 60, number % 60);
    let mut messages = Vec::new();
    let mut positions = HashMap::new();
    for n in 1..=VEHICLES {
        let (lat, lon) = (60.1 + f64::from(n) * 1e-4, 24.9 + f64::from(number) * 1e-4);
        let (topic, payload) = vp_message(n, &tst, lat, lon);
        messages.push((topic, payload.into_bytes()));
        positions.insert(vehicle(n), (on_the_wire(lat), on_the_wire(lon)));
    }
    (messages, positions)
}

/// The server subscribed to the broker at `url`, with room for every browser.
async fn spawn_subscribed(url: String) -> TestApp {
    let app = spawn_app_with(move |config| {
        under_load(config);
        config.source = SourceKind::Live;
        config.mqtt.url = url;
        config.mqtt.topic = "/hfp/v2/journey/ongoing/vp/#".into();
    })
    .await;
    app.wait_until_ready(true).await;
    app
}

/// Publishes the first rounds and waits until the server has them: QoS 0, so published is
/// not yet received, and the fault must start once the server holds the whole fleet.
async fn fill(broker: &Mosquitto, app: &TestApp) {
    for number in 0..3 {
        broker.publish_raw(round(number).0).await;
    }
    until_listed(app, VEHICLES as usize).await;
}

/// After the fault: the server is ready again, the last round reaches every browser, and
/// nothing piled up.
async fn recover(app: &TestApp, broker: &Mosquitto, browsers: Browsers, before: Footprint) {
    app.wait_until_ready(true).await;
    let (messages, last) = round(9);
    broker.publish_raw(messages).await;
    let (seen, connected) = browsers.end_with(last).await;
    assert_all_told(&seen);
    Footprint::of(app).assert_back_to(&before);
    drop(connected);
}

/// `/readyz` names the broker, and the server still lists what it has.
async fn assert_down_and_serving(app: &TestApp) {
    let (status, body) = readiness(app).await;
    assert_eq!((status, body["down"].as_str()), (503, Some("mqtt")));
    assert_eq!(super::listed(app).await, VEHICLES as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_broker_killed_under_load_comes_back_and_every_browser_ends_current() {
    let _scenario = one_at_a_time().await;
    let mut broker = Mosquitto::start();
    let app = spawn_subscribed(broker.url()).await;
    let browsers = Browsers::open(&app, BROWSERS).await;
    fill(&broker, &app).await;
    let before = Footprint::of(&app);

    broker.kill();
    app.wait_until_ready(false).await;
    assert_down_and_serving(&app).await;
    broker.restart();
    recover(&app, &broker, browsers, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_broker_is_found_by_keep_alive_and_every_browser_ends_current() {
    let _scenario = one_at_a_time().await;
    let broker = Mosquitto::start();
    let app = spawn_subscribed(broker.url()).await;
    let browsers = Browsers::open(&app, BROWSERS).await;
    fill(&broker, &app).await;
    let before = Footprint::of(&app);

    // SIGSTOP: the connection stays open and silent. Only a ping can tell.
    broker.freeze();
    let frozen = tokio::time::Instant::now();
    app.wait_until_ready(false).await;
    assert!(frozen.elapsed() < FREEZE, "found while still frozen");
    assert_down_and_serving(&app).await;
    let (_, reasons) = losses(&app, "mqtt").await;
    assert!(reasons.contains(&"no_ping_response".to_owned()), "{reasons:?}");
    // The fault lasts its whole time whatever the detection took.
    tokio::time::sleep_until(frozen + FREEZE).await;
    broker.thaw();
    recover(&app, &broker, browsers, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_packet_reconnects_and_every_browser_ends_current() {
    let _scenario = one_at_a_time().await;
    let broker = Mosquitto::start();
    let proxy = FaultProxy::start(broker.addr).await;
    let app = spawn_subscribed(format!("mqtt://{}", proxy.addr)).await;
    let browsers = Browsers::open(&app, BROWSERS).await;
    fill(&broker, &app).await;
    let before = Footprint::of(&app);

    let cut = proxy.arm_cut();
    // Published straight to the broker; the server's copy is cut halfway through a chunk.
    publish_raw_to(broker.addr.port(), round(4).0).await;
    cut.wait().await;
    app.wait_until_ready(false).await;
    assert_down_and_serving(&app).await;
    assert!(losses(&app, "mqtt").await.0 >= 1);
    proxy.restore();
    recover(&app, &broker, browsers, before).await;
}
