//! The push bridge: ONE upstream push query per server, whatever the number of browsers
//! (ksqlDB computes every push query separately and caps them at 100 by default), feeding
//! the same table and hub as the embedded sources.
//!
//! Each session opens the push query first and then loads a snapshot with a pull query, so
//! no change can fall between the two: rows that arrive meanwhile wait in the HTTP/2 stream
//! and are applied after the snapshot (the table keeps the newest by event time either
//! way). When the stream ends or fails, the bridge reports not-ready, waits with capped
//! exponential backoff and starts a new session, which resyncs the table. On shutdown it
//! closes the upstream query.

use std::time::{Duration, Instant};

use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::client::{KsqlClient, KsqlError, PushQuery, RowResult};
use super::row::RowError;
use super::sql;
use crate::ingest::Ingest;
use crate::metrics::Stats;
use crate::metrics::reasons::RowRejection;
use crate::metrics::window::{Throttle, WINDOW};
use crate::readiness::{Readiness, Upstream};
use std::sync::Arc;

const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// ksqlDB restarts take tens of seconds; retrying faster than this only adds load.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Closing the query on the way out must not hold up shutdown for long.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// A session that lasted this long was healthy: the next failure starts from the minimum.
const HEALTHY_SESSION: Duration = Duration::from_secs(30);

/// Everything a session needs.
pub struct Bridge {
    pub client: KsqlClient,
    pub stats: Arc<Stats>,
    pub readiness: Readiness,
    /// Apply `ksqldb/*.sql` before the first session.
    pub apply_statements: bool,
    /// Snapshot rows whose event time is older than this are left out: ksqlDB's table
    /// never forgets a vehicle, and yesterday's buses do not belong on today's map. (A
    /// click still finds them, with their age.) The table's TTL, so both agree.
    pub max_age: Duration,
}

/// How a session ended.
enum End {
    Shutdown,
    Failed(KsqlError),
    StreamEnded,
}

impl Bridge {
    pub async fn run(self, ingest: Ingest, shutdown: CancellationToken) {
        let mut backoff = MIN_BACKOFF;
        let mut statements_applied = !self.apply_statements;
        let mut last_error: Option<String> = None;
        // A ksqlDB that keeps failing sessions after serving some gets a line a window.
        let mut failures = Throttle::new(WINDOW);
        let mut snapshots = Throttle::new(WINDOW);
        loop {
            if !statements_applied {
                let applied = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    applied = self.client.execute(sql::PIPELINE) => applied,
                };
                match applied {
                    Ok(()) => {
                        tracing::info!("Applied the ksqlDB statements.");
                        statements_applied = true;
                    }
                    Err(error) => {
                        self.readiness.lost(Upstream::Ksqldb, error.reason());
                        last_error = Some(report(&error.to_string(), last_error, &mut failures));
                    }
                }
            }
            let started = Instant::now();
            // Not raced against shutdown here: the session watches the token itself, so that
            // it can close the upstream query before it returns.
            let end = if statements_applied {
                self.session(&ingest, &shutdown, &mut snapshots).await
            } else {
                End::StreamEnded
            };
            // A session that got as far as serving data ends the previous run of failures:
            // the next one is news again and is logged as a warning.
            if self.readiness.is_ready() {
                last_error = None;
            }
            match end {
                End::Shutdown => break,
                End::Failed(error) => {
                    self.readiness.lost(Upstream::Ksqldb, error.reason());
                    last_error = Some(report(&error.to_string(), last_error, &mut failures))
                }
                End::StreamEnded if statements_applied => {
                    self.readiness.lost(Upstream::Ksqldb, "ended");
                    last_error = Some(report("the push query ended", last_error, &mut failures));
                }
                End::StreamEnded => self.readiness.down(Upstream::Ksqldb),
            }
            if started.elapsed() >= HEALTHY_SESSION {
                backoff = MIN_BACKOFF;
            }
            // Jitter keeps a fleet of servers from reconnecting in step after a restart.
            let wait = backoff.mul_f64(rand::rng().random_range(0.8..1.2));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        tracing::info!("ksqlDB bridge stopped.");
    }

