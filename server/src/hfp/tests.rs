use super::*;

const CURRENT_STOP_NULL: &str = include_str!("../../tests/fixtures/hfp/currentStopNull.dump");
const JOURNEY_CHANGE: &str =
    include_str!("../../tests/fixtures/hfp/serviceJourneyChangeDifferentStop.dump");

/// Splits a dump line `<received-at> <topic> <payload>`; topics contain spaces, so the topic
/// ends at the first ` {`.
fn split_dump_line(line: &str) -> (&str, &str) {
    let (_, rest) = line.split_once(' ').expect("a dump line has a timestamp");
    let start = rest.find(" {").expect("a dump line has a payload");
    (&rest[..start], &rest[start + 1..])
}

fn fixture_lines() -> impl Iterator<Item = &'static str> {
    CURRENT_STOP_NULL.lines().chain(JOURNEY_CHANGE.lines()).filter(|l| !l.trim().is_empty())
}

#[test]
fn every_real_recorded_message_parses() {
    let mut total = 0;
    for line in fixture_lines() {
        let (topic, payload) = split_dump_line(line);
        if let Err(error) = parse(topic, payload.as_bytes()) {
            panic!("{error}: {line}");
        }
        total += 1;
    }
    assert_eq!(total, CURRENT_STOP_NULL.lines().count() + JOURNEY_CHANGE.lines().count());
}

#[test]
fn recorded_positions_with_null_coordinates_have_no_position_and_the_rest_do() {
    let (mut with, mut without) = (0, 0);
    for line in fixture_lines() {
        let (topic, payload) = split_dump_line(line);
        let message = parse(topic, payload.as_bytes()).expect("fixture parses");
        let null_coordinates = payload.contains("\"lat\":null");
        assert_eq!(message.position().is_none(), null_coordinates, "{line}");
        if null_coordinates { without += 1 } else { with += 1 }
    }
    assert!(with > 0 && without > 0, "fixtures cover both cases: {with} with, {without} without");
}

#[test]
fn a_vehicle_position_becomes_a_typed_position() {
    let topic = "/hfp/v2/journey/ongoing/vp/bus/0018/01029/5520/1/Martinlaakso/17:35/4150208/5/60;24/28/65/93";
    let payload = br#"{"VP":{"desi":"520","dir":"1","oper":6,"veh":1029,"tst":"2024-02-13T16:32:59.931Z","tsi":1707841979,"spd":null,"hdg":null,"lat":60.269247,"long":24.853777,"acc":null,"dl":-232,"odo":25030,"drst":0,"oday":"2024-02-13","jrn":632,"line":1110,"start":"17:35","loc":"ODO","stop":4150208,"route":"5520","occu":0}}"#;
    let message = parse(topic, payload).expect("parses");
    assert!(message.is_vehicle_position());
    let p = message.position().expect("has coordinates");
    assert_eq!(p.id.to_string(), "0018/01029");
    assert_eq!(p.mode, app::model::TransportMode::Bus);
    assert_eq!(p.line.as_deref(), Some("520"));
    assert_eq!(p.route.as_deref(), Some("5520"));
    assert_eq!(p.direction, Some(1));
    assert_eq!(p.headsign.as_deref(), Some("Martinlaakso"));
    assert_eq!(p.operator, Some(6));
    assert_eq!((p.lat, p.lon), (60.269247, 24.853777));
    assert_eq!((p.speed_mps, p.heading), (None, None));
    assert_eq!(p.delay_s, Some(232), "dl -232 means 232 s late");
    assert_eq!(p.timestamp_ms, 1_707_841_979_931);
    assert_eq!(p.start_time.as_deref(), Some("17:35"));
    assert_eq!(p.next_stop.as_deref(), Some("4150208"));
    assert_eq!(p.doors_open, Some(false));
    assert_eq!(p.location_source.as_deref(), Some("ODO"));
}

#[test]
fn headsigns_with_spaces_and_non_ascii_text_survive() {
    let topic = "/hfp/v2/journey/ongoing/tlr/bus/0018/01029/5520/2/Matinkylä (M)/18:48/4170215/0/60;24/28/75/72/3230";
    let payload = br#"{"TLR":{"desi":"520","dir":"2","oper":6,"veh":1029,"tst":"2024-02-13T16:48:18.931Z","lat":60.2772,"long":24.85298,"tlp-requesttype":"NORMAL","sid":3230}}"#;
    let message = parse(topic, payload).expect("parses");
    assert_eq!(message.topic.headsign, Some("Matinkylä (M)"));
    assert_eq!(message.topic.direction, Some(2));
    assert!(!message.is_vehicle_position());
}

