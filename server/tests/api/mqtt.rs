//! The live MQTT source against a real Mosquitto broker, fed by the `publish` subcommand.

use std::collections::HashSet;

use app::model::{FeedState, ServerFrame};
use server::config::SourceKind;
use server::hfp::RejectKind;

use crate::helpers::{WAIT, spawn_app_with, upserted, vehicle, vp_message};
use crate::mosquitto::{Mosquitto, TestPki, publish_raw_to};
use server::positions::Upsert;
use server::source::mqtt::{Broker, MqttSource};
use std::time::Duration;

#[tokio::test]
async fn messages_from_the_publish_subcommand_reach_the_map() {
    let broker = Mosquitto::start();
    let app = broker.spawn_subscribed_app("/hfp/v2/journey/ongoing/vp/#").await;
    app.wait_until_ready(true).await;
    let mut client = app.connect_past_snapshot().await;

    let output =
        broker.publish_with_the_subcommand(&["--sim-vehicles", "20", "--duration-secs", "2"]).await;
    assert!(output.contains("published"), "{output}");

    let mut seen = HashSet::new();
    tokio::time::timeout(WAIT, async {
        while seen.len() < 20 {
            if let ServerFrame::Delta { upserts, .. } = client.next_frame().await {
                seen.extend(upserts.into_iter().map(|m| m.id));
            }
        }
    })
    .await
    .expect("all 20 published vehicles reach the map");
}

#[tokio::test]
async fn after_the_broker_restarts_the_source_reconnects_and_data_flows_again() {
    let mut broker = Mosquitto::start();
    let app = broker.spawn_subscribed_app("/hfp/v2/journey/ongoing/vp/#").await;
    app.wait_until_ready(true).await;
    let mut client = app.connect_past_snapshot().await;

    broker.kill();
    app.wait_until_ready(false).await;
    assert_eq!(app.get_json("/readyz").await.1["down"], "mqtt", "it says what it waits for");
    // Browsers hear that the feed stalled.
    client.frame_where(|f| *f == ServerFrame::Status { feed: FeedState::Stalled }).await;

    broker.restart();
    // Resubscribed after reconnecting: ready again, and messages arrive.
    app.wait_until_ready(true).await;
    let (topic, payload) = vp_message(77, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    broker.publish_raw(vec![(topic, payload.into_bytes())]).await;
    client.frame_where(|f| upserted(f, vehicle(77)).is_some()).await;
}

#[tokio::test]
async fn malformed_wrong_empty_and_oversized_messages_are_counted_and_skipped() {
    let broker = Mosquitto::start();
    // Subscribe to everything, so wrong topics reach us too.
    let app = broker.spawn_subscribed_app("#").await;
    app.wait_until_ready(true).await;
    let mut client = app.connect_past_snapshot().await;

    let (topic, payload) = vp_message(5, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    let v1_topic = topic.replace("/hfp/v2/", "/hfp/v1/");
    let (sentinel_topic, sentinel_payload) =
        vp_message(6, "2026-11-24T06:00:00.000Z", 60.18, 24.95);
    broker
        .publish_raw(vec![
            (topic.clone(), Vec::new()),
            (topic.clone(), b"{\"VP\":{\"lat\":60.1,".to_vec()),
            (topic.clone(), vec![b' '; 100 * 1024]),
            (v1_topic, payload.clone().into_bytes()),
            ("weather/helsinki".to_owned(), b"{\"temp\":-3}".to_vec()),
            (topic.clone(), payload.clone().into_bytes()),
            // A repeated delivery: ignored by event time, counted.
            (topic, payload.into_bytes()),
            // A last valid message: MQTT keeps order, so once it is on the map every
            // message before it has been handled.
            (sentinel_topic, sentinel_payload.into_bytes()),
        ])
        .await;
    client.frame_where(|f| upserted(f, vehicle(6)).is_some()).await;
    assert_eq!(app.stats.upserts.get(Upsert::Duplicate), 1);

    assert_eq!(app.stats.rejected(RejectKind::Json).get(), 2);
    assert_eq!(app.stats.rejected(RejectKind::TooLarge).get(), 1);
    assert_eq!(app.stats.rejected(RejectKind::Topic).get(), 2);
    assert_eq!(app.stats.upserts.get(Upsert::Inserted), 2);
    assert!(app.is_ready().await, "bad messages did not cost the subscription");
}

#[tokio::test]
async fn the_live_source_speaks_tls_and_trusts_only_known_certificates() {
    let pki = TestPki::create("live");
    let (broker, plain) = Mosquitto::start_tls(&pki);
    let tls_url = format!("mqtts://{}", broker.addr);

    // Without our CA the broker's certificate is refused; with it, the handshake succeeds.
    let unknown = Broker::parse(&tls_url).expect("valid URL");
    let refused = MqttSource::probe(&unknown, Duration::from_secs(5)).await.expect_err("untrusted");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    let trusted = unknown.with_extra_ca(Some(pki.ca()));
    MqttSource::probe(&trusted, Duration::from_secs(5)).await.expect("trusted");

    let ca = pki.ca();
    let app = spawn_app_with(move |config| {
        config.source = SourceKind::Live;
        config.mqtt.url = tls_url;
        config.mqtt.ca_file = Some(ca);
    })
    .await;
    app.wait_until_ready(true).await;
    let mut client = app.connect_past_snapshot().await;

    let (topic, payload) = vp_message(9, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    publish_raw_to(plain.port(), vec![(topic, payload.into_bytes())]).await;
    client.frame_where(|f| upserted(f, vehicle(9)).is_some()).await;
}
