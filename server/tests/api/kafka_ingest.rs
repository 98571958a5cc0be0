//! `transit-stream ingest` for real: recorded HSL messages published to a real Mosquitto,
//! forwarded by the real forwarder to a real Kafka-protocol broker (tansu), and read back
//! with a Kafka client; then each side is killed and restarted.

use std::time::Duration;

use server::config::MqttArgs;
use server::kafka_ingest::{Forwarder, IngestArgs, IngestStats};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use crate::helpers::eventually;
use crate::mosquitto::Mosquitto;
use crate::tansu::{Record, Tansu};

const TOPIC: &str = "hfp_raw";
/// Kafka clients reconnect with backoff (up to 2 s here); a broker restart takes longer
/// than the usual wait.
const KAFKA_WAIT: Duration = Duration::from_secs(30);

/// The messages of a recording from HSL (`tests/fixtures/hfp/*.dump`: `<received-at>
/// <topic> <payload>`; topics hold spaces, so a line splits at the first space and at the
/// first ` {`).
fn recorded(name: &str) -> Vec<(String, Vec<u8>)> {
    let path = format!("{}/tests/fixtures/hfp/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture readable");
    text.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(' ')?;
            let (topic, payload) = rest.split_once(" {")?;
            Some((topic.to_owned(), format!("{{{payload}").into_bytes()))
        })
        .collect()
}

fn as_records(messages: &[(String, Vec<u8>)]) -> Vec<Record> {
    messages
        .iter()
        .map(|(topic, payload)| Record { key: topic.as_bytes().to_vec(), value: payload.clone() })
        .collect()
}

struct RunningIngest {
    url: String,
    stats: Arc<IngestStats>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), server::kafka_ingest::IngestError>>,
}

impl RunningIngest {
    async fn start(mqtt: &Mosquitto, kafka: &Tansu) -> Self {
        let args = IngestArgs {
            // Everything, dead runs included: the raw topic carries what the feed carries.
            mqtt: MqttArgs { url: mqtt.url(), ca_file: None, topic: "/hfp/v2/#".to_owned() },
            kafka_brokers: kafka.bootstrap(),
            kafka_topic: TOPIC.to_owned(),
            max_buffered: 10_000,
            bind: "127.0.0.1:0".parse().expect("address"),
        };
        let forwarder = Forwarder::build(args).await.expect("ingest builds");
        let url = format!("http://{}", forwarder.local_addr());
        let stats = forwarder.stats();
        let stop = CancellationToken::new();
        let task = tokio::spawn(forwarder.run_until_stopped(stop.clone()));
        Self { url, stats, stop, task }
    }

    async fn is_ready(&self) -> bool {
        reqwest::get(format!("{}/readyz", self.url))
            .await
            .is_ok_and(|response| response.status().is_success())
    }

