//! HFP v2 payloads: `{"<EVENT>": {fields}}` with exactly one key, the event type in upper
//! case. Every numeric field may be `null`; `stop` is documented as a string but sent as a
//! number; `tst` has milliseconds except from metros. Unknown fields are ignored, since HSL
//! adds fields over time.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Real payloads are ~300-500 bytes. Anything far larger is not HFP and is refused before
/// the JSON parser spends time on it.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

/// The fields of one payload that we keep, already converted to our units and signs.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// The payload's key: the event type in upper case (`VP`).
    pub event: String,
    pub line: Option<String>,
    pub route: Option<String>,
    pub direction: Option<u8>,
    pub operator: Option<u16>,
    pub timestamp_ms: i64,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub speed_mps: Option<f64>,
    pub heading: Option<u16>,
    /// Seconds late (HFP's `dl` negated).
    pub delay_s: Option<i32>,
    pub doors_open: Option<bool>,
    pub occupancy: Option<u8>,
    pub start_time: Option<String>,
    pub location_source: Option<String>,
}

/// Why a payload is unusable.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("payload of {size} bytes exceeds {MAX_PAYLOAD_BYTES}")]
    TooLarge { size: usize },
    #[error("payload is not HFP JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("payload has neither `tst` nor `tsi`")]
    MissingTimestamp,
    #[error("`tst` is not an RFC 3339 time: {0}")]
    BadTimestamp(String),
}

impl Payload {
    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge { size: bytes.len() });
        }
        let Envelope { event, fields } = serde_json::from_slice(bytes)?;
        let timestamp_ms = match (&fields.tst, fields.tsi) {
            (Some(tst), _) => OffsetDateTime::parse(tst, &Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .map_err(|_| PayloadError::BadTimestamp(tst.clone()))?,
            (None, Some(tsi)) => tsi.saturating_mul(1_000),
            (None, None) => return Err(PayloadError::MissingTimestamp),
        };
        Ok(Self {
            event,
            line: fields.desi.filter(|s| !s.is_empty()),
            route: fields.route.filter(|s| !s.is_empty()),
            direction: fields.dir.and_then(|d| match d.0.as_str() {
                "1" => Some(1),
                "2" => Some(2),
                _ => None,
            }),
            operator: fields.oper.and_then(|o| u16::try_from(o).ok()),
            timestamp_ms,
            lat: fields.lat,
            lon: fields.long,
            speed_mps: fields.spd.filter(|s| s.is_finite() && *s >= 0.0),
            heading: fields.hdg.filter(|h| (0.0..=360.0).contains(h)).map(|h| h.round() as u16),
            // Turned before the cast, which saturates: turning `i32::MIN` would overflow.
            delay_s: fields
                .dl
                .filter(|d| d.is_finite())
                .map(|d| (-d).round().clamp(-f64::from(i32::MAX), f64::from(i32::MAX)) as i32),
            doors_open: fields.drst.map(|d| d != 0),
            occupancy: fields.occu.and_then(|o| u8::try_from(o).ok()).filter(|o| *o <= 100),
            start_time: fields.start.filter(|s| !s.is_empty()),
            location_source: fields.loc.filter(|s| !s.is_empty()),
        })
    }

    /// Coordinates, when both are present and inside the valid WGS84 range.
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        let (lat, lon) = (self.lat?, self.lon?);
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
    }
}

/// The raw fields, named as HSL names them. `Option` everywhere: any of them may be null or
/// missing depending on event type and vehicle.
#[derive(Deserialize)]
struct Fields {
    desi: Option<String>,
    dir: Option<TextOrNumber>,
    oper: Option<u64>,
    tst: Option<String>,
    tsi: Option<i64>,
    spd: Option<f64>,
    hdg: Option<f64>,
    lat: Option<f64>,
    long: Option<f64>,
    dl: Option<f64>,
    drst: Option<u8>,
    occu: Option<u64>,
    start: Option<String>,
    loc: Option<String>,
    route: Option<String>,
}

/// A field documented as a string that some producers send as a number.
struct TextOrNumber(String);

impl<'de> Deserialize<'de> for TextOrNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TextOrNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TextOrNumber(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(TextOrNumber(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(TextOrNumber(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `{"VP": {...}}`: exactly one key.
struct Envelope {
    event: String,
    fields: Fields,
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Envelope;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"an object with one event key, like {"VP":{...}}"#)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
                let event: String =
                    map.next_key()?.ok_or_else(|| de::Error::custom("empty object, no event"))?;
                let fields: Fields = map.next_value()?;
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("more than one event key"));
                }
                Ok(Envelope { event, fields })
            }
        }
        deserializer.deserialize_map(V)
    }
}
