//! Side-by-side benchmarks of the server's hot paths, each against the simplest credible
//! baseline, run alternately (A B A B ...) on the same machine so that the reported ratio
//! survives a noisy, shared 2-core box. Absolute numbers are printed for context only.
//!
//! ```sh
//! cargo bench -p server --bench hot_paths            # `-- --smoke`: one pair, to see it run
//! cargo bench -p server --bench hot_paths -- --json target/bench/hot_paths.json
//! ```
//!
//! Goals (from the project's performance research):
//! * parse: typed HFP parsing (topic + payload + timestamp) at least as fast as a plain
//!   `serde_json::Value` parse of the payload alone (ratio ≤ 1.0).
//! * upsert: the latest-positions upsert (ordering check, change tracking) within 3× of a
//!   bare `HashMap::insert`.
//! * fan-out: one delta frame to 1,000 clients at least 20× cheaper than serializing the
//!   frame once per client.
//! * wire: the binary `/ws` delta (`app::wire`) no slower to encode than the JSON frame it
//!   replaced (ratio ≤ 1.0), and at least 3× smaller (printed as bytes per client-second).
//!
//! And one evaluation without a goal: what per-message deflate (RFC 7692) would save on a
//! delta, and what compressing it costs, once per frame (shared, as the hub shares frames,
//! which needs `no_context_takeover`) and per client (the usual per-connection deflate).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::model::{Marker, ServerFrame, VehicleId, VehiclePosition};
use app::wire;
use server::hfp;
use server::hub::Hub;
use server::metrics::Stats;
use server::positions::LatestPositions;
use server::readiness::Readiness;
use server::source::simulator::{HfpMessage, SLOTS, Simulator};

const PAIRS: usize = 7;

/// Pairs to run: [`PAIRS`], or one with `--smoke` (the test command's check that the
/// benchmark still runs; its figures mean nothing).
/// Every comparison's figures, written as JSON at the end with `--json PATH`.
static RESULTS: Mutex<Vec<serde_json::Value>> = Mutex::new(Vec::new());

fn pairs() -> usize {
    if std::env::args().any(|arg| arg == "--smoke") { 1 } else { PAIRS }
}
const T0: i64 = 1_795_500_000_000;

fn main() {
    let corpus = messages(2_000, 5);
    let positions: Vec<VehiclePosition> =
        corpus.iter().filter_map(|m| hfp::parse(&m.topic, &m.payload).ok()?.position()).collect();
    println!("corpus: {} simulator messages, {} positions", corpus.len(), positions.len());

    compare(
        "parse one HFP message",
        Goal::AtMost(1.0),
        corpus.len(),
        || {
            for m in &corpus {
                let _ = black_box(hfp::parse(black_box(&m.topic), black_box(&m.payload)));
            }
        },
        || {
            for m in &corpus {
                let _ =
                    black_box(serde_json::from_slice::<serde_json::Value>(black_box(&m.payload)));
            }
        },
    );

    let table = LatestPositions::new(Duration::from_secs(180));
    let mut bare: HashMap<VehicleId, VehiclePosition> = HashMap::new();
    let now = Instant::now();
    compare(
        "upsert one position",
        Goal::AtMost(3.0),
        positions.len(),
        || {
            for p in &positions {
                black_box(table.upsert(p.clone(), now));
            }
        },
        || {
            for p in &positions {
                black_box(bare.insert(p.id, p.clone()));
            }
        },
    );

    const CLIENTS: usize = 1_000;
    let table = Arc::new(LatestPositions::new(Duration::from_secs(180)));
    let hub = Hub::new(Arc::clone(&table), Arc::new(Stats::default()), Readiness::ready());
    let mut receivers: Vec<_> = (0..CLIENTS).map(|_| hub.subscribe().1).collect();
    let moved: Vec<VehiclePosition> = positions.iter().take(1_500).cloned().collect();
    let sizes = wire_against_json(&moved);
    // About what a tick carries at HSL's peak (the fan-out benchmark's moving markers).
    let deflate = [deflate_evaluation(&moved[..430]), deflate_evaluation(&moved)];
    let mut timestamp = 0;
    compare(
        "deliver one 1,500-vehicle delta to 1,000 clients",
        Goal::AtMost(0.05),
        1,
        || {
            timestamp += 1;
            for p in &moved {
                let mut p = p.clone();
                p.timestamp_ms += timestamp;
                p.lat += timestamp as f64 * 1e-6;
                table.upsert(p, now);
            }
            hub.tick(now);
            for receiver in &mut receivers {
                black_box(receiver.try_recv().ok());
            }
        },
        || {
            let frame = ServerFrame::Delta {
                seq: 1,
                upserts: moved.iter().map(VehiclePosition::marker).collect(),
                removed: Vec::new(),
            };
            for _ in 0..CLIENTS {
                black_box(serde_json::to_string(&frame).ok());
            }
        },
    );
    let json_path = std::env::args().skip_while(|arg| arg != "--json").nth(1);
    if let Some(path) = json_path {
        let results = std::mem::take(&mut *RESULTS.lock().unwrap_or_else(|e| e.into_inner()));
        let out = serde_json::json!({
            "comparisons": results,
            "delta_bytes_1500_moved": sizes,
            "deflate": deflate,
        });
        let written = serde_json::to_string_pretty(&out)
            .map_err(std::io::Error::other)
            .and_then(|text| std::fs::write(&path, text));
        if let Err(error) = written {
            eprintln!("could not write {path}: {error}");
            std::process::exit(1);
        }
    }
}