#[test]
fn a_deadrun_topic_ends_at_the_vehicle_number() {
    let topic = "/hfp/v2/deadrun/ongoing/vp/bus/0018/01029";
    let payload = br#"{"VP":{"desi":null,"dir":null,"oper":null,"veh":1029,"tst":"2024-02-13T16:20:00.931Z","tsi":1707841200,"spd":8.5,"hdg":90,"lat":60.2,"long":24.8,"dl":null,"drst":null,"loc":"GPS","stop":null,"route":null}}"#;
    let p = parse(topic, payload).expect("parses").position().expect("has coordinates");
    assert_eq!((p.route, p.headsign, p.line, p.delay_s), (None, None, None, None));
    assert_eq!((p.speed_mps, p.heading), (Some(8.5), Some(90)));
}

#[test]
fn metro_timestamps_without_milliseconds_parse() {
    let topic =
        "/hfp/v2/journey/ongoing/vp/metro/0050/00123/31M2/1/Vuosaari/16:00/1234/4/60;25/10/20/30";
    let payload = br#"{"VP":{"desi":"M2","tst":"2025-09-16T16:07:21Z","lat":60.123456789,"long":25.1,"dl":null,"odo":null,"drst":null,"acc":null,"loc":"MAN"}}"#;
    let p = parse(topic, payload).expect("parses").position().expect("has coordinates");
    assert_eq!(p.timestamp_ms, 1_758_038_841_000);
}

#[test]
fn a_missing_tst_falls_back_to_tsi() {
    let payload = br#"{"VP":{"tsi":1707841979,"lat":60.2,"long":24.8}}"#;
    assert_eq!(Payload::parse(payload).expect("parses").timestamp_ms, 1_707_841_979_000);
}

#[test]
fn malformed_topics_are_rejected_with_a_reason() {
    let payload = br#"{"VP":{"tst":"2024-02-13T16:32:59.931Z","lat":60.2,"long":24.8}}"#;
    let cases: &[(&str, TopicError)] = &[
        ("", TopicError::NotHfp),
        ("hfp/v2/journey/ongoing/vp/bus/0018/01029", TopicError::NotHfp),
        ("/gtfsrt/vp/HSL", TopicError::NotHfp),
        ("/hfp/v1/journey/ongoing/bus/0018/01029", TopicError::UnsupportedVersion("v1".into())),
        ("/hfp/v2/journey/ongoing/vp/bus/0018", TopicError::MissingLevel("vehicle number")),
        ("/hfp/v2/journey/ongoing/vp/bus//01029", TopicError::MissingLevel("operator")),
        ("/hfp/v2/journey/ongoing/vp/bus/0018/0102x", TopicError::BadVehicle),
        (
            "/hfp/v2/journey/ongoing/vp/bus/0018/01029/5520/3/X",
            TopicError::BadDirection("3".into()),
        ),
    ];
    for (topic, expected) in cases {
        match parse(topic, payload) {
            Err(HfpError::Topic(error)) => assert_eq!(&error, expected, "{topic}"),
            other => panic!("{topic}: expected {expected:?}, got {other:?}"),
        }
    }
}

#[test]
fn malformed_payloads_are_rejected_with_a_kind() {
    let topic = "/hfp/v2/journey/ongoing/vp/bus/0018/01029/5520/1/Martinlaakso/17:35/4150208/5/60;24/28/65/93";
    let oversized = format!(r#"{{"VP":{{"desi":"{}"}}}}"#, "x".repeat(payload::MAX_PAYLOAD_BYTES));
    let cases: Vec<(&[u8], RejectKind)> = vec![
        (b"", RejectKind::Json),
        (b"{", RejectKind::Json),
        (b"null", RejectKind::Json),
        (b"[]", RejectKind::Json),
        (b"{}", RejectKind::Json),
        (b"\xff\xfe{", RejectKind::Json),
        (
            br#"{"VP":{"tst":"2024-02-13T16:32:59.931Z","lat":"sixty","long":24.8}}"#,
            RejectKind::Json,
        ),
        (br#"{"VP":{"tst":"2024-02-13T16:32:59.931Z"},"DUE":{}}"#, RejectKind::Json),
        (br#"{"VP":{"lat":60.2,"long":24.8}}"#, RejectKind::Timestamp),
        (br#"{"VP":{"tst":"yesterday","lat":60.2,"long":24.8}}"#, RejectKind::Timestamp),
        (
            br#"{"DEP":{"tst":"2024-02-13T16:32:59.931Z","lat":60.2,"long":24.8}}"#,
            RejectKind::EventMismatch,
        ),
        (oversized.as_bytes(), RejectKind::TooLarge),
    ];
    for (payload, expected) in cases {
        match parse(topic, payload) {
            Err(error) => {
                assert_eq!(error.kind(), expected, "{}", String::from_utf8_lossy(payload))
            }
            Ok(message) => panic!("accepted {message:?}"),
        }
    }
}

#[test]
fn out_of_range_values_are_dropped_rather_than_trusted() {
    let payload = br#"{"VP":{"tst":"2024-02-13T16:32:59.931Z","lat":95.0,"long":24.8,"spd":-1.0,"hdg":400,"occu":250}}"#;
    let p = Payload::parse(payload).expect("parses");
    assert_eq!(p.coordinates(), None);
    assert_eq!((p.speed_mps, p.heading, p.occupancy), (None, None, None));
}
