//! The whole-fleet listings (`GET /api/vehicles` and its Redis and ksqlDB twins): about
//! 700 KB of JSON at HSL's peak. Serialized for every request, the in-memory listing
//! managed ~400 requests/s, and ~95 once compressed per request as browsers and curl ask.
//!
//! So a listing is fetched, serialized and gzip-compressed once, and the same bytes answer
//! every request for up to [`Listings::max_age`] (the hub's tick: never older than what
//! the map shows). While one request fetches an expired listing, the others for that store
//! wait for it instead of each asking the store: under load a store sees at most one
//! listing query per tick, however many clients ask.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::VehicleLookup;
use app::ssr::{Backend, BackendError};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use utoipa::ToSchema;

/// One listing as sent: the JSON and its gzip form.
#[derive(Debug)]
pub struct Listing {
    made_at: Instant,
    json: Bytes,
    gzip: Bytes,
}

/// The cached listing of one store.
#[derive(Debug)]
pub struct Listings {
    max_age: Duration,
    /// An async mutex held across the fetch on purpose: it is what makes concurrent
    /// requests share one fetch.
    cached: Mutex<Option<Arc<Listing>>>,
}

/// Every vehicle a store knows: the listing's JSON shape.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct VehicleList {
    pub vehicles: Vec<VehicleLookup>,
}

impl Listings {
    pub fn new(max_age: Duration) -> Self {
        Self { max_age, cached: Mutex::new(None) }
    }

    /// The listing of `store`, fetched only if the cached one is older than the maximum
    /// age. A failed fetch is not cached: the next request tries again.
    pub async fn get(&self, store: &dyn Backend) -> Result<Arc<Listing>, BackendError> {
        let mut cached = self.cached.lock().await;
        if let Some(listing) = cached.as_ref().filter(|l| l.made_at.elapsed() < self.max_age) {
            return Ok(Arc::clone(listing));
        }
        let vehicles = store.vehicles().await?;
        // Serializing and compressing 700 KB takes milliseconds: off the runtime's threads.
        let listing = tokio::task::spawn_blocking(move || Listing::new(VehicleList { vehicles }))
            .await
            .map_err(|error| BackendError::unavailable("the listing", error))?;
        let listing = Arc::new(listing);
        *cached = Some(Arc::clone(&listing));
        Ok(listing)
    }
}

impl Listing {
    fn new(list: VehicleList) -> Self {
        // Our own types always serialize (no non-string map keys, no non-finite floats).
        let json = serde_json::to_vec(&list).unwrap_or_default();
        let gzip = gzip(&json);
        Self { made_at: Instant::now(), json: Bytes::from(json), gzip: Bytes::from(gzip) }
    }

    /// The answer to a request with `headers`: gzip when the client takes it.
    pub fn response(&self, headers: &HeaderMap) -> Response {
        let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
        let json = (header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if accepts_gzip(headers) {
            let encoding = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            ([json, vary, encoding], self.gzip.clone()).into_response()
        } else {
            ([json, vary], self.json.clone()).into_response()
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    // Level 6 (the default): most of level 9's ratio at a third of its time, paid once.
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 8), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Whether `Accept-Encoding` admits gzip (RFC 9110 §12.5.3): named, or `*`, without
/// `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut verdict = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for coding in value.split(',') {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|param| {
                let param = param.trim().to_ascii_lowercase();
                param.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>() == Ok(0.0))
            });
            if name.eq_ignore_ascii_case("gzip") {
                return !refused;
            }
            if name == "*" {
                verdict = Some(!refused);
            }
        }
    }
    verdict.unwrap_or(false)
}

#[cfg(test)]
mod tests;
