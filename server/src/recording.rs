//! The recording format shared by `transit-stream record` and the replay source:
//! newline-delimited JSON, one received MQTT message per line,
//!
//! ```json
//! {"at_ms":1250,"topic":"/hfp/v2/journey/ongoing/vp/bus/0018/01029/...","payload":"{\"VP\":{...}}"}
//! ```
//!
//! `at_ms` is the receive time in milliseconds since the recording started; `payload` is
//! the payload as text (HFP payloads are UTF-8 JSON), or `payload_hex` for the rare
//! payload that is not UTF-8, so a replay hands the parser exactly the recorded bytes.
//! A path ending in `.gz` is gzip-compressed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

/// One recorded message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub at_ms: u64,
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_hex: Option<String>,
}

impl Recorded {
    pub fn new(at_ms: u64, topic: &str, payload: &[u8]) -> Self {
        match std::str::from_utf8(payload) {
            Ok(text) => Self {
                at_ms,
                topic: topic.to_owned(),
                payload: Some(text.to_owned()),
                payload_hex: None,
            },
            Err(_) => Self {
                at_ms,
                topic: topic.to_owned(),
                payload: None,
                payload_hex: Some(payload.iter().map(|b| format!("{b:02x}")).collect()),
            },
        }
    }

    /// The payload bytes as received.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, RecordingError> {
        match (&self.payload, &self.payload_hex) {
            (Some(text), _) => Ok(text.as_bytes().to_vec()),
            (None, Some(hex)) => decode_hex(hex).ok_or(RecordingError::Hex),
            (None, None) => Ok(Vec::new()),
        }
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("cannot read the recording: {0}")]
    Io(#[from] io::Error),
    #[error("line {line}: not a recorded message: {error}")]
    Line { line: usize, error: serde_json::Error },
    #[error("a payload_hex value is not hex")]
    Hex,
    #[error("a message recorded at {at_ms} ms cannot be scheduled at replay speed {speed}")]
    Unschedulable { at_ms: u64, speed: f64 },
    #[error("line {line} is longer than {MAX_LINE_BYTES} bytes: not a recording")]
    LineTooLong { line: usize },
}

/// The longest line a recording may have. A recorded message is an HFP message (about a
/// kilobyte) with its topic; this leaves ample room, and bounds what a file that is not a
/// recording (`/dev/zero`) can make the reader hold.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// Opens a recording for reading, decompressing `.gz` files.
pub fn open(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    let file = File::open(path)?;
    Ok(if is_gzip(path) {
        Box::new(BufReader::new(GzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    })
}

/// Reads every message of a recording, in order, stopping at the first bad line. No line
/// longer than [`MAX_LINE_BYTES`] is ever held in memory.
pub fn read_all(
    mut reader: impl BufRead,
) -> impl Iterator<Item = Result<Recorded, RecordingError>> {
    let (mut number, mut line, mut done) = (0, Vec::new(), false);
    std::iter::from_fn(move || {
        while !done {
            line.clear();
            number += 1;
            let limit = MAX_LINE_BYTES as u64 + 1;
            match reader.by_ref().take(limit).read_until(b'\n', &mut line) {
                Err(error) => {
                    done = true;
                    return Some(Err(error.into()));
                }
                Ok(0) => done = true,
                Ok(_) if line.last() != Some(&b'\n') && line.len() > MAX_LINE_BYTES => {
                    done = true;
                    return Some(Err(RecordingError::LineTooLong { line: number }));
                }
                Ok(_) if line.trim_ascii().is_empty() => continue,
                Ok(_) => {
                    let parsed = serde_json::from_slice(&line)
                        .map_err(|error| RecordingError::Line { line: number, error });
                    done = parsed.is_err();
                    return Some(parsed);
                }
            }
        }
        None
    })
}

fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|extension| extension == "gz")
}

/// Writes received messages to a recording.
///
/// A std mutex around a buffered writer: `record` is called from one source task, writes
/// go to a memory buffer almost always, and the recorder is a command-line tool, not the
/// server, so an occasional blocking flush costs nothing that matters.
pub struct Recorder {
    out: Mutex<Box<dyn Write + Send>>,
    started: Instant,
}

impl Recorder {
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = BufWriter::new(File::create(path)?);
        let out: Box<dyn Write + Send> = if is_gzip(path) {
            Box::new(GzEncoder::new(file, Compression::default()))
        } else {
            Box::new(file)
        };
        Ok(Self { out: Mutex::new(out), started: Instant::now() })
    }

    pub fn record(&self, topic: &str, payload: &[u8], received: Instant) -> io::Result<()> {
        let at_ms = u64::try_from(received.saturating_duration_since(self.started).as_millis())
            .unwrap_or(u64::MAX);
        let mut line = serde_json::to_vec(&Recorded::new(at_ms, topic, payload))?;
        line.push(b'\n');
        self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner).write_all(&line)
    }

    /// Flushes everything (and ends the gzip stream).
    pub fn finish(self) -> io::Result<()> {
        let mut out = self.out.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        out.flush()?;
        // Dropping a GzEncoder writes its trailer; flush above made sure the data is out.
        drop(out);
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::source::Sink for Recorder {
    async fn deliver(&self, topic: &str, payload: &[u8], received: Instant) {
        if let Err(error) = self.record(topic, payload, received) {
            tracing::error!(%error, "Cannot write the recording.");
        }
    }
}

/// What `transit-stream record` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFrom {
    /// The live feed (`--mqtt-url`, `--mqtt-topic`).
    Live,
    /// The simulator: for fixtures and demos.
    Simulator,
}

