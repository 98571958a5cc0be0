//! The [`Backend`]s that are not store clients: embedded mode's in-memory table, and the
//! fallback chain (Redis first, then ksqlDB). The store clients live with their stores
//! (`crate::ksqldb::KsqlBackend`, `crate::redis_store::RedisStore`).

use std::sync::Arc;

use app::model::{DataSource, VehicleId, VehicleLookup};
use app::ssr::{Backend, BackendError};
use async_trait::async_trait;

use crate::metrics::Stats;
use crate::metrics::reasons::LookupFallback;
use crate::positions::LatestPositions;

/// Reads the table the embedded sources fill.
#[derive(Debug, Clone)]
pub struct EmbeddedBackend {
    positions: Arc<LatestPositions>,
}

impl EmbeddedBackend {
    pub fn new(positions: Arc<LatestPositions>) -> Self {
        Self { positions }
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn vehicle(&self, id: VehicleId) -> Result<Option<VehicleLookup>, BackendError> {
        Ok(self
            .positions
            .get(id)
            .map(|position| VehicleLookup { position, source: DataSource::Memory }))
    }

    async fn vehicles(&self) -> Result<Vec<VehicleLookup>, BackendError> {
        Ok(self
            .positions
            .all()
            .into_iter()
            .map(|position| VehicleLookup { position, source: DataSource::Memory })
            .collect())
    }
}

/// Asks `first` (the fast store) and, when it misses or fails, `fallback`. Which one
/// answered travels in the lookup's `source`.
pub struct Fallback {
    pub first: Arc<dyn Backend>,
    pub fallback: Arc<dyn Backend>,
    pub stats: Arc<Stats>,
}

#[async_trait]
impl Backend for Fallback {
    async fn vehicle(&self, id: VehicleId) -> Result<Option<VehicleLookup>, BackendError> {
        match self.first.vehicle(id).await {
            Ok(Some(found)) => return Ok(Some(found)),
            Ok(None) => self.stats.lookup_fallbacks.inc(LookupFallback::Miss),
            // Logged at debug only: the fallback's answer is what the user gets, and a down
            // store is reported by its own metrics and readiness, not once per click.
            Err(error) => {
                self.stats.lookup_fallbacks.inc(LookupFallback::Error);
                tracing::debug!(%error, "First store failed; asking the fallback.");
            }
        }
        self.fallback.vehicle(id).await
    }

    async fn vehicles(&self) -> Result<Vec<VehicleLookup>, BackendError> {
        match self.first.vehicles().await {
            Ok(found) => Ok(found),
            Err(error) => {
                tracing::debug!(%error, "First store failed; asking the fallback.");
                self.stats.lookup_fallbacks.inc(LookupFallback::Error);
                self.fallback.vehicles().await
            }
        }
    }
}
