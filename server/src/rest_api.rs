//! The HTTP API under `/api/`, documented by an OpenAPI document generated from this code
//! (`/api/openapi.json`, browsable offline at `/docs`).
//!
//! What the original Python service offered, without its defects: vehicles from Redis, from
//! a ksqlDB pull query, or from whichever store the server runs with; a live stream as
//! newline-delimited JSON fed by the shared hub (never a new upstream query per client).
//! Ids are typed path segments (`/vehicles/{operator}/{vehicle}`), validated before any
//! store is asked; no parameter chooses an upstream host; errors have one stable shape.
//!
//! In a mode without Redis or ksqlDB, their endpoints are answered by the store the
//! server does have (the in-memory table in embedded mode); every answer says in `source`
//! which store it came from.

use std::sync::Arc;
use std::time::Duration;

use app::error::ApiError;
use app::model::{ServerFrame, VehicleId, VehicleLookup};
use app::ssr::Backend;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tower_http::cors::{Any, CorsLayer};
use utoipa::{IntoParams, OpenApi};

use crate::api_errors::{ApiFailure, ErrorBody, ErrorCode};
use crate::hub::Subscription;
use crate::listing::{Listings, VehicleList};
use crate::state::AppState;
use crate::ws::WsContext;

/// The stores the API can ask, chosen at start-up.
#[derive(Clone)]
pub struct Stores {
    /// What clicks use: Redis first when configured, then ksqlDB or the in-memory table.
    pub primary: Store,
    /// The table the map is fed from: ksqlDB's (by pull query) or the in-memory one.
    pub table: Store,
    /// Redis when configured; without it, the table answers the `/api/redis/` endpoints.
    pub redis: Store,
}

/// One store, with its whole-fleet listing shared by the requests of one tick.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    listings: Arc<Listings>,
}

impl Store {
    /// `backend`, its listings at most `max_age` old.
    pub fn new(backend: Arc<dyn Backend>, max_age: Duration) -> Self {
        Self { backend, listings: Arc::new(Listings::new(max_age)) }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "transit-stream",
        description = "Latest positions of Helsinki public-transport vehicles. Vehicle data © HSL, CC BY 4.0."
    ),
    paths(
        vehicles,
        vehicle,
        redis_vehicles,
        redis_vehicle,
        ksqldb_vehicles,
        ksqldb_vehicle,
        stream
    ),
    components(schemas(VehicleList, ErrorBody, ErrorCode))
)]
struct ApiDoc;

/// The routes, to be merged into the app's router.
///
/// CORS, stated rather than left to chance: any site's scripts may *read* these
/// endpoints (GET, no credentials: the data is public, CC BY 4.0, and nothing here depends
/// on who asks), so the answer is `Access-Control-Allow-Origin: *` and never a credentials
/// grant. The server function (`POST /api/vehicle`) is the map's own and gets no CORS.
pub fn routes() -> axum::Router<AppState> {
    let cors = CorsLayer::new().allow_origin(Any).allow_methods([Method::GET]);
    axum::Router::new()
        .route("/api/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .route("/api/vehicles", get(vehicles))
        .route("/api/vehicles/{operator}/{vehicle}", get(vehicle))
        .route("/api/redis/vehicles", get(redis_vehicles))
        .route("/api/redis/vehicles/{operator}/{vehicle}", get(redis_vehicle))
        .route("/api/ksqldb/vehicles", get(ksqldb_vehicles))
        .route("/api/ksqldb/vehicles/{operator}/{vehicle}", get(ksqldb_vehicle))
        .route("/api/stream", get(stream))
        .layer(cors)
        .route("/docs", get(docs))
}

/// A vehicle id as two path segments: `0018` and `01029` for `0018/01029`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VehiclePath {
    /// Operator id, 1-4 digits (e.g. `0018`).
    #[param(example = "0018", pattern = "^[0-9]{1,4}$")]
    operator: String,
    /// Vehicle number, 1-5 digits (e.g. `01029`).
    #[param(example = "01029", pattern = "^[0-9]{1,5}$")]
    vehicle: String,
}

impl VehiclePath {
    fn id(&self) -> Result<VehicleId, ApiFailure> {
        VehicleId::from_parts(&self.operator, &self.vehicle)
            .map_err(|_| ApiFailure(ApiError::InvalidVehicleId))
    }
}

async fn list(store: &Store, headers: &HeaderMap) -> Result<Response, ApiFailure> {
    match store.listings.get(store.backend.as_ref()).await {
        Ok(listing) => Ok(listing.response(headers)),
        Err(error) => {
            // Per request, so debug only: the 5xx is counted and summed up per log window,
            // and the store's outage is logged where it begins.
            tracing::debug!(%error, "Listing vehicles failed.");
            Err(ApiFailure(ApiError::Unavailable))
        }
    }
}