/// Options of `transit-stream record`.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordArgs {
    /// File to write; a name ending in .gz is compressed.
    #[arg(long)]
    pub out: std::path::PathBuf,
    #[arg(long, value_enum, default_value_t = RecordFrom::Live)]
    pub from: RecordFrom,
    #[command(flatten)]
    pub mqtt: crate::config::MqttArgs,
    /// Simulated vehicles (with --from simulator).
    #[arg(long, default_value_t = 100)]
    pub sim_vehicles: u32,
    #[arg(long, default_value_t = 2026)]
    pub sim_seed: u64,
    /// Stop after this many seconds (default: Ctrl-C).
    #[arg(long)]
    pub duration_secs: Option<u64>,
}

/// Records until the duration passes or `shutdown`.
pub async fn record(
    args: RecordArgs,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    use crate::source::{mqtt, simulator};
    use anyhow::Context;
    let out = args.out.display().to_string();
    let recorder = Recorder::create(&args.out)
        .with_context(|| format!("cannot create the recording {out}"))?;
    let recorder = std::sync::Arc::new(recorder);
    let stop = crate::shutdown::stop_after(&shutdown, args.duration_secs);
    let sink: std::sync::Arc<dyn crate::source::Sink> = recorder.clone();
    match args.from {
        RecordFrom::Live => {
            let source = mqtt::MqttSource {
                broker: args.mqtt.broker()?,
                topic_filter: args.mqtt.topic,
                readiness: crate::readiness::Readiness::waiting_for(
                    crate::readiness::Upstream::Mqtt,
                ),
            };
            source.run(sink, stop).await;
        }
        RecordFrom::Simulator => {
            let fleet =
                simulator::Simulator::new(args.sim_vehicles, args.sim_seed, crate::clock::now_ms());
            simulator::run(fleet, sink, stop).await;
        }
    }
    std::sync::Arc::into_inner(recorder)
        .ok_or_else(|| anyhow::anyhow!("the recorder is still in use"))?
        .finish()
        .with_context(|| format!("cannot finish writing the recording {out}"))?;
    Ok(())
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_reads_back_exactly_what_was_received_plain_or_gzipped() {
        let dir = std::env::temp_dir().join(format!("transit-stream-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for name in ["a.ndjson", "a.ndjson.gz"] {
            let path = dir.join(name);
            let recorder = Recorder::create(&path).expect("create");
            let start = recorder.started;
            recorder.record("/hfp/v2/journey/ongoing/vp/tram/0040/00412/1009/1/Jätkäsaari/08:11/1/4/60;24/19/74/39", br#"{"VP":{"tst":"2026-11-24T06:00:00.000Z"}}"#, start).expect("write");
            recorder
                .record(
                    "/x",
                    b"\xff\xfe not utf-8",
                    start + std::time::Duration::from_millis(1_500),
                )
                .expect("write");
            recorder.finish().expect("finish");

            let records: Vec<Recorded> =
                read_all(open(&path).expect("open")).collect::<Result<_, _>>().expect("valid");
            assert_eq!(records.len(), 2, "{name}");
            assert_eq!(records[0].at_ms, 0);
            assert!(records[0].topic.contains("Jätkäsaari"));
            assert_eq!(records[1].at_ms, 1_500);
            assert_eq!(records[1].payload_bytes().expect("hex"), b"\xff\xfe not utf-8");
        }
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[tokio::test]
    async fn a_recording_that_cannot_be_created_is_an_error_naming_its_path() {
        let out = std::path::PathBuf::from("/nonexistent/transit-stream-dir/x.ndjson.gz");
        let args = RecordArgs {
            out: out.clone(),
            from: RecordFrom::Simulator,
            mqtt: crate::config::MqttArgs::hsl(),
            sim_vehicles: 1,
            sim_seed: 1,
            duration_secs: Some(0),
        };
        let error = record(args, tokio_util::sync::CancellationToken::new())
            .await
            .expect_err("no such directory");
        let text = format!("{error:#}");
        assert!(text.contains(&out.display().to_string()), "{text}");
    }

    #[test]
    fn a_line_past_the_limit_is_an_error_and_is_never_read_whole() {
        let good = r#"{"at_ms":1,"topic":"/a","payload":"x"}"#;
        let input = format!("{good}\n{}", "0".repeat(10 * MAX_LINE_BYTES));
        let results: Vec<_> = read_all(input.as_bytes()).collect();
        assert!(results[0].is_ok());
        assert!(matches!(results[1], Err(RecordingError::LineTooLong { line: 2 })));
        assert_eq!(results.len(), 2, "reading stops there");
        // Endless bytes without a newline, as /dev/zero gives: one error, bounded memory.
        let zeros = std::io::BufReader::new(std::io::repeat(0));
        let first = read_all(zeros).next();
        assert!(matches!(first, Some(Err(RecordingError::LineTooLong { line: 1 }))));
        // A line of exactly the limit is still a line.
        let padded = format!("{good}{}\n", " ".repeat(MAX_LINE_BYTES - good.len()));
        assert!(read_all(padded.as_bytes()).next().is_some_and(|r| r.is_ok()));
    }

    #[test]
    fn a_bad_line_is_an_error_with_its_number() {
        let input = "{\"at_ms\":1,\"topic\":\"/a\",\"payload\":\"x\"}\nnot json\n";
        let results: Vec<_> = read_all(input.as_bytes()).collect();
        assert!(results[0].is_ok());
        assert!(matches!(results[1], Err(RecordingError::Line { line: 2, .. })));
    }
}
