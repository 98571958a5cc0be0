//! What `transit-stream ingest` counts, served as Prometheus text on its `/metrics`: MQTT
//! messages in, refused by reason, produced (acknowledged by Kafka), failed, dropped for a
//! full buffer, and the state of both connections.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::hfp::RejectKind;
use crate::metrics::Counter;

/// Counters of one ingest process, shared by `Arc`.
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Messages the MQTT subscription delivered, valid or not.
    pub mqtt_messages: Counter,
    /// Refused before Kafka (only `topic` and `too_large` occur here).
    rejected: [Counter; RejectKind::ALL.len()],
    /// Acknowledged by Kafka.
    pub produced: Counter,
    /// Failed for good (librdkafka gave up, or refused the message outright).
    pub delivery_failed: Counter,
    /// Dropped because the bounded buffer was full (Kafka away for long).
    pub dropped_buffer_full: Counter,
    /// Whether some Kafka broker is connected (librdkafka's statistics, every second).
    pub kafka_connected: AtomicBool,
}

impl IngestStats {
    pub fn rejected(&self, kind: RejectKind) -> &Counter {
        let index = RejectKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        &self.rejected[index]
    }

    pub fn kafka_connected(&self) -> bool {
        self.kafka_connected.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition format (version 0.0.4). `in_flight` and
    /// `mqtt_subscribed` are read by the caller at scrape time.
    pub fn render(&self, in_flight: i32, mqtt_subscribed: bool) -> String {
        let mut out = String::with_capacity(1024);
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        let counters = [
            ("transit_ingest_mqtt_messages_total", "MQTT messages received.", &self.mqtt_messages),
            ("transit_ingest_produced_total", "Messages acknowledged by Kafka.", &self.produced),
            (
                "transit_ingest_delivery_failed_total",
                "Messages that could not be delivered to Kafka.",
                &self.delivery_failed,
            ),
        ];
        for (name, help, counter) in counters {
            metric(name, "counter", help, counter.get().to_string());
        }
        metric(
            "transit_ingest_in_flight",
            "gauge",
            "Messages waiting for Kafka's acknowledgement.",
            in_flight.to_string(),
        );
        for (name, help, up) in [
            (
                "transit_ingest_mqtt_subscribed",
                "1 while subscribed to the MQTT feed.",
                mqtt_subscribed,
            ),
            (
                "transit_ingest_kafka_connected",
                "1 while a Kafka broker is connected.",
                self.kafka_connected(),
            ),
        ] {
            metric(name, "gauge", help, u8::from(up).to_string());
        }
        out.push_str("# HELP transit_ingest_dropped_total Messages not forwarded, by reason.\n");
        out.push_str("# TYPE transit_ingest_dropped_total counter\n");
        let _ = writeln!(
            out,
            "transit_ingest_dropped_total{{reason=\"buffer_full\"}} {}",
            self.dropped_buffer_full.get()
        );
        for kind in [RejectKind::Topic, RejectKind::TooLarge] {
            let _ = writeln!(
                out,
                "transit_ingest_dropped_total{{reason=\"{}\"}} {}",
                kind.as_str(),
                self.rejected(kind).get()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_drop_reason_has_its_own_labelled_counter() {
        let stats = IngestStats::default();
        stats.rejected(RejectKind::Topic).inc();
        stats.dropped_buffer_full.add(3);
        let text = stats.render(7, true);
        assert!(text.contains("transit_ingest_dropped_total{reason=\"topic\"} 1\n"), "{text}");
        assert!(text.contains("transit_ingest_dropped_total{reason=\"buffer_full\"} 3\n"));
        assert!(text.contains("transit_ingest_dropped_total{reason=\"too_large\"} 0\n"));
        assert!(text.contains("\ntransit_ingest_in_flight 7\n"));
        assert!(text.contains("\ntransit_ingest_mqtt_subscribed 1\n"));
        assert!(text.contains("\ntransit_ingest_kafka_connected 0\n"));
    }
}
