//! The fan-out benchmark: how many browsers one server feeds, and how late. A load
//! generator opens N `/ws` clients against the real `transit-stream` binary (simulator at
//! HSL's peak) and reads every frame; the same load is run against a minimal
//! tokio-tungstenite broadcast server replaying the frames `transit-stream` sent, in
//! alternating runs (baseline, candidate, candidate, baseline, ...) on the same machine.
//!
//! ```sh
//! cargo bench -p server --bench fanout -- --clients 10000 --seconds 60 --pairs 5 --stalled 100
//! ```
//!
//! Reported per run, over the measurement window after every client has connected:
//! * delivery skew: per delta, first to last client receiving it (p50, p99);
//! * latency: the server's receipt of a delta's oldest message (carried in the frame,
//!   `app::wire`) to its arrival at a client, on the one clock both share (p50, p99);
//! * frames and bytes per client per second; clients dropped or never connected;
//! * server memory per connection: resident memory with the clients connected, minus
//!   before, divided by N;
//! * frames per second per core: frames delivered in the window over the server's CPU
//!   seconds in it. The ratio against the baseline is the figure that survives noise.
//!
//! With `--stalled K`, each pair adds a run with K more clients that connect and never
//! read (frozen tabs): the others' p99 and the server's memory are compared with the plain
//! candidate run.
//!
//! With `--views`, each pair adds a run whose clients open the feed zoomed in (`views`):
//! a quarter each on the whole fleet, the city centre at zoom 15, elsewhere at zoom 15 and
//! elsewhere at zoom 13. Bytes per client are reported per group, and the server's CPU
//! against the plain candidate run's.
//!
//! With `--soak SECONDS` it runs the soak instead (`soak`): one server under steady load
//! (`--readers` clients reading, `--churners` connecting and leaving), failing when frames
//! come out of order, a reader falls behind or memory grows:
//!
//! ```sh
//! cargo bench -p server --bench fanout -- --soak 600 --readers 500 --churners 20
//! ```
//!
//! With `--replicas 1,2,4,10` it runs the scale-out simulation instead (`replicas`): that
//! many servers in full-stack mode on one fake ksqlDB at HSL's peak, each replica's cost
//! before any browser, `--seconds` per count:
//!
//! ```sh
//! cargo bench -p server --bench fanout -- --replicas 1,2,4,10 --seconds 20
//! ```
//!
//! Layout: `client` (the load), `views` (where zoomed-in clients look), `soak`, `replicas`,
//! `baseline` (the minimal server), `process` (servers as child processes, `/proc`
//! readings), `report` (figures, table, JSON).

mod baseline;
mod client;
// The test suite's protocol fake of ksqlDB (NOT ksqlDB), for the scale-out simulation.
#[allow(dead_code)]
#[path = "../../tests/api/fake_ksqldb.rs"]
mod fake_ksqldb;
mod process;
mod replicas;
mod report;
mod soak;
mod views;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use app::wire::{self, WireFrame};
use clap::Parser;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_util::sync::CancellationToken;

use crate::process::Server;
use crate::report::{Run, Variant};

#[derive(Debug, Parser)]
struct Args {
    /// Reading clients per run.
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Measurement window per run, after every client connected and settled.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Baseline/candidate pairs.
    #[arg(long, default_value_t = 5)]
    pairs: usize,
    /// Simulated vehicles (HSL's peak is about 2,000).
    #[arg(long, default_value_t = 2_000)]
    vehicles: u32,
    /// Seconds of the candidate's frames recorded for the baseline to replay.
    #[arg(long, default_value_t = 15)]
    record_seconds: u64,
    /// Clients that never read, added in a third run per pair (0: no such run).
    #[arg(long, default_value_t = 0)]
    stalled: usize,
    /// Add a run per pair with clients zoomed in all over the city.
    #[arg(long)]
    views: bool,
    /// Run the soak for this many seconds instead of the comparison.
    #[arg(long)]
    soak: Option<u64>,
    /// Soak: clients reading every frame.
    #[arg(long, default_value_t = 500)]
    readers: usize,
    /// Soak: clients connecting, taking their snapshot and leaving, over and over.
    #[arg(long, default_value_t = 20)]
    churners: usize,
    /// Run the scale-out simulation for these replica counts instead (`1,2,4,10`).
    #[arg(long)]
    replicas: Option<String>,
    /// Soak: seconds between memory samples.
    #[arg(long, default_value_t = 10)]
    sample_seconds: u64,
    /// Where to write the raw figures as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Internal: serve the baseline from a file of recorded frames.
    #[arg(long, hide = true)]
    serve_baseline: Option<PathBuf>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Time for a fresh server to start ticking before clients arrive.
const WARM_UP: Duration = Duration::from_secs(2);
/// Time after the last client connected before the window opens: snapshots sent, buffers
/// at their working size.
const SETTLE: Duration = Duration::from_secs(3);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if let Some(frames) = &args.serve_baseline {
        return runtime.block_on(baseline::serve(frames));
    }
    if let Some(seconds) = args.soak {
        return runtime.block_on(run_soak(&args, seconds));
    }
    if let Some(counts) = &args.replicas {
        return runtime.block_on(run_replicas(&args, &replicas::counts(counts)?));
    }
    runtime.block_on(run(args))
}

