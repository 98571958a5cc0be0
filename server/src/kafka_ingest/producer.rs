//! The Kafka side of `transit-stream ingest`: a [`Sink`] that hands every HFP message to
//! librdkafka's idempotent producer, keyed by its MQTT topic, its payload bytes unchanged.
//!
//! Why these producer settings:
//! * `enable.idempotence`: librdkafka retries a batch whose answer was lost; the broker
//!   drops the repeat by producer id and sequence number, so a retry never duplicates a
//!   message, and order within a partition is kept.
//! * `message.timeout.ms = 0` (no delivery deadline): while the broker is away, messages
//!   wait and are retried until it is back, instead of being failed after 5 minutes.
//!   Memory stays bounded because the queue is: when it is full, new messages are dropped
//!   and counted (`reason="buffer_full"`), never queued without limit, and the MQTT loop
//!   is never blocked (a blocked loop would miss its keep-alives and lose the feed).
//! * `partitioner = murmur2_random`: the Java client's partitioner, so this and Kafka
//!   Connect put the same key in the same partition.
//!
//! Delivery reports arrive on librdkafka's polling thread ([`ThreadedProducer`]) and only
//! touch atomics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;
use tokio_util::sync::CancellationToken;

use super::stats::IngestStats;
use crate::hfp::{MAX_PAYLOAD_BYTES, RejectKind, Topic};
use crate::source::Sink;

/// Bytes librdkafka may hold for messages not yet acknowledged, whatever their count: with
/// HFP's ~0.7 KB messages the message bound is reached long before this one.
const MAX_BUFFERED_KBYTES: u32 = 256 * 1024;

/// Why the producer could not be created.
#[derive(Debug, thiserror::Error)]
#[error("Kafka producer: {0}")]
pub struct ProducerError(#[from] KafkaError);

/// Counts deliveries and follows the brokers' state; told of fatal errors.
pub struct IngestContext {
    stats: Arc<IngestStats>,
    /// Cancelled when librdkafka reports a fatal error: the producer is unusable then, and
    /// the process exits so that its supervisor starts a fresh one.
    fatal: CancellationToken,
}

impl ClientContext for IngestContext {
    fn stats(&self, statistics: Statistics) {
        // Bootstrap entries (node id -1) are only addresses; a real broker that is UP is
        // what makes delivery possible.
        let up = statistics.brokers.values().any(|b| b.nodeid >= 0 && b.state == "UP");
        self.stats.kafka_connected.store(up, Ordering::Relaxed);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::Fatal) => {
                tracing::error!(%error, reason, "Fatal Kafka producer error; stopping.");
                self.fatal.cancel();
            }
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                self.stats.kafka_connected.store(false, Ordering::Relaxed);
                tracing::warn!(reason, "No Kafka broker reachable; buffering and retrying.");
            }
            _ => tracing::warn!(%error, reason, "Kafka client error."),
        }
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(facility, "librdkafka: {message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(facility, "librdkafka: {message}"),
            _ => tracing::debug!(facility, "librdkafka: {message}"),
        }
    }
}

impl ProducerContext for IngestContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.stats.produced.inc();
                self.stats.kafka_connected.store(true, Ordering::Relaxed);
            }
            Err((error, _)) => {
                self.stats.delivery_failed.inc();
                tracing::warn!(%error, "A message could not be delivered to Kafka.");
            }
        }
    }
}

/// Where `ingest` writes.
#[derive(Debug, Clone)]
pub struct KafkaTarget {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    pub topic: String,
    /// Most messages waiting for the broker's acknowledgement at once.
    pub max_buffered: u32,
}

/// The idempotent producer, as a [`Sink`] for any HFP source.
pub struct KafkaSink {
    producer: ThreadedProducer<IngestContext>,
    topic: String,
    stats: Arc<IngestStats>,
    /// Whether the buffer was full at the last message: the drop is logged once per
    /// episode, not once per message.
    full: AtomicBool,
}

impl KafkaSink {
    pub fn new(
        target: &KafkaTarget,
        stats: Arc<IngestStats>,
        fatal: CancellationToken,
    ) -> Result<Self, ProducerError> {
        let context = IngestContext { stats: Arc::clone(&stats), fatal };
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &target.brokers)
            .set("client.id", "transit-stream-ingest")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "0")
            .set("queue.buffering.max.messages", target.max_buffered.to_string())
            .set("queue.buffering.max.kbytes", MAX_BUFFERED_KBYTES.to_string())
            .set("linger.ms", "20")
            .set("compression.type", "lz4")
            .set("partitioner", "murmur2_random")
            // Back within two seconds of the broker, not librdkafka's default ten.
            .set("reconnect.backoff.max.ms", "2000")
            .set("statistics.interval.ms", "1000")
            .create_with_context(context)?;
        Ok(Self { producer, topic: target.topic.clone(), stats, full: AtomicBool::new(false) })
    }

    /// Messages handed to librdkafka and not yet acknowledged (or failed).
    pub fn in_flight(&self) -> i32 {
        self.producer.in_flight_count()
    }

    /// Waits up to `timeout` for every buffered message to be acknowledged. Returns how
    /// many were still waiting.
    pub fn flush(&self, timeout: Duration) -> i32 {
        let _ = self.producer.flush(timeout);
        self.producer.in_flight_count()
    }
}

#[async_trait]
impl Sink for KafkaSink {
    async fn deliver(&self, topic: &str, payload: &[u8], _received: Instant) {
        self.stats.mqtt_messages.inc();
        // Refused here what ksqlDB could not use anyway: a topic that is not HFP (its
        // levels are the vehicle's identity) and a payload over HFP's size limit.
        if payload.len() > MAX_PAYLOAD_BYTES {
            self.stats.rejected(RejectKind::TooLarge).inc();
            return;
        }
        if let Err(error) = Topic::parse(topic) {
            self.stats.rejected(RejectKind::Topic).inc();
            tracing::debug!(%error, %topic, "Not forwarding a message.");
            return;
        }
        let record = BaseRecord::to(&self.topic).key(topic).payload(payload);
        match self.producer.send(record) {
            Ok(()) => {
                if self.full.swap(false, Ordering::Relaxed) {
                    tracing::info!("The Kafka buffer has room again.");
                }
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                self.stats.dropped_buffer_full.inc();
                if !self.full.swap(true, Ordering::Relaxed) {
                    tracing::warn!("The Kafka buffer is full: dropping messages until it drains.");
                }
            }
            Err((error, _)) => {
                self.stats.delivery_failed.inc();
                tracing::warn!(%error, "librdkafka refused a message.");
            }
        }
    }
}
