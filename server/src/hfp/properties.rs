//! Property tests of the HFP parsers: any topic and any payload is a message or a typed
//! error, never a panic; a message built from known fields, in HSL's format, parses to
//! exactly those fields. `scripts/fuzz.sh` runs them for longer.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// Any JSON value a producer might put in a field, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |v| v.is_finite())
            .prop_map(Value::from),
        (-1e12..1e12f64).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// HFP's field names, so generated payloads reach every field's conversion.
const FIELDS: [&str; 17] = [
    "desi", "dir", "oper", "veh", "tst", "tsi", "spd", "hdg", "lat", "long", "dl", "drst", "occu",
    "start", "loc", "route", "stop",
];

/// A value for HFP field `name`: mostly of the field's type, over its whole range and
/// beyond (so conversions meet extremes); sometimes null or anything at all.
fn field_value(name: &'static str) -> BoxedStrategy<Value> {
    let typed = match name {
        "oper" | "veh" | "occu" => any::<u64>().prop_map(Value::from).boxed(),
        "tsi" => any::<i64>().prop_map(Value::from).boxed(),
        "drst" => any::<u8>().prop_map(Value::from).boxed(),
        "spd" | "hdg" | "lat" | "long" | "dl" => prop_oneof![
            any::<f64>().prop_filter("JSON numbers are finite", |v| v.is_finite()),
            -1e12..1e12f64,
            -400.0..400.0f64,
        ]
        .prop_map(Value::from)
        .boxed(),
        "tst" => prop_oneof![
            (-62_000_000_000_000..250_000_000_000_000i64).prop_map(|ms| {
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                    .ok()
                    .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                    .map_or(Value::Null, Value::from)
            }),
            "\\PC{0,30}".prop_map(Value::from),
        ]
        .boxed(),
        "dir" => {
            prop_oneof!["[0-9]{0,2}".prop_map(Value::from), any::<u64>().prop_map(Value::from)]
                .boxed()
        }
        _ => "\\PC{0,12}".prop_map(Value::from).boxed(),
    };
    prop_oneof![8 => typed, 1 => Just(Value::Null), 1 => json_value()].boxed()
}

/// A field of HFP's with a value for it.
fn field() -> impl Strategy<Value = (&'static str, Value)> {
    prop::sample::select(FIELDS.to_vec()).prop_flat_map(|name| (Just(name), field_value(name)))
}

/// The fields of a valid vehicle position, as HSL sends them.
#[derive(Debug, Clone)]
struct Vp {
    operator: u16,
    number: u32,
    mode: &'static str,
    route: String,
    direction: u8,
    headsign: String,
    start: String,
    line: String,
    timestamp_ms: i64,
    coordinates: Option<(f64, f64)>,
    speed: f64,
    heading: u16,
    delay_s: i32,
    doors_open: bool,
    occupancy: u8,
}

fn vp() -> impl Strategy<Value = Vp> {
    (
        (
            1..=9_999u16,
            0..=99_999u32,
            prop::sample::select(vec!["bus", "tram", "train", "metro", "ferry", "ubus", "robot"]),
        ),
        (
            "[0-9]{4}[A-Z]?",
            1..=2u8,
            "[A-Za-zäöÅ() .-]{1,20}",
            (0..24u8, 0..60u8),
            "[0-9]{1,3}[A-Z]?",
        ),
        // 2001 to 2286: `tst` in milliseconds.
        1_000_000_000_000..10_000_000_000_000i64,
        proptest::option::of((59.0..61.0f64, 23.0..27.0f64)),
        (0.0..40.0f64, 0..=360u16, -7_200..=7_200i32, any::<bool>(), 0..=100u8),
    )
        .prop_map(
            |(
                (operator, number, mode),
                (route, direction, headsign, (h, m), line),
                timestamp_ms,
                coordinates,
                (speed, heading, delay_s, doors_open, occupancy),
            )| Vp {
                operator,
                number,
                mode,
                route,
                direction,
                headsign: headsign.trim().to_owned(),
                start: format!("{h:02}:{m:02}"),
                line,
                timestamp_ms,
                coordinates,
                speed,
                heading,
                delay_s,
                doors_open,
                occupancy,
            },
        )
        .prop_filter("a headsign level is not empty", |vp| !vp.headsign.is_empty())
}

impl Vp {
    fn topic(&self) -> String {
        format!(
            "/hfp/v2/journey/ongoing/vp/{}/{:04}/{:05}/{}/{}/{}/{}/1234567/5/60;24/19/58/67",
            self.mode,
            self.operator,
            self.number,
            self.route,
            self.direction,
            self.headsign,
            self.start
        )
    }