async fn run_soak(args: &Args, seconds: u64) -> anyhow::Result<()> {
    let report = soak::run(soak::Soak {
        seconds,
        readers: args.readers,
        churners: args.churners,
        vehicles: args.vehicles,
        sample_every: Duration::from_secs(args.sample_seconds.max(1)),
    })
    .await?;
    println!("{}", report.line());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    anyhow::ensure!(report.passed, "the soak failed: {}", report.line());
    Ok(())
}

async fn run_replicas(args: &Args, counts: &[usize]) -> anyhow::Result<()> {
    let window = Duration::from_secs(args.seconds);
    let measured = replicas::run(counts, args.vehicles, window).await?;
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "machine": report::machine(),
            "vehicles": args.vehicles,
            "seconds": args.seconds,
            "runs": measured,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<()> {
    let ticks = process::clock_ticks();
    let frames_file = std::env::temp_dir().join(format!("fanout-{}.frames", std::process::id()));
    let moving = record(&args, &frames_file).await?;
    println!(
        "{} clients, {} s windows, {} pairs, {} simulated vehicles ({moving:.0} moving per tick)",
        args.clients, args.seconds, args.pairs, args.vehicles
    );

    let mut runs = Vec::new();
    for pair in 0..args.pairs {
        // Alternate which goes first, so a drift in the machine's load favours neither.
        let mut order = vec![Variant::Baseline, Variant::Candidate];
        if pair % 2 == 1 {
            order.reverse();
        }
        if args.stalled > 0 {
            order.push(Variant::WithStalled);
        }
        if args.views {
            order.push(Variant::Views);
        }
        for variant in order {
            let server = match variant {
                Variant::Baseline => process::baseline(&frames_file)?,
                _ => process::transit_stream(args.vehicles, args.clients + args.stalled)?,
            };
            let run = measure(&server, variant, &args, pair, ticks).await?;
            println!("{}", run.line());
            runs.push(run);
        }
    }
    let _ = std::fs::remove_file(&frames_file);

    let summary = report::summarize(&runs, args.stalled);
    println!("\n{}", summary.table());
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "machine": report::machine(),
            "clients": args.clients,
            "seconds": args.seconds,
            "pairs": args.pairs,
            "vehicles": args.vehicles,
            "moving_per_tick": moving,
            "stalled": args.stalled,
            "view_groups": views::GROUPS,
            "summary": summary,
            "runs": runs,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Records the candidate's frames for the baseline to replay; returns the mean number of
/// vehicles per delta (moving per tick).
async fn record(args: &Args, path: &std::path::Path) -> anyhow::Result<f64> {
    let server = process::transit_stream(args.vehicles, 10)?;
    tokio::time::sleep(WARM_UP).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url.as_str()).await?;
    let mut frames: Vec<Bytes> = Vec::new();
    let mut moved = Vec::new();
    let recording = Duration::from_secs(args.record_seconds);
    let until = Instant::now() + recording;
    while let Ok(Some(message)) = tokio::time::timeout_at(until.into(), socket.next()).await {
        let Message::Binary(bytes) = message? else { continue };
        match wire::decode(&bytes)? {
            WireFrame::Snapshot { .. } if frames.is_empty() => frames.push(bytes),
            WireFrame::Delta { upserts, .. } if !frames.is_empty() => {
                moved.push(upserts.len());
                frames.push(bytes);
            }
            _ => {}
        }
    }
    anyhow::ensure!(moved.len() > 4, "only {} deltas in {recording:?}", moved.len());
    baseline::write_frames(path, &frames)?;
    Ok(moved.iter().sum::<usize>() as f64 / moved.len() as f64)
}

async fn measure(
    server: &Server,
    variant: Variant,
    args: &Args,
    pair: usize,
    ticks: f64,
) -> anyhow::Result<Run> {
    tokio::time::sleep(WARM_UP).await;
    let rss_before = server.rss()?;
    let epoch = Instant::now();
    let stop = CancellationToken::new();
    let targets = (0..args.clients)
        .map(|index| match variant {
            Variant::Views => views::target(&server.ws_url, index),
            _ => (server.ws_url.clone(), 0),
        })
        .collect();
    let (mut clients, failed) = client::readers(targets, epoch, &stop).await;
    let stalled = match variant {
        Variant::WithStalled => client::stalled(&server.ws_url, args.stalled).await,
        _ => Vec::new(),
    };
    let connect_s = epoch.elapsed().as_secs_f64();
    tokio::time::sleep(SETTLE).await;

    let rss_connected = server.rss()?;
    let (cpu_start, window_start) = (server.cpu_seconds(ticks)?, epoch.elapsed());
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let (cpu_end, window_end) = (server.cpu_seconds(ticks)?, epoch.elapsed());
    let rss_end = server.rss()?;
    stop.cancel();
    let mut logs = Vec::with_capacity(args.clients);
    while let Some(log) = clients.join_next().await {
        logs.push(log?);
    }
    drop(stalled);

    Ok(report::Run::from_logs(report::Measured {
        variant,
        pair,
        logs,
        failed,
        connect_s,
        window: (window_start, window_end),
        cpu_s: cpu_end - cpu_start,
        rss_before,
        rss_connected,
        rss_end,
        stalled: if variant == Variant::WithStalled { args.stalled } else { 0 },
    }))
}
