//! The response framing of ksqlDB's `/query-stream`, parsed exactly as documented, from
//! bytes as they arrive: a chunk may hold half a row or several rows.
//!
//! Documented facts relied on (ksqlDB docs, "Run push and pull queries", the
//! `/query-stream` page of versions 0.14 and 0.23 and the current Confluent Platform copy,
//! `developer-guide/ksqldb-rest-api/streaming-endpoint`):
//! * `application/vnd.ksqlapi.delimited.v1` (the default): "a header JSON object followed by
//!   zero or more JSON arrays that are delimited by newlines". The header carries `queryId`,
//!   `columnNames` and `columnTypes`.
//! * `application/json`: "the results as a single JSON array": the header object, then the
//!   row arrays.
//! * Errors are JSON objects `{"@type": "...", "error_code": <5 digits>, "message": "..."}`:
//!   the whole body of a non-2xx answer, or, on a running stream, in place of a row.
//!
//! Values stay `serde_json::Value` only inside this module's caller, [`super::row`], which
//! turns each row into a typed position by column name.

use serde::Deserialize;
use serde_json::Value;

/// Longest line accepted. A row of our table is well under 1 KiB; anything near this is
/// not a row of ours, and buffering it further would let a peer grow our memory.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// The first element of every response.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// Present for push queries (needed to close them); pull queries may omit it.
    #[serde(default)]
    pub query_id: Option<String>,
    pub column_names: Vec<String>,
    #[serde(default)]
    pub column_types: Vec<String>,
}

/// An error reported by ksqlDB.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, thiserror::Error)]
#[error("ksqlDB error {error_code}: {message}")]
pub struct ServerError {
    #[serde(rename = "@type", default)]
    pub kind: String,
    pub error_code: u32,
    pub message: String,
}

/// One element of a response.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Header(Header),
    Row(Vec<Value>),
    Error(ServerError),
}

/// Why a response could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    #[error("a line of over {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    #[error("unreadable element: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a row arrived before the header")]
    RowBeforeHeader,
    #[error("a second header arrived")]
    SecondHeader,
    #[error("the element is neither a header, a row nor an error: {0}")]
    Unexpected(String),
    #[error("the response ended inside an element")]
    Truncated,
}

/// Incremental parser for the delimited format: feed it chunks, take out frames.
#[derive(Debug, Default)]
pub struct DelimitedDecoder {
    pending: Vec<u8>,
    saw_header: bool,
}

impl DelimitedDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `chunk` and appends every complete frame it finishes to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), FramingError> {
        self.pending.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|b| *b == b'\n') {
            let line = &self.pending[start..start + offset];
            start += offset + 1;
            if let Some(frame) = frame(&mut self.saw_header, line)? {
                out.push(frame);
            }
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_LINE_BYTES {
            return Err(FramingError::LineTooLong);
        }
        Ok(())
    }

    /// The response ended: a last element without a trailing newline is complete if it
    /// parses; anything else left over was cut off.
    pub fn finish(&mut self, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        let rest = std::mem::take(&mut self.pending);
        if rest.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        match frame(&mut self.saw_header, &rest) {
            Ok(Some(frame)) => {
                out.push(frame);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(FramingError::Json(error)) if error.is_eof() => Err(FramingError::Truncated),
            Err(error) => Err(error),
        }
    }
}

/// One line of the delimited format, checked against what came before it.
fn frame(saw_header: &mut bool, line: &[u8]) -> Result<Option<Frame>, FramingError> {
    let line = line.trim_ascii();
    // Tolerate the separators of the JSON-array form too (`[`, `,`, `]`): some proxies
    // and versions pretty-print; they carry no data.
    let line = line.strip_suffix(b",").unwrap_or(line);
    if line.is_empty() || line == b"[" || line == b"]" {
        return Ok(None);
    }
    let frame = classify(serde_json::from_slice(line)?)?;
    match (&frame, *saw_header) {
        (Frame::Header(_), true) => return Err(FramingError::SecondHeader),
        (Frame::Header(_), false) => *saw_header = true,
        (Frame::Row(_), false) => return Err(FramingError::RowBeforeHeader),
        _ => {}
    }
    Ok(Some(frame))
}

/// Parses a whole `application/json` response (or a non-2xx error body).
pub fn parse_document(body: &[u8]) -> Result<Vec<Frame>, FramingError> {
    let value: Value = serde_json::from_slice(body)?;
    let elements = match value {
        Value::Array(elements) => elements,
        // A bare error object.
        object @ Value::Object(_) => vec![object],
        other => return Err(FramingError::Unexpected(other.to_string())),
    };
    let mut frames = Vec::with_capacity(elements.len());
    for (index, element) in elements.into_iter().enumerate() {
        let frame = classify(element)?;
        match (&frame, index) {
            (Frame::Row(_), 0) => return Err(FramingError::RowBeforeHeader),
            (Frame::Header(_), 1..) => return Err(FramingError::SecondHeader),
            _ => {}
        }
        frames.push(frame);
    }
    Ok(frames)
}

