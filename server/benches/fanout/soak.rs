//! The soak (`--soak SECONDS`): one server, the simulator at HSL's peak, held under steady
//! load: `--readers` clients that read every frame and check its order, and `--churners`
//! clients that connect, take their snapshot and leave, over and over. It fails (exit
//! code 1) when:
//! * a frame comes out of order: a delta at or below the sequence number the client had
//!   reached, or a snapshot taking it back;
//! * a reader ends more than [`MAX_BEHIND`] deltas behind the newest any reader saw, or was
//!   dropped;
//! * resident memory grows: a least-squares line through the samples taken after the
//!   first fifth of the run would add more than [`growth_bound`] over the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::wire::{self, Header};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::client;
use crate::process::{self, Server};

/// Two seconds of deltas at the 250 ms tick: a reader this far behind at the end has not
/// kept up (one that is busy for a moment is a tick or two behind).
pub const MAX_BEHIND: u64 = 8;
/// How often each churning client comes back.
const CHURN_EVERY: Duration = Duration::from_millis(250);

/// How the soak runs.
#[derive(Debug, Clone, Copy)]
pub struct Soak {
    pub seconds: u64,
    pub readers: usize,
    pub churners: usize,
    pub vehicles: u32,
    pub sample_every: Duration,
}

/// What one reader saw.
#[derive(Debug, Default)]
struct Reader {
    last_seq: u64,
    deltas: u64,
    snapshots: u64,
    out_of_order: u64,
    dropped: bool,
}

/// The soak's figures, as printed and written to JSON.
#[derive(Debug, Serialize)]
pub struct Report {
    pub seconds: u64,
    pub readers: usize,
    pub churners: usize,
    pub vehicles: u32,
    /// (seconds since the clients connected, resident MB)
    pub rss_samples: Vec<(f64, f64)>,
    /// Least-squares slope over the samples after the first fifth, MB per minute.
    pub rss_slope_mb_per_min: f64,
    /// What that slope adds over the run, and the most it may.
    pub rss_growth_mb: f64,
    pub rss_growth_bound_mb: f64,
    pub churn_cycles: u64,
    pub deltas_per_reader: f64,
    pub resyncs: u64,
    pub out_of_order: u64,
    pub dropped: usize,
    /// Readers more than [`MAX_BEHIND`] deltas behind the newest at the end.
    pub behind: usize,
    pub newest_seq: u64,
    pub passed: bool,
}

/// The most memory may grow over a run: a little for the allocator settling, and a
/// twentieth of what the server holds.
pub fn growth_bound(mean_mb: f64) -> f64 {
    2.0 + mean_mb * 0.05
}

pub async fn run(soak: Soak) -> anyhow::Result<Report> {
    let server = process::transit_stream(soak.vehicles, soak.readers + soak.churners)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stop = CancellationToken::new();
    let mut readers = JoinSet::new();
    for _ in 0..soak.readers {
        let socket = client::connect(&server.ws_url).await?;
        readers.spawn(read(socket, stop.clone()));
    }
    let cycles = Arc::new(AtomicU64::new(0));
    let mut churners = JoinSet::new();
    for _ in 0..soak.churners {
        churners.spawn(churn(server.ws_url.clone(), Arc::clone(&cycles), stop.clone()));
    }

    let rss_samples = sample(&server, soak).await?;
    stop.cancel();
    let mut seen = Vec::with_capacity(soak.readers);
    while let Some(reader) = readers.join_next().await {
        seen.push(reader?);
    }
    while churners.join_next().await.is_some() {}
    drop(server);

    let newest_seq = seen.iter().map(|r| r.last_seq).max().unwrap_or(0);
    let behind = seen.iter().filter(|r| r.last_seq + MAX_BEHIND < newest_seq).count();
    let out_of_order = seen.iter().map(|r| r.out_of_order).sum();
    let dropped = seen.iter().filter(|r| r.dropped).count();
    let settled: Vec<(f64, f64)> =
        rss_samples.iter().copied().filter(|(t, _)| *t >= soak.seconds as f64 / 5.0).collect();
    let slope_per_s = slope(&settled);
    let mean_mb = settled.iter().map(|(_, mb)| mb).sum::<f64>() / settled.len().max(1) as f64;
    let span_s = settled.last().map_or(0.0, |(t, _)| *t) - settled.first().map_or(0.0, |(t, _)| *t);
    let rss_growth_mb = slope_per_s * span_s;
    let rss_growth_bound_mb = growth_bound(mean_mb);
    let passed = out_of_order == 0
        && dropped == 0
        && behind == 0
        && newest_seq > 0
        && settled.len() >= 3
        && rss_growth_mb <= rss_growth_bound_mb;
    Ok(Report {
        seconds: soak.seconds,
        readers: soak.readers,
        churners: soak.churners,
        vehicles: soak.vehicles,
        rss_samples,
        rss_slope_mb_per_min: slope_per_s * 60.0,
        rss_growth_mb,
        rss_growth_bound_mb,
        churn_cycles: cycles.load(Ordering::Relaxed),
        deltas_per_reader: seen.iter().map(|r| r.deltas).sum::<u64>() as f64
            / seen.len().max(1) as f64,
        resyncs: seen.iter().map(|r| r.snapshots.saturating_sub(1)).sum(),
        out_of_order,
        dropped,
        behind,
        newest_seq,
        passed,
    })
}

