//! Where embedded mode's positions come from. Every source produces raw HFP messages
//! (topic + payload bytes) and hands them to [`Ingest`], so all of them go through the same
//! parser and counters as real HSL data.
//!
//! # Layout
//! * `simulator`: synthetic vehicles on real lines (the default).
//! * [`crate::ksqldb::Bridge`]: the full stack's table, followed with one push query.

pub mod simulator;

use tokio_util::sync::CancellationToken;

use crate::config::{Config, SourceKind};
use crate::ingest::Ingest;

/// A configured source, ready to run.
pub enum Source {
    Simulator(simulator::Simulator),
    Ksqldb(crate::ksqldb::Bridge),
}

impl Source {
    /// The source the configuration asks for, or `None` when positions arrive only through
    /// [`Ingest`] called directly (tests).
    pub fn from_config(config: &Config, now_ms: i64) -> Option<Self> {
        match config.source {
            SourceKind::Simulator => Some(Self::Simulator(simulator::Simulator::new(
                config.sim_vehicles,
                config.sim_seed,
                now_ms,
            ))),
            SourceKind::None => None,
        }
    }

    /// Feeds `ingest` until `shutdown`.
    pub async fn run(self, ingest: Ingest, shutdown: CancellationToken) {
        match self {
            Self::Simulator(simulator) => simulator::run(simulator, ingest, shutdown).await,
            Self::Ksqldb(bridge) => bridge.run(ingest, shutdown).await,
        }
    }
}
