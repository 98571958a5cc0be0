//! transit-stream's server: serves the Leptos map, feeds it live positions over `/ws`, and
//! answers clicks through server functions.
//!
//! # Layout
//! * [`cli`]: the command line (serve, `record`, `publish`, `ingest`).
//! * [`shutdown`]: how runs end (stop signals, a tool's deadline).
//! * [`config`]: the typed configuration of serving (flags and `TRANSIT_*` variables).
//! * [`publish`]: `transit-stream publish`, HFP messages to any MQTT broker.
//! * `kafka_ingest` (feature `kafka`): `transit-stream ingest`, MQTT to a Kafka topic.
//! * [`startup`]: [`startup::Application`]: build, bind, run, shut down.
//! * [`serve`]: the HTTP listener: header deadline, shutdown grace.
//! * [`layers`]: the middleware around every request.
//! * [`assets`]: the built site's files, versioned and cached for a year, or revalidated.
//! * [`hfp`]: HFP v2 topic and payload parsing.
//! * [`source`]: where embedded mode's messages come from (live MQTT, simulator, replay).
//! * [`recording`]: the record/replay file format.
//! * [`ingest`]: the one path from raw message to table.
//! * [`positions`]: the in-memory latest-positions table.
//! * [`hub`]: turns table changes into shared frames for all clients.
//! * [`ws`]: the `/ws` route and the per-client task.
//! * [`clock`]: wall-clock event time.
//! * [`backend`]: the embedded [`app::ssr::Backend`] behind the server functions.
//! * [`ksqldb`]: full-stack mode: ksqlDB client, push bridge, pull-query backend.
//! * [`readiness`]: whether there is data to serve (`/readyz`).
//! * [`rest_api`]: the `/api/` HTTP API, its OpenAPI document and `/docs`.
//! * [`listing`]: the whole-fleet listings, serialized and compressed once per tick.
//! * [`api_errors`]: one JSON shape and the right status for every `/api/` error.
//! * [`redis_store`]: Redis lookups of the sink's copy of the table (key schema there).
//! * [`state`]: the router's state.
//! * [`metrics`]: counters and `/metrics`.
//! * [`telemetry`]: logging set-up.
//!
//! Data flow (embedded mode): source → ingest → positions → hub → ws → browser; a click
//! goes browser → server function → backend → positions. In ksqlDB mode the source is the
//! push bridge and the backend runs pull queries; everything else is the same.

pub mod api_errors;
pub mod assets;
pub mod backend;
pub mod cli;
pub mod clock;
pub mod config;
pub mod hfp;
pub mod hub;
pub mod ingest;
#[cfg(feature = "kafka")]
pub mod kafka_ingest;
pub mod ksqldb;
pub mod layers;
pub mod listing;
pub mod metrics;
pub mod positions;
pub mod publish;
pub mod readiness;
pub mod recording;
pub mod redis_store;
pub mod rest_api;
pub mod serve;
pub mod shutdown;
pub mod source;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod ws;
