//! `transit-stream ingest` (feature `kafka`): the full stack's feed without Kafka Connect.
//! It subscribes to HFP over MQTT with the live source's own code ([`MqttSource`]:
//! reconnects, resubscribes) and produces each message to a Kafka topic exactly as the MQTT
//! source connector does: key = the MQTT topic, value = the payload bytes unchanged, which
//! is what `ksqldb/01_hfp_raw.sql` reads. Licence-free and a single small process.
//!
//! # Layout
//! * this file: the options, [`Forwarder`] (build, bind, run, stop) and its HTTP endpoints
//!   (`/healthz`, `/readyz`, `/metrics`).
//! * `producer`: the [`KafkaSink`]: librdkafka's idempotent producer behind [`Sink`].
//! * `stats`: the counters.
//!
//! Tasks: the MQTT subscription and the HTTP server, both stopped by one token. On stop the
//! producer is flushed (bounded), so what was buffered while Kafka was away still goes out.

mod producer;
mod stats;

pub use producer::{KafkaSink, KafkaTarget, ProducerError};
pub use stats::IngestStats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::{ConfigError, MqttArgs};
use crate::readiness::{Readiness, Upstream};
use crate::source::Sink;
use crate::source::mqtt::MqttSource;

/// How long stopping waits for Kafka to acknowledge what is still buffered.
const FLUSH_ON_STOP: Duration = Duration::from_secs(10);

/// Options of `transit-stream ingest`.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub mqtt: MqttArgs,
    /// Kafka bootstrap servers (host:port, comma-separated).
    #[arg(long, env = "TRANSIT_KAFKA_BROKERS", default_value = "localhost:9092")]
    pub kafka_brokers: String,
    /// Kafka topic to write (the raw feed that `ksqldb/01_hfp_raw.sql` reads).
    #[arg(long, env = "TRANSIT_KAFKA_TOPIC", default_value = "hfp_raw")]
    pub kafka_topic: String,
    /// Most messages buffered for Kafka at once (about 40 s of HSL's peak by default);
    /// beyond it new messages are dropped and counted, memory does not grow.
    #[arg(long, env = "TRANSIT_KAFKA_MAX_BUFFERED", default_value_t = 100_000)]
    pub max_buffered: u32,
    /// Address of the health and metrics endpoints (port 0 picks one).
    #[arg(long, env = "TRANSIT_INGEST_BIND", default_value = "127.0.0.1:9100")]
    pub bind: SocketAddr,
}

/// Why ingest could not start, or stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Mqtt(#[from] ConfigError),
    #[error(transparent)]
    Producer(#[from] ProducerError),
    #[error("--max-buffered must be between 1 and 10000000, not {0}")]
    MaxBuffered(u32),
    #[error("--kafka-brokers and --kafka-topic must not be empty")]
    Kafka,
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the Kafka producer hit a fatal error (see the log)")]
    Fatal,
    #[error("the health endpoint failed: {0}")]
    Serve(std::io::Error),
}

/// The state the HTTP endpoints read.
#[derive(Clone)]
struct Health {
    stats: Arc<IngestStats>,
    sink: Arc<KafkaSink>,
    mqtt: Readiness,
}

/// A built, bound, not yet running forwarder from MQTT to Kafka.
pub struct Forwarder {
    source: MqttSource,
    sink: Arc<KafkaSink>,
    stats: Arc<IngestStats>,
    listener: TcpListener,
    local_addr: SocketAddr,
    fatal: CancellationToken,
}

impl Forwarder {
    /// Validates the options, creates the producer (it connects in the background) and
    /// binds the health endpoint.
    pub async fn build(args: IngestArgs) -> Result<Self, IngestError> {
        if !(1..=10_000_000).contains(&args.max_buffered) {
            return Err(IngestError::MaxBuffered(args.max_buffered));
        }
        if args.kafka_brokers.trim().is_empty() || args.kafka_topic.trim().is_empty() {
            return Err(IngestError::Kafka);
        }
        args.mqtt.validate()?;
        let broker = args.mqtt.broker().map_err(ConfigError::from)?;
        let stats = Arc::new(IngestStats::default());
        let fatal = CancellationToken::new();
        let target = KafkaTarget {
            brokers: args.kafka_brokers,
            topic: args.kafka_topic,
            max_buffered: args.max_buffered,
        };
        let sink = Arc::new(KafkaSink::new(&target, Arc::clone(&stats), fatal.clone())?);
        let listener = TcpListener::bind(args.bind)
            .await
            .map_err(|source| IngestError::Bind { addr: args.bind, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| IngestError::Bind { addr: args.bind, source })?;
        let source = MqttSource {
            broker,
            topic_filter: args.mqtt.topic,
            readiness: Readiness::waiting_for(Upstream::Mqtt),
        };
        tracing::info!(brokers = %target.brokers, topic = %target.topic, "Producing to Kafka.");
        Ok(Self { source, sink, stats, listener, local_addr, fatal })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn stats(&self) -> Arc<IngestStats> {
        Arc::clone(&self.stats)
    }

    /// Forwards until `shutdown` (or a fatal producer error), then flushes what is buffered.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), IngestError> {
        let Self { source, sink, stats, listener, fatal, .. } = self;
        // A fatal producer error stops everything, like a signal, but is reported as one.
        let stop = shutdown.child_token();
        let health = Health { stats, sink: Arc::clone(&sink), mqtt: source.readiness.clone() };
        let router = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(ready))
            .route("/metrics", get(metrics))
            .with_state(health);
        let server = tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future()
                .instrument(tracing::info_span!("health")),
        );
        let feed: Arc<dyn Sink> = sink.clone();
        let mqtt =
            tokio::spawn(source.run(feed, stop.clone()).instrument(tracing::info_span!("mqtt")));
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = fatal.cancelled() => stop.cancel(),
        }
        let _ = mqtt.await;
        let left =
            tokio::task::spawn_blocking(move || sink.flush(FLUSH_ON_STOP)).await.unwrap_or(-1);
        if left != 0 {
            tracing::warn!(left, "Stopped with messages Kafka had not acknowledged.");
        }
        let served = server.await.unwrap_or(Ok(()));
        if fatal.is_cancelled() {
            return Err(IngestError::Fatal);
        }
        served.map_err(IngestError::Serve)
    }
}

/// Ready while subscribed to MQTT and connected to Kafka: 503 otherwise, so a supervisor
/// (and the compose health check) sees either side down.
async fn ready(State(health): State<Health>) -> impl IntoResponse {
    let (mqtt, kafka) = (health.mqtt.is_ready(), health.stats.kafka_connected());
    let status = if mqtt && kafka { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(serde_json::json!({ "mqtt": mqtt, "kafka": kafka })))
}

async fn metrics(State(health): State<Health>) -> impl IntoResponse {
    let text = health.stats.render(health.sink.in_flight(), health.mqtt.is_ready());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