    async fn wait_until_ready(&self) {
        let deadline = tokio::time::Instant::now() + KAFKA_WAIT;
        while !self.is_ready().await {
            assert!(tokio::time::Instant::now() < deadline, "ingest never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("text")
    }
}

#[tokio::test]
async fn every_mqtt_message_reaches_kafka_once_with_its_topic_as_key_and_its_bytes_unchanged() {
    let mqtt = Mosquitto::start();
    let kafka = Tansu::start();
    kafka.create_topic(TOPIC).await;
    let ingest = RunningIngest::start(&mqtt, &kafka).await;
    ingest.wait_until_ready().await;

    let messages = recorded("currentStopNull.dump");
    assert!(messages.len() > 1_000, "the fixture has {} messages", messages.len());
    let mut sent = messages.clone();
    // Not HFP, and over HFP's size limit: refused and counted, never forwarded.
    sent.push(("/hfp/v2/journey/ongoing/vp/bus/operator/vehicle".to_owned(), b"{}".to_vec()));
    sent.push((messages[0].0.clone(), vec![b' '; 64 * 1024]));
    mqtt.publish_raw(sent).await;

    let read = kafka.read(TOPIC, messages.len(), KAFKA_WAIT).await;
    assert_eq!(read.len(), messages.len(), "no message lost, none duplicated");
    assert!(read == as_records(&messages), "same keys, same bytes, same order");

    let stats = Arc::clone(&ingest.stats);
    eventually("the acknowledgements are counted", || {
        stats.produced.get() == messages.len() as u64
    })
    .await;
    let metrics = ingest.metrics().await;
    for line in [
        format!("transit_ingest_mqtt_messages_total {}", messages.len() + 2),
        format!("transit_ingest_produced_total {}", messages.len()),
        "transit_ingest_dropped_total{reason=\"topic\"} 1".to_owned(),
        "transit_ingest_dropped_total{reason=\"too_large\"} 1".to_owned(),
        "transit_ingest_in_flight 0".to_owned(),
        "transit_ingest_kafka_connected 1".to_owned(),
    ] {
        assert!(metrics.contains(&format!("{line}\n")), "{line} in:\n{metrics}");
    }
    ingest.stop.cancel();
    ingest.task.await.expect("no panic").expect("stops cleanly");
}

#[tokio::test]
async fn messages_published_while_kafka_is_down_are_delivered_once_it_is_back() {
    let mqtt = Mosquitto::start();
    // A broker that keeps its data on disk, as Kafka does: see `tansu` for why a memory
    // broker cannot stand in for a restart.
    let mut kafka = Tansu::start_durable();
    kafka.create_topic(TOPIC).await;
    let ingest = RunningIngest::start(&mqtt, &kafka).await;
    ingest.wait_until_ready().await;

    let before = recorded("serviceJourneyChangeDifferentStop.dump");
    mqtt.publish_raw(before.clone()).await;
    assert!(kafka.read(TOPIC, before.len(), KAFKA_WAIT).await == as_records(&before));
    let stats = Arc::clone(&ingest.stats);
    eventually("the first messages are acknowledged", || {
        stats.produced.get() == before.len() as u64
    })
    .await;

    // The broker crashes; the feed goes on.
    kafka.kill();
    eventually_async_not_ready(&ingest).await;
    let during: Vec<_> = recorded("currentStopNull.dump").into_iter().take(300).collect();
    mqtt.publish_raw(during.clone()).await;
    let expected = (before.len() + during.len()) as u64;
    eventually("ingest holds the messages sent during the outage", || {
        stats.mqtt_messages.get() == expected
    })
    .await;
    assert_eq!(stats.produced.get(), before.len() as u64, "nothing acknowledged while down");

    kafka.restart();
    let all: Vec<_> = before.iter().chain(&during).cloned().collect();
    let read = kafka.read(TOPIC, all.len(), KAFKA_WAIT).await;
    assert_eq!(read.len(), all.len(), "every message, once");
    assert!(read == as_records(&all), "in order, bytes unchanged");
    eventually("every message is acknowledged", || stats.produced.get() == expected).await;
    ingest.wait_until_ready().await;
    ingest.stop.cancel();
    ingest.task.await.expect("no panic").expect("stops cleanly");
}

#[tokio::test]
async fn ingest_resubscribes_after_the_mqtt_broker_restarts() {
    let mut mqtt = Mosquitto::start();
    let kafka = Tansu::start();
    kafka.create_topic(TOPIC).await;
    let ingest = RunningIngest::start(&mqtt, &kafka).await;
    ingest.wait_until_ready().await;

    mqtt.kill();
    eventually_async_not_ready(&ingest).await;
    mqtt.restart();
    ingest.wait_until_ready().await;

    let messages = recorded("serviceJourneyChangeDifferentStop.dump");
    mqtt.publish_raw(messages.clone()).await;
    assert!(kafka.read(TOPIC, messages.len(), KAFKA_WAIT).await == as_records(&messages));
    ingest.stop.cancel();
    ingest.task.await.expect("no panic").expect("stops cleanly");
}

/// Waits until ingest reports itself not ready (it noticed a broker is gone).
async fn eventually_async_not_ready(ingest: &RunningIngest) {
    let deadline = tokio::time::Instant::now() + KAFKA_WAIT;
    while ingest.is_ready().await {
        assert!(tokio::time::Instant::now() < deadline, "ingest never noticed a broker left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