/// Resident memory every `sample_every` until the run is over, from the moment the
/// clients are connected.
async fn sample(server: &Server, soak: Soak) -> anyhow::Result<Vec<(f64, f64)>> {
    let start = Instant::now();
    let end = start + Duration::from_secs(soak.seconds);
    let mut samples = Vec::new();
    let mut every = tokio::time::interval(soak.sample_every);
    loop {
        every.tick().await;
        if Instant::now() > end {
            return Ok(samples);
        }
        samples.push((start.elapsed().as_secs_f64(), server.rss()? as f64 / 1e6));
    }
}

/// Reads every frame until `stop`, checking the order.
async fn read(mut socket: client::Socket, stop: CancellationToken) -> Reader {
    let mut reader = Reader::default();
    loop {
        let bytes = match client::next_frame(&mut socket, &stop).await {
            client::Next::Frame(bytes) => bytes,
            client::Next::Stopped => return reader,
            client::Next::Ended => {
                reader.dropped = true;
                return reader;
            }
        };
        match wire::header(&bytes) {
            Ok(Header::Snapshot { seq }) => {
                // A resync may only move a client forward (or keep it where it was).
                if reader.snapshots > 0 && seq < reader.last_seq {
                    reader.out_of_order += 1;
                }
                reader.snapshots += 1;
                reader.last_seq = seq;
            }
            Ok(Header::Delta { seq, .. }) => {
                if reader.snapshots == 0 || seq <= reader.last_seq {
                    reader.out_of_order += 1;
                }
                reader.deltas += 1;
                reader.last_seq = seq;
            }
            Ok(Header::Status) => {}
            Err(_) => reader.out_of_order += 1,
        }
    }
}

/// Connects, reads up to the snapshot, closes; again every [`CHURN_EVERY`] until `stop`.
async fn churn(url: String, cycles: Arc<AtomicU64>, stop: CancellationToken) {
    let mut every = tokio::time::interval(CHURN_EVERY);
    while !stop.is_cancelled() {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let Ok(mut socket) = client::connect(&url).await else { continue };
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Binary(bytes) = message
                && matches!(wire::header(&bytes), Ok(Header::Snapshot { .. }))
            {
                break;
            }
        }
        let _ = socket.send(Message::Close(None)).await;
        cycles.fetch_add(1, Ordering::Relaxed);
    }
}

/// The least-squares slope of `points` (y per x), 0 for fewer than two.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mean_x, mean_y) = (
        points.iter().map(|(x, _)| x).sum::<f64>() / n,
        points.iter().map(|(_, y)| y).sum::<f64>() / n,
    );
    let covariance: f64 = points.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let variance: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    if variance == 0.0 { 0.0 } else { covariance / variance }
}

impl Report {
    pub fn line(&self) -> String {
        format!(
            "soak {} s: {} readers, {} churning ({} cycles), {} vehicles; {:.1} deltas per reader, \
             {} resyncs, {} out of order, {} dropped, {} behind; RSS {:.1} → {:.1} MB, slope \
             {:.2} MB/min ({:.1} MB over the run, bound {:.1}): {}",
            self.seconds,
            self.readers,
            self.churners,
            self.churn_cycles,
            self.vehicles,
            self.deltas_per_reader,
            self.resyncs,
            self.out_of_order,
            self.dropped,
            self.behind,
            self.rss_samples.first().map_or(0.0, |(_, mb)| *mb),
            self.rss_samples.last().map_or(0.0, |(_, mb)| *mb),
            self.rss_slope_mb_per_min,
            self.rss_growth_mb,
            self.rss_growth_bound_mb,
            if self.passed { "passed" } else { "FAILED" },
        )
    }
}
