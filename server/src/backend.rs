//! Embedded mode's [`Backend`]: lookups answered from the in-memory latest-positions table.
//! The ksqlDB and Redis backends of the full stack implement the same trait.

use std::sync::Arc;

use app::model::{DataSource, VehicleId, VehicleLookup};
use app::ssr::{Backend, BackendError};
use async_trait::async_trait;

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
}
