//! The scale-out simulation (`--replicas 1,2,4,10`): N replicas of the real server in
//! full-stack mode, each holding its ONE push query on a fake ksqlDB whose table the
//! simulator keeps changing at HSL's peak. The fake is the test suite's protocol fake
//! (`tests/api/fake_ksqldb.rs`), NOT ksqlDB: it measures what a replica costs to follow
//! the table (CPU and memory before any browser), and checks that the upstream holds
//! exactly N push queries; what ksqlDB itself spends per push query stays an estimate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::fake_ksqldb::{FakeKsqldb, row_from};
use crate::process::{self, Server};
use server::clock::now_ms;
use server::hfp;
use server::source::simulator::{SLOTS, Simulator};

/// One count of replicas, measured.
#[derive(Debug, Serialize)]
pub struct Measured {
    pub replicas: usize,
    /// Push queries the fake held during the window.
    pub push_queries: usize,
    /// Table changes pushed to each replica per second.
    pub rows_per_s: f64,
    /// CPU of each replica in the window, in cores.
    pub cores_per_replica: Vec<f64>,
    /// Resident memory of each replica at the end.
    pub mb_per_replica: Vec<f64>,
}

impl Measured {
    pub fn line(&self) -> String {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        format!(
            "{} replicas: {} push queries on the upstream, {:.0} rows/s to each; per replica {:.3} cores, {:.1} MB",
            self.replicas,
            self.push_queries,
            self.rows_per_s,
            mean(&self.cores_per_replica),
            mean(&self.mb_per_replica),
        )
    }
}

/// Runs the simulation for each count in `counts`, `window` of measurement each.
pub async fn run(
    counts: &[usize],
    vehicles: u32,
    window: Duration,
) -> anyhow::Result<Vec<Measured>> {
    let ticks = process::clock_ticks();
    let fake = Arc::new(FakeKsqldb::start().await);
    let rows = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    tokio::spawn(feed(Arc::clone(&fake), vehicles, Arc::clone(&rows), stop.clone()));
    // Let the simulator's fleet fill the table before any replica takes its snapshot.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut results = Vec::new();
    for &count in counts {
        let replicas = (0..count)
            .map(|_| process::transit_stream_on_ksqldb(&fake.url))
            .collect::<anyhow::Result<Vec<Server>>>()?;
        for replica in &replicas {
            replica.wait_until_ready().await?;
        }
        // Snapshots loaded: from here each replica only follows the push query.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let cpu_before =
            replicas.iter().map(|r| r.cpu_seconds(ticks)).collect::<anyhow::Result<Vec<_>>>()?;
        let rows_before = rows.load(Ordering::Relaxed);
        tokio::time::sleep(window).await;
        let rows_sent = rows.load(Ordering::Relaxed) - rows_before;
        let push_queries = fake.open_push_queries();
        let mut cores = Vec::with_capacity(count);
        let mut memory = Vec::with_capacity(count);
        for (replica, before) in replicas.iter().zip(cpu_before) {
            cores.push((replica.cpu_seconds(ticks)? - before) / window.as_secs_f64());
            memory.push(replica.rss()? as f64 / 1e6);
        }
        anyhow::ensure!(
            push_queries == count,
            "{count} replicas held {push_queries} push queries on the upstream"
        );
        let measured = Measured {
            replicas: count,
            push_queries,
            rows_per_s: rows_sent as f64 / window.as_secs_f64(),
            cores_per_replica: cores,
            mb_per_replica: memory,
        };
        println!("{}", measured.line());
        results.push(measured);
        drop(replicas);
        // The upstream lets go of the push queries of replicas that are gone.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while fake.open_push_queries() > 0 {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "push queries outlived their replicas"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    stop.cancel();
    Ok(results)
}

/// Keeps the fake's table changing as HSL's feed would: the simulator's messages, parsed by
/// the real HFP parser, upserted as rows (and pushed to every push query), counted.
async fn feed(fake: Arc<FakeKsqldb>, vehicles: u32, rows: Arc<AtomicU64>, stop: CancellationToken) {
    let mut simulator = Simulator::new(vehicles, 7, now_ms());
    let mut ticks = tokio::time::interval(Duration::from_millis(1_000 / SLOTS as u64));
    let mut batch = Vec::new();
    for slot in (0..SLOTS).cycle() {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        simulator.step_slot(slot, now_ms(), &mut batch);
        let changed: Vec<_> = batch
            .drain(..)
            .filter_map(|m| hfp::parse(&m.topic, &m.payload).ok()?.position())
            .map(|p| row_from(&p))
            .collect();
        rows.fetch_add(changed.len() as u64, Ordering::Relaxed);
        fake.upsert_many(changed).await;
    }
}

/// Parses `1,2,4,10`.
pub fn counts(text: &str) -> anyhow::Result<Vec<usize>> {
    text.split(',')
        .map(|n| n.trim().parse::<usize>().with_context(|| format!("{n:?} is not a count")))
        .filter(|n| !matches!(n, Ok(0)))
        .collect()
}
