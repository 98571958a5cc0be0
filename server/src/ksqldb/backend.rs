//! The full stack's [`Backend`] for clicks: a pull query by key. The bridge's table could
//! answer too, but the click asks the source of truth, as the design says; the id has been
//! validated into a [`VehicleId`] and is sent as a quoted literal.

use app::model::{DataSource, VehicleId, VehicleLookup};
use app::ssr::{Backend, BackendError};
use async_trait::async_trait;

use super::client::KsqlClient;
use super::sql;

#[derive(Debug, Clone)]
pub struct KsqlBackend {
    client: KsqlClient,
}

impl KsqlBackend {
    pub fn new(client: KsqlClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Backend for KsqlBackend {
    async fn vehicle(&self, id: VehicleId) -> Result<Option<VehicleLookup>, BackendError> {
        let rows = self.client.pull(&sql::vehicle(id)).await.map_err(unavailable)?;
        // A key lookup has at most one row; a row that does not map is an upstream problem.
        match rows.into_iter().next() {
            None => Ok(None),
            Some(Ok(position)) if position.id == id => {
                Ok(Some(VehicleLookup { position, source: DataSource::Ksqldb }))
            }
            Some(Ok(other)) => Err(unavailable(format!("asked for {id}, got {}", other.id))),
            Some(Err(error)) => Err(unavailable(error)),
        }
    }

    async fn vehicles(&self) -> Result<Vec<VehicleLookup>, BackendError> {
        let rows = self.client.pull(&sql::snapshot()).await.map_err(unavailable)?;
        // Rows that do not map are left out, as the bridge leaves them off the map.
        let mut found: Vec<VehicleLookup> = rows
            .into_iter()
            .filter_map(Result::ok)
            .map(|position| VehicleLookup { position, source: DataSource::Ksqldb })
            .collect();
        found.sort_by_key(|lookup| lookup.position.id);
        Ok(found)
    }
}

fn unavailable(error: impl std::fmt::Display) -> BackendError {
    BackendError::unavailable("ksqlDB", error)
}