    async fn session(
        &self,
        ingest: &Ingest,
        shutdown: &CancellationToken,
        snapshots: &mut Throttle,
    ) -> End {
        let changes = sql::changes();
        let opened = tokio::select! {
            _ = shutdown.cancelled() => return End::Shutdown,
            opened = self.client.push(&changes) => opened,
        };
        let mut push = match opened {
            Ok(push) => push,
            Err(error) => return End::Failed(error),
        };
        self.stats.ksqldb_sessions.inc();
        self.stats.ksqldb_push_queries.inc();
        let end = self.feed(&mut push, ingest, shutdown, snapshots).await;
        self.stats.ksqldb_push_queries.dec();
        // Close the upstream query whatever ended the session: dropping the HTTP/2 stream
        // also ends it server-side, but only once ksqlDB notices.
        if let Some(query_id) = push.query_id.as_deref() {
            match tokio::time::timeout(CLOSE_TIMEOUT, self.client.close_query(query_id)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%error, "Could not close the ksqlDB push query."),
                Err(_) => tracing::debug!("Closing the ksqlDB push query timed out."),
            }
        }
        end
    }

    async fn feed(
        &self,
        push: &mut PushQuery,
        ingest: &Ingest,
        shutdown: &CancellationToken,
        snapshots: &mut Throttle,
    ) -> End {
        let table_scan = sql::snapshot();
        let pulled = tokio::select! {
            _ = shutdown.cancelled() => return End::Shutdown,
            pulled = self.client.pull(&table_scan) => pulled,
        };
        let snapshot = match pulled {
            Ok(rows) => rows,
            Err(error) => return End::Failed(error),
        };
        let oldest_ms = crate::clock::now_ms()
            .saturating_sub(i64::try_from(self.max_age.as_millis()).unwrap_or(i64::MAX));
        let positions = snapshot
            .into_iter()
            .filter_map(|row| self.usable(row))
            .filter(|position| position.timestamp_ms >= oldest_ms)
            .collect();
        ingest.snapshot(positions, Instant::now(), &self.readiness);
        if let Some(again) = snapshots.admit() {
            tracing::info!(
                reloaded_meanwhile = again,
                "ksqlDB snapshot loaded; following changes."
            );
        }
        loop {
            let row = tokio::select! {
                _ = shutdown.cancelled() => return End::Shutdown,
                row = push.next() => row,
            };
            match row {
                Ok(Some(row)) => {
                    if let Some(position) = self.usable(row) {
                        ingest.position(position, Instant::now());
                    }
                }
                Ok(None) => return End::StreamEnded,
                Err(error) => return End::Failed(error),
            }
        }
    }

    fn usable(&self, row: RowResult) -> Option<app::model::VehiclePosition> {
        row.inspect_err(|error| {
            self.stats.ksqldb_rows_rejected.inc(match error {
                RowError::MissingColumn(_) => RowRejection::MissingColumn,
                RowError::Width { .. } => RowRejection::Width,
                RowError::BadValue(_) => RowRejection::BadValue,
            });
            tracing::debug!(%error, "Skipping a ksqlDB row.");
        })
        .ok()
    }
}

/// Logs a failure once while it repeats: a ksqlDB that stays down for an hour gives one
/// warning, not one per retry; and new failures at most once per window. Returns the text
/// to compare the next failure with.
fn report(error: &str, previous: Option<String>, throttle: &mut Throttle) -> String {
    let news = previous.as_deref() != Some(error);
    match news.then(|| throttle.admit()).flatten() {
        Some(held) => tracing::warn!(
            %error,
            failed_meanwhile = held,
            "ksqlDB unavailable; the map keeps its last positions and retries."
        ),
        None => tracing::debug!(%error, "ksqlDB still unavailable; retrying."),
    }
    error.to_owned()
}
