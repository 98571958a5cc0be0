//! One shape for every `/api/` error, `{"error": code, "message": text}` ([`ErrorBody`]),
//! with the status its code stands for ([`ApiError`]), whoever answered: our handlers,
//! the server function, or the framework (an unknown path, a wrong method, a malformed
//! path segment, a body too large or too slow). Clients match on `error`.
//!
//! Two middlewares, because they sit on either side of the request timeout:
//! * [`limit_form`], inside it: a server function's form body is read here, against a
//!   small limit, so an oversized body is a 413 rather than a decoding failure (500).
//! * [`shape_and_count`], outside it: an error answer that is not JSON is replaced by the
//!   shape above; a server function's JSON error gets the status of its code (the
//!   framework answers argument-decoding errors with 500 whatever the code says). Then
//!   every `/api/` answer is counted for `/metrics`, by status class and error code, as
//!   it leaves: rejected requests (bad ids, unknown vehicles) show there like every
//!   other rejected input. One middleware for both, since each costs a boxed service and
//!   future per request.

use std::sync::Arc;

use app::error::ApiError;
use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::metrics::Stats;

/// Where the server functions live (`app::api`); their bodies are forms like
/// `id=0018%2F01029`.
const SERVER_FN_PATH: &str = "/api/vehicle";
/// Largest server-function body accepted: an id is ten characters, this leaves room for
/// any form encoding of it and nothing for anything else.
pub const MAX_FORM_BYTES: usize = 1024;
/// Largest error body read back to check its code: ours are under 200 bytes.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// Every error of the API has this shape.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(value_type = ErrorCode)]
    error: &'static str,
    /// For people; may be reworded. Match on `error`.
    message: String,
}

/// The error codes, as they appear in `error`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // only its schema is used: the values come from `ApiError::code`
pub enum ErrorCode {
    InvalidVehicleId,
    VehicleNotFound,
    Unavailable,
    Transport,
    TooManyClients,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    Timeout,
    TooLarge,
}

/// An [`ApiError`] as an HTTP response.
pub struct ApiFailure(pub ApiError);

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody { error: self.0.code(), message: self.0.to_string() };
        let mut response = (status, Json(body)).into_response();
        // For `/metrics`: the code, without reading the body back.
        response.extensions_mut().insert(self.0);
        response
    }
}

/// Reads a server function's body within [`MAX_FORM_BYTES`] (see the module doc).
pub async fn limit_form(request: Request, next: Next) -> Response {
    if request.method() != Method::POST || request.uri().path() != SERVER_FN_PATH {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_FORM_BYTES as u64) {
        return ApiFailure(ApiError::TooLarge).into_response();
    }
    let (parts, body) = request.into_parts();
    match to_bytes(body, MAX_FORM_BYTES).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        // Over the limit without saying so up front (chunked), or cut off mid-body.
        Err(_) => ApiFailure(ApiError::TooLarge).into_response(),
    }
}

/// Gives every `/api/` error answer the one shape, and counts every `/api/` answer (see
/// the module doc).
pub async fn shape_and_count(
    State(stats): State<Arc<Stats>>,
    request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let response = shape(next.run(request).await).await;
    stats.api_response(response.status().as_u16());
    if let Some(error) = response.extensions().get::<ApiError>() {
        stats.api_errors.inc(*error);
    }
    response
}

/// An error answer in the one shape, with its code in the extensions; others as they are.
async fn shape(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if json {
        let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
            return ApiFailure(ApiError::from_status(status.as_u16())).into_response();
        };
        let error = match serde_json::from_slice::<ApiError>(&bytes) {
            Ok(error) => {
                parts.status = StatusCode::from_u16(error.status_code()).unwrap_or(status);
                error
            }
            Err(_) => ApiError::from_status(status.as_u16()),
        };
        parts.extensions.insert(error);
        return Response::from_parts(parts, Body::from(bytes));
    }
    // The framework's own answer (empty or plain text): same status, our shape. Headers
    // such as `Allow` on a 405 stay.
    let failure = ApiFailure(ApiError::from_status(status.as_u16())).into_response();
    let (ours, body) = failure.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    // Ours (the JSON content type) replace the framework's of the same name.
    parts.headers.extend(ours.headers);
    parts.extensions.extend(ours.extensions);
    Response::from_parts(parts, body)
}
