//! Building and running the application: [`Application::build`] wires configuration,
//! stores, the hub, the source and the router together and binds the listener (port 0
//! works, for tests); [`Application::run_until_stopped`] serves until the shutdown token is
//! cancelled, then stops every task it started and waits for them.
//!
//! Task ownership: the application owns every long-lived task. Each runs under a named
//! tracing span, is spawned on one [`TaskTracker`], and watches one [`CancellationToken`]:
//! the hub ticker, the source, the Redis watch, the metrics window, and one task per
//! WebSocket client. HTTP connections are owned by the listener ([`serve`](crate::serve)),
//! which cuts them after a grace period.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use app::model::Feed;
use app::ssr::{Backend, BackendHandle};
use app::{App, MapSettings, shell};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::assets::Site;
use crate::backend::{EmbeddedBackend, Fallback};
use crate::config::{Config, ConfigError};
use crate::hub::Hub;
use crate::ingest::Ingest;
use crate::ksqldb::{Bridge, KsqlBackend, KsqlClient, KsqlError};
use crate::layers;
use crate::metrics::Stats;
use crate::positions::LatestPositions;
use crate::readiness::{Readiness, Upstream};
use crate::redis_store::{RedisStore, RedisStoreError};
use crate::rest_api::{self, Store, Stores};
use crate::serve;
use crate::source::{Source, SourceError};
use crate::state::{AppState, Shared};
use crate::ws::{self, WsContext};

