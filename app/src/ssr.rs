//! The server-side seam of the UI: server functions find the position store through
//! [`BackendHandle`], which the server puts into Leptos context for every request.
//!
//! Which store sits behind it (the embedded in-memory table now, ksqlDB and Redis later) is
//! decided once, at server start-up. Nothing in the UI branches on it.

use std::sync::Arc;

use async_trait::async_trait;

use crate::model::{VehicleId, VehicleLookup};

/// A store that can answer "where is this vehicle now?".
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The latest known position of `id`, or `None` when the vehicle is unknown or expired.
    async fn vehicle(&self, id: VehicleId) -> Result<Option<VehicleLookup>, BackendError>;

    /// Every vehicle the store knows, in id order.
    async fn vehicles(&self) -> Result<Vec<VehicleLookup>, BackendError>;
}

/// Why a store could not answer. The browser only ever sees `ApiError::Unavailable`; the
/// reason is for the server's log.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{store} is unavailable: {reason}")]
    Unavailable { store: &'static str, reason: String },
}

impl BackendError {
    /// `store` could not answer, for the reason `error` gives.
    pub fn unavailable(store: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Unavailable { store, reason: error.to_string() }
    }
}

/// The backend as it travels through Leptos context.
#[derive(Clone)]
pub struct BackendHandle(pub Arc<dyn Backend>);
