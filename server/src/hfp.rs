//! HFP v2 (HSL high-frequency positioning) parsing: MQTT topic and JSON payload into typed
//! values, or a typed [`HfpError`]. Nothing here allocates per field beyond the strings a
//! position keeps, nothing panics, and nothing downstream sees raw JSON.
//!
//! # Layout
//! * `topic`: the `/hfp/v2/...` topic levels (vehicle identity, route, headsign, ...).
//! * `payload`: the `{"VP":{...}}` body, where every numeric field may be null.
//!
//! Reference: Digitransit, "High-frequency positioning" (HSLdevcom/digitransit-site,
//! `5-realtime-api/vehicle-positions/high-frequency-positioning`).

mod payload;
mod retime;
mod topic;

pub use payload::{MAX_PAYLOAD_BYTES, Payload, PayloadError};
pub use retime::retime;
pub use topic::{Topic, TopicError};

use app::model::VehiclePosition;

/// One parsed HFP message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message<'a> {
    pub topic: Topic<'a>,
    pub payload: Payload,
}

/// Why a message was rejected. [`HfpError::kind`] names it for the metrics.
#[derive(Debug, thiserror::Error)]
pub enum HfpError {
    #[error("bad topic: {0}")]
    Topic(#[from] TopicError),
    #[error("bad payload: {0}")]
    Payload(#[from] PayloadError),
    /// The payload's single key must be the topic's event type in upper case.
    #[error("topic event `{topic}` does not match payload key `{payload}`")]
    EventMismatch { topic: String, payload: String },
}

/// Rejection reasons as a closed set, so each can have its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    Topic,
    Json,
    Timestamp,
    TooLarge,
    EventMismatch,
}

impl RejectKind {
    pub const ALL: [RejectKind; 5] =
        [Self::Topic, Self::Json, Self::Timestamp, Self::TooLarge, Self::EventMismatch];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Topic => "topic",
            Self::Json => "json",
            Self::Timestamp => "timestamp",
            Self::TooLarge => "too_large",
            Self::EventMismatch => "event_mismatch",
        }
    }
}

impl HfpError {
    pub fn kind(&self) -> RejectKind {
        match self {
            Self::Topic(_) => RejectKind::Topic,
            Self::Payload(PayloadError::TooLarge { .. }) => RejectKind::TooLarge,
            Self::Payload(PayloadError::Json(_)) => RejectKind::Json,
            Self::Payload(PayloadError::MissingTimestamp | PayloadError::BadTimestamp(_)) => {
                RejectKind::Timestamp
            }
            Self::EventMismatch { .. } => RejectKind::EventMismatch,
        }
    }
}

/// Parses one MQTT message.
pub fn parse<'a>(topic: &'a str, payload: &[u8]) -> Result<Message<'a>, HfpError> {
    let topic = Topic::parse(topic)?;
    let payload = Payload::parse(payload)?;
    if !payload.event.eq_ignore_ascii_case(topic.event) {
        return Err(HfpError::EventMismatch {
            topic: topic.event.to_owned(),
            payload: payload.event.clone(),
        });
    }
    Ok(Message { topic, payload })
}

impl Message<'_> {
    /// Whether this is a vehicle-position (`vp`) event: the only kind that moves a marker.
    pub fn is_vehicle_position(&self) -> bool {
        self.topic.event == "vp"
    }

    /// The vehicle's position, or `None` when the message carries no usable coordinates
    /// (HSL sends `null` when the location is unavailable).
    pub fn position(&self) -> Option<VehiclePosition> {
        let (t, p) = (&self.topic, &self.payload);
        let (lat, lon) = p.coordinates()?;
        Some(VehiclePosition {
            id: t.vehicle,
            mode: t.mode,
            line: p.line.clone(),
            route: t.route.map(str::to_owned).or_else(|| p.route.clone()),
            direction: t.direction.or(p.direction),
            headsign: t.headsign.map(str::to_owned),
            operator: p.operator,
            lat,
            lon,
            speed_mps: p.speed_mps,
            heading: p.heading,
            delay_s: p.delay_s,
            timestamp_ms: p.timestamp_ms,
            start_time: t.start_time.map(str::to_owned).or_else(|| p.start_time.clone()),
            next_stop: t.next_stop.map(str::to_owned),
            doors_open: p.doors_open,
            occupancy: p.occupancy,
            location_source: p.location_source.clone(),
        })
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