/// How long shutdown waits for tasks (WebSocket close frames, the source) before giving up.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Name of the wasm bundle written by the build script (`pkg/transit_stream.js`,
/// `pkg/transit_stream_bg.wasm`).
pub const OUTPUT_NAME: &str = "transit_stream";

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("ksqlDB client: {0}")]
    Ksqldb(#[from] KsqlError),
    #[error("source: {0}")]
    Source(#[from] SourceError),
    #[error("Redis client: {0}")]
    Redis(#[from] RedisStoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// A built, bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    hub: Arc<Hub>,
    tick: Duration,
    /// What every HTTP connection is held to (`serve`).
    limits: serve::Limits,
    source: Option<Source>,
    /// Redis to ping, where to report it, and how often.
    redis_watch: Option<(RedisStore, Readiness, Duration)>,
    ingest: Ingest,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Application {
    /// Validates `config`, builds every part and binds the listener.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        config.validate()?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartupError::Bind { addr: config.bind, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr: config.bind, source })?;

        let stats = Arc::new(Stats::default());
        let positions = Arc::new(LatestPositions::new(config.vehicle_ttl()));
        let ingest = Ingest::new(Arc::clone(&positions), Arc::clone(&stats));
        let mut notice = None;
        // The one place where embedded and full-stack mode differ: which backend answers
        // clicks, and what feeds the table.
        let (table_backend, source, readiness): (Arc<dyn Backend>, Option<Source>, Readiness) =
            match config.ksqldb_url.as_deref() {
                None => {
                    let readiness = Readiness::ready();
                    let choice = Source::choose(&config, &readiness).await?;
                    notice = choice.notice;
                    (
                        Arc::new(EmbeddedBackend::new(Arc::clone(&positions))),
                        choice.source,
                        readiness,
                    )
                }
                Some(url) => {
                    let client = KsqlClient::new(url, config.upstream_timeout())?;
                    let readiness = Readiness::waiting_for(Upstream::Ksqldb);
                    let bridge = Bridge {
                        client: client.clone(),
                        stats: Arc::clone(&stats),
                        readiness: readiness.clone(),
                        apply_statements: config.ksqldb_apply_statements,
                        max_age: config.vehicle_ttl(),
                    };
                    (Arc::new(KsqlBackend::new(client)), Some(Source::Ksqldb(bridge)), readiness)
                }
            };
        let redis_store = match config.redis_url.as_deref() {
            Some(url) => Some(RedisStore::new(
                url,
                config.redis_password.as_ref().map(|p| p.expose()),
                Arc::clone(&stats),
            )?),
            None => None,
        };
        let redis = redis_store.clone().map(|store| Arc::new(store) as Arc<dyn Backend>);
        for upstream in source.iter().filter_map(Source::upstream) {
            readiness.uses(upstream);
        }
        if redis_store.is_some() {
            readiness.uses(Upstream::Redis);
        }
        let backend: Arc<dyn Backend> = match &redis {
            Some(redis) => Arc::new(Fallback {
                first: Arc::clone(redis),
                fallback: Arc::clone(&table_backend),
                stats: Arc::clone(&stats),
            }),
            None => Arc::clone(&table_backend),
        };
        let feed = source.as_ref().map_or(Feed::ApiOnly, Source::feed);
        let hub = Arc::new(Hub::new(Arc::clone(&positions), Arc::clone(&stats), readiness.clone()));
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();

        warn_if_site_missing(&config.site_root);
        let site = Site::open(&config.site_root);
        let leptos_options = LeptosOptions::builder()
            .output_name(OUTPUT_NAME)
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(local_addr)
            .build();
        let state = AppState::new(Shared {
            leptos_options,
            map: Arc::new(MapSettings {
                tile_url: config.tile_url.clone(),
                tile_attribution: config.tile_attribution.clone(),
                notice,
                source: feed,
                network: crate::source::simulator::network(),
                assets: site.prefix(),
            }),
            backend: BackendHandle(Arc::clone(&backend)),
            // A listing is never older than the map's latest frame.
            stores: Stores {
                redis: Store::new(
                    redis.unwrap_or_else(|| Arc::clone(&table_backend)),
                    config.tick(),
                ),
                primary: Store::new(backend, config.tick()),
                table: Store::new(table_backend, config.tick()),
            },
            stats: Arc::clone(&stats),
            readiness: readiness.clone(),
            ws: WsContext {
                hub: Arc::clone(&hub),
                stats: Arc::clone(&stats),
                slots: Arc::new(Semaphore::new(config.max_ws_clients as usize)),
                tracker: tracker.clone(),
                shutdown: shutdown.clone(),
                allowed_origins: config.allowed_origins.clone().into(),
            },
        });
        let router = router(state, site);

        Ok(Self {
            listener,
            local_addr,
            router,
            hub,
            tick: config.tick(),
            limits: serve::Limits {
                timeout: config.request_timeout(),
                grace: SHUTDOWN_GRACE,
                per_address: config.max_connections_per_address as usize,
            },
            source,
            redis_watch: redis_store.map(|store| (store, readiness, config.upstream_timeout() / 2)),
            ingest,
            stats,
            shutdown,
            tracker,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL to open in a browser.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Cancelling this token stops the server gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The path into the table, for feeding messages directly (tests, benchmarks).
    pub fn ingest(&self) -> Ingest {
        self.ingest.clone()
    }

    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Serves until the shutdown token is cancelled, then stops and waits for every task.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            listener,
            router,
            hub,
            tick,
            limits,
            source,
            redis_watch,
            ingest,
            stats,
            shutdown,
            tracker,
            ..
        } = self;

        tracker.spawn(hub.run(tick, shutdown.clone()).instrument(tracing::info_span!("hub")));
        if let Some(source) = source {
            tracker.spawn(
                source.run(ingest, shutdown.clone()).instrument(tracing::info_span!("source")),
            );
        }
        tracker.spawn(
            crate::metrics::window::log_every(
                Arc::clone(&stats),
                crate::metrics::window::WINDOW,
                shutdown.clone(),
            )
            .instrument(tracing::info_span!("metrics_window")),
        );
        if let Some((store, readiness, every)) = redis_watch {
            tracker.spawn(
                store
                    .watch(readiness, every, shutdown.clone())
                    .instrument(tracing::info_span!("redis_watch")),
            );
        }

        // Handlers get the same time as a request's headers (`serve::Limits::timeout`).
        let app = layers::around(router, Arc::clone(&stats), limits.timeout);
        let served = serve::serve(listener, app, shutdown.clone(), limits, stats).await;
        // The server may also have stopped on an I/O error: stop everything else too.
        shutdown.cancel();
        tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await.is_err() {
            tracing::warn!(
                remaining = tracker.len(),
                "Some tasks did not stop within {SHUTDOWN_GRACE:?}; exiting anyway."
            );
        }
        tracing::info!("Stopped.");
        served
    }
}

/// The routes; [`layers::around`] puts the middleware around them when the server runs.
fn router(state: AppState, site: Site) -> Router {
    let routes = generate_route_list(App);
    let backend = state.backend.clone();
    let (options, map) = (state.leptos_options.clone(), Arc::clone(&state.map));
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route(
            "/v/{*path}",
            get({
                let site = site.clone();
                move |request: Request| site.clone().versioned(request)
            }),
        )
        .merge(rest_api::routes())
        .leptos_routes_with_context(
            &state,
            routes,
            // Server functions reach the store only through this context value.
            move || provide_context(backend.clone()),
            move || shell(options.clone(), MapSettings::clone(&map)),
        )
        .fallback_service(site.plain())
        .with_state(state)
}

/// Liveness: the process serves requests. Also says how many vehicles it knows.
async fn health(State(stats): State<Arc<Stats>>) -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok", "vehicles": stats.vehicles.get() }))
}

/// Readiness: 200 when the server has data to serve (always in embedded mode; in ksqlDB
/// mode once the bridge has a snapshot), 503 while it has none or is reconnecting.
async fn ready(State(readiness): State<Readiness>) -> impl IntoResponse {
    let down = readiness.down_upstream();
    let status = if down.is_none() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let degraded: Vec<&str> = readiness.degraded().iter().map(Upstream::as_str).collect();
    let body = serde_json::json!({
        "ready": down.is_none(),
        "down": down.map(|u| u.as_str()),
        "degraded": degraded,
    });
    (status, axum::Json(body))
}

async fn metrics(
    State(stats): State<Arc<Stats>>,
    State(readiness): State<Readiness>,
) -> impl IntoResponse {
    let mut text = stats.render();
    readiness.render_metrics(&mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

fn warn_if_site_missing(site_root: &Path) {
    let bundle = site_root.join("pkg").join(format!("{OUTPUT_NAME}.js"));
    if !bundle.is_file() {
        tracing::warn!(
            site_root = %site_root.display(),
            "The browser bundle is missing: pages will render without a live map. \
             Build it with scripts/run.sh (or scripts/build-site.sh)."
        );
    }
}