    fn payload(&self) -> String {
        let tst = time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(self.timestamp_ms) * 1_000_000,
        )
        .expect("in range")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats");
        let (lat, long) = self
            .coordinates
            .map_or((Value::Null, Value::Null), |(lat, lon)| (json!(lat), json!(lon)));
        json!({"VP": {
            "desi": self.line, "dir": self.direction.to_string(), "oper": self.operator,
            "veh": self.number, "tst": tst, "tsi": self.timestamp_ms / 1000, "spd": self.speed,
            "hdg": self.heading, "lat": lat, "long": long, "acc": null, "dl": -self.delay_s,
            "odo": 1, "drst": u8::from(self.doors_open), "oday": "2026-11-24", "jrn": 1,
            "line": 1, "start": self.start, "loc": "GPS", "stop": null, "route": self.route,
            "occu": self.occupancy
        }})
        .to_string()
    }
}

proptest! {
    #[test]
    fn any_topic_is_parsed_or_refused_without_a_panic(topic in "\\PC{0,80}") {
        let _ = Topic::parse(&topic);
    }

    #[test]
    fn any_levels_under_the_hfp_prefix_are_parsed_or_refused(
        levels in proptest::collection::vec("[a-z0-9 ()äö;_-]{0,6}", 0..18),
    ) {
        let _ = Topic::parse(&format!("/hfp/v2/{}", levels.join("/")));
    }

    #[test]
    fn any_bytes_are_a_payload_or_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Payload::parse(&bytes);
    }

    #[test]
    fn any_values_in_hfps_fields_are_a_payload_or_a_typed_error(
        event in prop_oneof![Just("VP".to_owned()), "[A-Z]{0,4}".prop_map(|s| s)],
        fields in proptest::collection::vec(field(), 0..12),
        with_time in proptest::bool::weighted(0.8),
    ) {
        // Usually with a valid time, so that the other fields are converted too.
        let mut map = serde_json::Map::new();
        if with_time {
            map.insert("tst".to_owned(), json!("2026-11-24T06:00:00.000Z"));
        }
        map.extend(fields.into_iter().map(|(key, value)| (key.to_owned(), value)));
        let fields = map;
        let payload = json!({ event: fields }).to_string();
        if let Ok(payload) = Payload::parse(payload.as_bytes()) {
            // Whatever was accepted is in range.
            prop_assert!(payload.heading.is_none_or(|h| h <= 360));
            prop_assert!(payload.occupancy.is_none_or(|o| o <= 100));
            prop_assert!(payload.speed_mps.is_none_or(|s| s.is_finite() && s >= 0.0));
            if let Some((lat, lon)) = payload.coordinates() {
                prop_assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
            }
        }
    }

    #[test]
    fn a_valid_vehicle_position_parses_to_the_fields_it_was_built_from(vp in vp()) {
        let topic = vp.topic();
        let payload = vp.payload();
        let message = parse(&topic, payload.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {topic} {payload}")))?;
        prop_assert!(message.is_vehicle_position());
        let Some(position) = message.position() else {
            prop_assert!(vp.coordinates.is_none(), "coordinates given but no position");
            return Ok(());
        };
        prop_assert_eq!(position.id, app::model::VehicleId::new(vp.operator, vp.number).expect("in range"));
        prop_assert_eq!(position.mode.as_str(), vp.mode);
        // serde_json reads a float back to within one unit in the last place.
        let close = |a: f64, b: f64| (a - b).abs() <= b.abs() * 1e-15;
        let (lat, lon) = vp.coordinates.expect("a position has coordinates");
        prop_assert!(close(position.lat, lat) && close(position.lon, lon));
        prop_assert_eq!(position.timestamp_ms, vp.timestamp_ms);
        prop_assert_eq!(position.line.as_deref(), Some(vp.line.as_str()));
        prop_assert_eq!(position.route.as_deref(), Some(vp.route.as_str()));
        prop_assert_eq!(position.direction, Some(vp.direction));
        prop_assert_eq!(position.headsign.as_deref(), Some(vp.headsign.as_str()));
        prop_assert_eq!(position.start_time.as_deref(), Some(vp.start.as_str()));
        prop_assert_eq!(position.heading, Some(vp.heading));
        prop_assert_eq!(position.delay_s, Some(vp.delay_s));
        prop_assert!(position.speed_mps.is_some_and(|speed| close(speed, vp.speed)));
        prop_assert_eq!(position.doors_open, Some(vp.doors_open));
        prop_assert_eq!(position.occupancy, Some(vp.occupancy));
        prop_assert_eq!(position.operator, Some(vp.operator));
    }
}

/// Found by the properties above: HFP's `dl` beyond an i32 of seconds (in either
/// direction) overflowed when its sign was turned, a panic in debug builds.
#[test]
fn a_delay_beyond_the_range_of_seconds_is_clamped_not_a_panic() {
    for (dl, expected) in [(-3e9, i32::MAX), (3e9, -i32::MAX), (-2_147_483_648.0, i32::MAX)] {
        let payload = format!(r#"{{"VP":{{"tst":"2026-11-24T06:00:00.000Z","dl":{dl}}}}}"#);
        let parsed = Payload::parse(payload.as_bytes()).expect("parses");
        assert_eq!(parsed.delay_s, Some(expected), "dl {dl}");
    }
}
