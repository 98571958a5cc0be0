//! Shared domain and wire types: what a vehicle is, where it is, and the frames the server
//! pushes to browsers over `/ws`.
//!
//! Both the server (ssr) and the browser (hydrate) compile against these definitions, so the
//! wire format cannot drift between them. Nothing here does I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The unique identity of a vehicle: `operator_id/vehicle_number` from the HFP topic.
///
/// Vehicle numbers repeat between operators, so the number alone is not an identity. The
/// canonical text form is zero-padded exactly like the HFP topic (`0018/01029`), which keeps
/// ids stable whichever source (topic, ksqlDB key, Redis key) they came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VehicleId {
    operator: u16,
    number: u32,
}

/// Largest operator id that fits the topic's four zero-padded digits.
const MAX_OPERATOR: u16 = 9_999;
/// Largest vehicle number that fits the topic's five zero-padded digits.
const MAX_NUMBER: u32 = 99_999;

impl VehicleId {
    /// Builds an id from its parts, or `None` when a part does not fit the HFP topic format.
    pub fn new(operator: u16, number: u32) -> Option<Self> {
        (operator <= MAX_OPERATOR && number <= MAX_NUMBER).then_some(Self { operator, number })
    }

    /// Builds an id from the two topic levels (`"0018"`, `"01029"`).
    pub fn from_parts(operator: &str, number: &str) -> Result<Self, VehicleIdError> {
        let operator = parse_digits(operator, 4)?;
        let number = parse_digits(number, 5)?;
        let operator = u16::try_from(operator).map_err(|_| VehicleIdError::Malformed)?;
        Self::new(operator, number).ok_or(VehicleIdError::Malformed)
    }

    /// The operator that owns the vehicle (topic level 7).
    pub fn operator(&self) -> u16 {
        self.operator
    }

    /// The number painted on the vehicle (topic level 8).
    pub fn number(&self) -> u32 {
        self.number
    }
}

/// Accepts 1..=`max_len` ASCII digits and nothing else: no sign, no spaces, no glob or quote
/// characters. This is what keeps ids safe to use as keys anywhere downstream.
fn parse_digits(text: &str, max_len: usize) -> Result<u32, VehicleIdError> {
    if text.is_empty() || text.len() > max_len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VehicleIdError::Malformed);
    }
    text.parse().map_err(|_| VehicleIdError::Malformed)
}

/// Why a text is not a vehicle id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VehicleIdError {
    /// The text is not `operator/vehicle` with 1-4 and 1-5 digits.
    #[error("a vehicle id looks like 0018/01029 (operator/vehicle number)")]
    Malformed,
}

impl FromStr for VehicleId {
    type Err = VehicleIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (operator, number) = s.split_once('/').ok_or(VehicleIdError::Malformed)?;
        Self::from_parts(operator, number)
    }
}

impl fmt::Display for VehicleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}/{:05}", self.operator, self.number)
    }
}

impl Serialize for VehicleId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VehicleId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Transport mode, from topic level 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TransportMode {
    Bus,
    Tram,
    Train,
    Ferry,
    Metro,
    /// U-line buses and other vehicles with limited realtime information.
    Ubus,
    /// Robot (autonomous) buses.
    Robot,
    /// A mode this version does not know yet. HSL documents that levels may be added, so an
    /// unknown mode is still a valid vehicle, not an error.
    Other,
}

impl TransportMode {
    /// Maps the topic level; unknown words become [`TransportMode::Other`].
    pub fn from_topic(level: &str) -> Self {
        match level {
            "bus" => Self::Bus,
            "tram" => Self::Tram,
            "train" => Self::Train,
            "ferry" => Self::Ferry,
            "metro" => Self::Metro,
            "ubus" => Self::Ubus,
            "robot" => Self::Robot,
            _ => Self::Other,
        }
    }

    /// The word used in topics, CSS classes and the wire format.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Bus => "bus",
            Self::Tram => "tram",
            Self::Train => "train",
            Self::Ferry => "ferry",
            Self::Metro => "metro",
            Self::Ubus => "ubus",
            Self::Robot => "robot",
            Self::Other => "other",
        }
    }
}

