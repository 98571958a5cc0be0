//! HFP v2 topics:
//! `/hfp/v2/<journey_type>/<temporal_type>/<event_type>/<transport_mode>/<operator_id>/`
//! `<vehicle_number>/<route_id>/<direction_id>/<headsign>/<start_time>/<next_stop>/`
//! `<geohash_level>/<geohash>/...`
//!
//! The number of levels varies: deadrun topics stop after the vehicle number, traffic-light
//! topics add a junction id, and HSL may append levels without a version change. Headsigns
//! contain spaces, parentheses and non-ASCII text. Levels after the vehicle number are
//! therefore optional, and an empty level means "not given".

use app::model::{TransportMode, VehicleId};

/// The levels of an HFP v2 topic that we use, borrowed from the topic string.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic<'a> {
    /// `journey`, `deadrun` or `signoff`.
    pub journey_type: &'a str,
    /// `ongoing` or `upcoming`.
    pub temporal_type: &'a str,
    /// `vp`, `dep`, `arr`, ... (lower case).
    pub event: &'a str,
    pub mode: TransportMode,
    pub vehicle: VehicleId,
    pub route: Option<&'a str>,
    pub direction: Option<u8>,
    pub headsign: Option<&'a str>,
    pub start_time: Option<&'a str>,
    pub next_stop: Option<&'a str>,
}

/// Why a topic is not an HFP v2 topic we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("not an HFP topic (expected it to start with /hfp/)")]
    NotHfp,
    #[error("unsupported HFP version `{0}` (only v2 is supported)")]
    UnsupportedVersion(String),
    #[error("topic ends before the {0} level")]
    MissingLevel(&'static str),
    #[error("vehicle levels are not operator/vehicle digits")]
    BadVehicle,
    #[error("direction level `{0}` is not 1 or 2")]
    BadDirection(String),
}

impl<'a> Topic<'a> {
    pub fn parse(topic: &'a str) -> Result<Self, TopicError> {
        let rest = topic.strip_prefix("/hfp/").ok_or(TopicError::NotHfp)?;
        let mut levels = rest.split('/');
        let mut required =
            |name| levels.next().filter(|l| !l.is_empty()).ok_or(TopicError::MissingLevel(name));
        let version = required("version")?;
        if version != "v2" {
            return Err(TopicError::UnsupportedVersion(version.to_owned()));
        }
        let journey_type = required("journey type")?;
        let temporal_type = required("temporal type")?;
        let event = required("event type")?;
        let mode = TransportMode::from_topic(required("transport mode")?);
        let operator = required("operator")?;
        let number = required("vehicle number")?;
        let vehicle =
            VehicleId::from_parts(operator, number).map_err(|_| TopicError::BadVehicle)?;

        let mut optional = || levels.next().filter(|l| !l.is_empty());
        let route = optional();
        let direction = match optional() {
            None => None,
            Some("1") => Some(1),
            Some("2") => Some(2),
            Some(other) => return Err(TopicError::BadDirection(other.to_owned())),
        };
        let headsign = optional();
        let start_time = optional();
        let next_stop = optional();
        // Geohash levels and the traffic-light junction id follow; the payload has exact
        // coordinates, so they are not needed.
        Ok(Self {
            journey_type,
            temporal_type,
            event,
            mode,
            vehicle,
            route,
            direction,
            headsign,
            start_time,
            next_stop,
        })
    }
}