async fn one(store: &Store, path: &VehiclePath) -> Result<Json<VehicleLookup>, ApiFailure> {
    let id = path.id()?;
    match store.backend.vehicle(id).await {
        Ok(Some(found)) => Ok(Json(found)),
        Ok(None) => Err(ApiFailure(ApiError::VehicleNotFound)),
        Err(error) => {
            tracing::debug!(vehicle.id = %id, %error, "Vehicle lookup failed.");
            Err(ApiFailure(ApiError::Unavailable))
        }
    }
}

/// All current vehicles, from the store clicks use (Redis first when configured).
#[utoipa::path(get, path = "/api/vehicles", tag = "vehicles",
    responses((status = 200, body = VehicleList), (status = 503, body = ErrorBody)))]
async fn vehicles(
    State(stores): State<Stores>,
    headers: HeaderMap,
) -> Result<Response, ApiFailure> {
    list(&stores.primary, &headers).await
}

/// One vehicle's latest position, from the store clicks use (Redis first when configured).
#[utoipa::path(get, path = "/api/vehicles/{operator}/{vehicle}", tag = "vehicles", params(VehiclePath),
    responses((status = 200, body = VehicleLookup), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn vehicle(
    State(stores): State<Stores>,
    Path(path): Path<VehiclePath>,
) -> Result<Json<VehicleLookup>, ApiFailure> {
    one(&stores.primary, &path).await
}

/// All vehicles in Redis (without the sink's offset keys). Without Redis, the table answers.
#[utoipa::path(get, path = "/api/redis/vehicles", tag = "redis",
    responses((status = 200, body = VehicleList), (status = 503, body = ErrorBody)))]
async fn redis_vehicles(
    State(stores): State<Stores>,
    headers: HeaderMap,
) -> Result<Response, ApiFailure> {
    list(&stores.redis, &headers).await
}

/// One vehicle from Redis. Without Redis, the table answers.
#[utoipa::path(get, path = "/api/redis/vehicles/{operator}/{vehicle}", tag = "redis", params(VehiclePath),
    responses((status = 200, body = VehicleLookup), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn redis_vehicle(
    State(stores): State<Stores>,
    Path(path): Path<VehiclePath>,
) -> Result<Json<VehicleLookup>, ApiFailure> {
    one(&stores.redis, &path).await
}

/// All vehicles by a ksqlDB pull query (table scan). In embedded mode, the in-memory table.
#[utoipa::path(get, path = "/api/ksqldb/vehicles", tag = "ksqldb",
    responses((status = 200, body = VehicleList), (status = 503, body = ErrorBody)))]
async fn ksqldb_vehicles(
    State(stores): State<Stores>,
    headers: HeaderMap,
) -> Result<Response, ApiFailure> {
    list(&stores.table, &headers).await
}

/// One vehicle by a ksqlDB pull query by key. In embedded mode, the in-memory table.
#[utoipa::path(get, path = "/api/ksqldb/vehicles/{operator}/{vehicle}", tag = "ksqldb", params(VehiclePath),
    responses((status = 200, body = VehicleLookup), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn ksqldb_vehicle(
    State(stores): State<Stores>,
    Path(path): Path<VehiclePath>,
) -> Result<Json<VehicleLookup>, ApiFailure> {
    one(&stores.table, &path).await
}

/// The live map feed as newline-delimited JSON: a `snapshot` line, then a `delta` line per
/// tick (and `status` lines when the data source stalls or recovers), the same frames as
/// `/ws`, from the same shared hub: no upstream query per client. A client that reads too
/// slowly gets a fresh `snapshot` line.
#[utoipa::path(get, path = "/api/stream", tag = "live",
    responses((status = 200, description = "One ServerFrame per line, forever", content_type = "application/x-ndjson", body = ServerFrame),
              (status = 503, body = ErrorBody)))]
async fn stream(State(context): State<WsContext>) -> Response {
    // Stream clients count against the same cap, and in the same gauge, as WebSockets.
    let Some(slot) = context.take_slot() else {
        return ApiFailure(ApiError::TooManyClients).into_response();
    };
    let feed = Feed { frames: context.hub.follow(), newline_due: false };
    let shutdown = context.shutdown.clone();
    let lines = futures_util::stream::unfold((feed, slot), move |(mut feed, slot)| {
        let shutdown = shutdown.clone();
        async move {
            let line = tokio::select! {
                _ = shutdown.cancelled() => None,
                line = feed.next_chunk() => line,
            }?;
            Some((Ok::<_, std::convert::Infallible>(line), (feed, slot)))
        }
    });
    ([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines)).into_response()
}

/// One NDJSON client's frames, as chunks.
struct Feed {
    frames: Subscription,
    /// Each frame goes out as two chunks, the shared frame bytes and then a newline, so
    /// the frame is never copied per client.
    newline_due: bool,
}

impl Feed {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if std::mem::take(&mut self.newline_due) {
            return Some(Bytes::from_static(b"\n"));
        }
        let frame = self.frames.next().await?;
        self.newline_due = true;
        Some(frame.json())
    }
}

/// The API documentation page; its scripts come from `/docs/` in the built site (npm's
/// swagger-ui-dist, copied at build time), so it works offline.
async fn docs() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], include_str!("../assets/docs.html"))
}
