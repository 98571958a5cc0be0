//! The replay source: a recording (see [`crate::recording`]) played back at its recorded
//! pace, N times faster, or as fast as possible, once or in a loop. The same file and
//! speed always give the same messages in the same order, which is what tests and
//! benchmarks need.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Sink;
use crate::recording::{self, Recorded, RecordingError};

/// Messages read ahead of playback: enough to never wait on the disk, bounded so a large
/// recording is streamed, not loaded.
const READ_AHEAD: usize = 1_024;

/// The slowest replay worth asking for: a thousandth of real time. Slower speeds put the
/// next message centuries away (and past what a clock can hold: `1e-300` did).
pub const MIN_SPEED: f64 = 0.001;

/// The longest a recording can run: a message stamped later than this after the start is
/// corrupt (`u64::MAX` would otherwise be due in half a billion years: a silent stall).
pub const MAX_RECORDED_MS: u64 = 31 * 24 * 3_600 * 1_000;

/// A configured replay.
#[derive(Debug, Clone)]
pub struct Replay {
    pub path: PathBuf,
    /// Playback speed: 1.0 is real time, 10.0 ten times faster; `None` is as fast as
    /// possible.
    pub speed: Option<f64>,
    pub looping: bool,
    /// Move each message's event time to the moment it is played, so the replay looks
    /// live (ages, fading, expiry) instead of as old as the recording.
    pub retime: bool,
}

impl Replay {
    /// A replay at `speed` as the command line gives it: 0 means as fast as possible.
    pub fn new(path: PathBuf, speed: f64, looping: bool, retime: bool) -> Self {
        Self { path, speed: (speed > 0.0).then_some(speed), looping, retime }
    }

    /// Plays the recording into `sink` until it ends (or, looping, until `shutdown`).
    /// Returns the number of messages delivered.
    pub async fn run(
        self,
        sink: Arc<dyn Sink>,
        shutdown: CancellationToken,
    ) -> Result<u64, RecordingError> {
        let mut delivered = 0;
        loop {
            delivered += self.play_once(&sink, &shutdown).await?;
            if !self.looping || shutdown.is_cancelled() {
                return Ok(delivered);
            }
            // The next pass repeats event times the table already has: start it afresh.
            sink.restart();
        }
    }

    async fn play_once(
        &self,
        sink: &Arc<dyn Sink>,
        shutdown: &CancellationToken,
    ) -> Result<u64, RecordingError> {
        let (sender, mut records) = mpsc::channel::<Result<Recorded, RecordingError>>(READ_AHEAD);
        let path = self.path.clone();
        // File reading and decompression block: they get a thread of their own.
        let reader = tokio::task::spawn_blocking(move || {
            let source = match recording::open(&path) {
                Ok(source) => source,
                Err(error) => {
                    let _ = sender.blocking_send(Err(error.into()));
                    return;
                }
            };
            for record in recording::read_all(source) {
                let failed = record.is_err();
                if sender.blocking_send(record).is_err() || failed {
                    return;
                }
            }
        });

        let started = Instant::now();
        let mut delivered = 0_u64;
        while let Some(record) = records.recv().await {
            let record = record?;
            match self.speed {
                Some(speed) => {
                    let Some(due) = due(started, record.at_ms, speed) else {
                        // Ends the replay with an error the log and the caller see.
                        return Err(RecordingError::Unschedulable { at_ms: record.at_ms, speed });
                    };
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep_until(due.into()) => {}
                    }
                }
                None => {
                    if shutdown.is_cancelled() {
                        break;
                    }
                    // Flat out, but let the server's other tasks run now and then.
                    if delivered.is_multiple_of(512) {
                        tokio::task::yield_now().await;
                    }
                }
            }
            let payload = record.payload_bytes()?;
            let payload = match self.retime {
                true => crate::hfp::retime(&payload, crate::clock::now_ms()).unwrap_or(payload),
                false => payload,
            };
            sink.deliver(&record.topic, &payload, Instant::now()).await;
            delivered += 1;
        }
        drop(records);
        let _ = reader.await;
        Ok(delivered)
    }
}

/// When a message recorded `at_ms` after the recording's start is due, played at `speed`
/// from `started`; `None` for a time past [`MAX_RECORDED_MS`] or one no clock reaches
/// (a speed far below [`MIN_SPEED`] given through the library).
fn due(started: Instant, at_ms: u64, speed: f64) -> Option<Instant> {
    if at_ms > MAX_RECORDED_MS {
        return None;
    }
    let offset = Duration::try_from_secs_f64(at_ms as f64 / 1_000.0 / speed).ok()?;
    started.checked_add(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_due_at_its_recorded_time_divided_by_the_speed() {
        let started = Instant::now();
        assert_eq!(due(started, 3_000, 1.0), Some(started + Duration::from_secs(3)));
        assert_eq!(due(started, 3_000, 10.0), Some(started + Duration::from_millis(300)));
        assert_eq!(due(started, 0, MIN_SPEED), Some(started));
        assert!(due(started, MAX_RECORDED_MS, MIN_SPEED).is_some());
    }

    #[test]
    fn a_corrupt_time_or_one_no_clock_reaches_is_refused_instead_of_stalling_or_panicking() {
        let started = Instant::now();
        assert_eq!(due(started, 1, 1e-300), None);
        assert_eq!(due(started, u64::MAX, 1.0), None);
        assert_eq!(due(started, MAX_RECORDED_MS + 1, 1.0), None);
        assert_eq!(due(started, 1, f64::NAN), None);
    }
}
