//! Property tests of the wire format: whatever bytes arrive, decoding gives a frame or a
//! typed error and never panics; whatever the server encodes, the browser decodes to the
//! same vehicles (coordinates to 1e-7 degrees). `scripts/fuzz.sh` runs them for longer.

use proptest::prelude::*;

use super::client::{self, ClientMessage};
use super::*;
use crate::viewport::Bounds;

fn mode() -> impl Strategy<Value = TransportMode> {
    prop_oneof![
        Just(TransportMode::Bus),
        Just(TransportMode::Tram),
        Just(TransportMode::Train),
        Just(TransportMode::Ferry),
        Just(TransportMode::Metro),
        Just(TransportMode::Ubus),
        Just(TransportMode::Robot),
        Just(TransportMode::Other),
    ]
}

fn marker() -> impl Strategy<Value = Marker> {
    (
        (0..=9_999u16, 0..=99_999u32),
        (-90.0..=90.0f64, -180.0..=180.0f64),
        mode(),
        (proptest::option::of("[0-9A-Z]{0,5}"), proptest::option::of("\\PC{0,24}")),
        (proptest::option::of(0..=360u16), proptest::option::of(any::<i32>())),
        any::<i64>(),
    )
        .prop_map(
            |((operator, number), (lat, lon), mode, (line, headsign), (heading, delay_s), ts)| {
                Marker {
                    id: VehicleId::new(operator, number).expect("in range"),
                    lat,
                    lon,
                    mode,
                    line,
                    headsign,
                    heading,
                    delay_s,
                    timestamp_ms: ts,
                }
            },
        )
}

/// What the browser ends with: the wire keeps coordinates to 1e-7 degrees.
fn as_received(marker: &Marker) -> Marker {
    Marker {
        lat: (marker.lat * COORDINATE_SCALE).round() / COORDINATE_SCALE,
        lon: (marker.lon * COORDINATE_SCALE).round() / COORDINATE_SCALE,
        ..marker.clone()
    }
}

proptest! {
    #[test]
    fn any_bytes_decode_to_a_frame_or_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
        let _ = header(&bytes);
        let _ = restamped(&bytes, 7, 7);
        let _ = client::decode(&bytes);
    }

    #[test]
    fn bytes_after_a_valid_header_never_panic(
        kind in 0..4u8,
        tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = vec![VERSION, kind];
        bytes.extend(tail);
        let _ = decode(&bytes);
        let _ = client::decode(&bytes);
    }

    #[test]
    fn a_snapshot_decodes_to_the_markers_encoded(markers in proptest::collection::vec(marker(), 0..40)) {
        let bytes = snapshot(9, markers.iter());
        let WireFrame::Snapshot { seq, vehicles } = decode(&bytes).expect("decodes") else {
            panic!("not a snapshot");
        };
        prop_assert_eq!(seq, 9);
        let received: Vec<Marker> =
            vehicles.into_iter().map(|u| u.into_marker().expect("described")).collect();
        prop_assert_eq!(received, markers.iter().map(as_received).collect::<Vec<_>>());
    }

    #[test]
    fn a_delta_applied_to_what_the_client_knew_gives_the_markers_encoded(
        before in proptest::collection::vec(marker(), 1..30),
        moved in proptest::collection::vec((-90.0..=90.0f64, -180.0..=180.0f64, any::<bool>()), 1..30),
        received_ms in any::<u64>(),
    ) {
        // Each vehicle moves; some also change what they are (and are described).
        let after: Vec<(Marker, bool)> = before
            .iter()
            .zip(moved.iter().cycle())
            .map(|(marker, (lat, lon, described))| {
                let line = if *described { Some("9Z".to_owned()) } else { marker.line.clone() };
                (Marker { lat: *lat, lon: *lon, line, ..marker.clone() }, *described)
            })
            .collect();
        let removed = [before[0].id];
        let bytes = delta(3, received_ms, after.iter().map(|(m, d)| (m, *d)), &removed);
        prop_assert_eq!(header(&bytes), Ok(Header::Delta { seq: 3, received_ms }));
        let WireFrame::Delta { upserts, removed: gone, .. } = decode(&bytes).expect("decodes") else {
            panic!("not a delta");
        };
        prop_assert_eq!(gone, removed.to_vec());
        for ((update, (expected, _)), known) in upserts.into_iter().zip(&after).zip(&before) {
            let mut marker = known.clone();
            update.apply_to(&mut marker);
            prop_assert_eq!(marker, as_received(expected));
        }
    }

    #[test]
    fn a_view_reads_back_as_the_browser_sent_it(
        (south, north) in (-90.0..=90.0f64, -90.0..=90.0f64).prop_map(|(a, b)| (a.min(b), a.max(b))),
        (west, east) in (-180.0..=180.0f64, -180.0..=180.0f64).prop_map(|(a, b)| (a.min(b), a.max(b))),
    ) {
        let sent = Bounds::new(south, west, north, east).expect("ordered and on the globe");
        let Ok(ClientMessage::View(received)) = client::decode(&client::encode(&ClientMessage::View(sent))) else {
            panic!("a view");
        };
        for (a, b) in [
            (received.south(), south),
            (received.west(), west),
            (received.north(), north),
            (received.east(), east),
        ] {
            prop_assert!((a - b).abs() <= 0.5 / COORDINATE_SCALE, "{a} vs {b}");
        }
    }
}