/// Everything we know about one vehicle's latest position: what the click panel shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VehiclePosition {
    /// `operator/vehicle`, zero-padded.
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "0018/01029"))]
    pub id: VehicleId,
    pub mode: TransportMode,
    /// Route number shown to passengers (`desi`, e.g. `550`, `M2`).
    pub line: Option<String>,
    /// Route id from the topic (e.g. `2550`, `1004 4`).
    pub route: Option<String>,
    /// `1` or `2`, as in HFP (HFP 1 = GTFS 0).
    pub direction: Option<u8>,
    /// Destination text from the topic (e.g. `Matinkylä (M)`).
    pub headsign: Option<String>,
    /// The operator running the trip (payload `oper`); may differ from the id's operator.
    pub operator: Option<u16>,
    pub lat: f64,
    pub lon: f64,
    /// Metres per second, as sent.
    pub speed_mps: Option<f64>,
    /// Degrees clockwise from north.
    pub heading: Option<u16>,
    /// Seconds behind schedule: positive is late, negative is early. HFP's `dl` has the
    /// opposite sign ("seconds ahead"); it is flipped once, at the parser.
    pub delay_s: Option<i32>,
    /// Event time (`tst`) in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Scheduled start of the trip, `HH:mm` local time.
    pub start_time: Option<String>,
    /// Next stop id from the topic (`EOL` after the final stop).
    pub next_stop: Option<String>,
    /// Doors: `true` when any door is open.
    pub doors_open: Option<bool>,
    /// Occupancy 0-100 (real values only on some ferries).
    pub occupancy: Option<u8>,
    /// How the position was obtained: `GPS`, `ODO`, `MAN`, `DR` or `N/A`.
    pub location_source: Option<String>,
}

impl VehiclePosition {
    /// The compact form the map needs for one marker.
    pub fn marker(&self) -> Marker {
        Marker {
            id: self.id,
            lat: self.lat,
            lon: self.lon,
            mode: self.mode,
            line: self.line.clone(),
            headsign: self.headsign.clone(),
            heading: self.heading,
            delay_s: self.delay_s,
            timestamp_ms: self.timestamp_ms,
        }
    }
}

/// One marker on the map: just enough to draw and identify it. The rest of a vehicle's data
/// is fetched on click, which keeps every frame small.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Marker {
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "0018/01029"))]
    pub id: VehicleId,
    pub lat: f64,
    pub lon: f64,
    pub mode: TransportMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// Destination, for finding a vehicle by where it goes.
    #[serde(default, rename = "to", skip_serializing_if = "Option::is_none")]
    pub headsign: Option<String>,
    #[serde(default, rename = "hdg", skip_serializing_if = "Option::is_none")]
    pub heading: Option<u16>,
    /// Seconds behind schedule (negative: early), for colouring by delay.
    #[serde(default, rename = "dl", skip_serializing_if = "Option::is_none")]
    pub delay_s: Option<i32>,
    /// Event time in milliseconds since the epoch: how old the position is, which the map
    /// shows by fading the vehicle.
    #[serde(rename = "ts")]
    pub timestamp_ms: i64,
}

/// One line of the transit network as a polyline of `(lat, lon)` points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkLine {
    pub line: String,
    pub mode: TransportMode,
    pub path: Vec<(f64, f64)>,
}

/// A frame pushed by the server on `/ws`. Every frame carries the hub's sequence number so a
/// client can tell a snapshot from the deltas that follow it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Every current vehicle. Sent first on connect, and again whenever the client fell
    /// behind (a resync): the client replaces its whole state.
    Snapshot { seq: u64, vehicles: Vec<Marker> },
    /// What changed since the previous frame: vehicles that moved or appeared, and vehicles
    /// that expired.
    Delta {
        seq: u64,
        upserts: Vec<Marker>,
        #[cfg_attr(feature = "ssr", schema(value_type = Vec<String>))]
        removed: Vec<VehicleId>,
    },
    /// Whether the server's own data source is delivering. Sent when it changes (and on
    /// connect while it is stalled), so a map whose source is reconnecting says so instead
    /// of silently freezing.
    Status { feed: FeedState },
}

/// State of the server's data source (ksqlDB in the full stack; always live when embedded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FeedState {
    Live,
    /// The source is unreachable; the map shows the last known positions.
    Stalled,
}

/// Which store answered a lookup, shown in the vehicle panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// The server's own in-memory table (embedded mode).
    Memory,
    /// A ksqlDB pull query on the latest-positions table (full stack).
    Ksqldb,
    /// The Redis copy of that table, written by the Kafka Connect Redis sink.
    Redis,
}

impl DataSource {
    /// Human-readable label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Memory => "in-memory table",
            Self::Ksqldb => "ksqlDB pull query",
            Self::Redis => "Redis",
        }
    }
}

