//! Server functions: the map's request/response calls. Each one validates its input into
//! domain types, asks the [`crate::ssr::Backend`] from context, and maps failures to
//! [`ApiError`] (whose code the server turns into the HTTP status).

use leptos::prelude::*;

use crate::error::ApiError;
use crate::model::VehicleLookup;

/// The latest position of one vehicle, for the panel that opens when a marker is clicked.
///
/// `id` is `operator/vehicle` (e.g. `0018/01029`); anything else is rejected before any
/// store is asked.
#[server(endpoint = "vehicle")]
pub async fn vehicle_position(
    // A missing id decodes as empty and is then refused like any other bad id, so the
    // caller gets the same 400 and stable error instead of a framework 500.
    #[server(default)] id: String,
) -> Result<VehicleLookup, ApiError> {
    use crate::model::VehicleId;
    use crate::ssr::BackendHandle;

    // The HTTP status of an error is set from its code by the server's `/api/` error
    // middleware, for this function's errors and the framework's alike.
    let id: VehicleId = id.parse().map_err(|_| ApiError::InvalidVehicleId)?;
    let BackendHandle(backend) = use_context::<BackendHandle>().ok_or(ApiError::Unavailable)?;
    match backend.vehicle(id).await {
        Ok(Some(lookup)) => Ok(lookup),
        Ok(None) => Err(ApiError::VehicleNotFound),
        Err(error) => {
            // Debug only: this runs per click. The 5xx is counted and summed up once per log
            // window, and the store's outage is logged where it begins and ends.
            tracing::debug!(vehicle.id = %id, %error, "Vehicle lookup failed.");
            Err(ApiError::Unavailable)
        }
    }
}
