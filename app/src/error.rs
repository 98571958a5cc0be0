//! The errors a browser can see. They are stable and meant for people: a variant says what
//! happened in words a map user understands, never how the server is built. Internal details
//! are logged once, on the server, where the error is turned into one of these.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong with a request from the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
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
    /// The server holds as many live connections as it may.
    #[error("Too many live connections; please try again soon.")]
    TooManyClients,
    /// The request is not one the API understands (a malformed path or form).
    #[error("The request is malformed.")]
    BadRequest,
    /// Nothing is served at this path.
    #[error("There is nothing at this address.")]
    NotFound,
    /// The path exists, but not for this method.
    #[error("This address does not accept that method.")]
    MethodNotAllowed,
    /// The request (its body, say) did not arrive in time.
    #[error("The request took too long to arrive.")]
    Timeout,
    /// The request's body is larger than anything the API takes.
    #[error("The request is too large.")]
    TooLarge,
}

impl ApiError {
    /// The HTTP status the server answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::InvalidVehicleId => 400,
            Self::VehicleNotFound => 404,
            Self::Unavailable | Self::TooManyClients => 503,
            Self::Transport => 500,
            Self::BadRequest => 400,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Timeout => 408,
            Self::TooLarge => 413,
        }
    }

    /// The error an HTTP status stands for when the answer came from the framework (a
    /// route that does not exist, a body that did not arrive), not from our handlers.
    pub fn from_status(status: u16) -> Self {
        match status {
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            408 => Self::Timeout,
            413 => Self::TooLarge,
            400..=499 => Self::BadRequest,
            503 => Self::Unavailable,
            _ => Self::Transport,
        }
    }

    /// The stable code, as it appears in `error` on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidVehicleId => "invalid_vehicle_id",
            Self::VehicleNotFound => "vehicle_not_found",
            Self::Unavailable => "unavailable",
            Self::Transport => "transport",
            Self::TooManyClients => "too_many_clients",
            Self::BadRequest => "bad_request",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Timeout => "timeout",
            Self::TooLarge => "too_large",
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ApiError; 10] = [
        ApiError::InvalidVehicleId,
        ApiError::VehicleNotFound,
        ApiError::Unavailable,
        ApiError::Transport,
        ApiError::TooManyClients,
        ApiError::BadRequest,
        ApiError::NotFound,
        ApiError::MethodNotAllowed,
        ApiError::Timeout,
        ApiError::TooLarge,
    ];

    #[test]
    fn each_error_has_its_own_code_and_the_code_is_what_the_wire_says() {
        for error in ALL {
            let json = serde_json::to_value(error).expect("serializes");
            assert_eq!(json["error"], error.code());
        }
        let mut codes: Vec<_> = ALL.iter().map(ApiError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
    }

    #[test]
    fn a_framework_status_maps_to_the_error_that_answers_with_it() {
        for error in [
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::Timeout,
            ApiError::TooLarge,
            ApiError::BadRequest,
            ApiError::Unavailable,
            ApiError::Transport,
        ] {
            assert_eq!(ApiError::from_status(error.status_code()), error);
        }
        assert_eq!(ApiError::from_status(422), ApiError::BadRequest);
    }
}