/// Where the positions on the map come from, as the status tells riders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// HSL's own broker, now.
    LiveHsl,
    /// A recording played back.
    Replay,
    /// The built-in simulator.
    Simulator,
    /// The full stack's ksqlDB table.
    Ksqldb,
    /// Nothing but the server's API feeds the table (tests).
    ApiOnly,
}

impl Feed {
    /// Stable name, as written into the page.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::LiveHsl => "live",
            Self::Replay => "replay",
            Self::Simulator => "simulator",
            Self::Ksqldb => "ksqldb",
            Self::ApiOnly => "api",
        }
    }

    /// Inverse of [`Feed::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        [Self::LiveHsl, Self::Replay, Self::Simulator, Self::Ksqldb, Self::ApiOnly]
            .into_iter()
            .find(|feed| feed.as_str() == name)
    }

    /// What the status says the data comes from.
    pub fn label(&self) -> &'static str {
        match self {
            Self::LiveHsl => "live HSL feed",
            Self::Replay => "replay",
            Self::Simulator => "simulator",
            Self::Ksqldb => "ksqlDB",
            Self::ApiOnly => "API only",
        }
    }

    /// The status's first word: "Live" would be untrue of a replay or a simulation.
    pub fn headline(&self) -> &'static str {
        match self {
            Self::Replay => "Replay",
            Self::Simulator => "Simulated",
            Self::LiveHsl | Self::Ksqldb | Self::ApiOnly => "Live",
        }
    }
}

/// The answer to "where is this vehicle now?".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VehicleLookup {
    pub position: VehiclePosition,
    pub source: DataSource,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_round_trips_through_its_name_and_only_live_data_is_called_live() {
        for feed in [Feed::LiveHsl, Feed::Replay, Feed::Simulator, Feed::Ksqldb, Feed::ApiOnly] {
            assert_eq!(Feed::parse(feed.as_str()), Some(feed));
        }
        assert_eq!(Feed::parse("Live"), None);
        assert_eq!(Feed::Replay.headline(), "Replay");
        assert_eq!(Feed::Simulator.headline(), "Simulated");
        assert_eq!(Feed::Ksqldb.headline(), "Live");
    }

    #[test]
    fn a_vehicle_id_round_trips_through_its_zero_padded_text() {
        let id: VehicleId = "0018/01029".parse().expect("valid id");
        assert_eq!((id.operator(), id.number()), (18, 1029));
        assert_eq!(id.to_string(), "0018/01029");
        assert_eq!("18/1029".parse::<VehicleId>(), Ok(id));
    }

    #[test]
    fn vehicle_ids_with_anything_but_digits_are_rejected() {
        for bad in [
            "",
            "/",
            "0018",
            "0018/",
            "/01029",
            "0018/01029/1",
            "0018/0102a",
            "0018/ 1029",
            "-018/01029",
            "0018/*",
            "00018/01029",
            "0018/010290",
            "0018/01029' OR '1'='1",
            "0018/01029\n",
            "0018\\01029",
            "٠٠١٨/٠١٠٢٩",
        ] {
            assert_eq!(bad.parse::<VehicleId>(), Err(VehicleIdError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn vehicle_ids_serialize_as_strings() {
        let id = VehicleId::new(12, 1913).expect("fits");
        assert_eq!(serde_json::to_string(&id).expect("serializes"), "\"0012/01913\"");
        let back: VehicleId = serde_json::from_str("\"0012/01913\"").expect("parses");
        assert_eq!(back, id);
        assert!(serde_json::from_str::<VehicleId>("\"12-1913\"").is_err());
    }

    #[test]
    fn a_delta_frame_has_a_stable_wire_shape() {
        let frame = ServerFrame::Delta {
            seq: 7,
            upserts: vec![Marker {
                id: VehicleId::new(22, 1234).expect("fits"),
                lat: 60.17,
                lon: 24.94,
                mode: TransportMode::Tram,
                line: Some("4".into()),
                headsign: Some("Munkkiniemi".into()),
                heading: None,
                delay_s: Some(-20),
                timestamp_ms: 1_795_500_000_000,
            }],
            removed: vec![VehicleId::new(40, 5).expect("fits")],
        };
        let text = serde_json::to_string(&frame).expect("serializes");
        assert_eq!(
            text,
            r#"{"type":"delta","seq":7,"upserts":[{"id":"0022/01234","lat":60.17,"lon":24.94,"mode":"tram","line":"4","to":"Munkkiniemi","dl":-20,"ts":1795500000000}],"removed":["0040/00005"]}"#
        );
        assert_eq!(serde_json::from_str::<ServerFrame>(&text).expect("parses"), frame);
    }
}
