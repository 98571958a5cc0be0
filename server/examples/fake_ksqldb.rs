//! Runs the test suite's fake ksqlDB (a protocol fake, NOT ksqlDB) as a process, its
//! `VEHICLE_LATEST` table fed by the simulator through the real HFP parser, so the browser
//! tests can drive the map in ksqlDB mode on a machine where ksqlDB cannot run.
//!
//! ```sh
//! cargo run -p server --example fake_ksqldb -- [vehicles]
//! ```
//! Prints `fake ksqlDB (not ksqlDB) at http://127.0.0.1:<port>`; stops on Ctrl-C or SIGTERM.

// The fake's module is shared with the integration tests, which use more of it.
#[allow(dead_code)]
#[path = "../tests/api/fake_ksqldb.rs"]
mod fake_ksqldb;

use std::time::Duration;

use server::clock::now_ms;
use server::hfp;
use server::source::simulator::{SLOTS, Simulator};

#[tokio::main]
async fn main() {
    let vehicles = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    let fake = fake_ksqldb::FakeKsqldb::start().await;
    println!("fake ksqlDB (not ksqlDB) at {}", fake.url);

    let mut simulator = Simulator::new(vehicles, 7, now_ms());
    let mut ticks = tokio::time::interval(Duration::from_millis(1_000 / SLOTS as u64));
    let mut batch = Vec::new();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    for slot in (0..SLOTS).cycle() {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = ticks.tick() => {}
        }
        simulator.step_slot(slot, now_ms(), &mut batch);
        let rows = batch
            .drain(..)
            .filter_map(|m| hfp::parse(&m.topic, &m.payload).ok()?.position())
            .map(|p| fake_ksqldb::row_from(&p))
            .collect();
        fake.upsert_many(rows).await;
    }
    fake.stop();
}