/// Encoding one delta, binary against the JSON frame `/ws` sent before, and their sizes.
fn wire_against_json(moved: &[VehiclePosition]) -> serde_json::Value {
    let markers: Vec<Marker> = moved.iter().map(VehiclePosition::marker).collect();
    let encode =
        |described: bool| wire::delta(1, T0 as u64, markers.iter().map(|m| (m, described)), &[]);
    let json = || {
        let frame = ServerFrame::Delta { seq: 1, upserts: markers.clone(), removed: Vec::new() };
        serde_json::to_vec(&frame).unwrap_or_default()
    };
    compare(
        "encode one 1,500-vehicle delta (binary vs JSON)",
        Goal::AtMost(1.0),
        1,
        || {
            black_box(encode(false));
        },
        || {
            black_box(json());
        },
    );
    let (moving, described, text) = (encode(false).len(), encode(true).len(), json().len());
    println!(
        "delta size for 1,500 moved vehicles: binary {moving} B ({:.1} B each; {described} B \
         when every vehicle is described), JSON {text} B: {:.1}× smaller (goal ≥ 3×: {})",
        moving as f64 / 1_500.0,
        text as f64 / moving as f64,
        if text >= 3 * moving { "met" } else { "MISSED" },
    );
    serde_json::json!({ "binary": moving, "binary_described": described, "json": text })
}

/// A delta of `moved` deflated as permessage-deflate would (raw deflate, fastest and
/// default levels): its sizes, and the median time to compress it once.
fn deflate_evaluation(moved: &[VehiclePosition]) -> serde_json::Value {
    use flate2::Compression;
    use flate2::write::DeflateEncoder;
    use std::io::Write;

    let markers: Vec<Marker> = moved.iter().map(VehiclePosition::marker).collect();
    let delta = wire::delta(1, T0 as u64, markers.iter().map(|m| (m, false)), &[]);
    let deflate = |level: Compression| {
        let mut encoder = DeflateEncoder::new(Vec::with_capacity(delta.len()), level);
        let _ = encoder.write_all(&delta);
        encoder.finish().unwrap_or_default()
    };
    let timed = |level: Compression| {
        let runs = 20 * pairs();
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            black_box(deflate(level));
            samples.push(start.elapsed());
        }
        median(samples).as_nanos() as f64 / 1_000.0
    };
    let (fast, default) =
        (deflate(Compression::fast()).len(), deflate(Compression::default()).len());
    let (fast_us, default_us) = (timed(Compression::fast()), timed(Compression::default()));
    let vehicles = moved.len();
    println!(
        "per-message deflate of a {vehicles}-vehicle delta ({} B): fastest {fast} B ({:.2}× \
         smaller) in {fast_us:.0} µs, default {default} B ({:.2}×) in {default_us:.0} µs; per \
         client at 10,000 clients and 4 ticks/s that would be {:.1} cores; shared, once per \
         frame, {:.4} cores",
        delta.len(),
        delta.len() as f64 / fast as f64,
        delta.len() as f64 / default as f64,
        fast_us * 1e-6 * 4.0 * 10_000.0,
        fast_us * 1e-6 * 4.0,
    );
    serde_json::json!({
        "vehicles": vehicles,
        "raw": delta.len(),
        "fast": fast,
        "default": default,
        "fast_us": fast_us,
        "default_us": default_us,
    })
}

fn messages(vehicles: u32, seconds: i64) -> Vec<HfpMessage> {
    let mut simulator = Simulator::new(vehicles, 1, T0);
    let mut out = Vec::new();
    for second in 0..seconds {
        for slot in 0..SLOTS {
            simulator.step_slot(slot, T0 + second * 1_000 + slot as i64 * 100, &mut out);
        }
    }
    out
}

enum Goal {
    /// Candidate time / baseline time must not exceed this.
    AtMost(f64),
}

/// Runs candidate and baseline alternately, [`pairs`] times after one warm-up each, and prints
/// the median time per operation of each and the ratio of the medians.
fn compare(
    name: &str,
    goal: Goal,
    operations: usize,
    mut candidate: impl FnMut(),
    mut baseline: impl FnMut(),
) {
    candidate();
    baseline();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..pairs() {
        let start = Instant::now();
        candidate();
        a.push(start.elapsed());
        let start = Instant::now();
        baseline();
        b.push(start.elapsed());
    }
    let (a, b) = (median(a), median(b));
    let per_op = |d: Duration| d.as_nanos() as f64 / operations.max(1) as f64;
    let ratio = a.as_secs_f64() / b.as_secs_f64();
    let Goal::AtMost(limit) = goal;
    let verdict = if ratio <= limit { "met" } else { "MISSED" };
    println!(
        "{name}: candidate {:.0} ns/op, baseline {:.0} ns/op, ratio {ratio:.3} (goal ≤ {limit}: {verdict})",
        per_op(a),
        per_op(b),
    );
    RESULTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(serde_json::json!({
        "name": name,
        "candidate_ns_per_op": per_op(a),
        "baseline_ns_per_op": per_op(b),
        "ratio": ratio,
        "goal_at_most": limit,
        "met": ratio <= limit,
    }));
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