fn classify(value: Value) -> Result<Frame, FramingError> {
    match value {
        Value::Array(columns) => Ok(Frame::Row(columns)),
        Value::Object(ref object) if object.contains_key("error_code") => {
            Ok(Frame::Error(serde_json::from_value(value)?))
        }
        Value::Object(ref object) if object.contains_key("columnNames") => {
            Ok(Frame::Header(serde_json::from_value(value)?))
        }
        other => Err(FramingError::Unexpected(truncate(other.to_string()))),
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > 200 {
        let mut end = 200;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"queryId":"transient_VEHICLE_LATEST_1","columnNames":["VEHICLE_ID","LAT"],"columnTypes":["STRING","DOUBLE"]}"#;

    fn decode_in_chunks(body: &[u8], chunk: usize) -> Vec<Frame> {
        let mut decoder = DelimitedDecoder::new();
        let mut frames = Vec::new();
        for piece in body.chunks(chunk) {
            decoder.push(piece, &mut frames).expect("valid");
        }
        decoder.finish(&mut frames).expect("complete");
        frames
    }

    #[test]
    fn rows_split_across_chunks_or_packed_together_decode_the_same() {
        let body = format!(
            "{HEADER}\n[\"0018/01029\",60.1]\n[\"0022/00001\",60.2]\n[\"0040/00412\",60.3]"
        );
        let whole = decode_in_chunks(body.as_bytes(), body.len());
        assert_eq!(whole.len(), 4);
        assert!(
            matches!(&whole[0], Frame::Header(h) if h.query_id.as_deref() == Some("transient_VEHICLE_LATEST_1"))
        );
        assert_eq!(whole[3], Frame::Row(vec![Value::from("0040/00412"), Value::from(60.3)]));
        for chunk in [1, 2, 3, 7, 16, 64] {
            assert_eq!(decode_in_chunks(body.as_bytes(), chunk), whole, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_multibyte_character_split_between_chunks_survives() {
        let body = format!("{HEADER}\n[\"Matinkylä (M)\",60.1]\n");
        let frames = decode_in_chunks(body.as_bytes(), 1);
        assert_eq!(frames[1], Frame::Row(vec![Value::from("Matinkylä (M)"), Value::from(60.1)]));
    }

    #[test]
    fn an_error_object_in_the_middle_of_a_stream_is_a_frame() {
        let body = format!(
            "{HEADER}\n[\"0018/01029\",60.1]\n{{\"@type\":\"generic_error\",\"error_code\":50000,\"message\":\"Query terminated\"}}\n"
        );
        let frames = decode_in_chunks(body.as_bytes(), 5);
        assert_eq!(
            frames[2],
            Frame::Error(ServerError {
                kind: "generic_error".into(),
                error_code: 50000,
                message: "Query terminated".into()
            })
        );
    }

    #[test]
    fn broken_streams_are_errors_not_panics() {
        let mut out = Vec::new();
        let mut decoder = DelimitedDecoder::new();
        assert!(matches!(decoder.push(b"[1,2]\n", &mut out), Err(FramingError::RowBeforeHeader)));

        let mut decoder = DelimitedDecoder::new();
        decoder.push(format!("{HEADER}\n").as_bytes(), &mut out).expect("header");
        assert!(matches!(
            decoder.push(format!("{HEADER}\n").as_bytes(), &mut out),
            Err(FramingError::SecondHeader)
        ));

        let mut decoder = DelimitedDecoder::new();
        decoder.push(format!("{HEADER}\n[\"0018/01").as_bytes(), &mut out).expect("partial");
        assert!(matches!(decoder.finish(&mut out), Err(FramingError::Truncated)));

        let mut decoder = DelimitedDecoder::new();
        assert!(matches!(decoder.push(b"42\n", &mut out), Err(FramingError::Unexpected(_))));
        assert!(matches!(
            DelimitedDecoder::new().push(b"{nope\n", &mut out),
            Err(FramingError::Json(_))
        ));

        let mut decoder = DelimitedDecoder::new();
        let endless = vec![b'x'; MAX_LINE_BYTES + 1];
        assert!(matches!(decoder.push(&endless, &mut out), Err(FramingError::LineTooLong)));
    }

    #[test]
    fn the_json_array_form_and_bare_error_bodies_parse() {
        let body = format!("[{HEADER},[\"0018/01029\",60.1],[\"0022/00001\",60.2]]");
        let frames = parse_document(body.as_bytes()).expect("valid");
        assert_eq!(frames.len(), 3);
        assert!(matches!(frames[0], Frame::Header(_)));

        let error = br#"{"@type":"statement_error","error_code":40001,"message":"Line: 1, Col: 15: SELECT column 'NOPE' cannot be resolved."}"#;
        assert!(
            matches!(&parse_document(error).expect("valid")[0], Frame::Error(e) if e.error_code == 40001)
        );
        assert!(matches!(parse_document(b"[[1]]"), Err(FramingError::RowBeforeHeader)));
    }
}
