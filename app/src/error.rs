//! The errors a browser can see. They are stable and meant for people: a variant says what
//! happened in words a map user understands, never how the server is built. Internal details
//! are logged once, on the server, where the error is turned into one of these.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong with a request from the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum ApiError {
    /// The id is not of the form `operator/vehicle` (e.g. `0018/01029`).
    #[error("That is not a vehicle id (expected something like 0018/01029).")]
    InvalidVehicleId,
    /// No current position for this vehicle: it is unknown or has not been heard from lately.
    #[error("No current position for this vehicle; it may have gone out of service.")]
    VehicleNotFound,
    /// The position store cannot answer right now.
    #[error("Vehicle positions are unavailable right now. Please try again shortly.")]
    Unavailable,
    /// The request did not reach the server or its answer was unreadable.
    #[error("Could not reach the server.")]
    Transport,
}

impl ApiError {
    /// The HTTP status the server answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::InvalidVehicleId => 400,
            Self::VehicleNotFound => 404,
            Self::Unavailable => 503,
            Self::Transport => 500,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // A request whose arguments do not decode is the caller's mistake, and the only
            // argument we take is the vehicle id.
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => Self::InvalidVehicleId,
            _ => Self::Transport,
        }
    }
}
