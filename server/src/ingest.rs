//! The one path into the table, whatever the source: embedded sources hand raw MQTT topic
//! and payload bytes to [`Ingest::message`] (parse, count, upsert); the ksqlDB bridge hands
//! rows it already typed to [`Ingest::position`] and [`Ingest::snapshot`]. Nothing else
//! writes positions.

use std::sync::Arc;
use std::time::Instant;

use app::model::VehiclePosition;

use crate::hfp::{self, HfpError};
use crate::metrics::Stats;
use crate::positions::{LatestPositions, Upsert};
use crate::readiness::Readiness;

/// What became of a valid message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A vehicle position, applied to the table as described.
    Position(Upsert),
    /// A `vp` message without usable coordinates (HSL sends nulls when GPS is lost).
    NoCoordinates,
    /// A valid message of another event type (door, stop, ...): not a position.
    OtherEvent,
}

/// Parses messages into the latest-positions table, counting every outcome.
#[derive(Debug, Clone)]
pub struct Ingest {
    positions: Arc<LatestPositions>,
    stats: Arc<Stats>,
}

impl Ingest {
    pub fn new(positions: Arc<LatestPositions>, stats: Arc<Stats>) -> Self {
        Self { positions, stats }
    }

    /// The counters this path writes to.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Takes a position that is already typed (a ksqlDB row), counting the outcome.
    pub fn position(&self, position: VehiclePosition, now: Instant) -> Upsert {
        let outcome = self.positions.upsert(position, now);
        self.stats.upsert(outcome).inc();
        outcome
    }

    /// Replaces the table with an upstream snapshot (after a reconnect) and marks the
    /// upstream delivering, in one step as the hub sees the table: a tick finds both the
    /// reloaded positions and the upstream up, or neither.
    pub fn snapshot(&self, positions: Vec<VehiclePosition>, now: Instant, upstream: &Readiness) {
        self.positions.replace_all(positions, now, || upstream.up());
    }

    /// Empties the table (a replay starting over): every vehicle leaves the map in the
    /// next delta.
    pub fn clear(&self, now: Instant) {
        self.positions.replace_all(Vec::new(), now, || {});
    }

    /// Takes one MQTT message. A rejected message is counted and returned as an error for
    /// the caller to log if it wants; it never affects other messages.
    pub fn message(&self, topic: &str, payload: &[u8], now: Instant) -> Result<Outcome, HfpError> {
        self.stats.messages_received.inc();
        let message = match hfp::parse(topic, payload) {
            Ok(message) => message,
            Err(error) => {
                self.stats.rejected(error.kind()).inc();
                return Err(error);
            }
        };
        if !message.is_vehicle_position() {
            self.stats.other_events.inc();
            return Ok(Outcome::OtherEvent);
        }
        let Some(position) = message.position() else {
            self.stats.positions_without_coordinates.inc();
            return Ok(Outcome::NoCoordinates);
        };
        let outcome = self.positions.upsert(position, now);
        self.stats.upsert(outcome).inc();
        Ok(Outcome::Position(outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hfp::RejectKind;
    use std::time::Duration;

    const TOPIC: &str = "/hfp/v2/journey/ongoing/vp/tram/0040/00412/1009/1/Jätkäsaari/08:11/1130446/4/60;24/19/74/39";

    fn ingest() -> (Ingest, Arc<LatestPositions>, Arc<Stats>) {
        let positions = Arc::new(LatestPositions::new(Duration::from_secs(180)));
        let stats = Arc::new(Stats::default());
        (Ingest::new(Arc::clone(&positions), Arc::clone(&stats)), positions, stats)
    }

    fn payload(tst: &str, lat: &str) -> Vec<u8> {
        format!(
            r#"{{"VP":{{"desi":"9","dir":"1","oper":40,"veh":412,"tst":"{tst}","tsi":1,"spd":4.2,"hdg":181,"lat":{lat},"long":24.94,"dl":-20,"drst":0,"start":"08:11","loc":"GPS","route":"1009"}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_bad_message_is_counted_and_the_next_good_one_still_lands() {
        let (ingest, positions, stats) = ingest();
        let now = Instant::now();
        assert!(ingest.message(TOPIC, b"{not json", now).is_err());
        assert!(
            ingest
                .message("/hfp/v1/whatever", &payload("2026-11-24T06:11:00.000Z", "60.17"), now)
                .is_err()
        );
        let outcome = ingest.message(TOPIC, &payload("2026-11-24T06:11:00.000Z", "60.17"), now);
        assert_eq!(outcome.expect("valid"), Outcome::Position(Upsert::Inserted));

        assert_eq!(stats.messages_received.get(), 3);
        assert_eq!(stats.rejected(RejectKind::Json).get(), 1);
        assert_eq!(stats.rejected(RejectKind::Topic).get(), 1);
        assert_eq!(positions.len(), 1);
    }

    #[test]
    fn positions_without_coordinates_and_other_events_do_not_touch_the_table() {
        let (ingest, positions, stats) = ingest();
        let now = Instant::now();
        let outcome = ingest.message(TOPIC, &payload("2026-11-24T06:11:00.000Z", "null"), now);
        assert_eq!(outcome.expect("valid"), Outcome::NoCoordinates);

        let door_topic = TOPIC.replace("/vp/", "/doo/");
        let door = String::from_utf8(payload("2026-11-24T06:11:01.000Z", "60.17"))
            .expect("utf-8")
            .replace("\"VP\"", "\"DOO\"");
        assert_eq!(
            ingest.message(&door_topic, door.as_bytes(), now).expect("valid"),
            Outcome::OtherEvent
        );

        assert!(positions.is_empty());
        assert_eq!(stats.positions_without_coordinates.get(), 1);
        assert_eq!(stats.other_events.get(), 1);
    }
}
