//! The full stack's ksqlDB side: the REST client, the push bridge that feeds the hub, and
//! the backend that answers clicks with pull queries.
//!
//! # Layout
//! * `framing`: the documented `/query-stream` response framing, parsed incrementally.
//! * `row`: result rows into positions, by column name.
//! * `sql`: every SQL text we send, and literal quoting.
//! * `client`: HTTP/2 calls to `/ksql`, `/query-stream`, `/close-query`, `/healthcheck`.
//! * `bridge`: the one push query per server, with snapshot, resync and backoff.
//! * `backend`: [`KsqlBackend`], pull queries by key for the click panel.
//!
//! The statements that build the table live in `ksqldb/*.sql` at the repository root.

mod backend;
mod bridge;
mod client;
mod framing;
mod row;
pub mod sql;

pub use backend::KsqlBackend;
pub use bridge::Bridge;
pub use client::{KsqlClient, KsqlError};
