//! Property tests of the `/query-stream` framing: any bytes, cut into chunks anywhere, are
//! frames or a typed error, never a panic; a valid response (header, rows, an error
//! object) cut at any byte decodes to the same frames as in one piece. `scripts/fuzz.sh`
//! runs them for longer.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// Column values as ksqlDB writes them: strings (any text), numbers, booleans, nulls.
fn column() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9..1e9f64).prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
    ]
}

/// A valid delimited response: its lines and the frames they stand for.
fn response() -> impl Strategy<Value = (Vec<String>, Vec<Frame>)> {
    (
        proptest::collection::vec("[A-Z_]{1,10}", 1..6),
        proptest::collection::vec(proptest::collection::vec(column(), 0..6), 0..8),
        proptest::option::of(("\\PC{0,40}", 40_000..50_000u32)),
    )
        .prop_map(|(names, rows, error)| {
            let header = Header {
                query_id: Some("transient_VEHICLE_LATEST_1".to_owned()),
                column_types: vec!["STRING".to_owned(); names.len()],
                column_names: names,
            };
            let mut lines = vec![
                json!({
                    "queryId": header.query_id,
                    "columnNames": header.column_names,
                    "columnTypes": header.column_types,
                })
                .to_string(),
            ];
            let mut frames = vec![Frame::Header(header)];
            for row in rows {
                let line = Value::from(row).to_string();
                // The reference decode: serde_json's reading of the line as a whole (a
                // float may come back one unit in the last place off what was written).
                let columns: Vec<Value> = serde_json::from_str(&line).expect("valid JSON");
                lines.push(line);
                frames.push(Frame::Row(columns));
            }
            if let Some((message, error_code)) = error {
                let kind = "generic_error".to_owned();
                lines.push(
                    json!({"@type": kind, "error_code": error_code, "message": message})
                        .to_string(),
                );
                frames.push(Frame::Error(ServerError { kind, error_code, message }));
            }
            (lines, frames)
        })
}

/// Decodes `body` cut at `cuts` (byte offsets, any order), stopping at the first error.
fn decode_cut(body: &[u8], cuts: &[usize]) -> (Vec<Frame>, Option<String>) {
    let mut offsets: Vec<usize> = cuts.iter().map(|cut| cut % (body.len() + 1)).collect();
    offsets.sort_unstable();
    offsets.push(body.len());
    let (mut decoder, mut frames, mut start) = (DelimitedDecoder::new(), Vec::new(), 0);
    for end in offsets {
        if let Err(error) = decoder.push(&body[start..end], &mut frames) {
            return (frames, Some(error.to_string()));
        }
        start = end;
    }
    let finished = decoder.finish(&mut frames).err().map(|error| error.to_string());
    (frames, finished)
}

proptest! {
    #[test]
    fn any_bytes_in_any_chunks_are_frames_or_a_typed_error(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = decode_cut(&body, &[]);
        let (frames, error) = decode_cut(&body, &cuts);
        // Where a response is cut never changes what it says.
        prop_assert_eq!(frames, whole.0);
        prop_assert_eq!(error.is_some(), whole.1.is_some());
        let _ = parse_document(&body);
    }

    #[test]
    fn a_valid_response_cut_anywhere_decodes_to_its_frames(
        (lines, frames) in response(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        final_newline in any::<bool>(),
    ) {
        let mut body = lines.join("\n");
        if final_newline {
            body.push('\n');
        }
        prop_assert_eq!(decode_cut(body.as_bytes(), &cuts), (frames.clone(), None));
        // The same elements as one JSON array (`application/json`).
        let document = format!("[{}]", lines.join(","));
        prop_assert_eq!(parse_document(document.as_bytes()).expect("a valid document"), frames);
    }

    #[test]
    fn every_single_byte_cut_of_a_response_decodes_the_same((lines, frames) in response()) {
        let body = lines.join("\n");
        for cut in 0..=body.len() {
            prop_assert_eq!(decode_cut(body.as_bytes(), &[cut]), (frames.clone(), None), "cut at {}", cut);
        }
    }
}
