//! The middleware every request passes through, stacked once around the whole router:
//! tracing, compression of large answers, the two headers every answer carries, the `/api/`
//! error shape and counts, the request deadline, and the server function's body limit.
//!
//! Why around the router, not with `Router::layer`: axum puts a router's layers on each
//! route separately, boxing the route again for every layer, so each request cloned a boxed
//! service and boxed a future once per layer, seven times; in profiles of one-vehicle
//! lookups those clones, allocations and frees stood out among our own costs. Stacked
//! outside, the middleware is one concrete type: its clone per request is a few reference
//! counts, and only the matched route is boxed. Every request still passes through every
//! layer, the fallback's included.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::Response;
use hyper::body::Incoming;
use tower::{BoxError, Service, ServiceBuilder};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::api_errors;
use crate::metrics::Stats;

/// Answers smaller than this go uncompressed: under a packet, compression saves the client
/// no round trip, and starting a deflate stream (tables of hundreds of KiB, allocated and
/// zeroed) was a fifth of the server's CPU per one-vehicle answer.
const MIN_COMPRESSED_BYTES: u16 = 1_400;

/// `router` inside the middleware, outermost first in the list below.
pub fn around(
    router: Router,
    stats: Arc<Stats>,
    request_timeout: Duration,
) -> impl Service<
    Request<Incoming>,
    Response = Response<impl HttpBody<Data = Bytes, Error = impl Into<BoxError>> + Send + 'static>,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ 'static {
    ServiceBuilder::new()
        // The router, and axum's middleware, take axum's body; converting once here is
        // what the router would otherwise do itself.
        .map_request(|request: Request<Incoming>| request.map(Body::new))
        .layer(TraceLayer::new_for_http())
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(MIN_COMPRESSED_BYTES))),
        )
        // Every answer: no framing by other sites, no content sniffing. The page's
        // Content-Security-Policy needs the page's nonce, so the page sets it (`app::ssr`).
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(middleware::from_fn_with_state(stats, api_errors::shape_and_count))
        // Handlers that wait on a client (a body sent slowly or never) or on an upstream
        // end here; streamed bodies (/api/stream) and WebSockets have begun by then.
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(middleware::from_fn(api_errors::limit_form))
        .service(router)
}
