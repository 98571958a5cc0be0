use super::*;
use crate::model::ServerFrame;

fn id(operator: u16, number: u32) -> VehicleId {
    VehicleId::new(operator, number).expect("fits")
}

fn tram() -> Marker {
    Marker {
        id: id(40, 417),
        lat: 60.171234,
        lon: 24.9412345,
        mode: TransportMode::Tram,
        line: Some("4".into()),
        headsign: Some("Munkkiniemi".into()),
        heading: Some(359),
        delay_s: Some(-20),
        timestamp_ms: 1_795_500_000_123,
    }
}

fn bare() -> Marker {
    Marker {
        id: id(9_999, 99_999),
        lat: -89.9999999,
        lon: -180.0,
        mode: TransportMode::Other,
        line: None,
        headsign: None,
        heading: None,
        delay_s: None,
        timestamp_ms: 1_795_499_000_000,
    }
}

/// A seeded generator (xorshift64), so the random cases are the same on every run.
fn random(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

fn markers(n: u32) -> Vec<Marker> {
    let mut next = random(7);
    (0..n)
        .map(|i| Marker {
            id: id((i % 90) as u16 + 10, 1_000 + i),
            lat: 60.0 + (next() % 4_000_000) as f64 * 1e-7,
            lon: 24.5 + (next() % 9_000_000) as f64 * 1e-7,
            mode: [TransportMode::Bus, TransportMode::Tram, TransportMode::Metro][i as usize % 3],
            line: Some(format!("{}", 10 + i % 600)),
            headsign: Some("Rautatientori".into()),
            heading: Some((next() % 360) as u16),
            delay_s: Some((next() % 900) as i32 - 120),
            timestamp_ms: 1_795_500_000_000 + (next() % 1_000) as i64,
        })
        .collect()
}

#[test]
fn a_snapshot_round_trips_every_marker_field() {
    let sent = vec![tram(), bare(), Marker { mode: TransportMode::Robot, ..tram() }];
    let frame = decode(&snapshot(41, sent.iter())).expect("decodes");
    let WireFrame::Snapshot { seq, vehicles } = frame else { panic!("a snapshot: {frame:?}") };
    assert_eq!(seq, 41);
    let received: Vec<Marker> = vehicles.into_iter().filter_map(Update::into_marker).collect();
    assert_eq!(received, sent);
}

#[test]
fn a_delta_says_what_a_vehicle_is_only_where_that_is_news() {
    let (moved, renamed) = (tram(), Marker { line: Some("4T".into()), ..bare() });
    let received = 1_795_500_000_123;
    let upserts = [(&moved, false), (&renamed, true)].into_iter();
    let bytes = delta(7, received, upserts, &[id(12, 5), id(0, 0)]);
    let WireFrame::Delta { seq, received_ms, upserts, removed } = decode(&bytes).expect("decodes")
    else {
        panic!("a delta");
    };
    assert_eq!((seq, received_ms, removed), (7, received, vec![id(12, 5), id(0, 0)]));
    assert_eq!(upserts[0].about, None);
    assert_eq!(upserts[1].clone().into_marker(), Some(renamed.clone()));

    // Applied to what the client had, the about-less update moves the marker and keeps
    // its text; the described one replaces the text.
    let mut shown = Marker { lat: 60.0, heading: None, ..tram() };
    upserts[0].clone().apply_to(&mut shown);
    assert_eq!(shown, moved);
    let mut shown = bare();
    upserts[1].clone().apply_to(&mut shown);
    assert_eq!(shown, renamed);
}

#[test]
fn a_status_round_trips() {
    for feed in [FeedState::Live, FeedState::Stalled] {
        assert_eq!(decode(&status(feed)), Ok(WireFrame::Status { feed }));
    }
}

#[test]
fn the_header_of_every_kind_reads_what_decode_reads() {
    let fleet = markers(3);
    let moved = fleet.iter().map(|m| (m, false));
    assert_eq!(header(&snapshot(300, fleet.iter())), Ok(Header::Snapshot { seq: 300 }));
    assert_eq!(
        header(&delta(301, 1_795_500_000_999, moved, &[])),
        Ok(Header::Delta { seq: 301, received_ms: 1_795_500_000_999 })
    );
    assert_eq!(header(&status(FeedState::Stalled)), Ok(Header::Status));
    assert_eq!(header(&[VERSION, DELTA, 0x81]), Err(WireError::Truncated));
    assert_eq!(header(&[VERSION + 1, DELTA, 1, 1]), Err(WireError::Version(VERSION + 1)));
}

#[test]
fn a_restamped_delta_has_the_new_number_and_time_and_the_same_vehicles() {
    let fleet = markers(3);
    let original = delta(7, 1_000, fleet.iter().map(|m| (m, false)), &[id(1, 2)]);
    let renewed = restamped(&original, 300, 1_795_500_000_999).expect("a delta");
    let (
        Ok(WireFrame::Delta { seq, received_ms, upserts, removed }),
        Ok(WireFrame::Delta { upserts: before, removed: gone, .. }),
    ) = (decode(&renewed), decode(&original))
    else {
        panic!("both decode as deltas");
    };
    assert_eq!((seq, received_ms), (300, 1_795_500_000_999));
    assert_eq!((upserts, removed), (before, gone));
    assert_eq!(restamped(&snapshot(1, fleet.iter()), 2, 3), Err(WireError::Kind(SNAPSHOT)));
    assert_eq!(restamped(&original[..3], 2, 3), Err(WireError::Truncated));
}

#[test]
fn a_moving_vehicle_costs_a_fraction_of_its_json() {
    let fleet = markers(600);
    let binary = delta(9, 0, fleet.iter().map(|m| (m, false)), &[]);
    let json = serde_json::to_vec(&ServerFrame::Delta { seq: 9, upserts: fleet, removed: vec![] })
        .expect("serializes");
    let per_vehicle = binary.len() as f64 / 600.0;
    assert!(per_vehicle < 20.0, "{per_vehicle} bytes per moved vehicle");
    assert!(json.len() >= 6 * binary.len(), "json {} vs binary {}", json.len(), binary.len());
}

#[test]
fn coordinates_keep_seven_decimals() {
    let mut marker = tram();
    for (lat, lon) in [(60.1712345, 24.9412345), (-33.8688197, 151.2092955), (90.0, 180.0)] {
        (marker.lat, marker.lon) = (lat, lon);
        let WireFrame::Snapshot { vehicles, .. } =
            decode(&snapshot(1, [&marker].into_iter())).expect("decodes")
        else {
            panic!("a snapshot")
        };
        assert_eq!((vehicles[0].lat, vehicles[0].lon), (lat, lon));
    }
    marker.lat = 60.123456789;
    let WireFrame::Snapshot { vehicles, .. } =
        decode(&snapshot(1, [&marker].into_iter())).expect("decodes")
    else {
        panic!("a snapshot")
    };
    assert!((vehicles[0].lat - marker.lat).abs() <= 0.5e-7);
}

#[test]
fn every_cut_short_frame_is_an_error() {
    let fleet = [tram(), bare()];
    for bytes in
        [snapshot(3, fleet.iter()), delta(4, 1, fleet.iter().map(|m| (m, true)), &[id(1, 2)])]
    {
        assert!(decode(&bytes).is_ok());
        for end in 0..bytes.len() {
            assert!(decode(&bytes[..end]).is_err(), "cut at {end} of {}", bytes.len());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err(WireError::Trailing));
    }
}

#[test]
fn a_claimed_count_beyond_the_bytes_reserves_nothing() {
    let mut bytes = vec![VERSION, DELTA, 1, 0];
    varint(&mut bytes, u64::MAX);
    assert_eq!(decode(&bytes), Err(WireError::Truncated));
    let mut bytes = vec![VERSION, DELTA, 1, 0, 0];
    varint(&mut bytes, 1 << 40);
    assert_eq!(decode(&bytes), Err(WireError::Truncated));
    // Eleven continuation bytes are no varint.
    let mut bytes = vec![VERSION, DELTA];
    bytes.extend([0xff; 11]);
    assert_eq!(decode(&bytes), Err(WireError::Overflow));
}

#[test]
fn frames_of_another_version_or_kind_are_refused() {
    let mut bytes = status(FeedState::Live);
    bytes[0] = VERSION + 1;
    assert_eq!(decode(&bytes), Err(WireError::Version(VERSION + 1)));
    assert_eq!(decode(&[VERSION, 9]), Err(WireError::Kind(9)));
    assert_eq!(decode(&[]), Err(WireError::Truncated));
}

#[test]
fn an_unknown_mode_code_is_still_a_vehicle() {
    let mut bytes = snapshot(1, [&tram()].into_iter());
    // The mode byte comes right before the line's length (1) and text ("4").
    let tram = [mode_code(TransportMode::Tram), 1, b'4'];
    let at = bytes.windows(3).position(|w| w == tram).expect("the about part");
    bytes[at] = 77;
    let WireFrame::Snapshot { vehicles, .. } = decode(&bytes).expect("decodes") else {
        panic!("a snapshot")
    };
    assert_eq!(vehicles[0].about.as_ref().map(|a| a.mode), Some(TransportMode::Other));
}

#[test]
fn invalid_ids_text_and_coordinates_are_typed_errors() {
    let mut bytes = vec![VERSION, SNAPSHOT, 1, 0, 1];
    varint(&mut bytes, 10_000 * 100_000);
    bytes.extend([0; 10]);
    assert_eq!(decode(&bytes), Err(WireError::Id));

    let outside = Marker { lat: 95.0, ..tram() };
    assert_eq!(decode(&snapshot(1, [&outside].into_iter())), Err(WireError::Coordinates));

    let mut bytes = snapshot(1, [&tram()].into_iter());
    let last = bytes.len() - 1;
    bytes[last] = 0xff; // the headsign's last byte
    assert_eq!(decode(&bytes), Err(WireError::Text));
}

#[test]
fn altered_or_random_bytes_never_panic_the_decoder() {
    let fleet = markers(40);
    let valid = delta(5, 2, fleet.iter().map(|m| (m, true)), &[id(3, 4)]);
    let mut next = random(2026);
    for _ in 0..20_000 {
        let mut bytes = valid.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = next() as u8;
        }
        let _ = decode(&bytes);
    }
    for _ in 0..20_000 {
        let len = (next() % 64) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Some(first) = bytes.first_mut() {
            *first = VERSION;
        }
        let _ = decode(&bytes);
    }
}
