//! Property tests of the recording reader: any bytes (plain or claimed gzip) are records
//! then at most one typed error, never a panic; what was recorded reads back exactly,
//! payloads that are not UTF-8 included. `scripts/fuzz.sh` runs them for longer.

use std::io::{BufReader, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;

use super::*;

fn recorded() -> impl Strategy<Value = (u64, String, Vec<u8>)> {
    (any::<u64>(), "\\PC{0,40}", proptest::collection::vec(any::<u8>(), 0..64))
}

/// Reads `bytes` as a recording; checks that an error, if any, comes last.
fn read(reader: impl BufRead) -> Result<Vec<Recorded>, TestCaseError> {
    let mut records = Vec::new();
    let mut items = read_all(reader);
    for item in items.by_ref() {
        match item {
            Ok(record) => records.push(record),
            Err(_) => {
                prop_assert!(items.next().is_none(), "nothing after an error");
                break;
            }
        }
    }
    Ok(records)
}

proptest! {
    #[test]
    fn any_bytes_are_records_then_at_most_one_typed_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        read(&bytes[..])?;
        read(BufReader::new(flate2::read::GzDecoder::new(&bytes[..])))?;
    }

    #[test]
    fn lines_of_json_that_are_almost_records_are_records_or_a_typed_error(
        lines in proptest::collection::vec(
            prop_oneof![
                (any::<u64>(), "\\PC{0,12}").prop_map(|(at, topic)| format!(r#"{{"at_ms":{at},"topic":{topic:?}}}"#)),
                "[0-9a-f]{0,9}".prop_map(|hex| format!(r#"{{"at_ms":1,"topic":"/x","payload_hex":"{hex}"}}"#)),
                "\\PC{0,30}",
            ],
            0..8,
        ),
    ) {
        let text = lines.join("\n");
        for record in read(text.as_bytes())? {
            let _ = record.payload_bytes();
        }
    }

    #[test]
    fn what_was_recorded_reads_back_exactly(
        messages in proptest::collection::vec(recorded(), 0..12),
        blank_lines in proptest::collection::vec(any::<bool>(), 12),
        gzipped in any::<bool>(),
    ) {
        let mut text = Vec::new();
        for ((at_ms, topic, payload), blank) in messages.iter().zip(&blank_lines) {
            serde_json::to_writer(&mut text, &Recorded::new(*at_ms, topic, payload)).expect("serializes");
            text.push(b'\n');
            if *blank {
                text.extend(b"  \n");
            }
        }
        let records = if gzipped {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
            encoder.write_all(&text).expect("compresses");
            let compressed = encoder.finish().expect("compresses");
            read(BufReader::new(flate2::read::GzDecoder::new(&compressed[..])))?
        } else {
            read(&text[..])?
        };
        prop_assert_eq!(records.len(), messages.len());
        for (record, (at_ms, topic, payload)) in records.iter().zip(&messages) {
            prop_assert_eq!(record.at_ms, *at_ms);
            prop_assert_eq!(&record.topic, topic);
            prop_assert_eq!(&record.payload_bytes().expect("valid hex"), payload);
        }
    }
}
